// What `predict` and `buildIndex` accept, turned into what the native side
// reads: a path, encoded bytes, or raw pixels. URLs are fetched here (bounded
// time, size and redirects, optionally behind the SSRF guard of url-guard.ts);
// directories expand to their images.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { ShituError } from '../errors';
import { FETCH_LIMITS } from '../limits';
import { BlockedAddressError, UrlGuard, UrlGuardOptions } from './url-guard';
import { listImages } from '../vector-index/formats/gallery-labels';

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  channelOrder?: 'rgb' | 'bgr';
}

/** An opencv4nodejs (or @u4/opencv4nodejs) Mat: BGR pixels. */
export interface MatLike {
  rows: number;
  cols: number;
  channels: number;
  getData(): Buffer;
}

export type ImageInput = string | Buffer | Uint8Array | RawImage | MatLike;

/** One image, ready for the native call. */
export interface PreparedImage {
  source: string | Buffer | Uint8Array | RawImage;
  /** The reference's input_path: the file or URL, null for in-memory images. */
  inputPath: string | null;
  /** Base name for saved outputs. */
  stem: string;
}

export function isMat(v: unknown): v is MatLike {
  return !!v && typeof v === 'object' && typeof (v as MatLike).getData === 'function' && 'rows' in v && 'cols' in v;
}

export function isRaw(v: unknown): v is RawImage {
  return !!v && typeof v === 'object' && !Buffer.isBuffer(v) && !(v instanceof Uint8Array) && (v as RawImage).data instanceof Uint8Array;
}

export function validateRaw(r: RawImage, where: string): void {
  const { width, height, channels } = r;
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0)
    throw new RangeError(`${where}: raw image width and height must be positive integers, got ${width}x${height}`);
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new RangeError(`${where}: raw image channels must be 1, 3 or 4, got ${channels}`);
  if (r.data.length < width * height * channels)
    throw new RangeError(`${where}: raw image ${width}x${height}x${channels} needs ${width * height * channels} bytes, data has ${r.data.length}`);
  if (r.channelOrder !== undefined && r.channelOrder !== 'rgb' && r.channelOrder !== 'bgr')
    throw new RangeError(`${where}: channelOrder must be 'rgb' or 'bgr'`);
}

export interface FetchOptions {
  timeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
  /**
   * The SSRF guard: refuse non-public addresses (checked on every hop, the
   * connection pinned to the checked address). true or options: on; absent or
   * false: off (library default: the caller's URLs are fetched as asked; the
   * service turns it on).
   */
  guard?: boolean | UrlGuardOptions | UrlGuard;
  /** Aborts the fetch (e.g. when the request it serves has ended); fails with ERR_FETCH. */
  signal?: AbortSignal;
}

/** One GET on a pinned address; resolves with the response (body unread). */
function get(url: URL, pinned: { address: string; family: 4 | 6 } | null, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method: 'GET',
      signal,
      agent: false,
      headers: { accept: 'image/*', 'user-agent': 'shitu-node' },
      // The socket connects to the address the guard checked, never to a fresh resolution.
      ...(pinned ? {
        lookup: ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
          if (opts && opts.all) cb(null, [{ address: pinned.address, family: pinned.family }]);
          else cb(null, pinned.address, pinned.family);
        }) as unknown as net.LookupFunction,
      } : {}),
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

/**
 * Downloads an http(s) image with a time limit, a size cap, bounded redirects
 * and (with `guard`) the SSRF guard. Failures are ERR_FETCH; with the guard on,
 * connection failures all read the same, so that errors do not tell an open
 * port from a closed one.
 */
export async function fetchImage(url: string, o: FetchOptions = {}): Promise<Buffer> {
  const timeoutMs = o.timeoutMs ?? FETCH_LIMITS.timeoutMs, maxBytes = o.maxBytes ?? FETCH_LIMITS.maxBytes;
  const maxRedirects = o.maxRedirects ?? FETCH_LIMITS.maxRedirects;
  const guard = o.guard instanceof UrlGuard ? o.guard : o.guard ? new UrlGuard(o.guard === true ? {} : o.guard) : null;
  const fail = (what: string, cause?: unknown) => new ShituError('ERR_FETCH', `cannot fetch ${url}: ${what}`, cause === undefined ? undefined : { cause });
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = o.signal ? AbortSignal.any([timeout, o.signal]) : timeout;
  if (o.signal?.aborted) throw fail('cancelled');
  let current: URL;
  try {
    current = new URL(url);
  } catch (e) {
    throw fail('not a valid URL', e);
  }
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') throw fail(`${current.protocol} URLs are not fetched`);
    let pinned: { address: string; family: 4 | 6 } | null = null;
    if (guard) {
      try {
        pinned = await guard.check(current);
      } catch (e) {
        if (e instanceof BlockedAddressError) throw fail(e.message);
        throw e;
      }
    }
    let res: http.IncomingMessage;
    try {
      res = await get(current, pinned, signal);
    } catch (e) {
      if (o.signal?.aborted) throw fail('cancelled', e);
      if (guard) throw fail('no response (connection failed or timed out)', e);
      throw fail(signal.aborted ? `no response within ${timeoutMs} ms` : (e as Error).message, e);
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && location) {
      res.resume();
      if (hop >= maxRedirects) throw fail(`more than ${maxRedirects} redirects`);
      try {
        current = new URL(location, current);
      } catch (e) {
        throw fail('a redirect to an invalid URL', e);
      }
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw fail(`HTTP ${status}`);
    }
    const len = Number(res.headers['content-length'] ?? 0);
    if (len > maxBytes) {
      res.destroy();
      throw fail(`${len} bytes is over the ${maxBytes}-byte limit`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxBytes) {
          res.destroy();
          throw fail(`over the ${maxBytes}-byte limit`);
        }
        chunks.push(chunk);
      }
    } catch (e) {
      if (e instanceof ShituError) throw e;
      if (o.signal?.aborted) throw fail('cancelled', e);
      throw fail(signal.aborted ? `no complete response within ${timeoutMs} ms` : (e as Error).message, e);
    }
    return Buffer.concat(chunks);
  }
}

function stemOf(p: string): string {
  const base = p.split(/[\\/]/).pop() || 'image';
  const q = base.split('?')[0];
  const dot = q.lastIndexOf('.');
  return dot > 0 ? q.slice(0, dot) : q || 'image';
}

/**
 * Expands one input (or a list) into images, lazily: directories list their
 * images, URLs are fetched when their turn comes.
 */
/** A prepared image to come; `input` names it in errors: the item's path or URL, or "#n" (its place in the list). */
export type ImageThunk = (() => Promise<PreparedImage>) & { input?: string };

export function* expandInputs(input: ImageInput | ImageInput[], fetchOpts?: FetchOptions, lazyErrors = false): Generator<ImageThunk> {
  const list = Array.isArray(input) ? input : [input];
  let n = 0;
  for (const item of list) {
    if (!lazyErrors) {
      yield* expandOne(item, n, fetchOpts);
    } else {
      // predict's onError 'yield': a bad item becomes a failing thunk, so the items after it still come.
      let thunks: ImageThunk[];
      try {
        thunks = [...expandOne(item, n, fetchOpts)];
      } catch (e) {
        thunks = [() => Promise.reject(e)];
      }
      const name = typeof item === 'string' ? item : `#${n}`;
      for (const f of thunks) yield Object.assign(f, { input: name });
    }
    n++;
  }
}

function* expandOne(item: ImageInput, n: number, fetchOpts?: FetchOptions): Generator<() => Promise<PreparedImage>> {
  {
    const where = `input #${n}`;
    if (typeof item === 'string') {
      if (/^https?:\/\//i.test(item)) {
        yield async () => ({ source: await fetchImage(item, fetchOpts), inputPath: item, stem: stemOf(item) });
      } else if (fs.existsSync(item) && fs.statSync(item).isDirectory()) {
        for (const f of listImages(item)) yield async () => ({ source: f, inputPath: f, stem: stemOf(f) });
      } else {
        yield async () => ({ source: item, inputPath: item, stem: stemOf(item) });
      }
    } else if (Buffer.isBuffer(item) || item instanceof Uint8Array) {
      const k = n;
      yield async () => ({ source: item, inputPath: null, stem: `image_${k}` });
    } else if (isMat(item)) {
      const raw: RawImage = { data: item.getData(), width: item.cols, height: item.rows, channels: item.channels as 1 | 3 | 4, channelOrder: 'bgr' };
      validateRaw(raw, where);
      const k = n;
      yield async () => ({ source: raw, inputPath: null, stem: `image_${k}` });
    } else if (isRaw(item)) {
      validateRaw(item, where);
      const k = n;
      yield async () => ({ source: item, inputPath: null, stem: `image_${k}` });
    } else {
      throw new TypeError(`${where} must be a path, an http(s) URL, a directory, a Buffer, raw pixels {data, width, height, channels} or an opencv4nodejs Mat`);
    }
  }
}

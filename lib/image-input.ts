// What `predict` and `buildIndex` accept, turned into what the native side
// reads: a path, encoded bytes, or raw pixels. URLs are fetched here (bounded
// time, size and redirects); directories expand to their images.
import * as fs from 'node:fs';
import { ShituError } from './errors';
import { listImages } from './gallery';

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
}

/** Downloads an http(s) image with a time limit, a size cap and bounded redirects. */
export async function fetchImage(url: string, o: FetchOptions = {}): Promise<Buffer> {
  const timeoutMs = o.timeoutMs ?? 15000, maxBytes = o.maxBytes ?? 32 * 1024 * 1024, maxRedirects = o.maxRedirects ?? 5;
  let current = url;
  const signal = AbortSignal.timeout(timeoutMs);
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await fetch(current, { redirect: 'manual', signal });
    } catch (e) {
      throw new ShituError('ERR_FETCH', `cannot fetch ${url}: ${(e as Error).message}`, { cause: e });
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      if (hop >= maxRedirects) throw new ShituError('ERR_FETCH', `cannot fetch ${url}: more than ${maxRedirects} redirects`);
      current = new URL(res.headers.get('location')!, current).toString();
      continue;
    }
    if (!res.ok) throw new ShituError('ERR_FETCH', `cannot fetch ${url}: HTTP ${res.status}`);
    const len = Number(res.headers.get('content-length') ?? 0);
    if (len > maxBytes) throw new ShituError('ERR_FETCH', `cannot fetch ${url}: ${len} bytes is over the ${maxBytes}-byte limit`);
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > maxBytes) throw new ShituError('ERR_FETCH', `cannot fetch ${url}: over the ${maxBytes}-byte limit`);
        chunks.push(Buffer.from(chunk));
      }
    } catch (e) {
      if (e instanceof ShituError) throw e;
      throw new ShituError('ERR_FETCH', `cannot fetch ${url}: ${(e as Error).message}`, { cause: e });
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
export function* expandInputs(input: ImageInput | ImageInput[]): Generator<() => Promise<PreparedImage>> {
  const list = Array.isArray(input) ? input : [input];
  let n = 0;
  for (const item of list) {
    const where = `input #${n}`;
    if (typeof item === 'string') {
      if (/^https?:\/\//i.test(item)) {
        yield async () => ({ source: await fetchImage(item), inputPath: item, stem: stemOf(item) });
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
    n++;
  }
}

// Image URLs fetched for predict, buildIndex and the service: one GET per hop
// over node:http(s), bounded in time, bytes and redirects, each hop's address
// checked by the SSRF guard (url-guard.ts) and the connection pinned to the
// address that was checked (the request's own `lookup`), so DNS cannot answer
// differently in between; redirects are followed here, hop by hop, for the same reason.
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { ShituError } from '../errors';
import { FETCH_LIMITS } from '../limits';
import { BlockedAddressError, UrlGuard, UrlGuardOptions } from './url-guard';

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
  // details.overBytes: the response was larger than maxBytes (the service tells its per-request budget apart by it).
  const tooLarge = (what: string) => new ShituError('ERR_FETCH', `cannot fetch ${url}: ${what}`, { details: { overBytes: maxBytes } });
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
      throw tooLarge(`${len} bytes is over the ${maxBytes}-byte limit`);
    }
    // The body is written into one buffer as it arrives, sized by its Content-Length,
    // else by the most it may be (up to FETCH_LIMITS.maxBytes, grown beyond when
    // maxBytes is larger): its pages become resident only as they are written.
    // Keeping the chunks and concatenating them held each image twice at its end
    // (16 URLs of 16 MiB in one build: RSS +193-209 MiB for 128 MiB of images).
    let out = Buffer.allocUnsafe(len > 0 ? len : Math.min(maxBytes, FETCH_LIMITS.maxBytes));
    let total = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (total + chunk.length > maxBytes) {
          res.destroy();
          throw tooLarge(`over the ${maxBytes}-byte limit`);
        }
        if (total + chunk.length > out.length) {
          const bigger = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(2 * out.length, total + chunk.length)));
          out.copy(bigger, 0, 0, total);
          out = bigger;
        }
        chunk.copy(out, total);
        total += chunk.length;
      }
    } catch (e) {
      if (e instanceof ShituError) throw e;
      if (o.signal?.aborted) throw fail('cancelled', e);
      throw fail(signal.aborted ? `no complete response within ${timeoutMs} ms` : (e as Error).message, e);
    }
    return out.subarray(0, total);
  }
}

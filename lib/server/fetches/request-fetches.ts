// The image fields of one request turned into bytes under a budget: URLs are
// fetched at most perRequest at a time and, across the process, perProcess at a
// time (a Limiter: each fetch is one socket; beyond its queue, 503); the bytes
// of all of a request's URLs together stay within maxBytesPerRequest (each
// fetch reserves its share of what is left, so concurrent fetches cannot
// overshoot); and everything still running is cancelled when the request ends
// or one image fails. Before this a build fetched all its URLs at once
// (Promise.all): 1,000 slow URLs opened 1,030 files.
import { ShituError } from '../../errors';
import { FETCH_LIMITS } from '../../limits';
import { fetchImage, FetchOptions } from '../../input/fetch-image';
import { base64Bytes, base64Result, IMAGE_URL } from '../image-field';
import type { DecodedImages } from '../body/decoded-images';
import type { Limiter } from '../limiter';

export interface RequestFetchOptions {
  fetch: FetchOptions;
  /** The process-wide fetch slots. */
  gate: Limiter;
  perRequest: number;
  maxBytesPerRequest: number;
}

/**
 * The bytes of each image field (URL or Base64), in order; `where(i)` names the
 * field in errors. Rejects with the first failure, the other fetches cancelled.
 * `decoded`: the fields the JSON worker decoded already (their values are placeholders).
 */
export async function imagesOf(values: readonly string[], where: (i: number) => string, o: RequestFetchOptions, signal?: AbortSignal, decoded?: DecodedImages): Promise<Buffer[]> {
  const out: Buffer[] = new Array(values.length);
  // Base64 first: a bad one fails the request before anything is fetched.
  const urls: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const done = decoded?.result(values[i]);
    if (done !== undefined) out[i] = base64Result(done, where(i));
    else if (IMAGE_URL.test(values[i])) urls.push(i);
    else out[i] = await base64Bytes(values[i], where(i));
  }
  if (!urls.length) return out;
  const ac = new AbortController();
  const onEnd = () => ac.abort();
  signal?.addEventListener('abort', onEnd, { once: true });
  if (signal?.aborted) ac.abort();
  const perImage = o.fetch.maxBytes ?? FETCH_LIMITS.maxBytes;
  let committed = 0; // bytes fetched plus bytes reserved by fetches running
  let next = 0;
  let running = 0;
  const overBudget = (i: number) => ShituError.atField('ERR_IMAGE_TOO_LARGE', where(i), `the images of this request come to more than ${o.maxBytesPerRequest} bytes, the server's limit per request`);
  const one = async (i: number) => {
    const share = Math.min(perImage, o.maxBytesPerRequest - committed);
    if (share <= 0) throw overBudget(i); // only reached with nothing running: the budget is spent
    committed += share;
    let got = 0;
    try {
      const buf = await o.gate.run(() => fetchImage(values[i], { ...o.fetch, maxBytes: share, signal: ac.signal }), ac.signal);
      got = buf.length;
      out[i] = buf;
    } catch (e) {
      if (!(e instanceof ShituError) || e.code !== 'ERR_FETCH') throw e; // busy, cancelled: about the request, not the image
      // Over its share of what was left, not over the per-image limit: the request's budget is what ran out.
      if ((e.details as { overBytes?: number } | undefined)?.overBytes !== undefined && share < perImage) throw overBudget(i);
      throw ShituError.atField('ERR_FETCH', where(i), e.message, { cause: e });
    } finally {
      committed -= share - got;
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const pump = () => {
        if (failed) return;
        if (next >= urls.length && running === 0) return resolve();
        // A new fetch starts while there is a slot and (with fetches running) budget left for it.
        while (running < o.perRequest && next < urls.length && (running === 0 || committed < o.maxBytesPerRequest)) {
          const i = urls[next++];
          running++;
          one(i).then(() => { running--; pump(); }, (e) => { running--; failed = true; ac.abort(); reject(e); });
        }
      };
      pump();
    });
  } finally {
    signal?.removeEventListener('abort', onEnd);
    ac.abort(); // nothing of this request keeps fetching after it returns
  }
  return out;
}

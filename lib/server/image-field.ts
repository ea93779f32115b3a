// The `image` and `label` fields of request bodies: an image that is not an
// http(s) URL (those are fetched by fetches/request-fetches.ts) is Base64 file
// content; labels must say something.
import { ShituError } from '../errors';
import { Base64Result, decodeBase64 } from './body/base64';

/** Characters of Base64 decoded per turn of the event loop (a few ms on Node 20's decoder). */
const SLICE = 1 << 19;

/** An image field holding a URL (fetched) rather than Base64. */
export const IMAGE_URL = /^https?:\/\//i;

/**
 * Where the request schemas (schemas.ts, ImageField) put images: a top-level
 * `image`, and the `image` of each item of these lists. The JSON worker decodes
 * long Base64 text found there (body/json-worker.ts).
 */
export const IMAGE_FIELDS = { top: 'image', lists: ['imageLabelPairs', 'queries'] } as const;

/** The bytes of a decoded field, or the error of its field (`where`). */
export function base64Result(r: Base64Result, where: string): Buffer {
  if (r === 'invalid') throw ShituError.atField('ERR_INPUT', where, 'neither an http(s) URL nor Base64-encoded image content');
  if (r === 'empty') throw ShituError.atField('ERR_INPUT', where, 'empty image');
  return r;
}

/**
 * An `image` field that is not a URL: Base64 file content (either alphabet; a
 * data: URI prefix, line breaks and padding allowed; body/base64.ts). Decoded
 * a slice at a time, yielding between slices, so that a long field (64 MB:
 * 0.3 s of decoding) never holds the event loop. Long fields of bodies parsed
 * on the JSON worker come decoded already (body/decoded-images.ts).
 */
export async function base64Bytes(value: string, where: string): Promise<Buffer> {
  const it = decodeBase64(value, SLICE);
  let step = it.next();
  while (!step.done) {
    await new Promise<void>((r) => setImmediate(r));
    step = it.next();
  }
  return base64Result(step.value, where);
}

/** Labels must say something: the schema rejects empty ones, this also blank ones. `field`: the list's name in the request. */
export function checkLabels(pairs: Array<{ label: string }>, field = 'imageLabelPairs'): string[] {
  return pairs.map((x, i) => {
    if (!x.label.trim()) throw ShituError.atField('ERR_VALIDATION', `${field}[${i}].label`, 'must not be blank');
    return x.label;
  });
}


// The `image` and `label` fields of request bodies: an image is an http(s) URL
// (fetched within the server's bounds) or Base64 file content; labels must
// say something.
import { fetchImage, FetchOptions } from '../input/image-input';
import { HttpError } from './error-status';

const B64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** An `image` field: an http(s) URL (fetched within bounds) or Base64 file content. */
export async function imageBytes(value: string, where: string, fetchOpts: FetchOptions): Promise<Buffer> {
  if (/^https?:\/\//i.test(value)) {
    try {
      return await fetchImage(value, fetchOpts);
    } catch (e) {
      throw new HttpError(400, `${where}: ${(e as Error).message}`);
    }
  }
  return base64Bytes(value, where);
}

/** An `image` field that is not a URL: Base64 file content (a data: URI prefix and line breaks allowed). */
export function base64Bytes(value: string, where: string): Buffer {
  const b64 = value.replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '');
  if (!b64 || b64.length % 4 === 1 || !B64_RE.test(b64)) throw new HttpError(400, `${where}: neither an http(s) URL nor Base64-encoded image content`);
  const buf = Buffer.from(b64, b64.includes('-') || b64.includes('_') ? 'base64url' : 'base64');
  if (buf.length === 0) throw new HttpError(400, `${where}: empty image`);
  return buf;
}

/** Labels must say something: the schema rejects empty ones, this also blank ones. */
export function checkLabels(pairs: Array<{ label: string }>): string[] {
  return pairs.map((x, i) => {
    if (!x.label.trim()) throw new HttpError(422, `imageLabelPairs[${i}].label: must not be blank`);
    return x.label;
  });
}


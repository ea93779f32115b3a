// The `image` and `label` fields of request bodies: an image that is not an
// http(s) URL (those are fetched by fetches/request-fetches.ts) is Base64 file
// content; labels must say something.
import { ShituError } from '../errors';

/** Characters of Base64 decoded per turn of the event loop (a few ms on Node 20's decoder). */
const SLICE = 1 << 19;
const B64_CHARS = /^[A-Za-z0-9+/_-]*$/;

/**
 * An `image` field that is not a URL: Base64 file content (either alphabet; a
 * data: URI prefix, line breaks and padding allowed). Decoded a slice at a
 * time, yielding between slices, so that a 64 MB field (0.3 s of decoding)
 * never holds the event loop; each slice is checked as it goes.
 */
export async function base64Bytes(value: string, where: string): Promise<Buffer> {
  const bad = () => ShituError.atField('ERR_INPUT', where, 'neither an http(s) URL nor Base64-encoded image content');
  const body = /^data:/i.test(value) ? value.replace(/^data:[^,]*;base64,/i, '') : value;
  // Decoded straight into one buffer (never more than 3/4 of the characters), so no copy of the whole is made.
  const out = Buffer.allocUnsafe(Math.ceil((body.length * 3) / 4));
  let at = 0;
  let carry = '';
  let chars = 0; // without whitespace, padding included
  let padding = 0; // "=" seen at the end so far: nothing but more "=" may follow
  for (let i = 0; i < body.length; i += SLICE) {
    if (i > 0) await new Promise<void>((r) => setImmediate(r));
    let part = body.slice(i, i + SLICE).replace(/\s+/g, '');
    chars += part.length;
    const m = /=+$/.exec(part);
    if (padding && part.length !== (m?.[0].length ?? 0)) throw bad();
    if (m) {
      padding += m[0].length;
      if (padding > 2) throw bad();
      part = part.slice(0, -m[0].length);
    }
    if (!B64_CHARS.test(part)) throw bad();
    part = carry + part;
    // Whole 4-character groups are decoded now; the rest waits for the next slice.
    const whole = part.length - (part.length % 4);
    carry = part.slice(whole);
    if (whole) at += out.write(part.slice(0, whole), at, 'base64');
  }
  if (chars === 0 || chars % 4 === 1) throw bad();
  if (carry) at += out.write(carry, at, 'base64');
  if (at === 0) throw ShituError.atField('ERR_INPUT', where, 'empty image');
  return out.subarray(0, at);
}

/** Labels must say something: the schema rejects empty ones, this also blank ones. `field`: the list's name in the request. */
export function checkLabels(pairs: Array<{ label: string }>, field = 'imageLabelPairs'): string[] {
  return pairs.map((x, i) => {
    if (!x.label.trim()) throw ShituError.atField('ERR_VALIDATION', `${field}[${i}].label`, 'must not be blank');
    return x.label;
  });
}


// The one Base64 decoder of image fields, for both threads: the event loop
// (image-field.ts, a slice per turn) and the JSON worker (json-worker.ts, in
// one go). It is a generator that yields between slices, and it refers to
// nothing outside itself (Buffer and regex literals only), because the worker
// runs its source text (json-worker.ts injects decodeBase64.toString()): no
// import may be used inside it.

/** The bytes, or why the text is not an image's Base64 (the route reports it at its field). */
export type Base64Result = Buffer | 'invalid' | 'empty';

/**
 * Base64 file content (either alphabet; a data: URI prefix, line breaks and
 * padding allowed), decoded `slice` characters at a time straight into one
 * buffer (never more than 3/4 of the characters), yielding after each slice
 * but the last; each slice is checked as it goes.
 */
export function* decodeBase64(value: string, slice: number): Generator<void, Base64Result, void> {
  const body = /^data:/i.test(value) ? value.replace(/^data:[^,]*;base64,/i, '') : value;
  const out = Buffer.allocUnsafe(Math.ceil((body.length * 3) / 4));
  let at = 0;
  let carry = '';
  let chars = 0; // without whitespace, padding included
  let padding = 0; // "=" seen at the end so far: nothing but more "=" may follow
  for (let i = 0; i < body.length; i += slice) {
    if (i > 0) yield;
    let part = body.slice(i, i + slice).replace(/\s+/g, '');
    chars += part.length;
    const m = /=+$/.exec(part);
    if (padding && part.length !== (m?.[0].length ?? 0)) return 'invalid';
    if (m) {
      padding += m[0].length;
      if (padding > 2) return 'invalid';
      part = part.slice(0, -m[0].length);
    }
    if (!/^[A-Za-z0-9+/_-]*$/.test(part)) return 'invalid';
    part = carry + part;
    // Whole 4-character groups are decoded now; the rest waits for the next slice.
    const whole = part.length - (part.length % 4);
    carry = part.slice(whole);
    if (whole) at += out.write(part.slice(0, whole), at, 'base64');
  }
  if (chars === 0 || chars % 4 === 1) return 'invalid';
  if (carry) at += out.write(carry, at, 'base64');
  if (at === 0) return 'empty';
  return out.subarray(0, at);
}

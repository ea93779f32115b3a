// The raw-byte shape scan of JSON bodies (lib/server/body/json-shape.ts):
// depth and value counts as JSON.parse would see them, strings skipped
// (brackets and escaped quotes inside them do not count), whatever the chunking.
import t from 'tap';
import { JsonShapeScanner } from '../../lib/server/body/json-shape';

/** Scans `text` cut into chunks of `size` bytes; the error message, or 'ok'. */
function scan(text: string, o: { depth?: number; values?: number; size?: number } = {}): string {
  const s = new JsonShapeScanner(o.depth ?? 32, o.values ?? 100);
  const b = Buffer.from(text);
  const size = o.size ?? b.length;
  try {
    for (let i = 0; i < b.length; i += size) s.write(b.subarray(i, i + size));
    return 'ok';
  } catch (e) {
    return (e as Error).message;
  }
}

t.test('depth: counted outside strings only, at any chunking', async (t) => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  t.equal(scan(deep(32)), 'ok');
  t.match(scan(deep(33)), /nested deeper than 32 levels/);
  t.match(scan(`{"a":${deep(40)}}`, { size: 1 }), /deeper than 32/);
  t.equal(scan(`{"a":"${'['.repeat(100)}"}`), 'ok', 'brackets in a string');
  for (const size of [1, 2, 3, 5, 7]) {
    t.equal(scan(`{"a":"x\\"[[[[\\\\", "b":"\\\\\\"{{{{"}`, { depth: 1, size }), 'ok', `escaped quotes and backslashes, chunks of ${size}`);
    t.match(scan(`{"a":"x\\\\"[[]]}`, { depth: 2, size }), /deeper than 2/, `a string ending in an escaped backslash, chunks of ${size}`);
  }
  t.equal(scan(`[${deep(10)},${deep(10)}]`, { depth: 11 }), 'ok', 'siblings do not add up');
});

t.test('values: containers, commas and colons', async (t) => {
  t.equal(scan(`[${Array(99).fill(1).join(',')}]`), 'ok');
  t.match(scan(`[${Array(101).fill(1).join(',')}]`), /more than 100 JSON values/);
  t.equal(scan(`{"a":"${'1,'.repeat(1000)}"}`), 'ok', 'commas in a string');
  t.match(scan(`{${Array.from({ length: 60 }, (_, i) => `"k${i}":1`).join(',')}}`, { size: 4 }), /more than 100/);
});

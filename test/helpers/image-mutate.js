// Deterministic mutations of seed images for the image fuzz test: case n of a
// campaign is always the same bytes, so a crash found in a child process can be
// regenerated and saved by the parent. Plain CommonJS: children run it without
// a TypeScript loader.
'use strict';

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xffff];
const INTERESTING32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 30000, 65535, 0x10000, 0x1000000];

/** Case `n` of the campaign over `seeds` (Buffers). */
function mutate(seeds, n) {
  const rnd = prng(0x5eed0000 + n);
  const pick = (k) => Math.floor(rnd() * k);
  const seed = seeds[n % seeds.length];
  let b = Buffer.from(seed);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    // Header bytes matter most: half the edits land in the first 64 bytes.
    const at = () => (rnd() < 0.5 ? pick(Math.min(64, b.length)) : pick(b.length));
    switch (pick(9)) {
      case 0: { const p = at(); b[p] ^= 1 << pick(8); break; }
      case 1: { const p = at(); b[p] = [0, 0xff, 0x7f, 0x80][pick(4)]; break; }
      case 2: { const p = at(); if (p + 2 <= b.length) b.writeUInt16BE(INTERESTING16[pick(INTERESTING16.length)], p); break; }
      case 3: { const p = at(); if (p + 4 <= b.length) b.writeUInt32BE(INTERESTING32[pick(INTERESTING32.length)], p); break; }
      case 4: { const p = at(); if (p + 4 <= b.length) b.writeUInt32LE(INTERESTING32[pick(INTERESTING32.length)], p); break; }
      case 5: b = b.subarray(0, Math.max(1, pick(b.length))); break; // truncate
      case 6: { const p = at(), len = 1 + pick(64); b = Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + len))]); break; } // delete
      case 7: { const p = at(), s = pick(b.length), len = 1 + pick(128); b = Buffer.concat([b.subarray(0, p), b.subarray(s, s + len), b.subarray(p)]); break; } // duplicate a span
      default: { const p = at(), len = 1 + pick(16); const junk = Buffer.alloc(len); for (let i = 0; i < len; i++) junk[i] = pick(256); b = Buffer.concat([b.subarray(0, p), junk, b.subarray(p)]); } // insert
    }
    if (b.length === 0) b = Buffer.from([0]);
  }
  return b;
}

module.exports = { mutate, prng };

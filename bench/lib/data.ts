// Synthetic data for the index sections.

/** Deterministic PRNG (mulberry32): `u` uniform in [0, 1), `g` standard normal (Box-Muller). */
export function seededRng(seed: number): { u: () => number; g: () => number } {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const g = () => {
    const x = Math.max(u(), 1e-12), y = u();
    return Math.sqrt(-2 * Math.log(x)) * Math.cos(2 * Math.PI * y);
  };
  return { u, g };
}
/** Deterministic pseudo-random unit vectors (n x dim, row-major). */
export function unitVectors(n: number, dim: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) { const x = rnd(); v[i * dim + j] = x; norm += x * x; }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) v[i * dim + j] /= norm;
  }
  return v;
}

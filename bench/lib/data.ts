// Synthetic data for the index sections.
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

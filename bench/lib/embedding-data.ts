// Gallery vectors whose neighbour structure comes from a real feature model, for
// the 10^6 section: not isotropic clusters, but the directions and spreads the
// stand-in MobileNetV2 gives the shared photos and their crops.
//
// 1. Seeds: every shared photo (data/images/**) embedded whole and as 27 crops
//    (corners and centre at 60-85 % of each side, 8 half-size tiles on a 3x3 grid,
//    left/right/top/bottom halves), each also mirrored (sharp flop), by the
//    stand-in feature model (1280-d), then projected to 512-d by a fixed random
//    Gaussian matrix (Johnson-Lindenstrauss: distances kept to a few per cent)
//    and L2-normalised.
// 2. Per photo, its mean embedding m_p; the deviations d = e - m_p of its crops
//    form the pool of "view" directions (how one product's embedding moves
//    between pictures of it), kept at their measured size.
// 3. Products: c = normalise(w m_a + (1 - w) m_b + sum of 2 pooled deviations
//    x N(0,1)), photos a != b, w ~ U(0,1): new products between the real ones,
//    spread along the directions the model actually uses.
// 4. Gallery vectors: VIEWS views of each product, v = normalise(c + sum of 3
//    pooled deviations x N(0,1) / sqrt 3); queries are fresh views of random
//    products (a new photo of a known product), never in the gallery.
import { createPipeline } from '../../lib/index';
import { STANDIN_CONFIG } from './paths';
import { internals } from './ours';
import { seededRng } from './data';
import { sharedPhotos } from './photos';

export const DIM = 512;
export const VIEWS = 10;



/** Crop boxes [x1, y1, x2, y2] of a W x H picture (see the header). */
function cropBoxes(W: number, H: number): number[][] {
  const b: number[][] = [[0, 0, W, H]];
  for (const s of [0.6, 0.75, 0.85]) {
    const w = W * s, h = H * s;
    b.push([0, 0, w, h], [W - w, 0, W, h], [0, H - h, w, H], [W - w, H - h, W, H], [(W - w) / 2, (H - h) / 2, (W + w) / 2, (H + h) / 2]);
  }
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== 1 || j !== 1) b.push([(W * j) / 4, (H * i) / 4, (W * (j + 2)) / 4, (H * (i + 2)) / 4]);
  b.push([0, 0, W / 2, H], [W / 2, 0, W, H], [0, 0, W, H / 2], [0, H / 2, W, H]);
  return b.map((x) => x.map(Math.round));
}

export interface EmbeddingSeeds {
  photos: number;
  embeddings: number;
  /** Per photo, its mean embedding (512-d, not normalised). */
  means: Float32Array[];
  /** Deviations from the photo's mean, 512-d. */
  deviations: Float32Array[];
  /** RMS length of a deviation and mean cosine between two photos' means: the measured scales. */
  deviationRms: number;
  meanCosBetweenPhotos: number;
}

export async function embeddingSeeds(): Promise<EmbeddingSeeds> {
  const sharp = require('sharp');
  const pipeline = await createPipeline(STANDIN_CONFIG, { threads: 2, concurrency: 1, warmup: false });
  const ex = internals(pipeline).extractor;
  const g = seededRng(4242);
  let proj: Float32Array | undefined;
  const means: Float32Array[] = [], deviations: Float32Array[] = [];
  let count = 0;
  const files = sharedPhotos();
  try {
    for (const f of files) {
      const { data, info } = await sharp(f).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const mirrored = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).flop().raw().toBuffer();
      const boxes = cropBoxes(info.width, info.height);
      const imgs = [data, mirrored].map((d: Buffer) => ({ data: d, width: info.width, height: info.height, channels: 3, channelOrder: 'rgb' }));
      const srcs = imgs.flatMap((im) => boxes.map(() => im));
      const r = await ex.embed(srcs, { boxes: [...boxes, ...boxes] });
      const feats = r.features as Float32Array, d0 = r.dim as number;
      if (!proj) {
        proj = new Float32Array(d0 * DIM);
        for (let i = 0; i < proj.length; i++) proj[i] = g.g() / Math.sqrt(DIM);
      }
      const rows: Float32Array[] = [];
      for (let n = 0; n < srcs.length; n++) {
        const v = new Float32Array(DIM);
        for (let k = 0; k < d0; k++) {
          const x = feats[n * d0 + k];
          if (x === 0) continue;
          const off = k * DIM;
          for (let j = 0; j < DIM; j++) v[j] += x * proj[off + j];
        }
        normalise(v);
        rows.push(v);
      }
      const m = new Float32Array(DIM);
      for (const v of rows) for (let j = 0; j < DIM; j++) m[j] += v[j] / rows.length;
      means.push(m);
      for (const v of rows) deviations.push(v.map((x, j) => x - m[j]));
      count += rows.length;
    }
  } finally {
    await pipeline.close();
  }
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, j) => s + x * b[j], 0);
  let cs = 0, pairs = 0;
  for (let a = 0; a < means.length; a++) for (let b = a + 1; b < means.length; b++) { cs += dot(means[a], means[b]) / Math.sqrt(dot(means[a], means[a]) * dot(means[b], means[b])); pairs++; }
  const rms = Math.sqrt(deviations.reduce((s, d) => s + dot(d, d), 0) / deviations.length);
  return { photos: files.length, embeddings: count, means, deviations, deviationRms: rms, meanCosBetweenPhotos: cs / Math.max(1, pairs) };
}

function normalise(v: Float32Array): void {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let j = 0; j < v.length; j++) v[j] *= inv;
}

/** Product centres (see the header, step 3). */
export function productCentres(seeds: EmbeddingSeeds, products: number, seed: number): Float32Array {
  const g = seededRng(seed);
  const out = new Float32Array(products * DIM);
  const P = seeds.means.length, D = seeds.deviations.length;
  for (let i = 0; i < products; i++) {
    const a = Math.floor(g.u() * P);
    const b = (a + 1 + Math.floor(g.u() * (P - 1))) % P;
    const w = g.u();
    const c = out.subarray(i * DIM, (i + 1) * DIM);
    const ma = seeds.means[a], mb = seeds.means[b];
    for (let j = 0; j < DIM; j++) c[j] = w * ma[j] + (1 - w) * mb[j];
    for (let t = 0; t < 2; t++) {
      const d = seeds.deviations[Math.floor(g.u() * D)], x = g.g();
      for (let j = 0; j < DIM; j++) c[j] += x * d[j];
    }
    normalise(c);
  }
  return out;
}

/** `n` views: view i of product (i mod products) when `ofProduct` is undefined, else of random products (queries). */
export function views(seeds: EmbeddingSeeds, centres: Float32Array, n: number, seed: number, randomProducts = false): Float32Array {
  const g = seededRng(seed);
  const products = centres.length / DIM, D = seeds.deviations.length;
  const out = new Float32Array(n * DIM);
  const k = 1 / Math.sqrt(3);
  for (let i = 0; i < n; i++) {
    const p = randomProducts ? Math.floor(g.u() * products) : i % products;
    const v = out.subarray(i * DIM, (i + 1) * DIM);
    v.set(centres.subarray(p * DIM, (p + 1) * DIM));
    for (let t = 0; t < 3; t++) {
      const d = seeds.deviations[Math.floor(g.u() * D)], x = g.g() * k;
      for (let j = 0; j < DIM; j++) v[j] += x * d[j];
    }
    normalise(v);
  }
  return out;
}

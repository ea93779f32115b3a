// Section "index": index scaling on synthetic L2-normalised 512-d vectors: build time,
// add throughput, single-query search latency (k = 5), recall@5 against Flat,
// memory per vector (the serialized index's bytes); FAISS Flat / IVF / HNSW32
// (this addon) beside hnswlib-node.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import { elapsedS, gc, log, mb, RunMode, stats, Stats, writeJson, now } from '../lib/util';
import { seededRng } from '../lib/data';

const { HierarchicalNSW } = require('hnswlib-node');

const DIM = 512;
const K = 5;

export interface IndexRow {
  n: number;
  impl: string;
  /** Build = create + (train) + add of all n vectors. */
  buildS: number;
  addPerS: number;
  search: Stats;
  recall5: number;
  /** Bytes of the serialized index (FAISS write_index / hnswlib writeIndex) per vector: what it holds, never negative. */
  bytesPerVector: number;
  rawVectorsMiB: number;
  note?: string;
}

/** Size of an index as written to a file (then removed): its own byte count, unlike an RSS difference. */
export async function serializedBytes(write: (file: string) => Promise<unknown> | unknown): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-bench-index-'));
  try {
    const f = path.join(dir, 'index.bin');
    await write(f);
    return fs.statSync(f).size;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface IndexScalingResult {
  dim: number;
  queries: number;
  sizes: number[];
  rows: IndexRow[];
  skipped: Array<{ n: number; impl: string; reason: string }>;
  notes: string[];
}

/**
 * Clustered data, closer to real embeddings than uniform noise: 1000 random unit
 * centres, each vector = centre + Gaussian noise of about the centre's norm x 0.6,
 * L2-normalised.
 */
export function makeVectors(n: number, seed: number, centres: Float32Array): Float32Array {
  const g = seededRng(seed).g;
  const nc = centres.length / DIM;
  const out = new Float32Array(n * DIM);
  const s = 0.6 / Math.sqrt(DIM);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(Math.abs(g() * 1e6)) % nc;
    let sq = 0;
    for (let j = 0; j < DIM; j++) {
      const v = centres[c * DIM + j] + g() * s;
      out[i * DIM + j] = v;
      sq += v * v;
    }
    const inv = 1 / Math.sqrt(sq);
    for (let j = 0; j < DIM; j++) out[i * DIM + j] *= inv;
  }
  return out;
}

export function makeCentres(): Float32Array {
  const g = seededRng(7).g;
  const c = new Float32Array(1000 * DIM);
  for (let i = 0; i < 1000; i++) {
    let sq = 0;
    for (let j = 0; j < DIM; j++) { const v = g(); c[i * DIM + j] = v; sq += v * v; }
    const inv = 1 / Math.sqrt(sq);
    for (let j = 0; j < DIM; j++) c[i * DIM + j] *= inv;
  }
  return c;
}

export function recall(truth: number[][], got: number[][]): number {
  let hit = 0, total = 0;
  truth.forEach((t, q) => {
    const s = new Set(t);
    for (const id of got[q].slice(0, K)) if (s.has(id)) hit++;
    total += t.length;
  });
  return total ? hit / total : NaN;
}


async function settle(): Promise<void> {
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
}

export async function runIndexScaling(mode: RunMode): Promise<IndexScalingResult> {
  const sizes = mode.quick ? [1000, 10000] : [1000, 10000, 100000];
  const nq = mode.quick ? 100 : 200;
  const budgetS = mode.quick ? 8 : 170; // longest single build we start, projected from the previous size
  const sectionLimitS = mode.quick ? 20 : 200; // this section's share of the 2 / 15 min run
  const start = elapsedS();
  const tooLong = (p: number) => (p > budgetS ? `projected build ${p.toFixed(0)} s > ${budgetS} s per-build budget` : elapsedS() - start + p * 1.3 + 5 > sectionLimitS ? `projected build ${p.toFixed(0)} s would not end inside the section's ${sectionLimitS} s budget (${(elapsedS() - start).toFixed(0)} s used)` : '');
  const res: IndexScalingResult = {
    dim: DIM,
    queries: nq,
    sizes,
    rows: [],
    skipped: [],
    notes: [
      'Vectors: 512-d, clustered (1000 random unit centres + Gaussian noise, norm ratio 0.6), L2-normalised; queries drawn the same way but not in the index. Metric: inner product (= cosine).',
      'FAISS indexes through this addon\'s VectorIndex (IndexIDMap2 over index_factory): "Flat"; "IVF" = IVF{N/8},Flat trained on the build set, nprobe 1 (FAISS default, as the reference); "HNSW32" = M 32, efConstruction 40, efSearch 16 (FAISS defaults). Rows "(nprobe 16)" / "(efSearch 64)" search the same built index with a larger search budget.',
      'hnswlib-node 3.0.0: HierarchicalNSW("ip"), M 32, efConstruction 40, ef 16 — set to the FAISS defaults so both HNSW rows do the same work; addPoint one vector at a time (its API takes a plain Array, copied from the Float32Array).',
      'Search latency: one query per call, k = 5, sequential; the addon\'s search is asynchronous (runs on a worker thread and crosses back into JS), hnswlib-node\'s searchKnn is synchronous on the main thread.',
      'recall@5: share of the exact (Flat) top-5 found. Bytes per vector: the size of the serialized index (FAISS write_index, hnswlib-node writeIndex) / n: vectors or codes, graph links, ids; an RSS difference would also count allocator slack and can come out negative. Raw vectors = n x 512 x 4 bytes for scale.',
    ],
  };
  const centres = makeCentres();
  const queries = makeVectors(nq, 999, centres);
  const lastBuild = new Map<string, { n: number; s: number }>();
  const projected = (impl: string, n: number, exponent: number) => {
    const l = lastBuild.get(impl);
    return l ? l.s * Math.pow(n / l.n, exponent) : 0;
  };
  for (const n of sizes) {
    log(`index: n = ${n}`);
    const vectors = makeVectors(n, n, centres);
    const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
    let truth: number[][] = [];
    const faissRow = async (type: 'Flat' | 'IVF' | 'HNSW32', exponent: number, extra?: { label: string; params: Record<string, number> }) => {
      const impl = `FAISS ${type}`;
      const p = projected(impl, n, exponent);
      const why = tooLong(p);
      if (why) {
        res.skipped.push({ n, impl, reason: why });
        return;
      }
      await settle();
      const t0 = now();
      const idx = new native.VectorIndex(DIM, type, 'IP');
      await idx.add(vectors, ids);
      const buildS = (now() - t0) / 1000;
      const bytesPerVector = (await serializedBytes((f) => idx.writeFile(f))) / n;
      lastBuild.set(impl, { n, s: buildS });
      const runSearch = async (params?: Record<string, number>) => {
        const lat: number[] = [];
        const got: number[][] = [];
        for (let q = 0; q < nq; q++) {
          const qv = queries.subarray(q * DIM, (q + 1) * DIM);
          const a = now();
          const r = await idx.search(qv, K, params);
          lat.push(now() - a);
          got.push(Array.from(r.ids as BigInt64Array, (x) => Number(x)).filter((x) => x >= 0));
        }
        return { lat, got };
      };
      const s = await runSearch();
      if (type === 'Flat') truth = s.got;
      res.rows.push({ n, impl, buildS, addPerS: n / buildS, search: stats(s.lat), recall5: recall(truth, s.got), bytesPerVector, rawVectorsMiB: mb(n * DIM * 4) });
      if (extra) {
        const s2 = await runSearch(extra.params);
        res.rows.push({ n, impl: `${impl} (${extra.label})`, buildS, addPerS: n / buildS, search: stats(s2.lat), recall5: recall(truth, s2.got), bytesPerVector, rawVectorsMiB: mb(n * DIM * 4) });
      }
    };
    await faissRow('Flat', 1);
    await faissRow('HNSW32', 1.15, { label: 'efSearch 64', params: { efSearch: 64 } });
    // hnswlib-node
    {
      const impl = 'hnswlib-node HNSW (M 32)';
      const p = projected(impl, n, 1.15);
      const why = tooLong(p);
      if (why) res.skipped.push({ n, impl, reason: why });
      else {
        await settle();
        const t0 = now();
        const h = new HierarchicalNSW('ip', DIM);
        h.initIndex(n, 32, 40, 100);
        h.setEf(16);
        for (let i = 0; i < n; i++) h.addPoint(Array.from(vectors.subarray(i * DIM, (i + 1) * DIM)), i);
        const buildS = (now() - t0) / 1000;
        const bytesPerVector = (await serializedBytes((f) => h.writeIndexSync(f))) / n;
        lastBuild.set(impl, { n, s: buildS });
        const search = (ef: number) => {
          h.setEf(ef);
          const lat: number[] = [];
          const got: number[][] = [];
          for (let q = 0; q < nq; q++) {
            const qa = Array.from(queries.subarray(q * DIM, (q + 1) * DIM));
            const a = now();
            const r = h.searchKnn(qa, K);
            lat.push(now() - a);
            got.push(r.neighbors);
          }
          return { lat, got };
        };
        const s = search(16);
        res.rows.push({ n, impl, buildS, addPerS: n / buildS, search: stats(s.lat), recall5: recall(truth, s.got), bytesPerVector, rawVectorsMiB: mb(n * DIM * 4), note: 'ef 16' });
        const s2 = search(64);
        res.rows.push({ n, impl: `${impl} (ef 64)`, buildS, addPerS: n / buildS, search: stats(s2.lat), recall5: recall(truth, s2.got), bytesPerVector, rawVectorsMiB: mb(n * DIM * 4) });
      }
    }
    // IVF last: its k-means (nlist = N/8 centroids) grows with N^2 and is the first to give way to the time budget.
    await faissRow('IVF', 2, { label: 'nprobe 16', params: { nprobe: 16 } });
  }
  writeJson('index-scaling.json', res);
  return res;
}

// Section "million" (the report's 6b): galleries of 10^6 vectors. 512-d vectors with the neighbour
// structure of the stand-in feature model's embeddings of the shared photos and
// their crops (bench/lib/embedding-data.ts), every index type
// of this addon, compressed ones included, beside hnswlib-node: build time
// (train + add of n), incremental add throughput (10^4 more vectors added to
// the built index), memory per vector (the serialized index), and search p50/p99 + recall@5
// against exact search at several efSearch / nprobe values.
//
// Each row is written to results/index-million.json as soon as it is measured,
// so that a run cut short keeps what it finished. Types run in the order of
// their importance (HNSW32 carries the target: recall@5 >= 0.95 at p50 <= 1 ms); `--types=a,b` picks some,
// `--n=N` another size, `--ef-construction=N` the HNSW graphs' build beam.
//   node --expose-gc dist/bench/sections/million.js [--n=1000000] [--queries=500] [--ef-construction=40] [--types=HNSW32,IVF_PQ,HNSW32_SQ8,IVF_PQ_RERANK,hnswlib,IVF]
import { native } from '../../lib/native/loader';
import { recall, serializedBytes } from './index-scaling';
import { embeddingSeeds, productCentres, views, VIEWS } from '../lib/embedding-data';
import { gc, log, machine, now, readJson, RunMode, stats, Stats, writeJson } from '../lib/util';

const { HierarchicalNSW } = require('hnswlib-node');

const DIM = 512;
const K = 5;
const EXTRA_ADD = 10_000;
const RESULT = 'index-million.json';

export interface MillionSearchRow { param: string; p50: number; p99: number; recall5: number; search: Stats }
export interface MillionRow {
  n: number;
  impl: string;
  /** The VectorIndex type / factory string, or hnswlib-node's settings. */
  config: string;
  buildS: number;
  /** Vectors per second when EXTRA_ADD more are added to the built index (one call; hnswlib: one addPoint each). */
  addPerS: number;
  /** Bytes of the serialized index per vector (vectors or codes, links, ids): never negative, unlike an RSS difference. */
  bytesPerVector: number;
  efConstruction?: number;
  /** The machine and the start of the run that measured this row: a --types rerun keeps earlier rows, which may come from another machine. */
  measuredOn?: { cpu: string; simd?: string; date: string; seeds?: MillionResult['seeds'] };
  searches: MillionSearchRow[];
}
export interface MillionResult {
  n: number;
  dim: number;
  queries: number;
  started: string;
  /** How the vectors were made (one line). */
  data: string;
  efConstruction: number;
  seeds: { photos: number; embeddings: number; deviationRms: number; meanCosBetweenPhotos: number };
  rows: MillionRow[];
  notes: string[];
}

const TYPES: Record<string, { impl: string; config: string; sweep: Array<Record<string, number>> }> = {
  HNSW32: { impl: 'FAISS HNSW32', config: 'HNSW32', sweep: [{ efSearch: 16 }, { efSearch: 32 }, { efSearch: 64 }, { efSearch: 128 }, { efSearch: 256 }] },
  IVF_PQ: { impl: 'FAISS IVF_PQ', config: 'IVF_PQ', sweep: [{ nprobe: 8 }, { nprobe: 32 }, { nprobe: 64 }, { nprobe: 128 }] },
  HNSW32_SQ8: { impl: 'FAISS HNSW32_SQ8', config: 'HNSW32_SQ8', sweep: [{ efSearch: 16 }, { efSearch: 32 }, { efSearch: 64 }, { efSearch: 128 }, { efSearch: 256 }] },
  IVF_PQ_RERANK: { impl: 'FAISS IVF_PQ_RERANK', config: 'IVF_PQ_RERANK', sweep: [{ nprobe: 8 }, { nprobe: 32 }, { nprobe: 64 }, { nprobe: 32, rerank: 32 }] },
  hnswlib: { impl: 'hnswlib-node HNSW (M 32)', config: 'ip, M 32', sweep: [{ ef: 16 }, { ef: 32 }, { ef: 64 }, { ef: 128 }, { ef: 256 }] },
  IVF: { impl: 'FAISS IVF (1024 lists)', config: 'IVF1024,Flat', sweep: [{ nprobe: 1 }, { nprobe: 8 }, { nprobe: 32 }, { nprobe: 64 }] },
};

async function settle(): Promise<void> {
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
}
const paramName = (p: Record<string, number>) => Object.entries(p).map(([k, v]) => `${k} ${v}`).join(', ');

export async function runIndexMillion(mode: RunMode & { n?: number; queries?: number; types?: string[]; efConstruction?: number }): Promise<MillionResult> {
  const n = mode.n ?? (mode.quick ? 20_000 : 1_000_000);
  const nq = mode.queries ?? (mode.quick ? 100 : 500);
  const types = mode.types ?? Object.keys(TYPES);
  const efC = mode.efConstruction ?? 40;
  const prev = readJson<MillionResult>(RESULT);
  log('index-million: embedding the shared photos and their crops (stand-in feature model)');
  const seeds = await embeddingSeeds();
  const res: MillionResult = {
    n, dim: DIM, queries: nq, started: new Date().toISOString(), efConstruction: efC,
    data: `embedding-shaped: ${seeds.photos} photos x ${seeds.embeddings / seeds.photos} crops`,
    seeds: { photos: seeds.photos, embeddings: seeds.embeddings, deviationRms: seeds.deviationRms, meanCosBetweenPhotos: seeds.meanCosBetweenPhotos },
    // A partial rerun (--types) keeps the other types' rows of the same size and data.
    rows: prev && prev.n === n && prev.efConstruction === efC && prev.data?.startsWith('embedding-shaped') ? prev.rows.filter((r) => !types.some((t) => TYPES[t]?.impl === r.impl)) : [],
    notes: [
      `Vectors: ${n} x ${DIM}-d, ${n / VIEWS} products x ${VIEWS} views, shaped by real embeddings (bench/lib/embedding-data.ts): the ${seeds.photos} shared photos, each whole and as 27 crops, each also mirrored (${seeds.embeddings} pictures), embedded by the stand-in MobileNetV2 (1280-d), projected to 512-d by a fixed random Gaussian matrix, L2-normalised. New products lie between two photos' mean embeddings (random weight) plus 2 of the measured crop-to-mean deviations (RMS length ${seeds.deviationRms.toFixed(3)}; mean cosine between photos' means ${seeds.meanCosBetweenPhotos.toFixed(3)}); each view adds 3 more deviations / sqrt 3. So neighbours differ along the directions the model really moves along, not in isotropic noise. ${nq} queries: fresh views of random products, not in the index. Metric: inner product.`,
      `HNSW graphs (HNSW32, HNSW32_SQ8, hnswlib-node) built with efConstruction ${efC}${efC === 40 ? ' (FAISS\'s default; --ef-construction=N to change)' : ''}.`,
      'Ground truth: exact search (FAISS Flat). recall@5: share of the exact top-5 found in the returned top-5.',
      'Search: one query per call, k = 5, sequential, through the addon\'s asynchronous search (worker thread and back); hnswlib-node searchKnn is synchronous on the main thread.',
      `Build: create + train + add of all n vectors in one call (FAISS uses both cores; hnswlib-node addPoint one at a time, one core). Add throughput: ${EXTRA_ADD} more vectors added to the built index.`,
      'Memory per vector: the serialized index (FAISS write_index, hnswlib-node writeIndex) divided by n. "IVF" here is IVF1024,Flat (the addon\'s "IVF" type picks N/8 lists, 65536 at this size: its k-means would take hours on 2 cores); IVF_PQ picks 1024 lists and 64 sub-quantizers of 8 bits by itself.',
    ],
  };
  const save = () => writeJson(RESULT, res);
  log(`index-million: generating ${n} + ${EXTRA_ADD} vectors from ${seeds.embeddings} embeddings`);
  const centres = productCentres(seeds, Math.max(1, Math.round(n / VIEWS)), 1_000_003);
  const vectors = views(seeds, centres, n, 11);
  const extra = views(seeds, centres, EXTRA_ADD, 77, true);
  const queries = views(seeds, centres, nq, 999, true);
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
  const extraIds = BigInt64Array.from({ length: EXTRA_ADD }, (_, i) => BigInt(n + i));

  log('index-million: exact ground truth');
  let truth: number[][];
  {
    const flat = new native.VectorIndex(DIM, 'Flat', 'IP');
    await flat.add(vectors, ids);
    const r = await flat.search(queries, K);
    truth = Array.from({ length: nq }, (_, q) => Array.from((r.ids as BigInt64Array).subarray(q * K, (q + 1) * K), Number));
  }
  await settle();

  for (const t of types) {
    const spec = TYPES[t];
    if (!spec) throw new Error(`unknown type ${t} (expected ${Object.keys(TYPES).join(', ')})`);
    log(`index-million: ${spec.impl} build`);
    await settle();
    const t0 = now();
    let search: (q: Float32Array, p: Record<string, number>) => Promise<number[]>;
    let addExtra: () => Promise<void>;
    let write: (file: string) => unknown;
    const hnsw = t === 'hnswlib' || t.startsWith('HNSW');
    if (t === 'hnswlib') {
      const h = new HierarchicalNSW('ip', DIM);
      h.initIndex(n + EXTRA_ADD, 32, efC, 100);
      for (let i = 0; i < n; i++) h.addPoint(Array.from(vectors.subarray(i * DIM, (i + 1) * DIM)), i);
      search = async (q, p) => { h.setEf(p.ef); return h.searchKnn(Array.from(q), K).neighbors; };
      addExtra = async () => { for (let i = 0; i < EXTRA_ADD; i++) h.addPoint(Array.from(extra.subarray(i * DIM, (i + 1) * DIM)), n + i); };
      write = (f) => h.writeIndexSync(f);
    } else {
      const idx = new native.VectorIndex(DIM, spec.config, 'IP', hnsw ? { efConstruction: efC } : undefined);
      await idx.add(vectors, ids);
      search = async (q, p) => Array.from((await idx.search(q, K, p)).ids as BigInt64Array, Number).filter((x) => x >= 0);
      addExtra = () => idx.add(extra, extraIds);
      write = (f) => idx.writeFile(f);
    }
    const buildS = (now() - t0) / 1000;
    const bytesPerVector = (await serializedBytes(write)) / n;
    log(`index-million: ${spec.impl} built in ${buildS.toFixed(1)} s, ${bytesPerVector.toFixed(0)} B/vector (serialized)`);
    const m = machine();
    const row: MillionRow = {
      n, impl: spec.impl, config: spec.config, buildS, addPerS: 0, bytesPerVector, ...(hnsw ? { efConstruction: efC } : {}),
      measuredOn: { cpu: `${m.cpu}, ${m.cores} cores`, simd: m.simd, date: res.started, seeds: res.seeds }, searches: [],
    };
    // Searches first, on exactly the n vectors the ground truth covers.
    for (const p of spec.sweep) {
      const lat: number[] = [];
      const got: number[][] = [];
      for (let q = 0; q < nq; q++) {
        const a = now();
        const r = await search(queries.subarray(q * DIM, (q + 1) * DIM), p);
        lat.push(now() - a);
        got.push(r);
      }
      const s = stats(lat);
      row.searches.push({ param: paramName(p), p50: s.p50, p99: s.p99, recall5: recall(truth, got), search: s });
    }
    const a0 = now();
    await addExtra();
    row.addPerS = EXTRA_ADD / ((now() - a0) / 1000);
    res.rows.push(row);
    save();
    search = undefined as any;
    addExtra = undefined as any;
    write = undefined as any;
    await settle();
  }
  save();
  return res;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  runIndexMillion({
    quick: args.includes('--quick'),
    n: arg('n') ? Number(arg('n')) : undefined,
    queries: arg('queries') ? Number(arg('queries')) : undefined,
    types: arg('types')?.split(','),
    efConstruction: arg('ef-construction') ? Number(arg('ef-construction')) : undefined,
  }).then(() => log('index-million: done'), (e) => { console.error(e); process.exit(1); });
}

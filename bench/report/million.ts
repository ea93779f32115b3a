// The report's "6b. Galleries of 10^6 vectors" subsection, from results/index-million.json
// (bench/sections/million.ts): one row per index type and search setting, the
// target (recall@5 >= 0.95 at p50 <= 1 ms with some HNSW32 setting)
// with its verdict, and memory per vector with its projection to 10^7.
import { fmt } from '../lib/util';
import type { MillionResult, MillionRow } from '../sections/million';

/** Bytes per 512-d vector that each type needs by construction (README "Compressed index types"). */
export const BYTES_PER_VECTOR: Record<string, number> = {
  'FAISS HNSW32': 2048 + 256 + 64,
  'FAISS HNSW32_SQ8': 512 + 256 + 64,
  'FAISS IVF_PQ': 64 + 64,
  'FAISS IVF_PQ_RERANK': 64 + 2048 + 64,
  'FAISS IVF (1024 lists)': 2048 + 64,
  'hnswlib-node HNSW (M 32)': 2048 + 264 + 8,
};

/** Rows for the report's Targets table: [target, measured, verdict]. */
export function millionTargets(r: MillionResult): string[][] {
  const out: string[][] = [];
  const hnsw = r.rows.find((x) => x.impl === 'FAISS HNSW32');
  const n = r.n.toLocaleString('en-US');
  if (hnsw) {
    const fast = hnsw.searches.filter((s) => s.p50 <= 1).sort((a, b) => b.recall5 - a.recall5)[0];
    const met = !!fast && fast.recall5 >= 0.95;
    out.push([`recall@5 ≥ 0.95 at p50 ≤ 1 ms, HNSW32, ${n} vectors`,
      fast ? `${fmt(fast.recall5, 3)} at p50 ${fmt(fast.p50, 3)} ms (${fast.param})` : `no setting under 1 ms (best p50 ${fmt(Math.min(...hnsw.searches.map((s) => s.p50)), 3)} ms)`,
      met ? '**met**' : '**not met**']);
  }
  const small = r.rows.filter((x) => (BYTES_PER_VECTOR[x.impl] ?? Infinity) * 1e7 <= 8 * 2 ** 30);
  out.push(['10^7 512-d vectors in 8 GB (compressed types)', small.length ? small.map((x) => `${x.impl.replace('FAISS ', '')} ${fmt(BYTES_PER_VECTOR[x.impl] * 1e7 / 2 ** 30, 1)} GiB (measured at ${n}: ${fmt(x.bytesPerVector, 0)} B/vector)`).join('; ') : 'not measured', small.length ? '**met** (by construction, measured per vector)' : '**not measured**']);
  return out;
}

/** The machine and day a row was measured on; rows from before measuredOn existed were measured in the report's own run. */
const whereOf = (row: MillionRow, mainRun: string) => {
  const m = row.measuredOn;
  if (!m) return mainRun;
  const seeds = m.seeds ? `; seed embeddings: mean cosine between photos ${fmt(m.seeds.meanCosBetweenPhotos, 3)}, crop deviation RMS ${fmt(m.seeds.deviationRms, 3)}` : '';
  return `${m.cpu}, ${m.simd ?? 'SIMD level not recorded'}, run started ${m.date.slice(0, 16).replace('T', ' ')} UTC${seeds}`;
};

/**
 * `mainRun` names the report's own run (machine, start). Rows that a later
 * `index-million.js --types=...` run added are marked with the machine and time
 * they were measured on, since their times compare with the others' only as
 * far as the two machines do.
 */
export function millionSection(r: MillionResult, table: (head: string[], rows: Array<Array<string | number>>) => string, mainRun = 'this report\'s run'): string {
  const md: string[] = [];
  md.push(`### 6b. Galleries of ${r.n.toLocaleString('en-US')} vectors (${r.dim}-d)\n`);
  const places = [...new Set(r.rows.map((row) => whereOf(row, mainRun)))];
  const mark = (row: MillionRow) => (places.length > 1 ? ` [${String.fromCharCode(97 + places.indexOf(whereOf(row, mainRun)))}]` : '');
  if (places.length > 1) {
    md.push(`Measured in ${places.length} runs: ${places.map((p, i) => `**[${String.fromCharCode(97 + i)}]** ${r.rows.filter((row) => whereOf(row, mainRun) === p).map((row) => row.impl.replace('FAISS ', '')).join(', ')}: ${p}`).join('; ')}. Same data recipe and random seeds; the seed embeddings come from the stand-in model on each machine's CPU (int8 kernels differ with and without VNNI), so the vectors differ slightly and recall compares across runs only roughly; build and search times compare only as far as the machines do.\n`);
  }
  const rows: Array<Array<string | number>> = [];
  for (const row of r.rows) {
    row.searches.forEach((s, i) => rows.push([
      i === 0 ? `${row.impl}${mark(row)}` : '', i === 0 ? fmt(row.buildS, 0) : '', i === 0 ? fmt(row.addPerS, 0) : '',
      i === 0 ? `${fmt(row.bytesPerVector, 0)} (${BYTES_PER_VECTOR[row.impl] ?? '?'})` : '',
      i === 0 ? fmt((BYTES_PER_VECTOR[row.impl] ?? row.bytesPerVector) * 1e7 / 2 ** 30, 1) : '',
      s.param, `${fmt(s.p50, 3)} / ${fmt(s.p99, 3)}`, fmt(s.recall5, 3),
    ]));
  }
  md.push(table(['index', 'build s', 'adds/s (10^4 more)', 'bytes/vector measured (by construction)', 'GiB at 10^7', 'search setting', 'p50 / p99 ms', 'recall@5'], rows));
  const hnsw = r.rows.find((x) => x.impl === 'FAISS HNSW32');
  if (hnsw) {
    const ok = hnsw.searches.filter((s) => s.recall5 >= 0.95 && s.p50 <= 1);
    const best = [...hnsw.searches].sort((a, b) => b.recall5 - a.recall5 || a.p50 - b.p50);
    const closest = hnsw.searches.filter((s) => s.p50 <= 1).sort((a, b) => b.recall5 - a.recall5)[0];
    md.push(ok.length
      ? `**Target recall@5 >= 0.95 at p50 <= 1 ms (HNSW32, ${r.n.toLocaleString('en-US')} vectors): met** with ${ok.map((s) => `${s.param} (recall ${fmt(s.recall5, 3)}, p50 ${fmt(s.p50, 3)} ms)`).join(', ')}.\n`
      : `**Target recall@5 >= 0.95 at p50 <= 1 ms (HNSW32, ${r.n.toLocaleString('en-US')} vectors): not met.** Closest: ${closest ? `${closest.param}: recall ${fmt(closest.recall5, 3)} at p50 ${fmt(closest.p50, 3)} ms` : 'no setting under 1 ms'}; best recall ${fmt(best[0].recall5, 3)} at p50 ${fmt(best[0].p50, 3)} ms (${best[0].param}).\n`);
  } else {
    md.push('**Target recall@5 >= 0.95 at p50 <= 1 ms (HNSW32): not measured in this run.**\n');
  }
  md.push('**10^7 vectors in 8 GB**: "GiB at 10^7" is bytes per vector by construction x 10^7 (vectors or codes + graph links or list ids + the id map); IVF_PQ and HNSW32_SQ8 fit, HNSW32, IVF and IVF_PQ_RERANK (which keeps the float vectors for its exact re-ranking) do not.\n');
  for (const n of r.notes) md.push(`- ${n}\n`);
  md.push('\n');
  return md.join('\n');
}

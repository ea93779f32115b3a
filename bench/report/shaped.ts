// The report's "2. PP-ShiTuV2 programs beside the published table" section and
// closing note, from shaped.json (bench/sections/shaped.ts): parameter counts, FLOPs,
// conversion cost and per-stage times of the converted programs (random
// weights: timing only) against the published sizes and CPU times.
import { fmt } from '../lib/io';
import { ShapedResult, TWO_CORES } from '../sections/shaped';

type Table = (head: string[], rows: Array<Array<string | number>>) => string;

const mb = (params: number) => (params * 4) / 1e6;
const MiB = 2 ** 20;

/** Median over the images of a stage's median (ms) in one run of the programs. */
export function shapedStage(r: ShapedResult, threads: number, stage: 'detInference' | 'recInference'): number {
  const run = r.runs.find((x) => x.threads === threads);
  if (!run) return NaN;
  const v = run.images.map((im) => im.stages[stage].p50).sort((a, b) => a - b);
  return v[v.length >> 1];
}

/**
 * The fastest thread count measured here (det + rec inference through the
 * pipeline): on a busy 2-core machine 2 threads can be slower than 1, and the
 * comparison with the published 8 threads takes this machine at its best.
 */
export function shapedBest(r: ShapedResult): { threads: number; det: number; rec: number } | undefined {
  let best: { threads: number; det: number; rec: number } | undefined;
  for (const { threads } of r.runs) {
    const det = shapedStage(r, threads, 'detInference');
    const rec = shapedStage(r, threads, 'recInference');
    if (Number.isFinite(det + rec) && (!best || det + rec < best.det + best.rec)) best = { threads, det, rec };
  }
  return best;
}

/** The closing note: the programs' parameter counts, FLOPs, conversion and inference times beside the published ones. */
export function shapedClosing(r: ShapedResult, table: Table): string {
  const md: string[] = [];
  const P = r.published;
  md.push(`The real PP-ShiTuV2 programs converted by this package (${r.label}; section 2) beside the published PP-ShiTuV2 table:\n\n`);
  md.push(table(['model', 'program (shared/models)', 'architecture', 'parameters (exact, from the program)', 'FP32 MB (vs published)', 'published size', 'GFLOPs (multiply-adds)', 'ONNX file MB', 'conversion: time, peak RSS (growth ÷ weights)'], [r.models.det, r.models.rec].map((m) => [
    m.name, m.program.split('/').pop() ?? m.program, m.architecture,
    `${(m.paddleParams / 1e6).toFixed(2)} M (${m.paddleParams.toLocaleString('en-US')})`,
    `${fmt(mb(m.paddleParams), 1)} (${fmt((100 * mb(m.paddleParams)) / m.publishedMB - 100, 0)} %)`,
    `${m.publishedMB} MB`, fmt(m.counts.macs / 1e9, 2), fmt(m.bytes / 1e6, 1),
    `${fmt(m.conversion.ms / 1000, 2)} s, ${fmt(m.conversion.peakRssMiB, 0)} MiB (${fmt((m.conversion.peakRssMiB - m.conversion.baseRssMiB) / (m.conversion.weightBytes / MiB), 2)}x ${fmt(m.conversion.weightBytes / MiB, 1)} MiB)`,
  ])));
  const rows: Array<Array<string | number>> = [];
  const best = shapedBest(r);
  for (const [name, stage, pub, rawKey] of [['det inference', 'detInference', P.detMs, 'detMs'], ['rec inference (1 crop)', 'recInference', P.recMs, 'recMs']] as const) {
    const cells: Array<string | number> = [name];
    for (const th of [1, 2]) {
      const v = shapedStage(r, th, stage);
      const raw = r.raw.find((x) => x.threads === th)?.[rawKey];
      cells.push(Number.isFinite(v) ? `${fmt(v, 1)} (raw Run ${fmt(raw, 1)})` : 'not measured in this run');
    }
    const m8 = shapedStage(r, 8, stage);
    cells.push(Number.isFinite(m8) ? fmt(m8, 1) : 'not measured (see below)');
    cells.push(`${pub}`);
    const b = best ? (stage === 'detInference' ? best.det : best.rec) : NaN;
    cells.push(best && Number.isFinite(b) ? `${fmt(b / pub, 2)}x (${best.threads} thread(s) here${r.runs.length > 1 ? ', the faster setting,' : ''} vs ${P.threads} there)` : '—');
    rows.push(cells);
  }
  md.push(`Here: ${r.cpu}, ${r.cores} cores, ONNX Runtime FP32 through this package (pipeline stage; the raw Run is the native model API alone). Published: ${P.cpu}, Paddle Inference.\n\n`);
  md.push(table(['stage (median over the images, ms)', '1 thread here', '2 threads here', '8 threads here', `published, ${P.threads} threads`, 'here ÷ published'], rows));
  md.push(`Load average during the run: see the report's header; the pipeline and raw-Run columns were measured back to back, so their gap includes load that arrived in between.\n`);
  for (const s of r.skippedThreads) md.push(`- ${s.threads} threads: not measured: ${s.reason}.\n`);
  md.push(`\n${TWO_CORES}\n\n`);
  return md.join('\n');
}

export function shapedSection(r: ShapedResult, table: Table, chart: (threads: number) => string | undefined): string {
  const md: string[] = [];
  md.push(`**${r.label}.** The real PP-ShiTuV2 inference programs, converted by this package's own Paddle converter with seeded random weights, so the times are those of the real models' arithmetic; the detections and labels mean nothing. Their parameter counts, FLOPs, conversion cost and inference times beside the published ones: closing note.\n\n`);
  for (const run of r.runs) {
    md.push(`Per stage at ${run.threads} thread(s), median (p99) ms over ${run.iterations} recognitions per image after ${run.warmup} warm-up runs:\n\n`);
    md.push(table(['image', 'boxes', 'decode', 'det pre-proc.', 'det inference (NMS in the graph)', 'det post-proc.', 'crop + feat pre-proc.', 'feat inference', 'search', 'wall (e2e)'], run.images.map((im) => [
      im.image, im.boxes,
      ...(['decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'search'] as const).map((k) => `${fmt(im.stages[k].p50)} (${fmt(im.stages[k].p99)})`),
      `**${fmt(im.wall.p50, 1)}** (${fmt(im.wall.p99, 1)})`,
    ])));
    const c = chart(run.threads);
    if (c) md.push(`![per-stage split, PP-ShiTuV2 programs, ${run.threads} thread(s)](${c})\n`);
  }
  for (const n of r.notes) md.push(`- ${n}\n`);
  md.push('\n');
  return md.join('\n');
}

// The report's "2. PP-ShiTuV2-shaped models beside the published table" section,
// from shaped.json (bench/sections/shaped.ts): parameter counts, FLOPs and per-stage times
// of the timing models against the published sizes and CPU times.
import { fmt } from '../lib/io';
import { amdahl, ShapedResult } from '../sections/shaped';

type Table = (head: string[], rows: Array<Array<string | number>>) => string;

const mb = (params: number) => (params * 4) / 1e6;

/** Median over the images of a stage's median (ms) in one run of the shaped models. */
export function shapedStage(r: ShapedResult, threads: number, stage: 'detInference' | 'recInference'): number {
  const run = r.runs.find((x) => x.threads === threads);
  if (!run) return NaN;
  const v = run.images.map((im) => im.stages[stage].p50).sort((a, b) => a - b);
  return v[v.length >> 1];
}

/** The 8-thread estimate of det + rec inference (Amdahl from 1 and 2 threads), or NaN without both. */
export function shapedEstimate8(r: ShapedResult): { det: number; rec: number } {
  const d1 = shapedStage(r, 1, 'detInference'), d2 = shapedStage(r, 2, 'detInference');
  const r1 = shapedStage(r, 1, 'recInference'), r2 = shapedStage(r, 2, 'recInference');
  return { det: amdahl(d1, d2, 8), rec: amdahl(r1, r2, 8) };
}

/** The closing note: the shaped models' parameter counts, FLOPs and inference times beside the published ones. */
export function shapedClosing(r: ShapedResult, table: Table): string {
  const md: string[] = [];
  const P = r.published;
  md.push(`The ${r.label} models (section 2) beside the published PP-ShiTuV2 table:\n\n`);
  md.push(table(['model (shaped after)', 'architecture', 'parameters ONNX / Paddle', 'FP32 MB (Paddle params)', 'published size', 'GFLOPs (multiply-adds)', 'ONNX file MB'], [
    ['PP-ShiTuV2_det', r.models.det.architecture, `${(r.models.det.counts.params / 1e6).toFixed(2)} M / ${(r.models.det.counts.paddleParams / 1e6).toFixed(2)} M`, `${fmt(mb(r.models.det.counts.paddleParams), 1)} (${fmt((100 * mb(r.models.det.counts.paddleParams)) / r.models.det.publishedMB - 100, 0)} %)`, `${r.models.det.publishedMB} MB`, fmt(r.models.det.counts.macs / 1e9, 2), fmt(r.models.det.bytes / 1e6, 1)],
    ['PP-ShiTuV2_rec', r.models.rec.architecture, `${(r.models.rec.counts.params / 1e6).toFixed(2)} M / ${(r.models.rec.counts.paddleParams / 1e6).toFixed(2)} M`, `${fmt(mb(r.models.rec.counts.paddleParams), 1)} (${fmt((100 * mb(r.models.rec.counts.paddleParams)) / r.models.rec.publishedMB - 100, 0)} %)`, `${r.models.rec.publishedMB} MB`, fmt(r.models.rec.counts.macs / 1e9, 2), fmt(r.models.rec.bytes / 1e6, 1)],
  ]));
  const est = shapedEstimate8(r);
  const rows: Array<Array<string | number>> = [];
  for (const [name, stage, pub, rawKey] of [['det inference', 'detInference', P.detMs, 'detMs'], ['rec inference (1 crop)', 'recInference', P.recMs, 'recMs']] as const) {
    const cells: Array<string | number> = [name];
    for (const th of [1, 2]) {
      const v = shapedStage(r, th, stage);
      const raw = r.raw.find((x) => x.threads === th)?.[rawKey];
      cells.push(Number.isFinite(v) ? `${fmt(v, 1)} (raw Run ${fmt(raw, 1)})` : 'not measured in this run');
    }
    const e = stage === 'detInference' ? est.det : est.rec;
    const m8 = shapedStage(r, 8, stage);
    cells.push(Number.isFinite(m8) ? `measured: ${fmt(m8, 1)}` : Number.isFinite(e) ? `${fmt(e, 1)} (estimate)` : 'n/a (needs 1 and 2 threads)');
    cells.push(`${pub}`);
    cells.push(Number.isFinite(m8) ? `${fmt(m8 / pub, 2)}x` : Number.isFinite(e) ? `${fmt(e / pub, 2)}x (estimate)` : `${fmt(shapedStage(r, 1, stage) / pub, 2)}x at 1 thread`);
    rows.push(cells);
  }
  md.push(table(['stage (median over the images, ms)', '1 thread here', '2 threads here', '8 threads', `published (${P.cpu})`, 'here ÷ published'], rows));
  for (const s of r.skippedThreads) md.push(`- ${s.threads} threads: not measured: ${s.reason}.\n`);
  md.push('\n');
  return md.join('\n');
}

export function shapedSection(r: ShapedResult, table: Table, chart: (threads: number) => string | undefined): string {
  const md: string[] = [];
  md.push(`**${r.label}.** Graphs with the published architectures and random weights, so the times are those of the real models' arithmetic; the detections and labels mean nothing. Their parameter counts, FLOPs and inference times beside the published ones: closing note.\n\n`);
  for (const run of r.runs) {
    md.push(`Per stage at ${run.threads} thread(s), median (p99) ms over ${run.iterations} recognitions per image after ${run.warmup} warm-up runs:\n\n`);
    md.push(table(['image', 'boxes', 'decode', 'det pre-proc.', 'det inference (NMS in the graph)', 'det post-proc.', 'crop + feat pre-proc.', 'feat inference', 'search', 'wall (e2e)'], run.images.map((im) => [
      im.image, im.boxes,
      ...(['decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'search'] as const).map((k) => `${fmt(im.stages[k].p50)} (${fmt(im.stages[k].p99)})`),
      `**${fmt(im.wall.p50, 1)}** (${fmt(im.wall.p99, 1)})`,
    ])));
    const c = chart(run.threads);
    if (c) md.push(`![per-stage split, shaped models, ${run.threads} thread(s)](${c})\n`);
  }
  for (const n of r.notes) md.push(`- ${n}\n`);
  md.push('\n');
  return md.join('\n');
}

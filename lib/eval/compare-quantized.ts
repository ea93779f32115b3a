// `shitu eval --compare-quantized`: the same evaluation run with the FP32 and
// the INT8 feature model (its `shitu models quantize` copy), reduced to the
// figures a user weighs the INT8 model by, side by side.
import type { EvaluationReport, LevelReport } from './evaluate';

interface LevelFigures { recall1: number; recall5: number; mAP: number }
export interface ModelFigures { image: LevelFigures; box: LevelFigures; seconds: number; queriesPerSecond: number }

export interface QuantizedComparison {
  kind: 'shitu-eval-compare-quantized';
  version: 1;
  topk: number;
  queries: number;
  fp32: ModelFigures;
  int8: ModelFigures;
}

const level = (l: LevelReport): LevelFigures => ({ recall1: l.recall1, recall5: l.recall5, mAP: l.mAP });
const figures = (r: EvaluationReport): ModelFigures => ({ image: level(r.image), box: level(r.box), seconds: r.run.seconds, queriesPerSecond: r.run.queriesPerSecond });

export function compareQuantized(fp32: EvaluationReport, int8: EvaluationReport): QuantizedComparison {
  return { kind: 'shitu-eval-compare-quantized', version: 1, topk: fp32.topk, queries: fp32.queries.total, fp32: figures(fp32), int8: figures(int8) };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : 'n/a');

/** The comparison as aligned text lines: a row per figure, FP32 and INT8 columns. */
export function comparisonLines(c: QuantizedComparison): string[] {
  const rows: Array<[string, string, string]> = [['', 'FP32', 'INT8']];
  for (const lv of ['image', 'box'] as const) {
    rows.push([`per ${lv}: Recall@1`, pct(c.fp32[lv].recall1), pct(c.int8[lv].recall1)]);
    rows.push([`per ${lv}: mAP@${c.topk}`, pct(c.fp32[lv].mAP), pct(c.int8[lv].mAP)]);
  }
  rows.push(['queries/s', c.fp32.queriesPerSecond.toFixed(1), c.int8.queriesPerSecond.toFixed(1)]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}`);
}

// Writes an evaluation to a directory: report.json, report.md, threshold.svg
// and scores.svg (the charts the Markdown shows).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../pipeline/result';
import type { EvaluationReport } from './evaluate';
import type { EvalAnswer } from './answer';
import { evaluationMarkdown } from './report-markdown';
import { scoreChart, ScoredAnswer, thresholdChart } from './report-svg';

/** The image-level answers as the score chart wants them. */
export function scoredAnswers(r: EvaluationReport): ScoredAnswer[] {
  return r.details.filter((d) => d.answer).map((d) => ({
    score: d.answer!.score,
    kind: !d.known ? 'unknown' : d.answer!.label === d.label ? 'correct' : 'wrong',
  }));
}

export function evaluationCharts(r: EvaluationReport): EvalAnswer['charts'] {
  return {
    threshold: thresholdChart(r.image.sweep.rows, r.metricType, r.currentThreshold, r.image.sweep.suggested),
    scores: scoreChart(scoredAnswers(r), r.currentThreshold, r.image.sweep.suggested),
  };
}

export async function writeEvaluation(r: EvaluationReport, dir: string): Promise<string[]> {
  await fs.promises.mkdir(dir, { recursive: true });
  const charts = evaluationCharts(r);
  const files: Array<[string, string]> = [
    ['report.json', JSON.stringify(r, null, 2) + '\n'],
    ['report.md', evaluationMarkdown(r)],
    ['threshold.svg', charts.threshold],
    ['scores.svg', charts.scores],
  ];
  for (const [name, text] of files) await writeFileAtomic(path.join(dir, name), text);
  return files.map(([name]) => path.join(dir, name));
}

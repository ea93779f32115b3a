// One evaluation with its gallery check and charts: the result POST /shitu-eval
// answers (lib/server/routes/eval.ts) and the web page's Evaluate view reads
// (web/evaluate.ts, through web/api.ts). Its own file, free of Fastify, so
// that the page's build imports the one definition. Types only.
import type { EvaluationReport } from './evaluate';
import type { GalleryCheckReport } from './gallery-check';

export interface EvalAnswer {
  report: EvaluationReport;
  /** Null when the request asked for no check. */
  check: GalleryCheckReport | null;
  /** SVG text (lib/eval/write-report.ts evaluationCharts). */
  charts: { threshold: string; scores: string };
}

// The rec_threshold sweep: what every threshold would do to a set of answers.
// An answer is the top-1 label and score of a query (or null: nothing found);
// a query is known when its label is in the gallery, unknown otherwise (it
// should be rejected). At threshold t an answer is accepted when its score
// passes t in the metric's direction (IP: score >= t, L2: score <= t), as
// rec_threshold does in recognition.
import type { MetricType } from '../vector-index/index-data';
import { passesThreshold } from '../vector-index/searcher';

export interface SweepItem {
  score: number | null;
  /** The top-1 label equals the query's label. */
  correct: boolean;
  known: boolean;
}

export interface SweepRow {
  threshold: number;
  /** Accepted answers / all queries. */
  acceptRate: number;
  /** Correct accepted / accepted (NaN when none is accepted). */
  precision: number;
  /** Correct accepted / known queries (NaN without known queries). */
  recall: number;
  /** Unknown queries not accepted / unknown queries (NaN without unknown queries). */
  unknownRejection: number;
  /** Harmonic mean of precision and recall (0 when either is 0 or undefined). */
  f1: number;
}

export interface Sweep {
  rows: SweepRow[];
  /** The row whose threshold maximises F1 (ties: the stricter threshold), or null without answers. */
  bestF1: SweepRow | null;
  /** The loosest threshold whose precision reaches targetPrecision, or null when none does. */
  targetPrecision: { target: number; row: SweepRow | null };
  /**
   * The threshold to configure: half-way between the best-F1 row's threshold
   * and the next looser score seen, so that a score a little off (another CPU,
   * another photo of the same product) falls on the same side. Null without answers.
   */
  suggested: number | null;
}

export function sweepRow(items: readonly SweepItem[], metric: MetricType, threshold: number): SweepRow {
  let accepted = 0, correct = 0, known = 0, unknown = 0, unknownRejected = 0;
  for (const it of items) {
    const ok = it.score !== null && passesThreshold(metric, it.score, threshold);
    if (it.known) known++;
    else unknown++;
    if (ok) {
      accepted++;
      if (it.correct) correct++;
    } else if (!it.known) unknownRejected++;
  }
  const precision = accepted ? correct / accepted : NaN;
  const recall = known ? correct / known : NaN;
  const f1 = precision > 0 && recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return {
    threshold,
    acceptRate: items.length ? accepted / items.length : NaN,
    precision,
    recall,
    unknownRejection: unknown ? unknownRejected / unknown : NaN,
    f1,
  };
}

/**
 * Every threshold that changes an outcome: each distinct answer score (at a
 * score itself, the answer is accepted). Rows go from the strictest threshold
 * to the loosest. One sort and one pass (cumulative counts), so a sweep over
 * 100,000 answers does not hold the event loop.
 */
export function sweepThresholds(items: readonly SweepItem[], metric: MetricType, targetPrecision: number): Sweep {
  const scored = items.filter((i): i is SweepItem & { score: number } => i.score !== null);
  // Strictest first: IP accepts less as t grows, L2 as t shrinks.
  scored.sort((a, b) => (metric === 'L2' ? a.score - b.score : b.score - a.score));
  let known = 0;
  for (const it of items) if (it.known) known++;
  const unknown = items.length - known;
  const rows: SweepRow[] = [];
  let accepted = 0, correct = 0, unknownAccepted = 0;
  for (let i = 0; i < scored.length; i++) {
    const it = scored[i];
    accepted++;
    if (it.correct) correct++;
    if (!it.known) unknownAccepted++;
    if (i + 1 < scored.length && scored[i + 1].score === it.score) continue; // the same threshold
    const precision = correct / accepted;
    const recall = known ? correct / known : NaN;
    rows.push({
      threshold: it.score,
      acceptRate: accepted / items.length,
      precision,
      recall,
      unknownRejection: unknown ? (unknown - unknownAccepted) / unknown : NaN,
      f1: precision > 0 && recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    });
  }
  let best: SweepRow | null = null;
  let bestAt = -1;
  rows.forEach((r, i) => {
    if (best === null || r.f1 > best.f1) { best = r; bestAt = i; }
  });
  let target: SweepRow | null = null;
  for (const r of rows) if (r.precision >= targetPrecision) target = r; // the last one reaching it is the loosest
  let suggested: number | null = null;
  if (best !== null) {
    const next = rows[bestAt + 1];
    suggested = next ? ((best as SweepRow).threshold + next.threshold) / 2 : (best as SweepRow).threshold;
  }
  return { rows, bestF1: best, targetPrecision: { target: targetPrecision, row: target }, suggested };
}

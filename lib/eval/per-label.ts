// Per-label figures and the most confused label pairs of an evaluation, at one
// threshold (the answers accepted there count as predictions).

export interface LabelledAnswer {
  /** The query's label ('-' or absent from the gallery: unknown). */
  label: string;
  known: boolean;
  /** The accepted top-1 label, or null when rejected or nothing was found. */
  predicted: string | null;
  image: string;
}

export interface LabelStats {
  label: string;
  /** Queries carrying this label. */
  support: number;
  /** Of them, answered with this label. */
  recall: number;
  /** Answers with this label that were right (NaN when never answered). */
  precision: number;
  /** Answers with this label. */
  predicted: number;
}

export interface ConfusedPair {
  /** The query's label (what it is). */
  truth: string;
  /** What it was taken for. */
  predicted: string;
  count: number;
  /** Up to EXAMPLES query images. */
  examples: string[];
}

const EXAMPLES = 3;

/** Known labels' figures, sorted by label; unknown queries are counted in the pairs only. */
export function perLabel(answers: readonly LabelledAnswer[]): LabelStats[] {
  const stats = new Map<string, { support: number; hit: number; predicted: number; right: number }>();
  const get = (l: string) => {
    let s = stats.get(l);
    if (!s) stats.set(l, (s = { support: 0, hit: 0, predicted: 0, right: 0 }));
    return s;
  };
  for (const a of answers) {
    if (a.known) {
      const s = get(a.label);
      s.support++;
      if (a.predicted === a.label) s.hit++;
    }
    if (a.predicted !== null) {
      const p = get(a.predicted);
      p.predicted++;
      if (a.predicted === a.label) p.right++;
    }
  }
  return [...stats].sort((a, b) => a[0].localeCompare(b[0])).map(([label, s]) => ({
    label,
    support: s.support,
    recall: s.support ? s.hit / s.support : NaN,
    precision: s.predicted ? s.right / s.predicted : NaN,
    predicted: s.predicted,
  }));
}

/** (truth, predicted) pairs of wrong accepted answers, most frequent first; unknown queries appear with truth '(unknown)' when their label is '-'. */
export function confusedPairs(answers: readonly LabelledAnswer[], limit = 10): ConfusedPair[] {
  const pairs = new Map<string, ConfusedPair>();
  for (const a of answers) {
    if (a.predicted === null || a.predicted === a.label) continue;
    const truth = a.label === '-' ? '(unknown)' : a.label;
    const key = JSON.stringify([truth, a.predicted]);
    let p = pairs.get(key);
    if (!p) pairs.set(key, (p = { truth, predicted: a.predicted, count: 0, examples: [] }));
    p.count++;
    if (p.examples.length < EXAMPLES) p.examples.push(a.image);
  }
  return [...pairs.values()].sort((a, b) => b.count - a.count || a.truth.localeCompare(b.truth) || a.predicted.localeCompare(b.predicted)).slice(0, limit);
}

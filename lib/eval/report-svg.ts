// SVG charts of an evaluation, written as plain text (no dependency): the
// threshold chart (precision, recall of known items, rejection of unknown
// items and accept rate against rec_threshold, with the current and suggested
// thresholds marked) and the score distributions of correct, wrong and
// unknown answers. Colours are fixed per series so charts compare at a glance.
import type { MetricType } from '../vector-index/index-data';
import type { SweepRow } from './sweep';
import { escapeXml } from '../util/xml-escape';

const W = 640, H = 380, L = 56, R = 16, T = 28, B = 68;
const MAX_POINTS = 1000;
const esc = escapeXml;
const num = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(2)) : 0);
/** Math.min/max over any number of values (spreading 100,000 arguments overflows the stack). */
const range = (xs: readonly number[]) => xs.reduce((r, x) => [Math.min(r[0], x), Math.max(r[1], x)], [Infinity, -Infinity]);

export const SERIES = {
  precision: '#1f77b4',
  recall: '#2ca02c',
  unknownRejection: '#d62728',
  acceptRate: '#7f7f7f',
  correct: '#2ca02c',
  wrong: '#ff7f0e',
  unknown: '#d62728',
} as const;

function frame(title: string, xMin: number, xMax: number, xLabel: string, yLabel: string, yMax = 1): { head: string; x: (v: number) => number; y: (v: number) => number } {
  const x = (v: number) => L + ((v - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const y = (v: number) => H - B - (v / (yMax || 1)) * (H - T - B);
  const parts = [`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`];
  for (let i = 0; i <= 5; i++) {
    const xv = xMin + ((xMax - xMin) * i) / 5, yv = (yMax * i) / 5;
    parts.push(`<text x="${num(x(xv))}" y="${H - B + 16}" text-anchor="middle" font-size="11">${Number(xv.toFixed(3))}</text>`);
    parts.push(`<text x="${L - 6}" y="${num(y(yv)) + 4}" text-anchor="end" font-size="11">${Number(yv.toFixed(2))}</text>`);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${num(y(yv))}" y2="${num(y(yv))}" stroke="#eee"/>`);
  }
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  parts.push(`<text x="${W / 2}" y="${H - B + 34}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  parts.push(`<text x="14" y="${H / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${H / 2})">${esc(yLabel)}</text>`);
  return { head: parts.join(''), x, y };
}

const svg = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif">\n${body}\n</svg>\n`;

function legend(items: Array<[string, string]>): string {
  // Under the plot, where no line can hide it.
  return items.map(([name, colour], i) => `<rect x="${L + 8 + i * 150}" y="${H - 16}" width="10" height="10" fill="${colour}"/><text x="${L + 22 + i * 150}" y="${H - 7}" font-size="11">${esc(name)}</text>`).join('');
}

/** Precision / recall / unknown rejection / accept rate against the threshold. */
export function thresholdChart(rows: readonly SweepRow[], metric: MetricType, current: number, suggested: number | null, title = 'rec_threshold sweep'): string {
  let [lo, hi] = range([...rows.map((r) => r.threshold), current, ...(suggested === null ? [] : [suggested])]);
  if (!(hi > lo)) { lo -= 0.05; hi += 0.05; }
  const f = frame(title, lo, hi, `rec_threshold (${metric === 'L2' ? 'L2 distance: accepted at or below' : 'cosine: accepted at or above'})`, 'share');
  // At most MAX_POINTS per line: a sweep of 100,000 answers draws as well with every n-th row.
  const all = [...rows].sort((a, b) => a.threshold - b.threshold);
  const step = Math.max(1, Math.ceil(all.length / MAX_POINTS));
  const sorted = all.filter((_, i) => i % step === 0 || i === all.length - 1);
  const line = (key: 'precision' | 'recall' | 'unknownRejection' | 'acceptRate') => {
    const pts = sorted.filter((r) => Number.isFinite(r[key])).map((r) => `${num(f.x(r.threshold))},${num(f.y(r[key]))}`);
    return pts.length ? `<polyline fill="none" stroke="${SERIES[key]}" stroke-width="2" points="${pts.join(' ')}"/>` : '';
  };
  const mark = (v: number, colour: string, text: string, dy: number) =>
    `<line x1="${num(f.x(v))}" x2="${num(f.x(v))}" y1="${T}" y2="${H - B}" stroke="${colour}" stroke-dasharray="4 3"/><text x="${num(f.x(v)) + 4}" y="${T + 34 + dy}" font-size="11" fill="${colour}">${esc(text)}</text>`;
  return svg([
    f.head,
    line('acceptRate'), line('unknownRejection'), line('recall'), line('precision'),
    mark(current, '#555', `current ${Number(current.toFixed(4))}`, 0),
    suggested === null ? '' : mark(suggested, '#9467bd', `suggested ${Number(suggested.toFixed(4))}`, 14),
    legend([['precision', SERIES.precision], ['recall (known)', SERIES.recall], ['rejected (unknown)', SERIES.unknownRejection], ['accepted', SERIES.acceptRate]]),
  ].join('\n'));
}

export interface ScoredAnswer { score: number; kind: 'correct' | 'wrong' | 'unknown' }

/** Histograms of the top-1 scores of correct, wrong and unknown answers, side by side per bin. */
export function scoreChart(answers: readonly ScoredAnswer[], current: number, suggested: number | null, bins = 20, title = 'top-1 scores'): string {
  let [lo, hi] = range([...answers.map((a) => a.score), current]);
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (!(hi > lo)) { lo -= 0.05; hi += 0.05; }
  const width = (hi - lo) / bins;
  const kinds = ['correct', 'wrong', 'unknown'] as const;
  const counts = kinds.map(() => new Array(bins).fill(0) as number[]);
  for (const a of answers) counts[kinds.indexOf(a.kind)][Math.min(bins - 1, Math.floor((a.score - lo) / width))]++;
  const top = Math.max(1, ...counts.flat());
  const f = frame(title, lo, hi, 'top-1 score', 'answers', top);
  const bars: string[] = [];
  counts.forEach((row, k) => row.forEach((c, b) => {
    if (!c) return;
    const x0 = f.x(lo + b * width) + (k * (f.x(lo + width) - f.x(lo))) / 3;
    bars.push(`<rect x="${num(x0)}" y="${num(f.y(c))}" width="${num((f.x(lo + width) - f.x(lo)) / 3)}" height="${num(f.y(0) - f.y(c))}" fill="${SERIES[kinds[k]]}"/>`);
  }));
  const mark = (v: number, colour: string) => `<line x1="${num(f.x(v))}" x2="${num(f.x(v))}" y1="${T}" y2="${H - B}" stroke="${colour}" stroke-dasharray="4 3"/>`;
  return svg([
    f.head, ...bars, mark(current, '#555'), suggested === null ? '' : mark(suggested, '#9467bd'),
    legend([['correct', SERIES.correct], ['wrong', SERIES.wrong], ['unknown', SERIES.unknown]]),
  ].join('\n'));
}

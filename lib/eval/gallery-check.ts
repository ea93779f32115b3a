// Gallery health (index.check / checkGallery): what in a gallery will make
// recognition go wrong, found from the gallery's own vectors.
//  - conflicts: entries whose nearest neighbour (itself and its exact copies
//    under the same label aside) carries another label at or above
//    conflictSimilarity: a query near one of them may get either label.
//    `likelyMislabelled` when that neighbour is clearly closer than any entry
//    of its own label and the similarity-weighted vote of its next nearest
//    neighbours names another label (`suggestedLabel`): its own kind is
//    elsewhere, so the label, not the picture, is probably wrong;
//  - outliers: entries of a label (with >= 3 entries) whose mean similarity to
//    the rest of their label is below outlierSimilarity or below their best
//    similarity to another label: the picture sits apart from its kind;
//  - duplicates: pairs at or above nearDuplicateSimilarity (exact: the same
//    bytes, or the same vector up to float rounding);
//  - noMainBody: images where detection found no main body (pictures only).
import type { PipelineCore } from '../pipeline/core';
import type { MetricType } from '../vector-index/index-data';
import { IndexData } from '../vector-index/index-data';
import { EVAL, GALLERY_CHECK } from '../limits';
import { fromImages, fromIndex, GalleryInput, GallerySource } from './gallery-source';
import { isExactDuplicate } from './evaluate';
import { queryFeatures } from './query-features';
import { readImage } from './embed-cache';
import { throwIfCancelled } from './cancel';

export interface GalleryCheckOptions {
  /** Nearest other-label neighbours at or above this are conflicts (default: the pipeline config's rec_threshold, else 0.5). */
  conflictSimilarity?: number;
  /** Pairs at or above this are near duplicates (default 0.98). */
  nearDuplicateSimilarity?: number;
  /** Mean similarity to the own label below this makes an outlier (default: conflictSimilarity). */
  outlierSimilarity?: number;
  /** Run detection on every gallery picture to find those without a main body (default true when there are pictures and a pipeline). */
  detect?: boolean;
  onProgress?: (p: { stage: 'gallery' | 'detection'; done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface EntryRef { id: number; label: string; image: string | null }

export interface Conflict {
  entry: EntryRef;
  neighbour: EntryRef;
  similarity: number;
  /** The entry's best similarity to another entry of its own label (null: it is the only one). */
  ownLabelBest: number | null;
  likelyMislabelled: boolean;
  suggestedLabel: string | null;
}

export interface Outlier { entry: EntryRef; meanOwnSimilarity: number; bestOtherSimilarity: number | null }
export interface LabelSpread { label: string; entries: number; meanSimilarity: number | null; minSimilarity: number | null }
export interface Duplicate { a: EntryRef; b: EntryRef; similarity: number; exact: boolean; sameLabel: boolean }

export interface GalleryCheckReport {
  kind: 'shitu-gallery-check';
  version: 1;
  metricType: MetricType;
  entries: number;
  labels: number;
  thresholds: { conflictSimilarity: number; nearDuplicateSimilarity: number; outlierSimilarity: number };
  conflicts: Conflict[];
  outliers: Outlier[];
  spread: LabelSpread[];
  duplicates: Duplicate[];
  /** Null when not looked for (no pictures, or detect: false). */
  noMainBody: EntryRef[] | null;
}

function checkOptions(o: GalleryCheckOptions): void {
  for (const k of ['conflictSimilarity', 'nearDuplicateSimilarity', 'outlierSimilarity'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !(v >= -1 && v <= 1))) throw new RangeError(`${k} must be a cosine similarity in [-1, 1], got ${JSON.stringify(v)}`);
  }
  if (o.detect !== undefined && typeof o.detect !== 'boolean') throw new TypeError('detect must be a boolean');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
}

/** Similarity (cosine) of a score: IP scores are cosines of unit vectors, L2 squared distances are 2 - 2 cos. */
const cosine = (metric: MetricType, score: number) => (metric === 'L2' ? 1 - score / 2 : score);

export async function checkGallerySource(g: GallerySource, o: GalleryCheckOptions & { pipeline?: PipelineCore; defaultConflict?: number } = {}): Promise<GalleryCheckReport> {
  checkOptions(o);
  const metric = g.index.metricType;
  const conflictSimilarity = o.conflictSimilarity ?? o.defaultConflict ?? GALLERY_CHECK.conflictSimilarity;
  const nearDuplicateSimilarity = o.nearDuplicateSimilarity ?? GALLERY_CHECK.nearDuplicateSimilarity;
  const outlierSimilarity = o.outlierSimilarity ?? conflictSimilarity;
  const n = g.ids.length;
  const dim = g.index.dim;
  const ref = (i: number): EntryRef => ({ id: g.ids[i], label: g.labels[i], image: g.images ? g.images[i] : null });
  const pos = new Map(g.ids.map((id, i) => [id, i]));
  const k = Math.min(n, EVAL.duplicateSearch);
  const hits = n ? await g.index.search(g.vectors, k) : [];
  throwIfCancelled(o.signal);
  const sameBytes = (i: number, j: number) => !!g.hashes && g.hashes[i] === g.hashes[j];

  const conflicts: Conflict[] = [];
  const duplicates: Duplicate[] = [];
  const seenPair = new Set<string>();
  for (let i = 0; i < n; i++) {
    const nb = hits[i].filter((h) => h.id !== g.ids[i]).map((h) => ({ j: pos.get(h.id)!, sim: cosine(metric, h.score) }));
    for (const { j, sim } of nb) {
      const exact = sameBytes(i, j) || isExactDuplicate('IP', sim);
      if (sim < nearDuplicateSimilarity && !exact) continue;
      const key = i < j ? `${i},${j}` : `${j},${i}`;
      if (seenPair.has(key)) continue;
      seenPair.add(key);
      const [a, b] = i < j ? [i, j] : [j, i];
      duplicates.push({ a: ref(a), b: ref(b), similarity: sim, exact, sameLabel: g.labels[a] === g.labels[b] });
    }
    // An exact copy under the same label is a duplicate, not a neighbour.
    const others = nb.filter(({ j, sim }) => !(g.labels[j] === g.labels[i] && (sameBytes(i, j) || isExactDuplicate('IP', sim))));
    const first = others[0];
    if (!first || g.labels[first.j] === g.labels[i] || first.sim < conflictSimilarity) continue;
    const own = others.find(({ j }) => g.labels[j] === g.labels[i]);
    const votes = new Map<string, number>();
    // The vote leaves the neighbour itself out: a near copy under another label
    // shares the entry's whole neighbourhood, so only the rest can tell which
    // of the two labels the picture's kind carries.
    for (const { j, sim } of others.slice(1, 1 + GALLERY_CHECK.vote)) votes.set(g.labels[j], (votes.get(g.labels[j]) ?? 0) + Math.max(0, sim));
    let winner: string | null = null;
    for (const [l, v] of votes) if (winner === null || v > votes.get(winner)!) winner = l;
    // Closer to another label's picture than to any of its own by a clear margin
    // (a label with one entry: only a near copy of another label's picture).
    const apart = own ? first.sim - own.sim >= GALLERY_CHECK.mislabelMargin : first.sim >= nearDuplicateSimilarity;
    const likely = apart && winner !== null && winner !== g.labels[i];
    conflicts.push({ entry: ref(i), neighbour: ref(first.j), similarity: first.sim, ownLabelBest: own ? own.sim : null, likelyMislabelled: likely, suggestedLabel: likely ? winner : null });
  }
  conflicts.sort((a, b) => Number(b.likelyMislabelled) - Number(a.likelyMislabelled) || b.similarity - a.similarity);
  duplicates.sort((a, b) => b.similarity - a.similarity);

  // Spread and outliers: exact similarities within each label (labels are small next to the gallery).
  const byLabel = new Map<string, number[]>();
  g.labels.forEach((l, i) => { const m = byLabel.get(l); if (m) m.push(i); else byLabel.set(l, [i]); });
  const dot = (i: number, j: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += g.vectors[i * dim + d] * g.vectors[j * dim + d];
    return s;
  };
  const spread: LabelSpread[] = [];
  const outliers: Outlier[] = [];
  for (const [label, members] of [...byLabel].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (members.length < 2 || members.length > GALLERY_CHECK.maxLabelForSpread) {
      spread.push({ label, entries: members.length, meanSimilarity: null, minSimilarity: null });
      continue;
    }
    const mean = new Map<number, number>();
    let sum = 0, pairs = 0, min = Infinity;
    for (const i of members) {
      let s = 0;
      for (const j of members) if (j !== i) { const v = dot(i, j); s += v; if (i < j) { sum += v; pairs++; min = Math.min(min, v); } }
      mean.set(i, s / (members.length - 1));
    }
    spread.push({ label, entries: members.length, meanSimilarity: sum / pairs, minSimilarity: min });
    if (members.length < 3) continue; // two pictures: which one is apart cannot be told
    for (const i of members) {
      const other = hits[i].find((h) => g.labels[pos.get(h.id)!] !== label);
      const bestOther = other ? cosine(metric, other.score) : null;
      const m = mean.get(i)!;
      if (m < outlierSimilarity || (bestOther !== null && m < bestOther)) outliers.push({ entry: ref(i), meanOwnSimilarity: m, bestOtherSimilarity: bestOther });
    }
  }
  outliers.sort((a, b) => a.meanOwnSimilarity - b.meanOwnSimilarity);

  let noMainBody: EntryRef[] | null = null;
  if (g.sources && o.pipeline && o.detect !== false) {
    noMainBody = [];
    const images = g.sources;
    const pipeline = o.pipeline;
    // The same picture twice is detected once.
    const byHash = new Map<string, Promise<boolean>>();
    const found = new Array<boolean>(n);
    let done = 0, next = 0;
    const worker = async () => {
      while (next < n) {
        throwIfCancelled(o.signal);
        const i = next++;
        const { bytes, hash } = await readImage(images[i]);
        let p = byHash.get(hash);
        if (!p) byHash.set(hash, (p = queryFeatures(pipeline, bytes, { metricType: metric, signal: o.signal }).then((f) => !f.noMainBody)));
        found[i] = await p;
        o.onProgress?.({ stage: 'detection', done: ++done, total: n });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(n, pipeline.settings.concurrency)) }, worker));
    for (let i = 0; i < n; i++) if (!found[i]) noMainBody.push(ref(i));
  }

  return {
    kind: 'shitu-gallery-check', version: 1, metricType: metric, entries: n, labels: byLabel.size,
    thresholds: { conflictSimilarity, nearDuplicateSimilarity, outlierSimilarity },
    conflicts, outliers, spread, duplicates, noMainBody,
  };
}

/** Checks a gallery given as an index (its vectors read back) or as pictures with a label file (embedded now, whole as buildIndex does). */
export async function checkGallery(pipeline: PipelineCore | null, src: { index: IndexData | string } | { gallery: GalleryInput }, o: GalleryCheckOptions = {}): Promise<GalleryCheckReport> {
  checkOptions(o);
  let g: GallerySource;
  if ('gallery' in src) {
    if (!pipeline) throw new TypeError('checkGallery: a gallery of pictures needs a pipeline to embed them');
    g = await fromImages(pipeline, src.gallery, { onProgress: (p) => o.onProgress?.({ stage: 'gallery', ...p }), signal: o.signal });
  } else {
    const index = typeof src.index === 'string' ? await IndexData.load(src.index) : src.index;
    if (!(index instanceof IndexData)) throw new TypeError('checkGallery: index must be an IndexData or a saved index directory');
    g = fromIndex(index);
  }
  return checkGallerySource(g, { ...o, pipeline: pipeline ?? undefined, defaultConflict: pipeline?.config.rec_threshold });
}

// pipeline.evaluate: a labelled query set (or the gallery itself, leave-one-out)
// recognised against a gallery, with Recall@k / mAP@k (lib/eval/metrics.ts),
// the rec_threshold sweep (lib/eval/sweep.ts) and per-label figures, at the
// level of whole images and of detected boxes.
//
// How boxes meet image labels: a query image carries one label (one product
// per picture, as a gallery photo does).
//  - per image: the image's answer is the box whose top-1 score is best (the
//    most confident box), ranked by that box's search;
//  - per box: every detected box is a query of its own carrying the image's
//    label, so a second product in the picture counts as a wrong answer there.
// An image where no main body was found is still answered (its whole picture
// is one box, as recognition does) and counted in noMainBody.
import * as path from 'node:path';
import { RECOGNIZE_IMAGE_LABEL, ShituError, withoutImageLabel } from '../errors';
import { throwIfCancelled } from './cancel';
import type { PipelineCore } from '../pipeline/core';
import { IndexData, MetricType, SearchHit } from '../vector-index/index-data';
import { EVAL } from '../limits';
import { EmbedCache, readImage } from './embed-cache';
import { fromImages, fromIndex, GalleryInput, GallerySource, labelledImages } from './gallery-source';
import { meanAveragePrecision, recallAtK, Relevance } from './metrics';
import { confusedPairs, ConfusedPair, LabelStats, perLabel } from './per-label';
import { QueryFeatures, queryFeatures } from './query-features';
import { Sweep, SweepItem, sweepRow, SweepRow, sweepThresholds } from './sweep';

/** A query's label that marks an item the gallery should not recognise. */
export const UNKNOWN_LABEL = '-';

export interface EvaluateOptions {
  /** The gallery as an index (or a saved index directory)... */
  index?: IndexData | string;
  /** ...or as images with a label file (or labelled pictures), embedded now... */
  gallery?: GalleryInput;
  /** ...or already read (lib/eval/gallery-source.ts), to share one embedding with a gallery check. */
  source?: GallerySource;
  /** A directory of query images (with queryLabels), or labelled pictures. */
  queries?: string | Array<{ image: string | Uint8Array; label: string }>;
  /** ...and their labels, in the gallery label format ('-' or a label absent from the gallery: should be rejected). Default: queries/labels.txt. */
  queryLabels?: string;
  /** No query set: each gallery image queried against the rest of the gallery. */
  leaveOneOut?: boolean;
  /** Entries searched per box: mAP@k's k (default 5; Recall@5 always searches at least 5). */
  topk?: number;
  detThreshold?: number;
  /** The threshold in use, reported beside the suggested one (default: the pipeline config's rec_threshold). */
  recThreshold?: number;
  /** The precision the loosest reported threshold must reach (default 0.95). */
  targetPrecision?: number;
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
  onProgress?: (p: { stage: 'gallery' | 'queries'; done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface QueryDetail {
  image: string;
  label: string;
  known: boolean;
  noMainBody: boolean;
  /** Per box, its top-k (gallery ids, labels and scores), detection order. */
  boxes: Array<{ coordinate: [number, number, number, number]; detScore: number; hits: SearchHit[] }>;
  /** The image's answer: the best box's top-1, or null when nothing was found. */
  answer: { label: string; score: number; box: number } | null;
}

export interface LevelReport {
  /** Queries at this level (images, or boxes). */
  count: number;
  known: number;
  unknown: number;
  recall1: number;
  recall5: number;
  /** mAP@topk (PaddleClas's AP over the searched top-k). */
  mAP: number;
  sweep: Sweep;
  /** The sweep at the current threshold and at the suggested one. */
  atCurrent: SweepRow;
  atSuggested: SweepRow | null;
  /** Per label and the most confused pairs, at the suggested threshold (the current one without answers). */
  perLabel: LabelStats[];
  confused: ConfusedPair[];
}

export interface EvaluationReport {
  kind: 'shitu-eval';
  version: 1;
  mode: 'queries' | 'leave-one-out';
  metricType: MetricType;
  topk: number;
  detThreshold: number;
  currentThreshold: number;
  targetPrecision: number;
  boxMatching: string;
  gallery: { entries: number; labels: number };
  queries: { total: number; known: number; unknown: number; noMainBody: number; noMainBodyShare: number };
  image: LevelReport;
  box: LevelReport;
  details: QueryDetail[];
  run: { seconds: number; queriesPerSecond: number; embedded: { gallery: number; queries: number }; cacheHits: number };
}

export const BOX_MATCHING = 'per image: the box with the best top-1 score answers for the image; per box: every detected box is a query carrying its image\'s label';

function checkOptions(o: EvaluateOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('evaluate(options): options must be an object');
  if ([o.index, o.gallery, o.source].filter((x) => x !== undefined).length !== 1) throw new TypeError('evaluate: give exactly one of index and gallery');
  if (o.leaveOneOut !== undefined && typeof o.leaveOneOut !== 'boolean') throw new TypeError('evaluate: leaveOneOut must be a boolean');
  if (!!o.leaveOneOut === (o.queries !== undefined)) throw new TypeError('evaluate: give either queries (a directory of query images) or leaveOneOut: true');
  if (o.queries !== undefined && typeof o.queries !== 'string' && !Array.isArray(o.queries)) throw new TypeError('evaluate: queries must be a directory or a list of {image, label}');
  if (o.queryLabels !== undefined && typeof o.queryLabels !== 'string') throw new TypeError('evaluate: queryLabels must be the path of a label file');
  const { topk, targetPrecision } = EVAL;
  if (o.topk !== undefined && (!Number.isInteger(o.topk) || o.topk < topk.min || o.topk > topk.max))
    throw new RangeError(`evaluate: topk must be an integer in [${topk.min}, ${topk.max}], got ${JSON.stringify(o.topk)}`);
  if (o.targetPrecision !== undefined && (typeof o.targetPrecision !== 'number' || !(o.targetPrecision > targetPrecision.min && o.targetPrecision <= targetPrecision.max)))
    throw new RangeError(`evaluate: targetPrecision must be a number in (${targetPrecision.min}, ${targetPrecision.max}], got ${JSON.stringify(o.targetPrecision)}`);
  if (o.recThreshold !== undefined && (typeof o.recThreshold !== 'number' || !Number.isFinite(o.recThreshold)))
    throw new RangeError(`evaluate: recThreshold must be a number, got ${JSON.stringify(o.recThreshold)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('evaluate: signal must be an AbortSignal');
}

/** Runs `f` on every item with `n` at once, in order of start; stops starting new ones once cancelled. */
async function pool<T, R>(items: readonly T[], n: number, signal: AbortSignal | undefined, f: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      throwIfCancelled(signal);
      const i = next++;
      out[i] = await f(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

interface Query {
  image: string;
  source?: string | Uint8Array;
  label: string;
  /** Leave-one-out: the gallery position this query is, and the ids it may not find. */
  exclude?: Set<number>;
  /** Leave-one-out on an index without pictures: the stored vector is the query. */
  vector?: Float32Array;
}

/** Gallery entries that are the same picture or the same vector: left out with each other in leave-one-out. */
export async function exactDuplicates(g: GallerySource): Promise<Set<number>[]> {
  const n = g.ids.length;
  const k = Math.min(n, EVAL.duplicateSearch);
  const hits = n ? await g.index.search(g.vectors, k) : [];
  const byHash = new Map<string, number[]>();
  g.hashes?.forEach((h, i) => { const m = byHash.get(h); if (m) m.push(g.ids[i]); else byHash.set(h, [g.ids[i]]); });
  return g.ids.map((id, i) => {
    const s = new Set<number>([id]);
    if (g.hashes) for (const j of byHash.get(g.hashes[i])!) s.add(j);
    for (const h of hits[i]) if (isExactDuplicate(g.index.metricType, h.score)) s.add(h.id);
    return s;
  });
}

/** Vectors this close are the same picture (float rounding aside). */
export function isExactDuplicate(metric: MetricType, score: number): boolean {
  return metric === 'L2' ? score <= 2 * (1 - EVAL.exactDuplicateSimilarity) : score >= EVAL.exactDuplicateSimilarity;
}

export async function evaluate(pipeline: PipelineCore, o: EvaluateOptions): Promise<EvaluationReport> {
  checkOptions(o);
  const t0 = performance.now();
  const signal = o.signal;
  throwIfCancelled(signal);
  const topk = o.topk ?? EVAL.topk.default;
  const searchK = Math.max(topk, 5);
  const targetPrecision = o.targetPrecision ?? EVAL.targetPrecision.default;
  const currentThreshold = o.recThreshold ?? pipeline.config.rec_threshold;
  const detThreshold = o.detThreshold ?? pipeline.config.det_threshold;
  const limits = { limitInputPixels: o.limitInputPixels, imageFormats: o.imageFormats };

  let g: GallerySource;
  if (o.source) {
    g = o.source;
  } else if (o.gallery) {
    g = await fromImages(pipeline, o.gallery, { onProgress: (p) => o.onProgress?.({ stage: 'gallery', ...p }), signal });
  } else {
    const index = typeof o.index === 'string' ? await IndexData.load(o.index) : o.index!;
    if (!(index instanceof IndexData)) throw new TypeError('evaluate: index must be an IndexData or a saved index directory');
    if (index.dim !== pipeline.featureDim) throw new ShituError('ERR_INDEX_DIM', `the index holds ${index.dim}-d vectors but the feature model gives ${pipeline.featureDim}-d`);
    g = fromIndex(index, !!o.leaveOneOut); // queries only search it: no need to read its vectors back
  }
  throwIfCancelled(signal);
  const metric = g.index.metricType;
  const dim = g.index.dim;

  let queries: Query[];
  if (o.leaveOneOut) {
    const dups = await exactDuplicates(g);
    queries = g.ids.map((id, i) => ({
      image: g.images ? g.images[i] : `#${id}`,
      source: g.sources ? g.sources[i] : undefined,
      label: g.labels[i],
      exclude: dups[i],
      vector: g.images ? undefined : g.vectors.subarray(i * dim, (i + 1) * dim),
    }));
  } else {
    const given = typeof o.queries === 'string'
      ? { dir: o.queries, labels: o.queryLabels ?? path.join(o.queries, 'labels.txt') }
      : { pairs: o.queries! };
    queries = labelledImages(given, 'queries').map((e) => ({ image: e.name, source: e.source, label: e.label }));
    if (queries.length > EVAL.maxQueries) throw new RangeError(`evaluate: ${queries.length} queries, at most ${EVAL.maxQueries}`);
  }

  const cache = new EmbedCache<QueryFeatures>();
  let done = 0;
  const details = await pool(queries, pipeline.settings.concurrency, signal, async (q): Promise<QueryDetail> => {
    let feats: QueryFeatures;
    if (q.vector) {
      feats = { boxes: [{ coordinate: [0, 0, 0, 0], detScore: 0 }], features: q.vector, noMainBody: false };
    } else {
      try {
        const { bytes, hash } = await readImage(q.source ?? q.image);
        feats = await cache.get(hash, () => queryFeatures(pipeline, bytes, { detThreshold, metricType: metric, signal, ...limits }));
      } catch (e) {
        // Name the query: one bad picture among a thousand must be findable.
        if (e instanceof ShituError && !e.message.startsWith(q.image)) throw new ShituError(e.code, `${q.image}: ${withoutImageLabel(e.message, RECOGNIZE_IMAGE_LABEL)}`, { cause: e, details: e.details });
        throw e;
      }
    }
    const extra = q.exclude ? q.exclude.size : 0;
    const k = Math.min(searchK + extra, Math.max(1, g.ids.length));
    const rows = feats.boxes.length ? await g.index.search(feats.features, k) : [];
    const boxes = feats.boxes.map((b, i) => ({
      coordinate: b.coordinate,
      detScore: b.detScore,
      hits: rows[i].filter((h) => !q.exclude?.has(h.id)).slice(0, searchK),
    }));
    let answer: QueryDetail['answer'] = null;
    boxes.forEach((b, i) => {
      const h = b.hits[0];
      if (h && (answer === null || (g.index.metricType === 'L2' ? h.score < answer.score : h.score > answer.score))) answer = { label: h.label, score: h.score, box: i };
    });
    done++;
    o.onProgress?.({ stage: 'queries', done, total: queries.length });
    return { image: q.image, label: q.label, known: false, noMainBody: feats.noMainBody, boxes, answer };
  });

  // Known: the label is in the gallery (leave-one-out: in what is left of it once the query's own entries are out).
  const labelCount = new Map<string, number>();
  for (const l of g.labels) labelCount.set(l, (labelCount.get(l) ?? 0) + 1);
  details.forEach((d, i) => {
    if (d.label === UNKNOWN_LABEL) return;
    const have = labelCount.get(d.label) ?? 0;
    const excluded = queries[i].exclude ? [...queries[i].exclude!].filter((id) => g.index.labelOf(id) === d.label).length : 0;
    d.known = have - excluded > 0;
  });

  const imageLevel = details.map((d) => ({
    label: d.label, known: d.known, image: d.image,
    hits: d.answer ? d.boxes[d.answer.box].hits : [],
  }));
  const boxLevel = details.flatMap((d) => d.boxes.map((b) => ({ label: d.label, known: d.known, image: d.image, hits: b.hits })));
  const level = (items: typeof imageLevel): LevelReport => {
    const ranked: Relevance[] = items.filter((x) => x.known).map((x) => x.hits.map((h) => h.label === x.label));
    const sweepItems: SweepItem[] = items.map((x) => ({ score: x.hits[0]?.score ?? null, correct: x.hits[0]?.label === x.label, known: x.known }));
    const sweep = sweepThresholds(sweepItems, metric, targetPrecision);
    const at = sweep.suggested ?? currentThreshold;
    const answers = items.map((x) => ({
      label: x.label, known: x.known, image: x.image,
      predicted: x.hits[0] && (metric === 'L2' ? x.hits[0].score <= at : x.hits[0].score >= at) ? x.hits[0].label : null,
    }));
    return {
      count: items.length,
      known: ranked.length,
      unknown: items.length - ranked.length,
      recall1: recallAtK(ranked, 1),
      recall5: recallAtK(ranked, 5),
      mAP: meanAveragePrecision(ranked, topk),
      sweep,
      atCurrent: sweepRow(sweepItems, metric, currentThreshold),
      atSuggested: sweep.suggested === null ? null : sweepRow(sweepItems, metric, sweep.suggested),
      perLabel: perLabel(answers),
      confused: confusedPairs(answers),
    };
  };
  const image = level(imageLevel);
  const box = level(boxLevel);
  const noMainBody = details.filter((d) => d.noMainBody).length;
  const seconds = (performance.now() - t0) / 1000;
  return {
    kind: 'shitu-eval',
    version: 1,
    mode: o.leaveOneOut ? 'leave-one-out' : 'queries',
    metricType: metric,
    topk,
    detThreshold,
    currentThreshold,
    targetPrecision,
    boxMatching: BOX_MATCHING,
    gallery: { entries: g.ids.length, labels: labelCount.size },
    queries: { total: details.length, known: image.known, unknown: image.unknown, noMainBody, noMainBodyShare: details.length ? noMainBody / details.length : NaN },
    image,
    box,
    details,
    run: { seconds, queriesPerSecond: details.length / seconds, embedded: { gallery: g.images ? new Set(g.hashes).size : 0, queries: cache.misses }, cacheHits: cache.hits },
  };
}

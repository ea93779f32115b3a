// Section 1: per-stage time of one recognition, per image, at 2 and 1 threads.
// Section 2: end-to-end time vs the raw ONNX Runtime Run time of the same models.
import * as path from 'node:path';
import { native } from '../lib/native/loader';
import { IMAGES, DET_ONNX, FEAT_ONNX, log, median, medianRunMs, stats, Stats, RunMode, writeJson, now } from './util';
import { internals, loadOurs, MODEL_SETS, missingModels, ModelSet } from './ours';

export const STAGES = ['decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'search', 'crossing'] as const;
export type Stage = (typeof STAGES)[number];
export const STAGE_LABELS: Record<Stage, string> = {
  decode: 'decode',
  detPreprocess: 'det pre-processing',
  detInference: 'det inference',
  detPostprocess: 'decoding / NMS',
  recPreprocess: 'crop + feature pre-proc.',
  recInference: 'feature inference',
  search: 'search',
  crossing: 'crossing into JS',
};

export interface ImageStages {
  image: string;
  width: number;
  height: number;
  boxes: number;
  top1: Array<string | null>;
  stages: Record<Stage, Stats>;
  total: Stats;
  wall: Stats;
}

export interface StagesRun {
  modelSet: string;
  threads: number;
  warmup: number;
  iterations: number;
  loadMs: number;
  indexMs: number;
  images: ImageStages[];
}

export interface StagesResult {
  runs: StagesRun[];
  skipped: Array<{ modelSet: string; reason: string }>;
  notes: string[];
}

export async function runSet(set: ModelSet, threads: number, warmup: number, iters: number, images_: string[] = IMAGES, concurrency = 4): Promise<StagesRun> {
  const { pipeline, index, loadMs, indexMs } = await loadOurs(threads, set, concurrency);
  const images: ImageStages[] = [];
  for (const img of images_) {
    for (let i = 0; i < warmup; i++) await pipeline.recognize(img, { index, keepImage: false });
    const per: Record<Stage, number[]> = Object.fromEntries(STAGES.map((s) => [s, []])) as any;
    const total: number[] = [], wall: number[] = [];
    let last: any;
    for (let i = 0; i < iters; i++) {
      const r = await pipeline.recognize(img, { index, keepImage: false });
      const t = r.timings;
      for (const s of STAGES) per[s].push(s === 'crossing' ? t.wall - t.total : (t as any)[s]);
      total.push(t.total);
      wall.push(t.wall);
      last = r;
    }
    const dim = await internals(pipeline).detector.detect(img, {});
    images.push({
      image: path.basename(img),
      width: dim.width,
      height: dim.height,
      boxes: last.boxes.length,
      top1: last.boxes.map((b: any) => b.labels[0]),
      stages: Object.fromEntries(STAGES.map((s) => [s, stats(per[s])])) as any,
      total: stats(total),
      wall: stats(wall),
    });
  }
  return { modelSet: set.name, threads, warmup, iterations: iters, loadMs, indexMs, images };
}

export async function runStages(mode: RunMode): Promise<StagesResult> {
  const warmup = mode.quick ? 2 : 10;
  const iters = mode.quick ? 10 : 80;
  const res: StagesResult = { runs: [], skipped: [], notes: [] };
  res.notes.push('recognize() with keepImage: false (the decoded picture is not copied back to JS); index: HNSW32 + IP over the gallery (product_demo gallery + 6 distractors).');
  for (const set of MODEL_SETS) {
    const missing = missingModels(set);
    if (missing.length) {
      res.skipped.push({ modelSet: set.name, reason: `not installed under $SHITU_MODEL_HOME (${missing.join(', ')})` });
      continue;
    }
    // --quick samples 1 thread only (the least noisy setting on a loaded machine).
    const threadList = mode.quick ? [1] : set === MODEL_SETS[0] ? [2, 1] : [2];
    for (const threads of threadList) {
      log(`stages: ${set.name}, ${threads} thread(s)`);
      try {
        res.runs.push(await runSet(set, threads, warmup, set === MODEL_SETS[0] ? iters : Math.ceil(iters / 4)));
      } catch (e) {
        res.skipped.push({ modelSet: `${set.name} @${threads}t`, reason: (e as Error).message });
      }
    }
  }
  writeJson('stages.json', res);
  return res;
}

// ------------------------------------------------------------------ section 2
export interface LimitRow {
  image: string;
  threads: number;
  boxes: number;
  /** Medians (ms) of the interleaved loop: one recognize(), then the raw Runs, repeated. */
  e2eWall: number;
  e2eP99: number;
  decode: number;
  rawDet: number;
  rawFeat: number;
  /** rawDet + rawFeat (medians of the raw Runs measured in the same loop). */
  raw: number;
  /** Each model alone, Run after Run, no other session active: the ideal. */
  rawDetAlone: number;
  rawFeatAlone: number;
  /** Inference as timed inside our own native call (detInference + recInference). */
  internalInference: number;
  overheadPct: number;
  overheadNoDecodePct: number;
  overheadVsAlonePct: number;
  overheadVsAloneNoDecodePct: number;
  /** Median over iterations of each iteration's own overhead (pairs measured back to back: robust to load drift). */
  pairedOverheadPct: number;
  pairedOverheadNoDecodePct: number;
}

export interface LimitResult {
  rows: LimitRow[];
  iterations: number;
  notes: string[];
}


export async function runLimit(mode: RunMode, _stagesRes?: StagesResult): Promise<LimitResult> {
  const warmup = mode.quick ? 2 : 10;
  const iters = mode.quick ? 8 : 50;
  const rows: LimitRow[] = [];
  for (const threads of mode.quick ? [1] : [2, 1]) {
    log(`limit: e2e vs raw ORT Run at ${threads} thread(s)`);
    const { pipeline, index } = await loadOurs(threads);
    const det = await native.loadModel(DET_ONNX, { intraOpThreads: threads });
    const feat = await native.loadModel(FEAT_ONNX, { intraOpThreads: threads });
    const detIn = det.inputs()[0];
    const featIn = feat.inputs()[0];
    const detFeeds = { [detIn.name]: { data: new Float32Array(3 * 416 * 416).fill(0.5), dims: [1, 3, 416, 416] } };
    const rawDetAlone = await medianRunMs(det, detFeeds, warmup, iters);
    const aloneCache = new Map<number, number>();
    for (const img of IMAGES) {
      const first = await pipeline.recognize(img, { index, keepImage: false });
      const nb = Math.max(1, first.boxes.length);
      const featFeeds = { [featIn.name]: { data: new Float32Array(nb * 3 * 224 * 224).fill(0.5), dims: [nb, 3, 224, 224] } };
      if (!aloneCache.has(nb)) aloneCache.set(nb, await medianRunMs(feat, featFeeds, warmup, iters));
      const wall: number[] = [], dec: number[] = [], inner: number[] = [], rd: number[] = [], rf: number[] = [], po: number[] = [], pond: number[] = [];
      for (let i = 0; i < warmup + iters; i++) {
        const r = await pipeline.recognize(img, { index, keepImage: false });
        const t0 = now();
        await det.run(detFeeds);
        const t1 = now();
        await feat.run(featFeeds);
        const t2 = now();
        if (i < warmup) continue;
        wall.push(r.timings.wall);
        dec.push(r.timings.decode);
        inner.push(r.timings.detInference + r.timings.recInference);
        rd.push(t1 - t0);
        rf.push(t2 - t1);
        const w = r.timings.wall, d = r.timings.decode, rr = t2 - t0;
        po.push((100 * (w - rr)) / w);
        pond.push((100 * (w - d - rr)) / (w - d));
      }
      const e2e = median(wall), decode = median(dec), rawDet = median(rd), rawFeat = median(rf), raw = rawDet + rawFeat;
      const alone = rawDetAlone + aloneCache.get(nb)!;
      rows.push({
        image: path.basename(img),
        threads,
        boxes: first.boxes.length,
        e2eWall: e2e,
        e2eP99: stats(wall).p99,
        decode,
        rawDet,
        rawFeat,
        raw,
        rawDetAlone,
        rawFeatAlone: aloneCache.get(nb)!,
        internalInference: median(inner),
        overheadPct: (100 * (e2e - raw)) / e2e,
        overheadNoDecodePct: (100 * (e2e - decode - raw)) / (e2e - decode),
        overheadVsAlonePct: (100 * (e2e - alone)) / e2e,
        overheadVsAloneNoDecodePct: (100 * (e2e - decode - alone)) / (e2e - decode),
        pairedOverheadPct: median(po),
        pairedOverheadNoDecodePct: median(pond),
      });
    }
  }
  const res: LimitResult = {
    rows,
    iterations: iters,
    notes: [
      'Interleaved loop per image: one pipeline.recognize() (e2e = its wall time from the JS call to the resolved result, file read + decode included), then the raw Runs: Model.run of the detector at [1,3,416,416] and of the feature model at [N,3,224,224], N = boxes found (same ONNX Runtime, same session options, same thread count, via this addon\'s bare Model.run). Alternating makes both sides see the same machine load. Medians over the loop.',
      '"Paired" overhead = the median over iterations of each iteration\'s own (e2e − raw) / e2e (its recognition and its raw Runs measured back to back): the measure least moved by other load on the machine, and the one the verdict uses.',
      'Overhead = (e2e − raw) / e2e from the medians; "w/o decode" takes the decode time out of e2e first. Model.run itself crosses into JS once per call (two crossings vs one for recognize), so raw is slightly over-stated, i.e. the overhead slightly under-stated.',
      '"alone" = each model Run after Run in its own loop, no other session in between: the ideal. With 2 threads per session, a recognition\'s detector and feature sessions have separate intra-op pools that contend for the 2 cores, so back-to-back Runs are slower than alone ones.',
    ],
  };
  writeJson('limit.json', res);
  return res;
}

// Section "limit": end-to-end time of one recognition against the raw ONNX
// Runtime Runs of the same models in the same loop (the overhead this package
// adds around inference), at 2 and 1 threads (quick: 1).
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import { IMAGES, DET_ONNX, FEAT_ONNX, log, median, medianRunMs, stats, RunMode, writeJson, now } from '../lib/util';
import { loadOurs } from '../lib/ours';
import type { StagesResult } from './stages';

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

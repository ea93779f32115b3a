// Section "stages": per-stage time of one recognition, per image, at 2 and 1
// threads (quick: 1), and the stage table other sections share.
import * as path from 'node:path';
import { IMAGES, log, stats, Stats, RunMode, writeJson } from '../lib/util';
import { internals, loadOurs, MODEL_SETS, missingModels, ModelSet } from '../lib/ours';

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

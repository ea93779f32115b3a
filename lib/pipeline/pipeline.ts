// The library's Pipeline and its factory: createPipeline loads the config and
// both models and warms them up; Pipeline is PipelineCore (./core.ts) with
// evaluate() and checkGallery() from lib/eval/, which take a PipelineCore, so
// that lib/eval/ never imports this file.
import { loadPipelineConfig, validateConfig } from './config';
import { callNative } from '../errors';
import { LoadedDetector, LoadedExtractor, loadDetector, loadExtractor, resolveModel } from '../models/resolve';
import { featureModelFor } from '../models/quantized';
import { native } from '../native/loader';
import { evaluate, EvaluateOptions, EvaluationReport } from '../eval/evaluate';
import { checkGallery, GalleryCheckOptions, GalleryCheckReport } from '../eval/gallery-check';
import type { GalleryInput } from '../eval/gallery-source';
import type { IndexData } from '../vector-index/index-data';
import { debug } from '../util/debug-log';
import { PipelineCore } from './core';
import { CreatePipelineOptions, resolveCreateOptions } from './options';

export { PipelineCore } from './core';
export { resolveBatching } from './options';
export type {
  AppendIndexOptions, BatchingOptions, BuildIndexOptions, CreatePipelineOptions, GalleryFailure, GalleryResult,
  PipelineSettings, PredictOptions, RemoveIndexOptions, SkippedImage,
} from './options';


/** A pipeline (see PipelineCore, ./core.ts), with the evaluation and gallery check of lib/eval/ as methods. */
export class Pipeline extends PipelineCore {
  /** How well a gallery recognises a labelled query set, or itself leave-one-out (lib/eval/evaluate.ts). */
  async evaluate(o: EvaluateOptions): Promise<EvaluationReport> {
    this.checkOpen();
    // Each image it embeds goes through this pipeline's admission (embed, buildIndex).
    return evaluate(this, o);
  }

  /** Gallery health: conflicts, likely mislabels, outliers, duplicates, pictures without a main body (lib/eval/gallery-check.ts). */
  async checkGallery(src: { index: IndexData | string } | { gallery: GalleryInput }, o: GalleryCheckOptions = {}): Promise<GalleryCheckReport> {
    this.checkOpen();
    return checkGallery(this, src, o);
  }
}

export async function createPipeline(pipeline: string = 'PP-ShiTuV2', o: CreatePipelineOptions = {}): Promise<Pipeline> {
  if (typeof pipeline !== 'string') throw new TypeError('createPipeline(pipeline): pipeline must be "PP-ShiTuV2" or a config file path');
  let config = loadPipelineConfig(pipeline);
  if (o.config) {
    // A shallow merge, except SubModules: each named sub-module merges into the file's.
    // validateConfig checks the result, so nothing here needs to trust the override's shape.
    const base = JSON.parse(JSON.stringify(config)) as { SubModules: Record<string, object> };
    const over = o.config.SubModules;
    const merged: Record<string, unknown> = { ...base, ...o.config };
    if (over && typeof over === 'object') {
      const subs: Record<string, unknown> = { ...base.SubModules };
      for (const [k, v] of Object.entries(over)) subs[k] = { ...base.SubModules[k], ...(v as object) };
      merged.SubModules = subs;
    }
    config = validateConfig(merged);
  }
  const { settings, limits, session } = resolveCreateOptions(o);
  const { concurrency, threads, threadPool } = settings;
  debug('creating pipeline %s: device %s, concurrency %d, %d thread(s) per run (%s pool)', pipeline, session.device, concurrency, threads, threadPool);
  const loadStart = performance.now();
  const det = resolveModel({ modelName: config.SubModules.Detection.model_name, modelDir: config.SubModules.Detection.model_dir, task: 'detection' });
  const { model: rec, quantized } = featureModelFor(
    { modelName: config.SubModules.Recognition.model_name, modelDir: config.SubModules.Recognition.model_dir, task: 'feature' },
    { quantized: o.quantized, useHpip: o.useHpip, device: session.device ?? 'cpu' },
  );
  const [detector, extractor] = await Promise.all([
    loadDetector(det, session, config.det_threshold),
    loadExtractor(rec, session, config.SubModules.Recognition.batch_size),
  ]);
  const p = new Pipeline(config, detector, extractor, { ...settings, quantized }, limits);
  // A thread of the addon's own pool (native/worker_pool.h) for each recognition
  // this pipeline runs at once; the addon caps it (workerPoolStats().maxWorkers).
  // An addon built before the pool (SHITU_ADDON_PATH at an older build) has none.
  if (typeof native.reserveWorkers === 'function') native.reserveWorkers(concurrency);
  debug('models loaded in %s ms: detection %s, feature %s', (performance.now() - loadStart).toFixed(0), det.onnxFile, rec.onnxFile);
  if (o.warmup !== false) await warmup(detector, extractor, concurrency);
  debug('pipeline ready');
  return p;
}

/**
 * Inference on a blank picture before the first user's image: ONNX Runtime
 * sizes its arenas and kernels now. Done with as many calls in flight as
 * predict will run (each concurrent Run needs its own buffers: measured, the
 * first real images otherwise took 71-92 ms instead of 17-27 ms to detect), and
 * with a batch of crops like a real photo gives.
 */
async function warmup(detector: LoadedDetector, extractor: LoadedExtractor, concurrency: number): Promise<void> {
  const blank = { data: new Uint8Array(64 * 64 * 3).fill(128), width: 64, height: 64, channels: 3 };
  for (let round = 0; round < 2; round++) {
    await Promise.all(Array.from({ length: concurrency }, () => callNative(() => detector.native.detect(blank, {}))));
    await Promise.all(Array.from({ length: concurrency }, () => callNative(() => extractor.native.embed([blank, blank, blank, blank], {}))));
  }
}

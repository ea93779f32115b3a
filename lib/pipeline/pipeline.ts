// The PP-ShiTuV2 pipeline: main-body detection -> feature extraction ->
// retrieval. One native call per image does the whole recognition on a worker
// thread; this class assembles and validates options, keeps the index's labels
// and shapes results like the reference.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { loadPipelineConfig, PipelineConfig, validateConfig } from './config';
import { callNative, ShituError } from '../errors';
import { GalleryEntry, parseGalleryFile } from '../vector-index/formats/gallery-labels';
import { expandInputs, FetchOptions, ImageInput, PreparedImage, RawImage, isMat, isRaw, validateRaw } from '../input/image-input';
import { DecodeLimits, resolveDecodeLimits } from '../input/decode-limits';
import { BATCHING, DET_THRESHOLD, PIPELINE_LIMITS, TOPK } from '../limits';
import { Admission, AdmissionStats } from './admission';
import { CancelOptions, Cancellation, validateCancelOptions } from './cancel';
import { DEFAULT_INDEX_SHAPE, IndexData, IndexType, INDEX_TYPES, MetricType, METRIC_TYPES } from '../vector-index/index-data';
import { IndexSearcher, isIndexSearcher, passesThreshold } from '../vector-index/searcher';
import { LoadedDetector, LoadedExtractor, loadDetector, loadExtractor, resolveModel, SessionOptions } from '../models/resolve';
import { featureModelFor } from '../models/quantized';
import type { NativeRecognizedBox } from '../native/binding';
import { native } from '../native/loader';
import { BoxJson, RecognitionResult, StageTimings } from './result';
import { readRemoveIds } from '../vector-index/formats/remove-ids';
import { chunksByPixels } from './pixel-chunks';
import { evaluate, EvaluateOptions, EvaluationReport } from '../eval/evaluate';
import { checkGallery, GalleryCheckOptions, GalleryCheckReport } from '../eval/gallery-check';
import type { GalleryInput } from '../eval/gallery-source';
import { debug } from '../util/debug-log';

function pixelBudgetOf(o: { maxPixelsInFlight?: number }): number | undefined {
  const b = o.maxPixelsInFlight;
  if (b !== undefined && (!Number.isInteger(b) || b < 1)) throw new RangeError(`maxPixelsInFlight must be a positive integer, got ${JSON.stringify(b)}`);
  return b;
}

export interface CreatePipelineOptions {
  /** Overrides on top of the named or file config (snake_case keys, as in the YAML). */
  config?: Record<string, unknown>;
  /** "cpu" (default) or "gpu:N". */
  device?: string;
  /** High-performance inference: TensorRT on GPU. */
  useHpip?: boolean;
  /** ONNX Runtime intra-op threads per model (default: cores / concurrency, at least 1). */
  threads?: number;
  /**
   * Native jobs in flight at once, over every call of this pipeline together
   * (recognize, predict items, gallery batches of buildIndex/appendIndex, index
   * adds and removes); the rest wait in one FIFO queue (default: cores, at most 4).
   */
  concurrency?: number;
  /** Jobs that may wait for a slot; beyond it a new job rejects at once with ERR_BUSY (default: no bound). */
  maxQueue?: number;
  /** close() waits at most this long (ms) for running jobs (default 5000). */
  closeTimeoutMs?: number;
  /**
   * "session" (default): each model's ONNX Runtime session has its own pool of
   * `threads`. "shared": both models (and every pipeline of the process) run on
   * ONNX Runtime's one process-wide pool with a thread per core (`threads` must
   * not be given then). See bench/REPORT.md §5 for which wins where.
   */
  threadPool?: 'session' | 'shared';
  /** Run one dummy inference per model at start-up so the first real call is not slow. */
  warmup?: boolean;
  /**
   * Images whose header declares more pixels (width x height) are refused with
   * ERR_IMAGE_TOO_LARGE before decoding (default 50 megapixels; false: no limit
   * of this package, OpenCV's own 2^30 remains). As sharp's limitInputPixels.
   */
  limitInputPixels?: number | false;
  /** Formats decoded, by content (default jpeg, png, webp, tiff, bmp; opt-in: jp2, pnm, pfm, hdr, sunras, exr). Others: ERR_IMAGE_FORMAT. */
  imageFormats?: readonly string[];
  /**
   * Decode large JPEGs at 1/2, 1/4 or 1/8 scale (libjpeg's DCT-domain scaling)
   * when the reduced picture still covers 90 % of the detector's input sides;
   * boxes stay in full-picture pixels. Cheaper decode, slightly different
   * pixels for the models (see README "Speed"). Default false. Ignored when the
   * picture is kept for drawing (keepImage).
   */
  reducedDecode?: boolean;
  /**
   * Dynamic batching: crops of recognitions in flight at once go through the
   * feature model together, up to `maxBatch` crops per ONNX Runtime Run; the
   * first waits at most `maxWaitMs` for the others' crops, and not at all when
   * no other recognition is still detecting. `true`: the defaults (BATCHING
   * in lib/limits.ts). Default false, here and in `shitu serve`: on CPU with
   * the stand-in models it measured no faster (bench/REPORT.md §5b); it is for
   * models and devices whose Runs gain more from larger batches (GPUs).
   */
  batching?: boolean | BatchingOptions;
  /**
   * Rewrite each model's graph before its session is created (lib/onnx/graph-pass/):
   * decomposed HardSwish / HardSigmoid fused into one node, Identity and Dropout
   * removed, constant shape arithmetic folded, weights dropped from the graph
   * inputs. Outputs stay the same up to float rounding; the PicoDet stand-in runs
   * ~1.4-1.7x faster. The rewrite is cached under the model home. Default true;
   * false loads the files as they are (only the weights-as-inputs strip is kept).
   */
  optimizeGraph?: boolean;
  /**
   * Load the feature model's INT8 copy (`shitu models quantize` writes it to
   * `<model_dir>-int8`; a named model's: `$SHITU_MODEL_HOME/<name>-int8`) instead
   * of the FP32 model; a missing copy is ERR_MODEL_NOT_FOUND. Not given: on CPU,
   * `useHpip: true` takes the copy when it exists and FP32 otherwise. Default false.
   */
  quantized?: boolean;
}

export interface BatchingOptions {
  maxBatch?: number;
  maxWaitMs?: number;
}

/** The settings a pipeline runs with (Pipeline.settings). */
export interface PipelineSettings {
  /** ONNX Runtime intra-op threads per model (with threadPool "shared": the shared pool's). */
  threads: number;
  threadPool: 'session' | 'shared';
  /** Native jobs in flight at once, over every call of the pipeline. */
  concurrency: number;
  /** Jobs waiting beyond which ERR_BUSY (Infinity: no bound). */
  maxQueue: number;
  closeTimeoutMs: number;
  reducedDecode: boolean;
  /** Dynamic batching, or null when off. */
  batching: { maxBatch: number; maxWaitMs: number } | null;
  /** Whether the feature model is its INT8 copy (CreatePipelineOptions.quantized). */
  quantized: boolean;
}

/** A value in an error message: numbers as JS prints them (NaN, Infinity), the rest as JSON. */
const shown = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** createPipeline's `batching` option checked and filled in. */
export function resolveBatching(b: boolean | BatchingOptions | undefined): PipelineSettings['batching'] {
  if (b === undefined || b === false) return null;
  if (b === true) return { maxBatch: BATCHING.maxBatch.default, maxWaitMs: BATCHING.maxWaitMs.default };
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new TypeError(`batching must be a boolean or {maxBatch, maxWaitMs}, got ${JSON.stringify(b)}`);
  for (const k of Object.keys(b)) if (k !== 'maxBatch' && k !== 'maxWaitMs') throw new TypeError(`batching: unknown option ${JSON.stringify(k)}`);
  const maxBatch = b.maxBatch ?? BATCHING.maxBatch.default;
  const maxWaitMs = b.maxWaitMs ?? BATCHING.maxWaitMs.default;
  if (!Number.isInteger(maxBatch) || maxBatch < BATCHING.maxBatch.min || maxBatch > BATCHING.maxBatch.max)
    throw new RangeError(`batching.maxBatch must be an integer in [${BATCHING.maxBatch.min}, ${BATCHING.maxBatch.max}], got ${shown(maxBatch)}`);
  if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < BATCHING.maxWaitMs.min || maxWaitMs > BATCHING.maxWaitMs.max)
    throw new RangeError(`batching.maxWaitMs must be a number in [${BATCHING.maxWaitMs.min}, ${BATCHING.maxWaitMs.max}], got ${shown(maxWaitMs)}`);
  return { maxBatch, maxWaitMs };
}

/** A gallery image that buildIndex/appendIndex with onError 'skip' left out: its path (or "#n"), the error's code and message. */
export interface SkippedImage {
  path: string;
  code: string;
  message: string;
}

/** What buildIndex/appendIndex answer with onError 'skip': the index and the images left out. */
export interface GalleryResult {
  index: IndexData;
  skipped: SkippedImage[];
}

export interface BuildIndexOptions extends CancelOptions {
  /** A gallery root directory (with galleryLabel a label file), or a list of images. */
  galleryImgs: string | ImageInput[];
  /** A label file ("path label" lines, relative to galleryImgs) or one label per image. */
  galleryLabel: string | string[];
  metricType?: MetricType;
  indexType?: IndexType;
  /** Crop each gallery image to its main body before embedding (off, as in the reference). */
  cropByDetection?: boolean;
  /** Per-call overrides of the pipeline's limitInputPixels / imageFormats. */
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
  /**
   * Decoded pixels held at once (the sum of the declared width x height of the
   * images being embedded; default: no budget, 2 calls of up to 16 images in
   * flight). With a budget, one call at a time, cut by pixel-chunks.ts; an image
   * over it is embedded alone. The service sets it per request.
   */
  maxPixelsInFlight?: number;
  onProgress?: (p: { done: number; total: number }) => void;
  /**
   * 'fail' (default): any unusable gallery image rejects the call with
   * ERR_GALLERY listing them all. 'skip': they are left out and listed, and the
   * call answers `{ index, skipped }` instead of the index.
   */
  onError?: 'fail' | 'skip';
}

export interface AppendIndexOptions extends Omit<BuildIndexOptions, 'metricType' | 'indexType'> {
  index: IndexData | string;
}

export interface RemoveIndexOptions extends CancelOptions {
  /** Ids, or a text file with one id per line (first token). */
  removeIds: number[] | string;
  index: IndexData | string;
}

export interface PredictOptions extends CancelOptions {
  /** An index, a saved index directory, or a searcher (an index searched elsewhere, e.g. pgvector). */
  index?: IndexData | string | null | IndexSearcher;
  detThreshold?: number;
  recThreshold?: number;
  recTopk?: number;
  /**
   * Keep the decoded picture for saveToImg/img (default false: most callers only
   * want the JSON, and copying the picture into JS costs on every image; without
   * it, drawing decodes the input again).
   */
  keepImage?: boolean;
  /** IVF, IVF_PQ, IVF_PQ_RERANK: inverted lists visited per search (IVF default 1, as the reference; IVF_PQ 32; higher = better recall). */
  nprobe?: number;
  /** HNSW32, HNSW32_SQ8: candidate list size per search (FAISS default 16; higher = better recall). */
  efSearch?: number;
  /** IVF_PQ_RERANK: candidates re-scored exactly, as a multiple of the top-k (default 8; higher = better recall). */
  rerank?: number;
  /** Per-call overrides of the pipeline's limitInputPixels / imageFormats. */
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
  /** Bounds and the SSRF guard for http(s) inputs (default: no guard, the caller's URLs are fetched). */
  fetch?: FetchOptions;
  /** Per-call override of the pipeline's reducedDecode. */
  reducedDecode?: boolean;
  /**
   * 'throw' (default): a bad item ends the iteration with its error. 'yield':
   * a bad item gives a result with empty boxes and `error: { code, message, input }`,
   * and the items after it still come. Cancellation (ERR_ABORTED, ERR_TIMEOUT),
   * ERR_CLOSED and ERR_BUSY always throw.
   */
  onError?: 'throw' | 'yield';
}

/** Errors about the call rather than one item: never turned into a yielded result. */
const CALL_ERRORS = new Set(['ERR_ABORTED', 'ERR_TIMEOUT', 'ERR_CLOSED', 'ERR_BUSY']);
const isCallError = (e: unknown) => e instanceof ShituError && CALL_ERRORS.has(e.code);

function checkOnError(v: unknown, allowed: readonly string[]) {
  if (v !== undefined && !allowed.includes(v as string)) throw new TypeError(`onError must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${JSON.stringify(v)}`);
}

/** At most `limit` of `f` at once over `items`, results in order (the first failure rejects). */
async function mapLimit<T, R>(items: T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  }));
  return out;
}

function checkThreshold(name: string, v: number | undefined, min: number = DET_THRESHOLD.min, max: number = DET_THRESHOLD.max) {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
}

export class Pipeline extends EventEmitter {
  readonly config: PipelineConfig;
  private readonly detector: LoadedDetector;
  private readonly extractor: LoadedExtractor;
  private readonly concurrency: number;
  /** What createPipeline chose (threads and concurrency from the core count unless given). */
  readonly settings: Readonly<PipelineSettings>;
  /** The pipeline's decode limits (createPipeline's limitInputPixels / imageFormats). */
  readonly decodeLimits: DecodeLimits;
  private defaultIndex?: Promise<IndexData>;
  private closed = false;
  private readonly admission: Admission;

  /** The admission's counters: jobs in flight and queued now, and completed, failed, aborted and refused (ERR_BUSY) so far. */
  stats(): AdmissionStats {
    return this.admission.stats();
  }

  /** What dynamic batching has done so far (runs of the feature model it made, recognitions and crops it served). */
  batchStats(): { runs: number; requests: number; rows: number; maxRowsInRun: number } {
    return this.extractor.native.batchStats();
  }

  /** @internal use createPipeline */
  constructor(config: PipelineConfig, detector: LoadedDetector, extractor: LoadedExtractor, settings: PipelineSettings, decodeLimits?: DecodeLimits) {
    super();
    this.settings = Object.freeze({ ...settings });
    const concurrency = settings.concurrency;
    this.decodeLimits = decodeLimits ?? resolveDecodeLimits({});
    this.config = config;
    this.detector = detector;
    this.extractor = extractor;
    this.concurrency = concurrency;
    this.admission = new Admission(concurrency, settings.maxQueue);
  }

  /** Dimension of the feature vectors. */
  get featureDim(): number {
    return this.extractor.dim;
  }

  private checkOpen() {
    if (this.closed) throw new ShituError('ERR_CLOSED', 'the pipeline is closed');
  }

  private async resolveIndex(index: IndexData | string | null | undefined, required: boolean): Promise<IndexData | null>;
  private async resolveIndex(index: IndexData | string | null | undefined | IndexSearcher, required: boolean): Promise<IndexData | IndexSearcher | null>;
  private async resolveIndex(index: IndexData | string | null | undefined | IndexSearcher, required: boolean): Promise<IndexData | IndexSearcher | null> {
    if (index instanceof IndexData) {
      if (index.dim !== this.featureDim)
        throw new ShituError('ERR_INDEX_DIM', `the index holds ${index.dim}-d vectors but the feature model gives ${this.featureDim}-d`);
      return index;
    }
    if (isIndexSearcher(index)) { // searched elsewhere (e.g. pgvector)
      if (index.dim !== this.featureDim)
        throw new ShituError('ERR_INDEX_DIM', `the index holds ${index.dim}-d vectors but the feature model gives ${this.featureDim}-d`);
      return index;
    }
    if (typeof index === 'string') return this.resolveIndex(await IndexData.load(index), required);
    if (index === undefined && this.config.index) {
      this.defaultIndex ??= IndexData.load(this.config.index);
      return this.resolveIndex(await this.defaultIndex, required);
    }
    if (required) throw new ShituError('ERR_INDEX_REQUIRED', 'no index: pass one (IndexData or a saved index directory) or set "index" in the config');
    return null;
  }

  private galleryEntries(o: { galleryImgs: string | ImageInput[]; galleryLabel: string | string[] }): Array<{ image: ImageInput; label: string }> {
    const { galleryImgs, galleryLabel } = o;
    if (typeof galleryImgs === 'string') {
      if (typeof galleryLabel !== 'string') throw new TypeError('with a gallery directory, galleryLabel must be the path of its label file');
      if (!fs.existsSync(galleryImgs) || !fs.statSync(galleryImgs).isDirectory())
        throw new ShituError('ERR_GALLERY', `gallery root is not a directory: ${galleryImgs}`);
      return parseGalleryFile(galleryLabel, galleryImgs);
    }
    if (!Array.isArray(galleryImgs)) throw new TypeError('galleryImgs must be a directory or a list of images');
    const labels = typeof galleryLabel === 'string' ? parseGalleryFile(galleryLabel).map((e: GalleryEntry) => e.label) : galleryLabel;
    if (!Array.isArray(labels) || labels.length !== galleryImgs.length)
      throw new RangeError(`galleryImgs has ${galleryImgs.length} images but galleryLabel has ${Array.isArray(labels) ? labels.length : 'no'} labels`);
    labels.forEach((l, i) => {
      if (typeof l !== 'string' || !l.trim()) throw new TypeError(`galleryLabel[${i}] must be a non-empty string`);
    });
    return galleryImgs.map((image, i) => ({ image, label: labels[i] }));
  }

  /**
   * Embeds gallery images in batches, each batch one admitted native job (its
   * detections too, with cropByDetection), the cancellation checked before
   * each. Every image that fails is reported together ('fail') or left out and
   * listed ('skip'); `rows` are the entries whose vectors `vectors` holds.
   */
  private async embedGallery(entries: Array<{ image: ImageInput; label: string }>, cropByDetection: boolean,
                             onProgress: ((p: { done: number; total: number }) => void) | undefined,
                             limits: DecodeLimits, cancel: Cancellation, onError: 'fail' | 'skip', pixelBudget?: number): Promise<{ vectors: Float32Array; rows: number[]; skipped: SkippedImage[] }> {
    const dim = this.featureDim;
    const all = new Float32Array(entries.length * dim);
    const failures: Array<{ image: string; code: string; message: string; row: number }> = [];
    const batch = Math.max(1, Math.min(16, this.config.SubModules.Recognition.batch_size * 4));
    let done = 0;
    const sources = entries.map((e, i) => {
      const img = e.image;
      if (typeof img === 'string' || Buffer.isBuffer(img) || img instanceof Uint8Array) return img;
      if (isMat(img)) return { data: img.getData(), width: img.cols, height: img.rows, channels: img.channels, channelOrder: 'bgr' } as RawImage;
      if (isRaw(img)) { validateRaw(img, `gallery image #${i}`); return img; }
      throw new TypeError(`gallery image #${i} must be a path, a Buffer, raw pixels or a Mat`);
    });
    const chunks: Array<[number, number]> = [];
    if (pixelBudget !== undefined) chunks.push(...chunksByPixels(sources, batch, pixelBudget));
    else for (let s = 0; s < entries.length; s += batch) chunks.push([s, Math.min(entries.length, s + batch)]);
    const runChunk = async ([start, end]: [number, number]) => {
      cancel.check(); // the boundary between gallery batches
      const part = sources.slice(start, end);
      let boxes: Array<number[] | null> | undefined;
      if (cropByDetection) {
        boxes = await mapLimit(part, this.concurrency, async (src) => {
          try {
            const r = await this.admission.run(() => callNative(() => this.detector.native.detect(src, { threshold: this.config.det_threshold, ...limits, cancel: cancel.flag })), cancel);
            return r.boxes.length ? r.boxes[0].coordinate : null;
          } catch (e) {
            if (isCallError(e)) throw e;
            return null; // reported by embed below
          }
        });
      }
      const r = await this.admission.run(() => callNative(() => this.extractor.native.embed(part, { collectErrors: true, boxes, ...limits, cancel: cancel.flag })), cancel);
      all.set(r.features, start * dim);
      for (const e of r.errors) {
        const src = part[e.index];
        failures.push({ image: typeof src === 'string' ? src : `#${start + e.index}`, code: e.code, message: e.message, row: start + e.index });
      }
      done += part.length;
      onProgress?.({ done, total: entries.length });
      this.emit('progress', { done, total: entries.length });
    };
    // Two batches in flight keep both the decoder and the model busy; under a pixel budget, one.
    const inFlight = pixelBudget !== undefined ? 1 : 2;
    const workers = Array.from({ length: Math.min(inFlight, chunks.length) }, async (_, w) => {
      for (let c = w; c < chunks.length; c += inFlight) await runChunk(chunks[c]);
    });
    await Promise.all(workers);
    cancel.check();
    failures.sort((a, b) => a.image.localeCompare(b.image));
    if (failures.length && onError === 'fail')
      throw new ShituError('ERR_GALLERY', `${failures.length} gallery image(s) could not be used:\n  ${failures.map((f) => `${f.image}: ${f.message}`).join('\n  ')}`, { details: failures.map(({ row: _row, ...f }) => f) });
    const bad = new Set(failures.map((f) => f.row));
    const rows = entries.map((_, i) => i).filter((i) => !bad.has(i));
    let vectors = all;
    if (bad.size) {
      vectors = new Float32Array(rows.length * dim);
      rows.forEach((row, j) => vectors.set(all.subarray(row * dim, (row + 1) * dim), j * dim));
    }
    return { vectors, rows, skipped: failures.map((f) => ({ path: f.image, code: f.code, message: f.message })) };
  }

  /** Options common to buildIndex and appendIndex checked; the call's cancellation made. */
  private galleryCall(o: BuildIndexOptions, what: string): Cancellation {
    checkOnError(o.onError, ['fail', 'skip']);
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError(`onProgress must be a function, got ${JSON.stringify(o.onProgress)}`);
    return new Cancellation(o, what);
  }

  /**
   * Embeds the gallery, then adds its vectors to `index` as one admitted job
   * that is waited for once started: the native add refuses a set flag before
   * it changes anything (ERR_ABORTED, `index` as it was), and once it has
   * started changing the index it finishes and the call resolves.
   */
  private async addGallery(index: IndexData | (() => IndexData), o: BuildIndexOptions, cancel: Cancellation): Promise<GalleryResult> {
    const entries = this.galleryEntries(o);
    const { vectors, rows, skipped } = await cancel.race(this.embedGallery(entries, !!o.cropByDetection, o.onProgress, resolveDecodeLimits(o, this.decodeLimits), cancel, o.onError ?? 'fail', pixelBudgetOf(o)));
    const target = typeof index === 'function' ? index() : index;
    if (!rows.length) return { index: target, skipped }; // every image skipped: nothing to add
    await this.admission.run(async () => {
      cancel.check();
      await target.add(vectors, rows.map((i) => entries[i].label), { cancel: cancel.flag }).catch((e) => { throw cancel.translate(e); });
    }, cancel, { untilDone: true });
    return { index: target, skipped };
  }

  /** Builds an index from a gallery; with onError 'skip' answers `{ index, skipped }`. */
  async buildIndex(o: BuildIndexOptions & { onError: 'skip' }): Promise<GalleryResult>;
  async buildIndex(o: BuildIndexOptions & { onError?: 'fail' }): Promise<IndexData>;
  async buildIndex(o: BuildIndexOptions): Promise<IndexData | GalleryResult>;
  async buildIndex(o: BuildIndexOptions): Promise<IndexData | GalleryResult> {
    this.checkOpen();
    const indexType = o.indexType ?? DEFAULT_INDEX_SHAPE.indexType;
    const metricType = o.metricType ?? DEFAULT_INDEX_SHAPE.metricType;
    if (!INDEX_TYPES.includes(indexType)) throw new RangeError(`indexType must be one of ${INDEX_TYPES.join(', ')}, got ${JSON.stringify(indexType)}`);
    if (!METRIC_TYPES.includes(metricType)) throw new RangeError(`metricType must be one of ${METRIC_TYPES.join(', ')}, got ${JSON.stringify(metricType)}`);
    const cancel = this.galleryCall(o, 'buildIndex');
    try {
      const r = await this.addGallery(() => IndexData.create(this.featureDim, indexType, metricType), o, cancel);
      return o.onError === 'skip' ? r : r.index;
    } finally {
      cancel.dispose();
    }
  }

  /** Adds gallery images to an index; with onError 'skip' answers `{ index, skipped }`. Aborted, it leaves the index as it was. */
  async appendIndex(o: AppendIndexOptions & { onError: 'skip' }): Promise<GalleryResult>;
  async appendIndex(o: AppendIndexOptions & { onError?: 'fail' }): Promise<IndexData>;
  async appendIndex(o: AppendIndexOptions): Promise<IndexData | GalleryResult>;
  async appendIndex(o: AppendIndexOptions): Promise<IndexData | GalleryResult> {
    this.checkOpen();
    const cancel = this.galleryCall(o, 'appendIndex');
    try {
      const index = (await cancel.race(this.resolveIndex(o.index, true)))!;
      // Only the new images are embedded (the reference re-extracts everything).
      const r = await this.addGallery(index, o, cancel);
      return o.onError === 'skip' ? r : r.index;
    } finally {
      cancel.dispose();
    }
  }

  /** Removes ids from an index as one admitted job; aborted before the native remove changes it, it leaves the index as it was. */
  async removeIndex(o: RemoveIndexOptions): Promise<IndexData> {
    this.checkOpen();
    const cancel = new Cancellation(o, 'removeIndex');
    try {
      const index = (await cancel.race(this.resolveIndex(o.index, true)))!;
      let ids: number[];
      if (typeof o.removeIds === 'string') {
        ids = await cancel.race(readRemoveIds(o.removeIds));
      } else if (Array.isArray(o.removeIds)) {
        ids = o.removeIds;
      } else {
        throw new TypeError('removeIds must be a list of ids or the path of a file with one id per line');
      }
      await this.admission.run(async () => {
        cancel.check();
        await index.remove(ids, { cancel: cancel.flag }).catch((e) => { throw cancel.translate(e); });
      }, cancel, { untilDone: true });
      return index;
    } finally {
      cancel.dispose();
    }
  }

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

  /** Recognises one prepared image. */
  private async recognizeOne(img: PreparedImage, index: IndexData | IndexSearcher | null, o: PredictOptions, limits: DecodeLimits, cancel: Cancellation): Promise<RecognitionResult> {
    const topk = o.recTopk ?? this.config.rec_topk;
    const recThreshold = o.recThreshold ?? this.config.rec_threshold;
    const t0 = performance.now();
    const searcher: IndexSearcher | null = index !== null && !(index instanceof IndexData) ? index : null;
    const r = await callNative(() =>
      native.recognize(this.detector.native, this.extractor.native, index && !searcher ? (index as IndexData).native : null, img.source, {
        detThreshold: o.detThreshold ?? this.config.det_threshold,
        topk,
        keepImage: o.keepImage === true,
        keepFeatures: searcher !== null,
        reducedDecode: o.reducedDecode ?? this.settings.reducedDecode,
        batchMax: this.settings.batching?.maxBatch ?? 0,
        batchWaitMs: this.settings.batching?.maxWaitMs ?? 0,
        nprobe: o.nprobe,
        efSearch: o.efSearch,
        rerank: o.rerank,
        ...limits,
        cancel: cancel.flag,
      }),
    );
    if (searcher && r.boxes.length) {
      cancel.check(); // the boundary before a search elsewhere
      // Searched outside the native call: its hits become the boxes' ids and scores.
      const ts = performance.now();
      const hits = await searcher.search(r.features!, topk); // keepFeatures was set: one row per box
      r.boxes.forEach((b: NativeRecognizedBox & { labels?: string[] }, i: number) => {
        b.ids = hits[i].map((h) => h.id);
        b.scores = hits[i].map((h) => h.score);
        b.labels = hits[i].map((h) => h.label);
      });
      r.timings.search = performance.now() - ts;
    }
    const wall = performance.now() - t0;
    const boxes: BoxJson[] = r.boxes.map((b: NativeRecognizedBox & { labels?: string[] }) => {
      const labels: Array<string | null> = [];
      const scores: Array<number | null> = [];
      if (searcher) {
        labels.push(...(b.labels as string[]));
        scores.push(...(b.scores as number[]));
      } else if (index) {
        for (let j = 0; j < b.ids.length; j++) {
          const label = (index as IndexData).labelOf(b.ids[j]);
          if (label === undefined) continue; // removed while this search ran
          labels.push(label);
          scores.push(b.scores[j]);
        }
      }
      const matched = labels.length > 0 && index !== null && passesThreshold(index.metricType, scores[0] as number, recThreshold);
      return {
        labels: matched ? labels : [null],
        rec_scores: matched ? scores : [null],
        det_score: b.score,
        coordinate: b.coordinate,
      };
    });
    return new RecognitionResult({
      inputPath: img.inputPath,
      boxes,
      timings: { ...r.timings, wall },
      stem: img.stem,
      source: img.source,
      picture: r.image,
      decodeLimits: limits,
    });
  }

  /**
   * Recognises each input; results come in input order while up to
   * `concurrency` recognitions of this call are prepared and admitted ahead.
   * signal / timeoutMs cover the whole iteration; leaving the loop early
   * drops the recognitions admitted ahead.
   */
  async *predict(input: ImageInput | ImageInput[], o: PredictOptions = {}): AsyncGenerator<RecognitionResult> {
    this.checkOpen();
    checkThreshold('detThreshold', o.detThreshold);
    if (o.recThreshold !== undefined && (typeof o.recThreshold !== 'number' || !Number.isFinite(o.recThreshold)))
      throw new RangeError(`recThreshold must be a number, got ${JSON.stringify(o.recThreshold)}`);
    if (o.reducedDecode !== undefined && typeof o.reducedDecode !== 'boolean') throw new TypeError(`reducedDecode must be a boolean, got ${JSON.stringify(o.reducedDecode)}`);
    if (o.recTopk !== undefined && (!Number.isInteger(o.recTopk) || o.recTopk < TOPK.min || o.recTopk > TOPK.max))
      throw new RangeError(`recTopk must be an integer in [${TOPK.min}, ${TOPK.max}], got ${JSON.stringify(o.recTopk)}`);
    checkOnError(o.onError, ['throw', 'yield']);
    const limits = resolveDecodeLimits(o, this.decodeLimits);
    for (const k of ['nprobe', 'efSearch', 'rerank'] as const)
      if (o[k] !== undefined && (!Number.isInteger(o[k]) || (o[k] as number) < 1)) throw new RangeError(`${k} must be a positive integer, got ${JSON.stringify(o[k])}`);
    const cancel = new Cancellation(o, 'predict');
    const yieldErrors = o.onError === 'yield';
    try {
      const index = await cancel.race(this.resolveIndex(o.index, false));
      const pending: Array<Promise<RecognitionResult>> = [];
      const gen = expandInputs(input, o.fetch, yieldErrors);
      let exhausted = false;
      let n = 0;
      const fill = () => {
        while (!exhausted && pending.length < this.concurrency) {
          const next = gen.next();
          if (next.done) { exhausted = true; break; }
          const thunk = next.value;
          const where = thunk.input ?? `#${n}`;
          n++;
          let p = cancel.race(thunk()).then((img) => this.admission.run(() => this.recognizeOne(img, index, o, limits, cancel), cancel)
            .catch((e) => { throw yieldErrors && !isCallError(e) ? new ItemFailure(e, img.inputPath ?? where, img.stem) : e; }));
          if (yieldErrors) p = p.catch((e) => this.failedItem(e, where));
          p.catch(() => undefined); // surfaced in order below
          pending.push(p);
        }
      };
      fill();
      while (pending.length) {
        cancel.check(); // the boundary between items
        const r = await pending.shift()!;
        fill();
        yield r;
      }
    } finally {
      // Done, failed or left early: what was admitted ahead is dropped.
      cancel.abort(new ShituError('ERR_ABORTED', 'predict: the iteration ended before this item'));
      cancel.dispose();
    }
  }

  /** predict's onError 'yield': the result standing for a failed item. */
  private failedItem(e: unknown, where: string): RecognitionResult {
    if (isCallError(e)) throw e;
    const f = e instanceof ItemFailure ? e
      : new ItemFailure(e, where, where.startsWith('#') ? `image_${where.slice(1)}` : path.basename(where).replace(/\.[^.]*$/, ''));
    const err = f.error as { code?: string; message?: string };
    const timings: StageTimings = { decode: 0, detPreprocess: 0, detInference: 0, detPostprocess: 0, recPreprocess: 0, recInference: 0, recBatchWait: 0, search: 0, total: 0, wall: 0 };
    return new RecognitionResult({
      inputPath: f.input.startsWith('#') ? null : f.input, boxes: [], timings, stem: f.stem, source: undefined,
      error: { code: typeof err?.code === 'string' ? err.code : 'ERR_INPUT', message: err?.message ?? String(e), input: f.input },
    });
  }

  /** One image, one result. */
  async recognize(input: ImageInput, o: PredictOptions = {}): Promise<RecognitionResult> {
    for await (const r of this.predict(input, o)) return r;
    throw new ShituError('ERR_INPUT', 'no image in the input');
  }

  /**
   * Refuses new work, rejects queued jobs with ERR_CLOSED (a call between its
   * jobs fails at its next one) and waits for running jobs at most
   * closeTimeoutMs.
   */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.admission.stats();
    debug('pipeline closing: %d job(s) running, %d queued', s.inFlight, s.queued);
    await this.admission.close(this.settings.closeTimeoutMs);
    debug('pipeline closed');
  }
}

/** An item's failure with the input it came from (predict's onError 'yield'). */
class ItemFailure {
  constructor(readonly error: unknown, readonly input: string, readonly stem: string) {}
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
  const limits = resolveDecodeLimits(o);
  const device = o.device ?? 'cpu';
  if (o.optimizeGraph !== undefined && typeof o.optimizeGraph !== 'boolean') throw new TypeError(`optimizeGraph must be a boolean, got ${JSON.stringify(o.optimizeGraph)}`);
  const optimizeGraph = o.optimizeGraph ?? true;
  if (o.quantized !== undefined && typeof o.quantized !== 'boolean') throw new TypeError(`quantized must be a boolean, got ${JSON.stringify(o.quantized)}`);
  if (typeof device !== 'string' || !/^(cpu|gpu(:\d+)?)$/.test(device)) throw new RangeError(`device must be "cpu" or "gpu:N", got ${JSON.stringify(device)}`);
  if (o.reducedDecode !== undefined && typeof o.reducedDecode !== 'boolean') throw new TypeError(`reducedDecode must be a boolean, got ${JSON.stringify(o.reducedDecode)}`);
  for (const k of ['threads', 'concurrency'] as const)
    if (o[k] !== undefined && (!Number.isInteger(o[k]) || (o[k] as number) < 1)) throw new RangeError(`${k} must be a positive integer, got ${JSON.stringify(o[k])}`);
  const maxQueue = o.maxQueue ?? PIPELINE_LIMITS.maxQueue.default;
  if (maxQueue !== Infinity && (!Number.isInteger(maxQueue) || maxQueue < PIPELINE_LIMITS.maxQueue.min))
    throw new RangeError(`maxQueue must be a non-negative integer or Infinity, got ${shown(maxQueue)}`);
  const closeTimeoutMs = o.closeTimeoutMs ?? PIPELINE_LIMITS.closeTimeoutMs.default;
  if (!Number.isInteger(closeTimeoutMs) || closeTimeoutMs < PIPELINE_LIMITS.closeTimeoutMs.min || closeTimeoutMs > PIPELINE_LIMITS.closeTimeoutMs.max)
    throw new RangeError(`closeTimeoutMs must be an integer in [${PIPELINE_LIMITS.closeTimeoutMs.min}, ${PIPELINE_LIMITS.closeTimeoutMs.max}], got ${shown(closeTimeoutMs)}`);
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const concurrency = o.concurrency ?? Math.min(4, cores);
  // Cores are shared out between the recognitions in flight: measured on 2 cores,
  // 2 in flight x 1 thread gives 56 images/s against 48 for 2 x 2 threads.
  if (o.threadPool !== undefined && o.threadPool !== 'session' && o.threadPool !== 'shared') throw new RangeError(`threadPool must be "session" or "shared", got ${JSON.stringify(o.threadPool)}`);
  const threadPool = o.threadPool ?? 'session';
  if (threadPool === 'shared' && o.threads !== undefined) throw new RangeError('threads cannot be given with threadPool "shared" (the shared pool has a thread per core)');
  const batching = resolveBatching(o.batching);
  const threads = threadPool === 'shared' ? cores : o.threads ?? Math.max(1, Math.floor(cores / concurrency));
  const session: SessionOptions = {
    device: device === 'gpu' ? 'gpu:0' : device,
    intraOpThreads: threads,
    sharedThreadPool: threadPool === 'shared',
    tensorrt: !!o.useHpip && device !== 'cpu',
    optimizeGraph,
  };
  debug('creating pipeline %s: device %s, concurrency %d, %d thread(s) per run (%s pool)', pipeline, session.device, concurrency, threads, threadPool);
  const loadStart = performance.now();
  const det = resolveModel({ modelName: config.SubModules.Detection.model_name, modelDir: config.SubModules.Detection.model_dir, task: 'detection' });
  const { model: rec, quantized } = featureModelFor({ modelName: config.SubModules.Recognition.model_name, modelDir: config.SubModules.Recognition.model_dir, task: 'feature' }, { quantized: o.quantized, useHpip: o.useHpip, device });
  const [detector, extractor] = await Promise.all([
    loadDetector(det, session, config.det_threshold),
    loadExtractor(rec, session, config.SubModules.Recognition.batch_size),
  ]);
  const p = new Pipeline(config, detector, extractor, { threads, threadPool, concurrency, maxQueue, closeTimeoutMs, reducedDecode: o.reducedDecode ?? false, batching, quantized }, limits);
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

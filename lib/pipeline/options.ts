// What a pipeline is created and called with: createPipeline's options and
// the settings they resolve to (resolveCreateOptions, the one place each
// default is applied), and the options of each call with their checks.
import * as os from 'node:os';
import { ShituError } from '../errors';
import type { FetchOptions, ImageInput } from '../input/image-input';
import { DecodeLimits, resolveDecodeLimits } from '../input/decode-limits';
import { BATCHING, DET_THRESHOLD, PIPELINE_LIMITS } from '../limits';
import type { SessionOptions } from '../models/resolve';
import type { CancelOptions } from './cancel';
import type { IndexData, IndexType, MetricType } from '../vector-index/index-data';
import type { IndexSearcher } from '../vector-index/searcher';

export function pixelBudgetOf(o: { maxPixelsInFlight?: number }): number | undefined {
  const b = o.maxPixelsInFlight;
  if (b !== undefined && (!Number.isInteger(b) || b < 1)) throw new RangeError(`maxPixelsInFlight must be a positive integer, got ${JSON.stringify(b)}`);
  return b;
}

export interface CreatePipelineOptions {
  /** Overrides on top of the named or file config (snake_case keys, as in the YAML). */
  config?: Record<string, unknown>;
  /** "cpu" (default) or "gpu:N". */
  device?: string;
  /** High-performance inference: TensorRT on GPU; on CPU, the feature model's INT8 copy when there is one (see `quantized`). */
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
   * `useHpip: true` takes the copy when it exists and FP32 otherwise
   * (lib/models/quantized.ts). Default false.
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
  /** Whether the feature model is its INT8 copy (CreatePipelineOptions.quantized; known once the models are found). */
  quantized: boolean;
}

/** A value in an error message: numbers as JS prints them (NaN, Infinity), the rest as JSON. */
export const shown = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

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

/** A gallery image that buildIndex/appendIndex with onError 'skip' left out: its path (or "#n"), its place in the gallery, the error's code and message. */
export interface SkippedImage {
  path: string;
  index: number;
  code: string;
  message: string;
}

/** One unusable gallery image, as ERR_GALLERY's details list them: `image` is its path or "#index". */
export interface GalleryFailure {
  image: string;
  index: number;
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
export const CALL_ERRORS = new Set(['ERR_ABORTED', 'ERR_TIMEOUT', 'ERR_CLOSED', 'ERR_BUSY']);
export const isCallError = (e: unknown) => e instanceof ShituError && CALL_ERRORS.has(e.code);

export function checkOnError(v: unknown, allowed: readonly string[]) {
  if (v !== undefined && !allowed.includes(v as string)) throw new TypeError(`onError must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${JSON.stringify(v)}`);
}

export function checkThreshold(name: string, v: number | undefined, min: number = DET_THRESHOLD.min, max: number = DET_THRESHOLD.max) {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
}

/**
 * createPipeline's options checked, each default applied once: the pipeline's
 * settings, its decode limits and the ONNX Runtime session options of both models.
 */
export function resolveCreateOptions(o: CreatePipelineOptions): { settings: Omit<PipelineSettings, 'quantized'>; limits: DecodeLimits; session: SessionOptions } {
  const limits = resolveDecodeLimits(o);
  const device = o.device ?? 'cpu';
  if (o.optimizeGraph !== undefined && typeof o.optimizeGraph !== 'boolean') throw new TypeError(`optimizeGraph must be a boolean, got ${JSON.stringify(o.optimizeGraph)}`);
  if (typeof device !== 'string' || !/^(cpu|gpu(:\d+)?)$/.test(device)) throw new RangeError(`device must be "cpu" or "gpu:N", got ${JSON.stringify(device)}`);
  if (o.reducedDecode !== undefined && typeof o.reducedDecode !== 'boolean') throw new TypeError(`reducedDecode must be a boolean, got ${JSON.stringify(o.reducedDecode)}`);
  if (o.quantized !== undefined && typeof o.quantized !== 'boolean') throw new TypeError(`quantized must be a boolean, got ${JSON.stringify(o.quantized)}`);
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
    optimizeGraph: o.optimizeGraph ?? true,
  };
  return { settings: { threads, threadPool, concurrency, maxQueue, closeTimeoutMs, reducedDecode: o.reducedDecode ?? false, batching }, limits, session };
}

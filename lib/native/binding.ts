// The addon's whole surface, typed once (as onnxruntime-node's lib/binding.ts
// does): every function and class that native/addon.cc registers, with the
// option and result shapes each native/js_*.cc reads and builds. The C++ is the
// truth; this file follows it. Types only: nothing here runs.
//
// Internal: the public API (lib/index.ts) wraps these; none is re-exported.

import type { PreprocessCard } from '../models/card';
import type { StageName } from './stage-names';

/** How an image reaches native code (native/js_image.cc ParseImageSource): a path, encoded bytes or raw pixels. */
export type NativeImageSource = string | Uint8Array | NativeRawImage;

/** Raw pixels; channelOrder defaults to 'rgb', channels to 3. */
export interface NativeRawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels?: number;
  channelOrder?: 'rgb' | 'bgr';
}

/** Decoded pixels as native code returns them (ImageToJs): always BGR, 3 channels. */
export interface NativeDecodedImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
  channelOrder: 'bgr';
}

/** Decode limits (ParseDecodeLimits): 0 or absent maxPixels = no limit; formats absent = every format. */
export interface NativeDecodeLimits {
  maxPixels?: number;
  formats?: readonly string[];
}

/** A cancel flag (native/cancel.h, lib/native/cancel-flag.ts): an Int32Array over a SharedArrayBuffer. */
export interface NativeCancelOption {
  cancel?: Int32Array;
}

/** Milliseconds per stage of one native call (native/stage_times.h, TimesToJs), keyed by STAGE_NAMES. */
export type NativeStageTimes = Record<StageName, number>;

/** One detected main body (DetectionToJs). */
export interface NativeDetection {
  classId: number;
  score: number;
  coordinate: [number, number, number, number];
}

// ---------------------------------------------------------------- Model (js_model.cc)

export interface NativeTensorInfo {
  name: string;
  type: string;
  shape: number[];
}

export interface NativeTensor {
  data: Float32Array;
  dims: number[];
}

/** loadModel's options (SessionOptions in native/model_session.h). */
export interface NativeSessionOptions {
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimization?: string;
  device?: string;
  tensorrt?: boolean;
  tensorrtCacheDir?: string;
  tensorrtFp16?: boolean;
  stripInitializerInputs?: boolean;
  spinning?: boolean;
  sharedThreadPool?: boolean;
}

/** An ONNX Runtime session; made only by loadModel. */
export interface NativeModel {
  inputs(): NativeTensorInfo[];
  outputs(): NativeTensorInfo[];
  /** The raw ONNX Runtime call, float32 tensors in and out. */
  run(feeds: Record<string, NativeTensor>): Promise<Record<string, NativeTensor>>;
  readonly path: string;
  readonly device: string;
  readonly strippedInputs: number;
}

// ---------------------------------------------------------------- Detector, FeatureExtractor, recognize (js_detector.cc, js_feature_extractor.cc, js_recognize.cc, js_specs.cc)

/** Pre-processing of a model card (ParsePreprocessSpec): any part of the card's (lib/models/card-schema.ts), the rest defaulted natively. */
export type NativePreprocessSpec = Partial<PreprocessCard>;

/** createDetector's spec (ParseDetectorSpec). */
export interface NativeDetectorSpec {
  preprocess?: NativePreprocessSpec;
  contract?: string;
  imageInput?: string;
  scaleFactorInput?: string;
  imShapeInput?: string;
  boxesOutput?: string;
  countOutput?: string;
  scoreOutputs?: string[];
  distOutputs?: string[];
  strides?: number[];
  regMax?: number;
  nmsIou?: number;
  maxDetections?: number;
  threshold?: number;
  wholeImageFallback?: boolean;
}

/** createFeatureExtractor's spec (ParseFeatureSpec). */
export interface NativeFeatureSpec {
  preprocess?: NativePreprocessSpec;
  inputName?: string;
  outputName?: string;
  maxBatch?: number;
  normalize?: boolean;
}

/** What a Detector or FeatureExtractor resolved its pre-processing to. */
export type NativeResolvedPreprocess = Pick<PreprocessCard, 'width' | 'height' | 'keepRatio' | 'channelOrder'>;

export interface NativeDetectOptions extends NativeDecodeLimits, NativeCancelOption {
  threshold?: number;
}

export interface NativeDetectResult {
  width: number;
  height: number;
  boxes: NativeDetection[];
  timings: NativeStageTimes;
}

export interface NativeDetector {
  detect(image: NativeImageSource, options?: NativeDetectOptions): Promise<NativeDetectResult>;
  resolved(): {
    contract: string;
    imageInput: string;
    scaleFactorInput: string;
    imShapeInput: string;
    boxesOutput: string;
    countOutput: string;
    preprocess: NativeResolvedPreprocess;
  };
}

export interface NativeEmbedOptions extends NativeDecodeLimits, NativeCancelOption {
  /** Per image: crop to this box first, or (null, absent) embed it whole. */
  boxes?: ReadonlyArray<readonly number[] | null>;
  /** Undecodable images give a zero row and an entry in `errors` instead of failing the call. */
  collectErrors?: boolean;
}

export interface NativeEmbedResult {
  /** count x dim, row-major. */
  features: Float32Array;
  dim: number;
  count: number;
  errors: Array<{ index: number; code: string; message: string }>;
  timings: NativeStageTimes;
}

export interface NativeBatchStats {
  runs: number;
  requests: number;
  rows: number;
  maxRowsInRun: number;
}

export interface NativeFeatureExtractor {
  embed(images: NativeImageSource[], options?: NativeEmbedOptions): Promise<NativeEmbedResult>;
  resolved(): { inputName: string; outputName: string; maxBatch: number; dim: number; preprocess: NativeResolvedPreprocess };
  batchStats(): NativeBatchStats;
  readonly dim: number;
}

/** recognize's options (RecognizeJs, plus the search parameters js_search.cc reads). */
export interface NativeRecognizeOptions extends NativeDecodeLimits, NativeCancelOption, NativeSearchParams {
  detThreshold?: number;
  topk?: number;
  keepImage?: boolean;
  keepFeatures?: boolean;
  reducedDecode?: boolean;
  batchMax?: number;
  batchWaitMs?: number;
}

/** One box of a recognition: the detection plus its nearest gallery ids and scores. */
export interface NativeRecognizedBox extends NativeDetection {
  ids: number[];
  scores: number[];
}

export interface NativeRecognizeResult {
  width: number;
  height: number;
  boxes: NativeRecognizedBox[];
  dim: number;
  /** With keepFeatures: one row per box. */
  features?: Float32Array;
  /** With keepImage: the decoded picture. */
  image?: NativeDecodedImage;
  timings: NativeStageTimes;
}

// ---------------------------------------------------------------- VectorIndex (js_vector_index.cc)

export interface NativeSearchParams {
  nprobe?: number;
  efSearch?: number;
  rerank?: number;
}

export interface NativeFaissFileSummary {
  outer: string;
  inner: string;
  dim: number;
  ntotal: number;
  nlist: number;
  storedVectors: number;
}

export interface NativeVectorIndex {
  add(vectors: Float32Array, ids: BigInt64Array, options?: NativeCancelOption): Promise<void>;
  /** Row-major nq x k; id -1 = no hit. */
  search(queries: Float32Array, k: number, params?: NativeSearchParams): Promise<{ ids: BigInt64Array; scores: Float32Array }>;
  remove(ids: BigInt64Array, tombstone?: boolean, options?: NativeCancelOption): Promise<number>;
  compact(): Promise<void>;
  writeFile(path: string): Promise<void>;
  toBuffer(): Promise<Buffer>;
  reconstruct(id: number | bigint): Float32Array;
  ids(): BigInt64Array;
  count(): number;
  dim(): number;
  type(): string;
  metric(): 'IP' | 'L2';
  tombstones(): number;
  droppedVectors(): number;
}

export interface NativeVectorIndexConstructor {
  new (dim: number, type: string, metric: 'IP' | 'L2' | string, options?: { efConstruction?: number }): NativeVectorIndex;
  readonly prototype: NativeVectorIndex;
  readFile(path: string, options?: { verify?: boolean }): Promise<NativeVectorIndex>;
  /** `bytes` must not change until the promise settles. */
  fromBuffer(bytes: Uint8Array, options?: { verify?: boolean }): Promise<NativeVectorIndex>;
  checkFile(path: string): Promise<NativeFaissFileSummary>;
}

// ---------------------------------------------------------------- drawing (js_draw.cc)

export interface NativeDrawItem {
  coordinate: readonly [number, number, number, number] | readonly number[];
  text?: string;
  colorIndex?: number;
}

export interface NativeDrawOptions extends NativeDecodeLimits {
  /** '.jpg' (default), '.jpeg', '.png', '.webp' or '.bmp'; anything else is a TypeError. */
  format?: string;
  quality?: number;
  raw?: boolean;
  fontPath?: string;
}

/** The encoded picture; `fontPath` (non-enumerable) is the font drawn with, "" when none was found. */
export type NativeDrawnBuffer = Buffer & { readonly fontPath: string };

// ---------------------------------------------------------------- the rest

/** probeImage: the container header only; format 'unknown' (and nothing else) when no known magic matches. */
export interface NativeImageProbe {
  format: string;
  width?: number;
  height?: number;
  pages?: number;
}

/** workerPoolStats (js_worker_pool.cc). */
export interface NativeWorkerPoolStats {
  /** Running (0 until the first job). */
  threads: number;
  /** What it has or will start with. */
  size: number;
  busy: number;
  queued: number;
  maxWorkers: number;
}

/** The addon's own lists (js_contracts.cc), compared with the TS ones by test/contracts.test.ts. */
export interface NativeContracts {
  errorCodes: string[];
  indexTypes: string[];
  imageFormats: string[];
  defaultImageFormats: string[];
  stageNames: string[];
}

export interface Binding {
  // js_image.cc
  probeImage(bytes: Uint8Array): NativeImageProbe;
  decodeImage(image: NativeImageSource, limits?: NativeDecodeLimits): Promise<NativeDecodedImage>;
  encodeImage(image: NativeImageSource, ext?: string, quality?: number, limits?: NativeDecodeLimits): Promise<Buffer>;
  // js_model.cc
  Model: Function & { readonly prototype: NativeModel };
  loadModel(path: string, options?: NativeSessionOptions, bytes?: Buffer): Promise<NativeModel>;
  // js_detector.cc, js_feature_extractor.cc, js_recognize.cc
  Detector: Function & { readonly prototype: NativeDetector };
  FeatureExtractor: Function & { readonly prototype: NativeFeatureExtractor };
  createDetector(model: NativeModel, spec: NativeDetectorSpec): NativeDetector;
  createFeatureExtractor(model: NativeModel, spec: NativeFeatureSpec): NativeFeatureExtractor;
  recognize(
    detector: NativeDetector,
    extractor: NativeFeatureExtractor,
    index: NativeVectorIndex | null,
    image: NativeImageSource,
    options?: NativeRecognizeOptions,
  ): Promise<NativeRecognizeResult>;
  // js_vector_index.cc
  VectorIndex: NativeVectorIndexConstructor;
  // js_draw.cc
  drawResults(image: NativeImageSource, items: readonly NativeDrawItem[], options: NativeDrawOptions & { raw: true }): Promise<NativeDecodedImage & { fontPath: string }>;
  drawResults(image: NativeImageSource, items: readonly NativeDrawItem[], options?: NativeDrawOptions & { raw?: false }): Promise<NativeDrawnBuffer>;
  // js_memory.cc
  trimMemory(): boolean;
  // js_path_exchange.cc
  exchangePaths(a: string, b: string): Promise<boolean>;
  // js_worker_pool.cc: absent from an addon built before the pool (SHITU_ADDON_PATH at an older build)
  reserveWorkers?(n: number): number;
  workerPoolStats?(): NativeWorkerPoolStats;
  /** Stops this environment's pool (running jobs at their next stage boundary) and joins its threads; called on process 'exit'. */
  stopWorkers?(): void;
  // js_contracts.cc
  contracts(): NativeContracts;
}

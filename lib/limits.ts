// Every limit and enum of the package, defined once. The schemas (lib/schemas.ts),
// the pipeline config, the pipeline's argument checks and the service all read
// them from here, so a limit cannot differ between the library and the service.

/** Decoded pixels (width x height of the largest page) above which an image is refused before decoding. */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

/** Image formats decoded by default (by content, never by extension). */
export const DEFAULT_IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'tiff', 'bmp'] as const;
/** Formats OpenCV can decode that must be enabled explicitly (each is attack surface few callers need). */
export const OPTIONAL_IMAGE_FORMATS = ['jp2', 'pnm', 'pfm', 'hdr', 'sunras', 'exr'] as const;
export const IMAGE_FORMATS = [...DEFAULT_IMAGE_FORMATS, ...OPTIONAL_IMAGE_FORMATS] as const;

// Index types and metrics are defined once in lib/vector-index/index-data.ts (INDEX_TYPES, METRIC_TYPES).

/** Results per detected object (rec_topk / recTopk / topk). */
export const TOPK = { min: 1, max: 100, default: 5 } as const;
export const DET_THRESHOLD = { min: 0, max: 1, default: 0.5 } as const;
export const REC_THRESHOLD = { min: -1e9, max: 1e9, default: 0.5 } as const;
export const BATCH_SIZE = { min: 1, max: 1024, default: 1 } as const;

/**
 * Dynamic batching of the feature model across concurrent recognitions
 * (createPipeline's `batching`, `shitu serve --batch-max / --batch-wait-ms`):
 * crops per ONNX Runtime Run, and how long the first recognition waits for
 * others' crops. Batching itself is off unless asked (bench/REPORT.md §5b).
 */
export const BATCHING = {
  maxBatch: { min: 2, max: 256, default: 16 },
  maxWaitMs: { min: 0, max: 100, default: 2 },
} as const;

/**
 * A pipeline's admission of native jobs (createPipeline's maxQueue, closeTimeoutMs)
 * and the per-call deadline (timeoutMs of recognize, predict, buildIndex, ...).
 */
export const PIPELINE_LIMITS = {
  /** Jobs waiting for a slot beyond which a new one is refused with ERR_BUSY (default: no bound). */
  maxQueue: { min: 0, default: Infinity },
  /** How long close() waits for running native jobs before it resolves. */
  closeTimeoutMs: { min: 0, max: 2 ** 31 - 1, default: 5_000 },
  /** timeoutMs: setTimeout's range. */
  timeoutMs: { min: 1, max: 2 ** 31 - 1 },
} as const;

/** Labels of index entries, in characters (the service's schema counts UTF-16 units: JS string length). */
export const MAX_LABEL_LENGTH = 1024;
/**
 * What a label may not contain, for every store: U+0000 (PostgreSQL's text
 * cannot hold it) and lone UTF-16 surrogates (not Unicode: UTF-8 writers turn
 * them into U+FFFD, so the stored label would differ from the one sent). A
 * JSON Schema `pattern`, matched with the `u` flag as Ajv does.
 */
export const LABEL_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';

/**
 * Index ownership (API keys' `indexes=N` quotas): a build's reservation counts
 * toward its key's quota until the index exists, for at most reservationTtlMs
 * if the process that made it is gone without releasing it; the file store's
 * ownership lock is taken over when its holder has died or held it for lockStaleMs.
 */
export const OWNERSHIP_LIMITS = { reservationTtlMs: 60 * 60 * 1000, lockStaleMs: 10_000, lockWaitMs: 30_000 } as const;

/**
 * Idempotency-Key on the service's writes (lib/server/idempotency.ts,
 * lib/store/idempotency/): a key is 1 to maxKeyLength visible ASCII
 * characters; its recorded answer is kept ttlMs (`shitu serve
 * --idempotency-ttl`); a claim whose request is still running blocks repeats
 * (409) for at most leaseMs past the request's deadline when its process
 * vanished without a word; expired keys are deleted at most once per
 * cleanupEveryMs per process, cleanupBatch at a time.
 */
export const IDEMPOTENCY = {
  maxKeyLength: 255,
  /** Visible ASCII, no spaces: what RFC 9110's token68-ish keys and UUIDs use. */
  keyPattern: '^[\\x21-\\x7e]+$',
  ttlMs: 24 * 60 * 60 * 1000,
  leaseMs: 30_000,
  cleanupEveryMs: 60_000,
  cleanupBatch: 1000,
  /** The file store's marks of recent idempotent writes kept in an index's own save (newest kept). */
  marksPerIndex: 1024,
} as const;

/**
 * The file store's per-index write lock, shared by every process on the
 * directory (lib/store/file/file-lock.ts): a lock whose holder died (same
 * host) is taken over at once, one held by another host once it has not been
 * refreshed for staleMs (the holder refreshes it every staleMs / 3); a writer
 * waits at most waitMs for it.
 */
export const FILE_LOCK = { staleMs: 10_000, waitMs: 30_000 } as const;

/** Service defaults (each can be changed per server). */
export const SERVICE_LIMITS = {
  /** imageLabelPairs per build/add request. */
  maxPairs: 1000,
  /** ids per remove request. */
  maxRemoveIds: 10_000,
  /** Largest request body in bytes. */
  bodyLimit: 64 * 1024 * 1024,
  /** Largest response body in bytes (an answer over it becomes a 500 naming the limit). */
  maxResponseBytes: 32 * 1024 * 1024,
  /** Recognitions at once, and requests waiting for a slot. */
  maxConcurrent: 2,
  maxQueue: 32,
  /** Open connections (beyond: refused by the socket layer). */
  maxConnections: 512,
  /** The request's headers must arrive within this, the whole request (headers and body) within requestTimeoutMs. */
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  /** A request's work (queueing, fetching, recognition or embedding) must finish within this, else 504 ERR_TIMEOUT (`shitu serve --request-timeout`). */
  requestDeadlineMs: 30_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: 5_000,
  /** `shitu serve`: after SIGTERM/SIGINT the requests in flight may drain this long, then the process exits anyway (status 1). */
  shutdownTimeoutMs: 10_000,
  /** Unknown ids named in a remove error, at most (the rest are counted). */
  maxIdsInError: 20,
} as const;

/**
 * Paddle model files read by the converter (lib/models/paddle/): what a
 * hostile or broken `.pdmodel`, `inference.json` or `.pdiparams` may make the
 * readers allocate. The real PP-ShiTuV2 detector program is 4 MB with 10
 * blocks, 1,100 ops and 1,600 vars; its weights are 407 tensors of at most
 * 4 dimensions.
 */
export const PADDLE_LIMITS = {
  /**
   * Largest `.pdmodel` (protobuf, decoded whole: its objects take 10-20 times
   * the bytes). Programs hold no weights: the 4 MB detector is mostly Python
   * call stacks, which the reader drops.
   */
  maxProgramBytes: 64 * 1024 * 1024,
  /** Largest PIR `inference.json` (parsed whole, likewise). */
  maxJsonBytes: 64 * 1024 * 1024,
  maxBlocks: 10_000,
  /** Ops and vars of all blocks together. */
  maxOps: 1_000_000,
  maxVars: 2_000_000,
  /** Dimensions of one tensor (Paddle's own limit is 9). */
  maxRank: 9,
  /** Elements of one tensor (2^31: larger would not fit an ONNX initializer either). */
  maxElements: 2 ** 31,
  /** Tensors of one `.pdiparams` file. */
  maxParams: 1_000_000,
  /** Bytes of one `.pdiparams` record's TensorDesc (a handful of varints). */
  maxTensorDescBytes: 4096,
  /** LoD levels of one `.pdiparams` record (weights have none). */
  maxLodLevel: 8,
  /** Nesting of PIR regions (sub-blocks of control-flow ops). */
  maxRegionDepth: 64,
} as const;

/** Fetching image URLs. */
export const FETCH_LIMITS = { timeoutMs: 15_000, maxBytes: 32 * 1024 * 1024, maxRedirects: 5 } as const;

/** Gallery evaluation and gallery health (lib/eval/). */
export const EVAL = {
  /** Entries searched per box (mAP@k's k). */
  topk: { min: 1, max: 100, default: 5 },
  /** targetPrecision: (min, max]. */
  targetPrecision: { min: 0, max: 1, default: 0.95 },
  /** Queries per evaluation. */
  maxQueries: 100_000,
  /** Cosine similarity at or above which two gallery vectors are the same picture. */
  exactDuplicateSimilarity: 0.9999,
  /** Neighbours looked at per entry for duplicates and conflicts. */
  duplicateSearch: 16,
  /** Entries of a stored index POST /shitu-eval reads back to check (and for leave-one-out): 50,000 x 512-d is 100 MB. */
  maxCheckEntries: 50_000,
} as const;
/**
 * JSON request bodies (lib/server/body/): nesting depth and values (counted as
 * containers, commas and colons) checked on the raw bytes as they arrive, and
 * the size above which a body is parsed on a worker thread, off the event loop.
 */
export const BODY_LIMITS = {
  maxJsonDepth: 32, maxJsonValues: 100_000, offloadBytes: 1024 * 1024,
  /** A body refused on its Content-Length is still read and dropped up to this many times the limit, so the client gets the 413. */
  drainFactor: 4,
} as const;

/**
 * An image field (`image`, `imageLabelPairs[i].image`, `queries[i].image`) of a
 * body parsed on the JSON worker (one over BODY_LIMITS.offloadBytes) whose
 * Base64 text has at least this many characters is decoded there and comes back
 * as bytes, transferred (lib/server/body/json-worker.ts): the event loop never
 * copies or decodes it. Shorter ones cost the event loop microseconds.
 */
export const WORKER_DECODE_MIN_CHARS = 64 * 1024;

/**
 * Connection shares (lib/server/transport/): sockets per client address, those
 * of them that have not sent a complete request yet, the deadline for a new
 * socket's first request headers, and the health port's own slots.
 */
export const CONNECTION_LIMITS = {
  maxPerClient: 64,
  maxPendingPerClient: 16,
  firstRequestTimeoutMs: 5_000,
  health: { maxConnections: 64, maxPerClient: 8, maxPendingPerClient: 4, headersTimeoutMs: 2_000 },
} as const;

/**
 * Image URL fetches of the service (lib/server/fetches/): at once per request
 * and per process (each one socket), fetches waiting for a process slot
 * (beyond: 503), and bytes fetched per request (all its URLs together).
 */
export const FETCH_BUDGET = { perRequest: 4, perProcess: 16, maxQueued: 256, maxBytesPerRequest: 128 * 1024 * 1024 } as const;

/**
 * Decoded pixels one request of the service holds at once while its gallery
 * images are embedded (buildIndex/appendIndex maxPixelsInFlight): 64 MP is
 * about 192 MB of BGR pixels; an image over it (up to the input pixel limit)
 * is embedded alone.
 */
export const GALLERY_PIXELS_IN_FLIGHT = 64_000_000;

/** Gallery health (lib/eval/gallery-check.ts): default similarities (cosine). */
export const GALLERY_CHECK = {
  /** When there is no pipeline config to take rec_threshold from. */
  conflictSimilarity: 0.5,
  nearDuplicateSimilarity: 0.98,
  /** Nearest neighbours whose similarity-weighted vote suggests a label. */
  vote: 5,
  /** A likely mislabel is closer to another label than to its own by at least this. */
  mislabelMargin: 0.1,
  /** Labels with more entries than this get no spread (quadratic in the label's size, on the main thread: 300 entries are 45,000 dot products). */
  maxLabelForSpread: 300,
} as const;

/** Paddle -> ONNX conversion (lib/models/paddle/convert/). */
export const PADDLE_CONVERT_LIMITS = {
  /**
   * A Paddle `while` is unrolled (its condition must be static): at most this
   * many copies of loop bodies in one conversion, nested loops included. The
   * detector's loop runs once per image of a fixed batch; each copy adds about
   * 300 nodes.
   */
  maxWhileIterations: 64,
  /** Elements of a tensor computed at conversion time (meshgrid, range, stack of constants) before an ONNX node computes it instead. */
  maxFoldedElements: 1 << 16,
} as const;

/**
 * `shitu models quantize` (lib/onnx/quantize/): the INT8 feature model is
 * written only when, on the calibration gallery, each image's nearest other
 * gallery image (top-1 retrieval) has the same label with the INT8 model as
 * with the FP32 one for at least minTop1Agreement of the images, and the mean
 * cosine between each image's FP32 and INT8 embeddings is at least
 * minMeanCosine. maxImages bounds the calibration set (the first images in
 * path order).
 */
export const QUANTIZE = { minTop1Agreement: 0.99, minMeanCosine: 0.98, maxImages: 1000 } as const;

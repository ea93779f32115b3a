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
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

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

/** Labels of index entries, in characters. */
export const MAX_LABEL_LENGTH = 1024;

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
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: 5_000,
  /** Unknown ids named in a remove error, at most (the rest are counted). */
  maxIdsInError: 20,
} as const;

/** Fetching image URLs. */
export const FETCH_LIMITS = { timeoutMs: 15_000, maxBytes: 32 * 1024 * 1024, maxRedirects: 5 } as const;

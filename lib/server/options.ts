// The service's options (createServer's second argument) and the settings
// they resolve to: each one checked and defaulted here, once, so that the
// rest of lib/server/ reads plain values.
import type { FetchOptions } from '../input/fetch-image';
import { resolveDecodeLimits } from '../input/decode-limits';
import { CONNECTION_LIMITS, FETCH_BUDGET, GALLERY_PIXELS_IN_FLIGHT, IDEMPOTENCY, SERVICE_LIMITS } from '../limits';
import type { IndexStore } from '../store/index-store';
import type { ApiKeySpec, IndexOwnership } from './auth';
import type { SchemaLimits } from './schemas';
import type { ConnectionGuardOptions } from './transport/connection-guard';

export interface ServerOptions {
  /** Where indexes live: one directory per indexKey (the file store). */
  indexDir?: string;
  /**
   * Or an index store: a postgresql:// URL (shared by any number of replicas,
   * see "Scaling out" in README.md) or a store instance. Takes precedence over indexDir.
   */
  indexStore?: string | IndexStore;
  /** Index used when a request has no indexKey (else such requests get 400). */
  defaultIndexKey?: string;
  /** Recognitions / embeddings running at once (default 2). */
  maxConcurrent?: number;
  /** Requests waiting for a slot (default 32); beyond it: 503 + Retry-After. */
  maxQueue?: number;
  /** Largest request body in bytes (default 64 MiB); beyond it: 413. */
  bodyLimit?: number;
  /**
   * Bounds on fetching http(s) image URLs. The SSRF guard is on unless
   * `fetch.guard` is false; `fetch.guard: {allow, deny}` lets operators reach
   * internal sources.
   */
  fetch?: FetchOptions;
  /** Image URL fetches at once per request (default 4) and per process (16), and bytes fetched per request (128 MiB). */
  fetchBudget?: { perRequest?: number; perProcess?: number; maxBytesPerRequest?: number };
  /** API keys (see server-auth.ts); none or empty: no authentication. */
  apiKeys?: ApiKeySpec[];
  /** Who owns which index, for the per-key index quota (default: files beside indexDir). */
  ownership?: IndexOwnership;
  /** Pixel limit and formats of the images the service decodes (default: the pipeline's). */
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
  /** Decoded pixels a build or add holds at once (default 64 MP; false: the pipeline's own batching, unbudgeted). */
  maxPixelsInFlight?: number | false;
  /** imageLabelPairs per request (default 1000) and ids per remove (default 10000). */
  maxPairs?: number;
  maxRemoveIds?: number;
  /** Largest response body in bytes (default 32 MiB); a larger answer becomes 500 naming the limit. */
  maxResponseBytes?: number;
  /** Open connections at once (default 512). */
  maxConnections?: number;
  /** Headers must arrive within headersTimeoutMs (10 s), the whole request within requestTimeoutMs (60 s); idle keep-alive connections close after keepAliveTimeoutMs (5 s). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /**
   * How long a request's work (waiting for a slot, fetching, recognising or
   * embedding) may take in ms (default 30000): past it the work is stopped at its
   * next boundary and the answer is 504 ERR_TIMEOUT. A client that disconnects
   * stops its work the same way.
   */
  requestDeadlineMs?: number;
  /**
   * Host header values answered (names, ".suffix" / "*.suffix" for subdomains, IP
   * addresses, "*" for any; ports ignored). Default: loopback names and addresses
   * when bound to a loopback address, else any. Others get 421 (/health and /ready excepted).
   */
  allowedHosts?: readonly string[];
  /** Sockets open at once per client address (default 64), and of those not yet past their first request's headers (default 16); beyond: 503 and closed. */
  maxConnectionsPerClient?: number;
  maxPendingPerClient?: number;
  /** A new socket must send its first request's headers within this (default 5 s). */
  firstRequestTimeoutMs?: number;
  /** Also answer /health and /ready on this port (0: any free one), with connection slots of its own; see shitu.healthAddress(). */
  healthPort?: number;
  /** Loaded indexes kept in memory (default 32, least recently used evicted). */
  maxCachedIndexes?: number;
  /**
   * Node's process metrics (process_*, nodejs_*) on GET /metrics beside the service's own (default
   * false; `shitu serve` turns them on): prom-client keeps an event-loop monitor per registry running for the process's life.
   */
  processMetrics?: boolean;
  /**
   * How long the answer of a write sent with an Idempotency-Key is kept for its
   * retries, in ms (default IDEMPOTENCY.ttlMs, 24 h; `shitu serve --idempotency-ttl`).
   * The keys live in the index store (lib/store/idempotency/); a store instance
   * without keys of its own keeps them in this process.
   */
  idempotencyTtlMs?: number;
  /** Fastify's logger option (default off): one line per request (lib/server/request-log.ts), and failures. */
  logger?: boolean | Record<string, unknown>;
}

/** What createServer runs with: every option of ServerOptions checked, defaults applied. */
export interface ServerSettings {
  bodyLimit: number;
  maxResponseBytes: number;
  schemaLimits: SchemaLimits;
  /** The admission limiter's slots and queue (the Limiter checks them). */
  maxConcurrent: number;
  maxQueue: number;
  /** Loaded indexes a store this server opens keeps (undefined: the store's default). */
  maxCachedIndexes?: number;
  /** Node's HTTP server timeouts (ms); headersTimeout never above requestTimeout, as Node requires. */
  timeouts: { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number };
  maxConnections: number;
  requestDeadlineMs: number;
  connectionGuard: ConnectionGuardOptions;
  /** Host header patterns given (undefined: decided from the bound address). */
  allowedHosts?: readonly string[];
  healthPort?: number;
  /** Image URL fetches: the SSRF guard on unless switched off. */
  fetch: FetchOptions;
  fetchBudget: { perProcess: number; perRequest: number; maxBytesPerRequest: number };
  /** Decoded pixels a build or add holds at once (undefined: unbudgeted). */
  pixelsInFlight?: number;
  /** The decode limits the server sets over the pipeline's (only the keys given). */
  decodeOverride: { limitInputPixels?: number | false; imageFormats?: readonly string[] };
  /** Idempotency-Key: how long an answer is kept; how long a claim holds before another request may take it over (the request's deadline and a margin). */
  idempotency: { ttlMs: number; leaseMs: number };
}

const positiveInt = (name: string, v: number | undefined, def: number): number => {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`createServer: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
};

/** Checks every option (a bad value fails createServer, before anything listens) and applies the defaults of lib/limits.ts. */
export function resolveServerOptions(o: ServerOptions): ServerSettings {
  if (!o || ((typeof o.indexDir !== 'string' || !o.indexDir) && !o.indexStore)) throw new TypeError('createServer: options.indexDir or options.indexStore is required');
  const requestTimeout = positiveInt('requestTimeoutMs', o.requestTimeoutMs, SERVICE_LIMITS.requestTimeoutMs);
  const timeouts = {
    headersTimeout: Math.min(requestTimeout, positiveInt('headersTimeoutMs', o.headersTimeoutMs, SERVICE_LIMITS.headersTimeoutMs)),
    requestTimeout,
    keepAliveTimeout: positiveInt('keepAliveTimeoutMs', o.keepAliveTimeoutMs, SERVICE_LIMITS.keepAliveTimeoutMs),
  };
  if (o.healthPort !== undefined && (!Number.isInteger(o.healthPort) || o.healthPort < 0 || o.healthPort > 65535))
    throw new RangeError(`createServer: healthPort must be a port number (0 to 65535), got ${JSON.stringify(o.healthPort)}`);
  const decodeOverride = { limitInputPixels: o.limitInputPixels, imageFormats: o.imageFormats };
  resolveDecodeLimits(decodeOverride); // checked now; applied per request over the pipeline's own
  const fb = o.fetchBudget ?? {};
  const requestDeadlineMs = positiveInt('requestDeadlineMs', o.requestDeadlineMs, SERVICE_LIMITS.requestDeadlineMs);
  return {
    bodyLimit: positiveInt('bodyLimit', o.bodyLimit, SERVICE_LIMITS.bodyLimit),
    maxResponseBytes: positiveInt('maxResponseBytes', o.maxResponseBytes, SERVICE_LIMITS.maxResponseBytes),
    schemaLimits: {
      maxPairs: positiveInt('maxPairs', o.maxPairs, SERVICE_LIMITS.maxPairs),
      maxRemoveIds: positiveInt('maxRemoveIds', o.maxRemoveIds, SERVICE_LIMITS.maxRemoveIds),
    },
    maxConcurrent: o.maxConcurrent ?? SERVICE_LIMITS.maxConcurrent,
    maxQueue: o.maxQueue ?? SERVICE_LIMITS.maxQueue,
    maxCachedIndexes: o.maxCachedIndexes,
    timeouts,
    maxConnections: positiveInt('maxConnections', o.maxConnections, SERVICE_LIMITS.maxConnections),
    requestDeadlineMs,
    connectionGuard: {
      maxPerClient: positiveInt('maxConnectionsPerClient', o.maxConnectionsPerClient, CONNECTION_LIMITS.maxPerClient),
      maxPendingPerClient: positiveInt('maxPendingPerClient', o.maxPendingPerClient, CONNECTION_LIMITS.maxPendingPerClient),
      firstRequestTimeoutMs: Math.min(timeouts.headersTimeout, positiveInt('firstRequestTimeoutMs', o.firstRequestTimeoutMs, CONNECTION_LIMITS.firstRequestTimeoutMs)),
    },
    allowedHosts: o.allowedHosts,
    healthPort: o.healthPort,
    fetch: { guard: true, ...o.fetch },
    fetchBudget: {
      perProcess: positiveInt('fetchBudget.perProcess', fb.perProcess, FETCH_BUDGET.perProcess),
      perRequest: positiveInt('fetchBudget.perRequest', fb.perRequest, FETCH_BUDGET.perRequest),
      maxBytesPerRequest: positiveInt('fetchBudget.maxBytesPerRequest', fb.maxBytesPerRequest, FETCH_BUDGET.maxBytesPerRequest),
    },
    pixelsInFlight: o.maxPixelsInFlight === false ? undefined : positiveInt('maxPixelsInFlight', o.maxPixelsInFlight, GALLERY_PIXELS_IN_FLIGHT),
    decodeOverride,
    idempotency: { ttlMs: positiveInt('idempotencyTtlMs', o.idempotencyTtlMs, IDEMPOTENCY.ttlMs), leaseMs: requestDeadlineMs + IDEMPOTENCY.leaseMs },
  };
}

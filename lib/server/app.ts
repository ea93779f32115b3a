// HTTP service compatible with the PP-ShiTuV2 serving API of PaddleX:
//   POST /shitu-index-build, /shitu-index-add, /shitu-index-remove, /shitu-infer
// with the reference's envelopes ({logId, errorCode, errorMsg, result}), plus
// GET /health (liveness), GET /ready (readiness) and GET /openapi.json.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Fastify, { FastifyInstance, LogController } from 'fastify';
import swagger from '@fastify/swagger';
import type { FetchOptions } from '../input/fetch-image';
import { IndexData } from '../vector-index/index-data';
import { BODY_LIMITS, CONNECTION_LIMITS, FETCH_BUDGET, GALLERY_PIXELS_IN_FLIGHT, SERVICE_LIMITS } from '../limits';
import type { Pipeline } from '../pipeline/pipeline';
import { resolveDecodeLimits } from '../input/decode-limits';
import { ApiKeySpec, Authenticator, IndexOwnership } from './auth';
import { Limiter, LimiterStats } from './limiter';
import { FileOwnership, MemoryOwnership } from './ownership';
import { routeSchemas } from './schemas';
import type { IndexStore } from '../store/index-store';
import { openIndexStore } from '../store/open';
import { RouteContext, success } from './context';
import { clientError, publicMessage, toShituError } from './error-status';
import { ShituError } from '../errors';
import { indexReadRoutes } from './routes/index-read';
import { indexWriteRoutes } from './routes/index-write';
import { inferRoutes } from './routes/infer';
import { evalRoutes } from './routes/eval';
import { registerWebApp } from './web-app';
import { registerJsonBody } from './body/json-parser';
import { BodyError } from './body/body-error';
import { HostAllowList } from './transport/host-allow';
import { ConnectionGuard } from './transport/connection-guard';
import { createHealthServer } from './transport/health-server';
import { imagesOf } from './fetches/request-fetches';
import { ServiceMetrics } from './metrics';
import { metricsRoutes } from './routes/metrics';
import { registerRequestLog } from './request-log';

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
  /** Fastify's logger option (default off): one line per request (lib/server/request-log.ts), and failures. */
  logger?: boolean | Record<string, unknown>;
}

export interface ShituServerState {
  readonly limiter: Limiter;
  readonly store: IndexStore;
  /** True once the pipeline is loaded, false again while closing. */
  readonly ready: boolean;
  /** The health port's address, once it listens (after listen(); null without the healthPort option). */
  healthAddress(): Promise<AddressInfo | null>;
  readonly connections: ConnectionGuard;
  /** What GET /metrics exposes (its prom-client registry is this server's own). */
  readonly metrics: ServiceMetrics;
  stats(): LimiterStats;
}

export type ShituServer = FastifyInstance & { shitu: ShituServerState };

const positiveInt = (name: string, v: number | undefined, def: number): number => {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`createServer: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
};

/**
 * The service over a pipeline (or a pipeline still loading: until it resolves,
 * /ready and the operations answer 503). Returns a Fastify instance, not yet
 * listening. `await app.close()` stops accepting requests and waits for the
 * running and queued ones.
 */
export function createServer(pipelineOrPromise: Pipeline | Promise<Pipeline>, o: ServerOptions): ShituServer {
  if (!o || ((typeof o.indexDir !== 'string' || !o.indexDir) && !o.indexStore)) throw new TypeError('createServer: options.indexDir or options.indexStore is required');
  const bodyLimit = positiveInt('bodyLimit', o.bodyLimit, SERVICE_LIMITS.bodyLimit);
  const maxResponseBytes = positiveInt('maxResponseBytes', o.maxResponseBytes, SERVICE_LIMITS.maxResponseBytes);
  const schemaLimits = {
    maxPairs: positiveInt('maxPairs', o.maxPairs, SERVICE_LIMITS.maxPairs),
    maxRemoveIds: positiveInt('maxRemoveIds', o.maxRemoveIds, SERVICE_LIMITS.maxRemoveIds),
  };
  const schemas = routeSchemas(schemaLimits);
  const limiter = new Limiter(o.maxConcurrent ?? SERVICE_LIMITS.maxConcurrent, o.maxQueue ?? SERVICE_LIMITS.maxQueue);
  const ownStore = typeof o.indexStore !== 'object';
  const store: IndexStore = typeof o.indexStore === 'object' ? o.indexStore
    : openIndexStore(o.indexStore ?? o.indexDir!, { maxCached: o.maxCachedIndexes ?? 32 });
  // What saves that crashed in an earlier run left in the index directory (lib/vector-index/index-dir.ts).
  if (o.indexDir && !o.indexStore) void IndexData.removeSaveLeftovers(o.indexDir).catch(() => undefined);
  const defaultKey = o.defaultIndexKey !== undefined ? store.checkKey(o.defaultIndexKey) : undefined;
  const fetchOpts: FetchOptions = { guard: true, ...o.fetch };
  const auth = o.apiKeys && o.apiKeys.length ? new Authenticator(o.apiKeys) : undefined;
  // Ownership (quotas, write rights): the store's own (PostgreSQL), else files beside a
  // directory store; another store without one counts this process's builds only.
  const ownership = o.ownership ?? store.ownership?.() ?? (o.indexStore === undefined && o.indexDir ? new FileOwnership(o.indexDir) : new MemoryOwnership());
  // Validated now (a bad value fails createServer), applied per request over the pipeline's own.
  const decodeOverride = { limitInputPixels: o.limitInputPixels, imageFormats: o.imageFormats };
  resolveDecodeLimits(decodeOverride);
  const timeouts = {
    headersTimeout: positiveInt('headersTimeoutMs', o.headersTimeoutMs, SERVICE_LIMITS.headersTimeoutMs),
    requestTimeout: positiveInt('requestTimeoutMs', o.requestTimeoutMs, SERVICE_LIMITS.requestTimeoutMs),
    keepAliveTimeout: positiveInt('keepAliveTimeoutMs', o.keepAliveTimeoutMs, SERVICE_LIMITS.keepAliveTimeoutMs),
  };
  const maxConnections = positiveInt('maxConnections', o.maxConnections, SERVICE_LIMITS.maxConnections);
  const requestDeadlineMs = positiveInt('requestDeadlineMs', o.requestDeadlineMs, SERVICE_LIMITS.requestDeadlineMs);
  // Node requires the header deadline not to exceed the whole-request deadline.
  timeouts.headersTimeout = Math.min(timeouts.headersTimeout, timeouts.requestTimeout);
  const guard = new ConnectionGuard({
    maxPerClient: positiveInt('maxConnectionsPerClient', o.maxConnectionsPerClient, CONNECTION_LIMITS.maxPerClient),
    maxPendingPerClient: positiveInt('maxPendingPerClient', o.maxPendingPerClient, CONNECTION_LIMITS.maxPendingPerClient),
    firstRequestTimeoutMs: Math.min(timeouts.headersTimeout, positiveInt('firstRequestTimeoutMs', o.firstRequestTimeoutMs, CONNECTION_LIMITS.firstRequestTimeoutMs)),
  });
  // Given, or decided from the bound address at the first request (listen() comes after this).
  let hosts: HostAllowList | undefined = o.allowedHosts !== undefined ? new HostAllowList(o.allowedHosts) : undefined;
  if (o.healthPort !== undefined && (!Number.isInteger(o.healthPort) || o.healthPort < 0 || o.healthPort > 65535))
    throw new RangeError(`createServer: healthPort must be a port number (0 to 65535), got ${JSON.stringify(o.healthPort)}`);

  let pipeline: Pipeline | undefined;
  let loadError: Error | undefined;
  let closing = false;
  Promise.resolve(pipelineOrPromise).then((p) => { pipeline = p; }, (e) => { loadError = e; });

  // /health and /ready are answered here, before Fastify's routing, hooks and
  // body parsing, so they never wait behind request bodies being read or parsed.
  const healthAnswer = (url: string | undefined): { status: number; body: Record<string, unknown>; headers?: Record<string, string> } | null => {
    const p = (url ?? '').split('?')[0];
    const logId = crypto.randomUUID();
    if (p === '/health') return { status: 200, body: { logId, errorCode: 0, errorMsg: 'Success', result: { status: 'ok' } } };
    if (p !== '/ready') return null;
    // Not ready, with the reason and (result.status) which state: failed, draining, loading, store.
    const storeHealth = store.health?.() ?? { ready: true };
    if (!state.ready || !storeHealth.ready) {
      const [status, why] = loadError ? ['failed', `the pipeline failed to load: ${publicMessage(loadError.message)}`]
        : closing ? ['draining', 'the server is shutting down (draining the requests in flight)']
        : !pipeline ? ['loading', 'the pipeline is still loading']
        : ['store', publicMessage((storeHealth as { reason: string }).reason)];
      return { status: 503, body: { logId, errorCode: 503, errorMsg: why, result: { status } }, headers: { 'retry-after': '2' } };
    }
    return { status: 200, body: { logId, errorCode: 0, errorMsg: 'Success', result: { status: 'ready', ...limiter.stats } } };
  };

  const app = Fastify({
    logger: o.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }), // request-log.ts writes one line per request instead of Fastify's two
    bodyLimit,
    genReqId: () => crypto.randomUUID(),
    // unicode: false: string lengths are JS lengths (UTF-16 units), read in O(1); Ajv's
    // default counts code points by walking the string, 0.6 s for a 64 MB image field.
    // Ajv calls the option deprecated and warns once per instance (logger: false quiets it;
    // its other misuses throw in strict mode rather than log).
    ajv: { customOptions: { coerceTypes: false, allErrors: false, unicode: false, logger: false } },
    keepAliveTimeout: timeouts.keepAliveTimeout,
    requestTimeout: timeouts.requestTimeout,
    serverFactory: (handler) => {
      const server = http.createServer({
        headersTimeout: timeouts.headersTimeout,
        requestTimeout: timeouts.requestTimeout,
        keepAliveTimeout: timeouts.keepAliveTimeout,
        // How often Node checks the two timeouts above (its default is 30 s).
        connectionsCheckingInterval: Math.min(1000, timeouts.headersTimeout),
      }, (req, res) => {
        const h = req.method === 'GET' ? healthAnswer(req.url) : null;
        if (h) {
          res.writeHead(h.status, { 'content-type': 'application/json; charset=utf-8', ...h.headers, ...(closing ? { connection: 'close' } : {}) });
          res.end(JSON.stringify(h.body));
          return;
        }
        hosts ??= HostAllowList.forBound((server.address() as AddressInfo | null)?.address);
        if (!hosts.allows(req.headers.host)) {
          // 421 Misdirected Request: a name this server is not meant to be reached by (DNS rebinding).
          res.writeHead(421, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
          res.end(JSON.stringify({ logId: crypto.randomUUID(), errorCode: 421, errorMsg: `Host ${JSON.stringify(req.headers.host ?? '')} is not a name this server answers to (see --allowed-hosts)` }));
          return;
        }
        return handler(req, res);
      });
      server.maxConnections = maxConnections;
      guard.attach(server);
      return server;
    },
  }) as unknown as ShituServer;

  // Requests in flight per connection, to end idle keep-alive connections on close.
  const inFlight = new Map<Socket, number>();
  app.server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (inFlight.has(socket)) inFlight.set(socket, Math.max(0, inFlight.get(socket)! - 1));
    });
  });

  const healthServer = o.healthPort === undefined ? undefined : createHealthServer(healthAnswer, CONNECTION_LIMITS.health);
  // On the main port's address, as soon as that listens (Fastify's onListen hooks run after listen() resolves).
  let healthListening: Promise<AddressInfo | null> = Promise.resolve(null);
  if (healthServer) {
    let started: (a: AddressInfo) => void, failed: (e: Error) => void;
    healthListening = new Promise((resolve, reject) => { started = resolve; failed = reject; });
    healthListening.catch(() => undefined); // reported to whoever asks for the address
    app.server.once('listening', () => {
      const host = (app.server.address() as AddressInfo).address;
      healthServer.once('error', failed);
      healthServer.listen(o.healthPort, host, () => { healthServer.off('error', failed); started(healthServer.address() as AddressInfo); });
    });
    app.addHook('onClose', async () => {
      healthServer.closeAllConnections();
      await new Promise<void>((r) => healthServer.close(() => r()));
    });
  }

  const metrics = new ServiceMetrics({ limiter, store, pipelineStats: () => pipeline?.stats(), processMetrics: o.processMetrics });
  metrics.attach(app);
  registerRequestLog(app);
  const state: ShituServerState = {
    limiter,
    store,
    get ready() { return !!pipeline && !closing; },
    stats: () => limiter.stats,
    healthAddress: () => healthListening,
    connections: guard,
    metrics,
  };
  app.decorate('shitu', state);
  registerJsonBody(app, { bodyLimit, maxDepth: BODY_LIMITS.maxJsonDepth, maxValues: BODY_LIMITS.maxJsonValues, offloadBytes: BODY_LIMITS.offloadBytes });
  app.decorateRequest('principal', undefined);

  const needPipeline = (): Pipeline => {
    if (loadError) throw new ShituError('ERR_MODEL_LOAD', `the pipeline failed to load: ${loadError.message}`, { cause: loadError });
    if (!pipeline) throw new ShituError('ERR_NOT_READY', 'the pipeline is still loading');
    return pipeline;
  };
  // null is "not given", as in PaddleX's schema.
  const keyOf = (k: string | null | undefined): string => {
    if (k !== undefined && k !== null) return store.checkKey(k);
    if (defaultKey) return defaultKey;
    throw ShituError.atField('ERR_INPUT', 'indexKey', 'is required (this server has no default index and the pipeline config names none)');
  };
  const decodeLimitsOf = (p: Pipeline) => resolveDecodeLimits(decodeOverride, p.decodeLimits);

  // Decided from the request line and headers, before the body is read:
  // authentication (401/403) and admission (503 when every slot and the queue are taken).
  app.addHook('onRequest', async (request, reply) => {
    const cfg = request.routeOptions.config ?? {};
    if (cfg.scope && auth) request.principal = auth.authorize(request.headers, cfg.scope);
    if (cfg.admission && limiter.full) {
      reply.header('connection', 'close'); // the unread body is not worth reading
      throw limiter.refuse();
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const { status, message, headers, internal } = clientError(toShituError(err, bodyLimit));
    if (internal) request.log.error({ err, logId: request.id }, 'request failed');
    if (headers) reply.headers(headers);
    // Fastify closes the connection after every body parser error; a body being drained keeps it (json-parser.ts).
    if (err instanceof BodyError && err.drained && !closing) reply.removeHeader('connection');
    reply.code(status).type('application/json').send({ logId: request.id, errorCode: status, errorMsg: message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ logId: request.id, errorCode: 404, errorMsg: `no route ${request.method} ${request.url}` });
  });

  // A response over the limit is replaced by an error that names it.
  app.addHook('onSend', async (request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : Buffer.isBuffer(payload) ? payload.length : 0;
    if (size <= maxResponseBytes) return payload;
    reply.code(500).type('application/json');
    return JSON.stringify({ logId: request.id, errorCode: 500, errorMsg: `the response (${size} bytes) is over the server's limit of ${maxResponseBytes} bytes; ask for less (topk, returnImage: false) or split the request` });
  });

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'shitu-node PP-ShiTuV2 service',
        description: 'General image recognition (main-body detection, feature extraction, vector retrieval), compatible with the PaddleX PP-ShiTuV2 serving API.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key (when the server has keys).' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API key (when the server has keys).' },
        },
      },
    },
  });

  app.register(registerWebApp);
  // Image URL fetches: a process-wide pool of sockets, a share per request (lib/server/fetches/).
  const fb = o.fetchBudget ?? {};
  const fetchGate = new Limiter(positiveInt('fetchBudget.perProcess', fb.perProcess, FETCH_BUDGET.perProcess), FETCH_BUDGET.maxQueued);
  const fetchBudget = {
    fetch: fetchOpts, gate: fetchGate,
    perRequest: positiveInt('fetchBudget.perRequest', fb.perRequest, FETCH_BUDGET.perRequest),
    maxBytesPerRequest: positiveInt('fetchBudget.maxBytesPerRequest', fb.maxBytesPerRequest, FETCH_BUDGET.maxBytesPerRequest),
  };
  const images = (values: readonly string[], where: (i: number) => string, signal?: AbortSignal) => imagesOf(values, where, fetchBudget, signal);
  const pixelsInFlight = o.maxPixelsInFlight === false ? undefined : positiveInt('maxPixelsInFlight', o.maxPixelsInFlight, GALLERY_PIXELS_IN_FLIGHT);
  const ctx: RouteContext = { store, limiter, ownership, fetchOpts, schemas, defaultKey, requestDeadlineMs, needPipeline, keyOf, images, decodeOverrideFor, pixelsInFlight, observeRecognition: (t) => metrics.observeRecognition(t) };
  app.register(async (r) => {
    r.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    // Reached through inject() (tests); a listening server answers these before Fastify.
    r.get('/health', { schema: { summary: 'Liveness (never waits behind recognitions)' } }, async (request) => success(request, { status: 'ok' }));
    r.get('/ready', { schema: { summary: 'Readiness: 200 once the pipeline is loaded' } }, async (request, reply) => {
      const h = healthAnswer('/ready')!;
      if (h.headers) reply.headers(h.headers);
      reply.code(h.status);
      return { ...h.body, logId: request.id };
    });
    r.register(indexReadRoutes(store));
    r.register(indexWriteRoutes(ctx));
    r.register(inferRoutes(ctx));
    r.register(evalRoutes(ctx));
    r.register(metricsRoutes(metrics));
  });

  /** The server's decode options over the pipeline's (only the keys the server sets). */
  function decodeOverrideFor(p: Pipeline): { limitInputPixels?: number | false; imageFormats?: readonly string[] } {
    const l = decodeLimitsOf(p);
    return { limitInputPixels: l.maxPixels === 0 ? false : l.maxPixels, imageFormats: l.formats };
  }

  // Graceful shutdown: Fastify stops accepting new requests (503 while closing);
  // wait for the running and queued work and the pending index writes.
  // preClose runs before the listening socket and idle connections are closed;
  // responses sent from now on carry "Connection: close" so that their
  // keep-alive connections do not hold the close back.
  app.addHook('preClose', async () => {
    closing = true;
    // Stop accepting connections now rather than after the drain (Fastify closes the
    // listener after preClose); its own close() later finds it closed, which it allows.
    if (app.server.listening) app.server.close();
    await limiter.idle();
    await store.settled();
    // Node's own closeIdleConnections() can miss idle keep-alive connections
    // (a parser reused after an aborted request still looks busy), which would
    // hold close() for the keep-alive timeout: end the idle ones here.
    for (const [socket, busy] of inFlight) if (busy === 0) socket.destroy();
  });
  // A store this server opened (from a URL or directory) is this server's to close.
  if (ownStore) app.addHook('onClose', async () => { await store.close(); });
  return app;
}

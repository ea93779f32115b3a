// HTTP service compatible with the PP-ShiTuV2 serving API of PaddleX:
//   POST /shitu-index-build, /shitu-index-add, /shitu-index-remove, /shitu-infer
// with the reference's envelopes ({logId, errorCode, errorMsg, result}), plus
// GET /health (liveness), GET /ready (readiness) and GET /openapi.json.
// This file composes the parts: settings (./options.ts), sockets
// (./transport/), hooks for authentication, admission and errors, the routes.
import * as crypto from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import swagger from '@fastify/swagger';
import { ShituError } from '../errors';
import { IndexData } from '../vector-index/index-data';
import { BODY_LIMITS, FETCH_BUDGET } from '../limits';
import type { Pipeline } from '../pipeline/pipeline';
import { resolveDecodeLimits } from '../input/decode-limits';
import { Authenticator } from './auth';
import { Limiter } from './limiter';
import type { ShituServer, ShituServerState } from './state';
import { FileOwnership } from '../store/file/file-ownership';
import { MemoryOwnership } from '../store/memory-ownership';
import { OPENAPI_INFO, routeSchemas } from './schemas';
import type { IndexStore } from '../store/index-store';
import { openIndexStore } from '../store/open';
import { RouteContext, success } from './context';
import { healthAnswerer } from './health';
import { resolveServerOptions, ServerOptions } from './options';
import { indexReadRoutes } from './routes/index-read';
import { indexWriteRoutes } from './routes/index-write';
import { inferRoutes } from './routes/infer';
import { evalRoutes } from './routes/eval';
import { registerWebApp } from './web-app';
import { registerJsonBody } from './body/json-parser';
import { ConnectionGuard } from './transport/connection-guard';
import { httpServerFactory, idleConnectionCloser, listenHealthPort } from './transport/http-server';
import { imagesOf } from './fetches/request-fetches';
import { ServiceMetrics } from './metrics';
import { metricsRoutes } from './routes/metrics';
import { registerRequestLog } from './request-log';
import { registerReplies } from './replies';
import { registerIdempotency } from './idempotency';
import { MemoryIdempotencyKeys } from '../store/idempotency/memory-keys';

export type { ServerOptions } from './options';

export type { ShituServer, ShituServerState } from './state';

/**
 * The service over a pipeline (or a pipeline still loading: until it resolves,
 * /ready and the operations answer 503). Returns a Fastify instance, not yet
 * listening. `await app.close()` stops accepting requests and waits for the
 * running and queued ones.
 */
export function createServer(pipelineOrPromise: Pipeline | Promise<Pipeline>, o: ServerOptions): ShituServer {
  const s = resolveServerOptions(o);
  const limiter = new Limiter(s.maxConcurrent, s.maxQueue);
  const ownStore = typeof o.indexStore !== 'object';
  const store: IndexStore = typeof o.indexStore === 'object' ? o.indexStore : openIndexStore(o.indexStore ?? o.indexDir!, { maxCached: s.maxCachedIndexes });
  // What saves that crashed in an earlier run left in the index directory (lib/vector-index/index-dir.ts).
  if (o.indexDir && !o.indexStore) void IndexData.removeSaveLeftovers(o.indexDir).catch(() => undefined);
  const defaultKey = o.defaultIndexKey !== undefined ? store.checkKey(o.defaultIndexKey) : undefined;
  const auth = o.apiKeys && o.apiKeys.length ? new Authenticator(o.apiKeys) : undefined;
  // Ownership (quotas, write rights): the store's own (PostgreSQL), else files beside a
  // directory store; another store without one counts this process's builds only.
  const ownership = o.ownership ?? store.ownership?.() ?? (o.indexStore === undefined && o.indexDir ? new FileOwnership(o.indexDir) : new MemoryOwnership());
  const guard = new ConnectionGuard(s.connectionGuard);

  let pipeline: Pipeline | undefined;
  let loadError: Error | undefined;
  let closing = false;
  Promise.resolve(pipelineOrPromise).then((p) => { pipeline = p; }, (e) => { loadError = e; });
  const health = healthAnswerer(store, limiter, { loaded: () => !!pipeline, loadError: () => loadError, closing: () => closing });

  const app = Fastify({
    logger: o.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }), // request-log.ts writes one line per request instead of Fastify's two
    bodyLimit: s.bodyLimit,
    genReqId: () => crypto.randomUUID(),
    // unicode: false: string lengths are JS lengths (UTF-16 units), read in O(1); Ajv's
    // default counts code points by walking the string, 0.6 s for a 64 MB image field.
    // Ajv calls the option deprecated and warns once per instance (logger: false quiets it;
    // its other misuses throw in strict mode rather than log).
    ajv: { customOptions: { coerceTypes: false, allErrors: false, unicode: false, logger: false } },
    keepAliveTimeout: s.timeouts.keepAliveTimeout,
    requestTimeout: s.timeouts.requestTimeout,
    serverFactory: httpServerFactory(s, guard, health, () => closing),
  }) as unknown as ShituServer;
  const closeIdleConnections = idleConnectionCloser(app.server);
  const healthListening = listenHealthPort(app, s.healthPort, health);

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
  registerJsonBody(app, { bodyLimit: s.bodyLimit, maxDepth: BODY_LIMITS.maxJsonDepth, maxValues: BODY_LIMITS.maxJsonValues, offloadBytes: BODY_LIMITS.offloadBytes });
  app.decorateRequest('principal', undefined);
  app.decorateRequest('idempotency', undefined);
  registerIdempotency(app, { keys: store.idempotency?.() ?? new MemoryIdempotencyKeys(), store, ...s.idempotency });

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

  registerReplies(app, s, () => closing);

  app.register(swagger, { openapi: OPENAPI_INFO });
  app.register(registerWebApp);

  // Image URL fetches: a process-wide pool of sockets, a share per request (lib/server/fetches/).
  const fetchBudget = { ...s.fetchBudget, fetch: s.fetch, gate: new Limiter(s.fetchBudget.perProcess, FETCH_BUDGET.maxQueued) };
  const ctx: RouteContext = {
    store, limiter, ownership, fetchOpts: s.fetch, schemas: routeSchemas(s.schemaLimits), defaultKey, requestDeadlineMs: s.requestDeadlineMs,
    pixelsInFlight: s.pixelsInFlight,
    needPipeline: () => {
      if (loadError) throw new ShituError('ERR_MODEL_LOAD', `the pipeline failed to load: ${loadError.message}`, { cause: loadError });
      if (!pipeline) throw new ShituError('ERR_NOT_READY', 'the pipeline is still loading');
      return pipeline;
    },
    // null is "not given", as in PaddleX's schema.
    keyOf: (k) => {
      if (k !== undefined && k !== null) return store.checkKey(k);
      if (defaultKey) return defaultKey;
      throw ShituError.atField('ERR_INPUT', 'indexKey', 'is required (this server has no default index and the pipeline config names none)');
    },
    images: (values, where, signal, decoded) => imagesOf(values, where, fetchBudget, signal, decoded),
    decodeOverrideFor: (p) => {
      const l = resolveDecodeLimits(s.decodeOverride, p.decodeLimits);
      return { limitInputPixels: l.maxPixels === 0 ? false : l.maxPixels, imageFormats: l.formats };
    },
    observeRecognition: (t) => metrics.observeRecognition(t),
  };
  app.register(async (r) => {
    r.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    // Reached through inject() (tests); a listening server answers these before Fastify.
    r.get('/health', { schema: { summary: 'Liveness (never waits behind recognitions)' } }, async (request) => success(request, { status: 'ok' }));
    r.get('/ready', { schema: { summary: 'Readiness: 200 once the pipeline is loaded' } }, async (request, reply) => {
      const h = health('/ready')!;
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
    closeIdleConnections();
  });
  // A store this server opened (from a URL or directory) is this server's to close.
  if (ownStore) app.addHook('onClose', async () => { await store.close(); });
  return app;
}

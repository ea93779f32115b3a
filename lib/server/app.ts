// HTTP service compatible with the PP-ShiTuV2 serving API of PaddleX:
//   POST /shitu-index-build, /shitu-index-add, /shitu-index-remove, /shitu-infer
// with the reference's envelopes ({logId, errorCode, errorMsg, result}), plus
// GET /health (liveness), GET /ready (readiness) and GET /openapi.json.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { ShituError } from '../errors';
import { fetchImage, FetchOptions } from '../input/image-input';
import { IndexData } from '../vector-index/index-data';
import { SERVICE_LIMITS } from '../limits';
import type { Pipeline } from '../pipeline/pipeline';
import { resolveDecodeLimits } from '../input/decode-limits';
import { ApiKeySpec, AuthError, Authenticator, loadApiKeys, checkIndexQuota, checkVectorQuota, IndexOwnership, Principal, Scope } from './auth';
import { BusyError, CancelledError, Limiter, LimiterStats } from './limiter';
import { FileOwnership, MemoryOwnership } from './ownership';
import { AddRequest, BuildRequest, InferRequest, RemoveRequest, routeSchemas } from './schemas';
import { IdMapEntries, IndexKeyError, IndexStore } from '../store/index-store';
import { openIndexStore } from '../store/open';
import { registerIndexReadRoutes } from './index-read';
import { serverTiming } from './timing';
import { registerWebApp } from './web-app';

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
  /** API keys (see server-auth.ts); none or empty: no authentication. */
  apiKeys?: ApiKeySpec[];
  /** Who owns which index, for the per-key index quota (default: files beside indexDir). */
  ownership?: IndexOwnership;
  /** Pixel limit and formats of the images the service decodes (default: the pipeline's). */
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
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
  /** Loaded indexes kept in memory (default 32, least recently used evicted). */
  maxCachedIndexes?: number;
  /** Fastify's logger option (default off). */
  logger?: boolean | Record<string, unknown>;
}

export interface ShituServerState {
  readonly limiter: Limiter;
  readonly store: IndexStore;
  /** True once the pipeline is loaded, false again while closing. */
  readonly ready: boolean;
  stats(): LimiterStats;
}

export type ShituServer = FastifyInstance & { shitu: ShituServerState };

/** An error with the HTTP status it answers with. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers?: Record<string, string>;
  constructor(status: number, message: string, headers?: Record<string, string>) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

const success = (request: FastifyRequest, result: unknown) => ({ logId: request.id, errorCode: 0, errorMsg: 'Success', result });

/** "/imageLabelPairs/2/image" -> "imageLabelPairs[2].image" */
function fieldName(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (missing) parts.push(missing);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || 'body';
}

function validationMessage(err: FastifyError): string {
  return (err.validation ?? []).map((v) => {
    const missing = v.keyword === 'required' ? String((v.params as { missingProperty?: string }).missingProperty ?? '') : undefined;
    const field = fieldName(v.instancePath, missing);
    if (missing) return `${field}: is required`;
    if (v.keyword === 'enum') return `${field}: must be one of ${((v.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((a) => JSON.stringify(a)).join(', ')}`;
    return `${field}: ${v.message ?? 'is invalid'}`;
  }).join('; ');
}

const B64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** An `image` field: an http(s) URL (fetched within bounds) or Base64 file content. */
async function imageBytes(value: string, where: string, fetchOpts: FetchOptions): Promise<Buffer> {
  if (/^https?:\/\//i.test(value)) {
    try {
      return await fetchImage(value, fetchOpts);
    } catch (e) {
      throw new HttpError(400, `${where}: ${(e as Error).message}`);
    }
  }
  // Accept a data: URI prefix and line-wrapped Base64 too.
  const b64 = value.replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '');
  if (!b64 || b64.length % 4 === 1 || !B64_RE.test(b64)) throw new HttpError(400, `${where}: neither an http(s) URL nor Base64-encoded image content`);
  const buf = Buffer.from(b64, b64.includes('-') || b64.includes('_') ? 'base64url' : 'base64');
  if (buf.length === 0) throw new HttpError(400, `${where}: empty image`);
  return buf;
}

/** Labels must say something: the schema rejects empty ones, this also blank ones. */
function checkLabels(pairs: Array<{ label: string }>): string[] {
  return pairs.map((x, i) => {
    if (!x.label.trim()) throw new HttpError(422, `imageLabelPairs[${i}].label: must not be blank`);
    return x.label;
  });
}

/** Turns pipeline failures into HTTP errors; gallery failures name each image's position. */
function mapGalleryError(e: unknown, prefix: string): unknown {
  if (e instanceof ShituError && e.code === 'ERR_GALLERY' && Array.isArray(e.details)) {
    const parts = (e.details as Array<{ image: string; message: string }>).map((d) => {
      const m = /^#(\d+)$/.exec(d.image);
      const where = m ? `${prefix}[${m[1]}].image` : d.image;
      return `${where}: ${d.message.replace(/^cannot decode image #\d+: /, 'cannot decode image: ')}`;
    });
    const codes = (e.details as Array<{ code?: string }>).map((d) => d.code);
    const status = codes.includes('ERR_IMAGE_TOO_LARGE') ? 413 : codes.includes('ERR_IMAGE_FORMAT') ? 415 : codes.includes('ERR_OUT_OF_MEMORY') ? 503 : 400;
    return new HttpError(status, parts.join('; '), status === 503 ? { 'retry-after': '5' } : undefined);
  }
  return e;
}

function statusOf(e: unknown, bodyLimit: number): { status: number; message: string; headers?: Record<string, string> } {
  if (e instanceof HttpError) return { status: e.status, message: e.message, headers: e.headers };
  if (e instanceof IndexKeyError) return { status: e.status, message: e.message };
  if (e instanceof AuthError)
    return { status: e.status, message: e.message, headers: e.status === 401 ? { 'www-authenticate': 'Bearer realm="shitu"' } : undefined };
  if (e instanceof BusyError) return { status: 503, message: e.message, headers: { 'retry-after': String(e.retryAfterS) } };
  if (e instanceof CancelledError) return { status: 499, message: e.message };
  if (e instanceof ShituError) {
    switch (e.code) {
      case 'ERR_IMAGE_DECODE':
      case 'ERR_IMAGE_MISSING':
      case 'ERR_FETCH':
      case 'ERR_INPUT':
        return { status: 400, message: e.message };
      case 'ERR_IMAGE_TOO_LARGE':
        return { status: 413, message: e.message };
      case 'ERR_IMAGE_FORMAT':
        return { status: 415, message: e.message };
      case 'ERR_OUT_OF_MEMORY':
        return { status: 503, message: e.message, headers: { 'retry-after': '5' } };
      case 'ERR_INDEX_ID':
        return { status: 404, message: e.message };
      case 'ERR_INDEX_UNSUPPORTED':
      case 'ERR_INDEX_DIM':
        return { status: 422, message: e.message };
      case 'ERR_CLOSED':
        return { status: 503, message: e.message, headers: { 'retry-after': '5' } };
      case 'ERR_STORE_UNAVAILABLE':
        return { status: 503, message: e.message, headers: { 'retry-after': '1' } };
      default:
        return { status: 500, message: `${e.code}: ${e.message}` };
    }
  }
  const fe = e as FastifyError;
  if (fe && fe.validation) return { status: 422, message: validationMessage(fe) };
  if (fe && fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: `request body is larger than the server's limit of ${bodyLimit} bytes` };
  if (fe && typeof fe.code === 'string' && fe.code.startsWith('FST_') && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600)
    return { status: fe.statusCode, message: fe.message };
  if (e instanceof RangeError || e instanceof TypeError) return { status: 422, message: e.message };
  return { status: 500, message: (e as Error)?.message ?? String(e) };
}

/** Aborts when the client closes the connection before its response is written. */
function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) ac.abort();
  };
  res.once('close', onClose);
  return ac.signal;
}

/** Route-level settings read by the hooks: the scope a route needs and whether it takes a recognition slot. */
interface RouteConfig {
  scope?: Scope;
  admission?: boolean;
}

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
  // Index quotas count owners beside a directory store; another store without an
  // ownership of its own counts the indexes built through this process only.
  const ownership = o.ownership ?? (o.indexStore === undefined && o.indexDir ? new FileOwnership(o.indexDir) : new MemoryOwnership());
  // Validated now (a bad value fails createServer), applied per request over the pipeline's own.
  const decodeOverride = { limitInputPixels: o.limitInputPixels, imageFormats: o.imageFormats };
  resolveDecodeLimits(decodeOverride);
  const timeouts = {
    headersTimeout: positiveInt('headersTimeoutMs', o.headersTimeoutMs, SERVICE_LIMITS.headersTimeoutMs),
    requestTimeout: positiveInt('requestTimeoutMs', o.requestTimeoutMs, SERVICE_LIMITS.requestTimeoutMs),
    keepAliveTimeout: positiveInt('keepAliveTimeoutMs', o.keepAliveTimeoutMs, SERVICE_LIMITS.keepAliveTimeoutMs),
  };
  const maxConnections = positiveInt('maxConnections', o.maxConnections, SERVICE_LIMITS.maxConnections);
  // Node requires the header deadline not to exceed the whole-request deadline.
  timeouts.headersTimeout = Math.min(timeouts.headersTimeout, timeouts.requestTimeout);

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
    if (!state.ready) {
      const why = loadError ? `the pipeline failed to load: ${loadError.message}` : closing ? 'the server is closing' : 'the pipeline is still loading';
      return { status: 503, body: { logId, errorCode: 503, errorMsg: why }, headers: { 'retry-after': '2' } };
    }
    return { status: 200, body: { logId, errorCode: 0, errorMsg: 'Success', result: { status: 'ready', ...limiter.stats } } };
  };

  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit,
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { coerceTypes: false, allErrors: false } },
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
        if (!h) return handler(req, res);
        res.writeHead(h.status, { 'content-type': 'application/json; charset=utf-8', ...h.headers, ...(closing ? { connection: 'close' } : {}) });
        res.end(JSON.stringify(h.body));
      });
      server.maxConnections = maxConnections;
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

  const state: ShituServerState = {
    limiter,
    store,
    get ready() { return !!pipeline && !closing; },
    stats: () => limiter.stats,
  };
  app.decorate('shitu', state);
  app.decorateRequest('principal', undefined);
  const principalOf = (request: FastifyRequest) => (request as unknown as { principal?: Principal }).principal;

  const needPipeline = (): Pipeline => {
    if (loadError) throw new HttpError(500, `the pipeline failed to load: ${loadError.message}`);
    if (!pipeline) throw new HttpError(503, 'the pipeline is still loading', { 'retry-after': '2' });
    return pipeline;
  };
  // null is "not given", as in PaddleX's schema.
  const keyOf = (k: string | null | undefined): string => {
    if (k !== undefined && k !== null) return store.checkKey(k);
    if (defaultKey) return defaultKey;
    throw new HttpError(400, 'indexKey: is required (this server has no default index and the pipeline config names none)');
  };
  const decodeLimitsOf = (p: Pipeline) => resolveDecodeLimits(decodeOverride, p.decodeLimits);

  // Decided from the request line and headers, before the body is read:
  // authentication (401/403) and admission (503 when every slot and the queue are taken).
  app.addHook('onRequest', async (request, reply) => {
    const cfg = (request.routeOptions.config ?? {}) as RouteConfig;
    if (cfg.scope && auth) (request as unknown as { principal?: Principal }).principal = auth.authorize(request.headers, cfg.scope);
    if (cfg.admission && limiter.full) {
      reply.header('connection', 'close'); // the unread body is not worth reading
      throw limiter.refuse();
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const { status, message, headers } = statusOf(err, bodyLimit);
    if (status >= 500 && status !== 503) request.log.error({ err }, 'request failed');
    if (headers) reply.headers(headers);
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
  const images = (pairs: Array<{ image: string }>) =>
    Promise.all(pairs.map((x, i) => imageBytes(x.image, `imageLabelPairs[${i}].image`, fetchOpts)));

  app.register(async (r) => {
    r.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    registerIndexReadRoutes(r, store);

    // Reached through inject() (tests); a listening server answers these before Fastify.
    r.get('/health', { schema: { summary: 'Liveness (never waits behind recognitions)' } }, async (request) => success(request, { status: 'ok' }));
    r.get('/ready', { schema: { summary: 'Readiness: 200 once the pipeline is loaded' } }, async (request, reply) => {
      const h = healthAnswer('/ready')!;
      if (h.headers) reply.headers(h.headers);
      reply.code(h.status);
      return { ...h.body, logId: request.id };
    });

    r.post<{ Body: BuildRequest }>('/shitu-index-build', { schema: schemas.build, config: { scope: 'write', admission: true } as RouteConfig as Record<string, unknown> }, async (request, reply) => {
      const p = needPipeline();
      const signal = clientGone(reply);
      const { imageLabelPairs, indexType, metricType } = request.body;
      const principal = principalOf(request);
      await checkIndexQuota(principal, ownership);
      checkVectorQuota(principal, imageLabelPairs.length);
      const labels = checkLabels(imageLabelPairs);
      const imgs = await images(imageLabelPairs);
      const index = await limiter.run(
        () => p.buildIndex({ galleryImgs: imgs, galleryLabel: labels, indexType: indexType ?? 'Flat', metricType: metricType ?? 'IP', ...decodeOverrideFor(p) })
          .catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
        signal);
      const indexKey = await store.create(index);
      if (principal) await ownership.recordOwner(indexKey, principal.name);
      return success(request, { indexKey, idMap: idMapOf(index.idMapEntries) });
    });

    r.post<{ Body: AddRequest }>('/shitu-index-add', { schema: schemas.add, config: { scope: 'write', admission: true } as RouteConfig as Record<string, unknown> }, async (request, reply) => {
      const p = needPipeline();
      const signal = clientGone(reply);
      const { imageLabelPairs } = request.body;
      const labels = checkLabels(imageLabelPairs);
      const key = keyOf(request.body.indexKey);
      await store.check(key); // 404 before any download
      const principal = principalOf(request);
      const imgs = await images(imageLabelPairs);
      const idMap = await store.append(key, (index) => {
        checkVectorQuota(principal, index.count + imageLabelPairs.length);
        return limiter.run(
          () => p.appendIndex({ index, galleryImgs: imgs, galleryLabel: labels, ...decodeOverrideFor(p) })
            .catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
          signal);
      });
      return success(request, { idMap: idMapOf(idMap) });
    });

    r.post<{ Body: RemoveRequest }>('/shitu-index-remove', { schema: schemas.remove, config: { scope: 'write' } as RouteConfig as Record<string, unknown> }, async (request) => {
      needPipeline();
      const key = keyOf(request.body.indexKey);
      const { ids } = request.body;
      const idMap = await store.remove(key, ids).catch((e) => {
        if (e instanceof ShituError && e.code === 'ERR_INDEX_ID') {
          const unknown = Array.isArray(e.details) ? (e.details as number[]) : [];
          const shown = unknown.slice(0, SERVICE_LIMITS.maxIdsInError).join(', ');
          const more = unknown.length > SERVICE_LIMITS.maxIdsInError ? ` and ${unknown.length - SERVICE_LIMITS.maxIdsInError} more` : '';
          throw new HttpError(404, `ids: not in index ${key}, nothing removed: ${unknown.length ? shown + more : e.message}`);
        }
        throw e;
      });
      return success(request, { idMap: idMapOf(idMap) });
    });

    r.post<{ Body: InferRequest }>('/shitu-infer', { schema: schemas.infer, config: { scope: 'read', admission: true } as RouteConfig as Record<string, unknown> }, async (request, reply) => {
      const p = needPipeline();
      const signal = clientGone(reply);
      const b = request.body;
      const returnImage = b.returnImage ?? true;
      const givenKey = b.indexKey ?? undefined;
      // No key, no default key: the pipeline config's own index, when it names one.
      const index = givenKey === undefined && !defaultKey && p.config.index ? undefined : await store.searchable(keyOf(givenKey));
      const img = await imageBytes(b.image, 'image', fetchOpts);
      const out = await limiter.run(async () => {
        let res;
        try {
          res = await p.recognize(img, {
            index, detThreshold: b.detThreshold ?? undefined, recThreshold: b.recThreshold ?? undefined, recTopk: b.topk ?? undefined,
            keepImage: returnImage, ...decodeOverrideFor(p),
          });
        } catch (e) {
          if (e instanceof ShituError && e.code === 'ERR_IMAGE_DECODE') throw new HttpError(400, `image: cannot decode the image (not a supported format, or corrupt)`);
          if (e instanceof ShituError && (e.code === 'ERR_IMAGE_TOO_LARGE' || e.code === 'ERR_IMAGE_FORMAT'))
            throw new ShituError(e.code, `image: ${e.message.replace(/^(cannot decode )?image argument \d+:? ?/, '')}`);
          throw e;
        }
        const picture = returnImage ? (await res.image('.jpg')).toString('base64') : null;
        return { boxes: res.boxes, picture, timings: res.timings };
      }, signal);
      reply.header('server-timing', serverTiming(out.timings));
      return success(request, {
        detectedObjects: out.boxes.map((box) => ({
          bbox: box.coordinate,
          recResults: box.labels[0] == null ? [] : box.labels.map((label, j) => ({ label: label as string, score: box.rec_scores[j] as number })),
          score: box.det_score,
        })),
        image: out.picture,
      });
    });
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

function idMapOf(entries: IdMapEntries): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, label] of entries) out[String(id)] = label;
  return out;
}

export interface ServeOptions {
  host?: string;
  port?: number;
  config?: string;
  device?: string;
  threads?: number;
  indexDir?: string;
  /** A postgresql:// URL: replicas share their indexes (else indexDir). */
  indexStore?: string;
  defaultIndexKey?: string;
  maxConcurrent?: number;
  maxQueue?: number;
  /** Dynamic batching: crops per feature-model Run across concurrent requests (default 0: off, see bench/REPORT.md §4b; when on, BATCHING.maxBatch.default unless given). */
  batchMax?: number;
  /** Dynamic batching: how long the first request waits for the others' crops (default BATCHING.maxWaitMs.default). */
  batchWaitMs?: number;
  bodyLimit?: number;
  /** API key file (see server-auth.ts); SHITU_API_KEYS adds keys from the environment. */
  apiKeys?: string;
  limitInputPixels?: number;
  imageFormats?: string[];
  /** CIDRs image URLs may reach although not public. */
  allowFetch?: string[];
  log?: boolean;
}

/**
 * serve's batching option from --batch-max / --batch-wait-ms: off unless one
 * is given (on CPU it measured no faster, bench/REPORT.md §4b); --batch-max 0 keeps it off.
 */
export function serveBatching(o: Pick<ServeOptions, 'batchMax' | 'batchWaitMs'>): false | { maxBatch?: number; maxWaitMs?: number } {
  if (o.batchMax === 0 || (o.batchMax === undefined && o.batchWaitMs === undefined)) return false;
  return { ...(o.batchMax !== undefined && { maxBatch: o.batchMax }), ...(o.batchWaitMs !== undefined && { maxWaitMs: o.batchWaitMs }) };
}

/** `shitu serve`: listens at once (/health answers, /ready waits for the models), runs until SIGINT/SIGTERM, then drains. */
export async function serve(o: ServeOptions): Promise<void> {
  const { createPipeline, resolveBatching } = await import('../pipeline/pipeline');
  const batching = serveBatching(o);
  resolveBatching(batching); // a bad --batch-max / --batch-wait-ms fails here, before listening
  const pipelineP = createPipeline(o.config ?? 'PP-ShiTuV2', { device: o.device, threads: o.threads, batching });
  pipelineP.catch((e) => process.stderr.write(`error ${(e as { code?: string }).code ?? 'ERR_INTERNAL'}: ${(e as Error).message}\n`));
  const indexDir = path.resolve(o.indexDir ?? 'indexes');
  const apiKeys = loadApiKeys({ file: o.apiKeys });
  const app = createServer(pipelineP, {
    indexDir, indexStore: o.indexStore, defaultIndexKey: o.defaultIndexKey, maxConcurrent: o.maxConcurrent, maxQueue: o.maxQueue, bodyLimit: o.bodyLimit,
    apiKeys, limitInputPixels: o.limitInputPixels, imageFormats: o.imageFormats,
    fetch: o.allowFetch ? { guard: { allow: o.allowFetch } } : undefined,
    logger: o.log ? { level: 'info' } : false,
  });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8080 });
  process.stderr.write(`shitu serve: listening on ${address} (indexes in ${app.shitu.store.location}; ${apiKeys.length ? `${apiKeys.length} API key(s)` : 'no API keys: every route is open'})\n`);
  pipelineP.then(() => process.stderr.write('shitu serve: pipeline loaded, ready\n'), () => undefined);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.stderr.write(`shitu serve: ${sig}, draining\n`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await app.close();
  const p = await pipelineP.catch(() => undefined);
  await p?.close();
}

// HTTP service compatible with the PP-ShiTuV2 serving API of PaddleX:
//   POST /shitu-index-build, /shitu-index-add, /shitu-index-remove, /shitu-infer
// with the reference's envelopes ({logId, errorCode, errorMsg, result}), plus
// GET /health (liveness), GET /ready (readiness) and GET /openapi.json.
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { ShituError } from './errors';
import { fetchImage, FetchOptions } from './image-input';
import { IndexData, IndexType, MetricType } from './index-data';
import type { Pipeline } from './pipeline';
import { BusyError, CancelledError, Limiter, LimiterStats } from './server-limiter';
import { addSchema, buildSchema, inferSchema, removeSchema } from './server-schemas';
import { IdMapEntries, IndexKeyError, IndexStore } from './server-store';
import { openIndexStore } from './store/open';

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
  /** Bounds on fetching http(s) image URLs. */
  fetch?: FetchOptions;
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
    return new HttpError(400, parts.join('; '));
  }
  return e;
}

function statusOf(e: unknown, bodyLimit: number): { status: number; message: string; headers?: Record<string, string> } {
  if (e instanceof HttpError) return { status: e.status, message: e.message, headers: e.headers };
  if (e instanceof IndexKeyError) return { status: e.status, message: e.message };
  if (e instanceof BusyError) return { status: 503, message: e.message, headers: { 'retry-after': String(e.retryAfterS) } };
  if (e instanceof CancelledError) return { status: 499, message: e.message };
  if (e instanceof ShituError) {
    switch (e.code) {
      case 'ERR_IMAGE_DECODE':
      case 'ERR_IMAGE_MISSING':
      case 'ERR_FETCH':
      case 'ERR_INPUT':
        return { status: 400, message: e.message };
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

/**
 * The service over a pipeline (or a pipeline still loading: until it resolves,
 * /ready and the operations answer 503). Returns a Fastify instance, not yet
 * listening. `await app.close()` stops accepting requests and waits for the
 * running and queued ones.
 */
export function createServer(pipelineOrPromise: Pipeline | Promise<Pipeline>, o: ServerOptions): ShituServer {
  if (!o || ((typeof o.indexDir !== 'string' || !o.indexDir) && !o.indexStore)) throw new TypeError('createServer: options.indexDir or options.indexStore is required');
  const bodyLimit = o.bodyLimit ?? 64 * 1024 * 1024;
  const limiter = new Limiter(o.maxConcurrent ?? 2, o.maxQueue ?? 32);
  const ownStore = typeof o.indexStore !== 'object';
  const store: IndexStore = typeof o.indexStore === 'object' ? o.indexStore
    : openIndexStore(o.indexStore ?? o.indexDir!, { maxCached: o.maxCachedIndexes ?? 32 });
  const defaultKey = o.defaultIndexKey !== undefined ? store.checkKey(o.defaultIndexKey) : undefined;
  const fetchOpts: FetchOptions = { timeoutMs: 15000, maxBytes: 32 * 1024 * 1024, maxRedirects: 5, ...o.fetch };

  let pipeline: Pipeline | undefined;
  let loadError: Error | undefined;
  let closing = false;
  Promise.resolve(pipelineOrPromise).then((p) => { pipeline = p; }, (e) => { loadError = e; });

  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit,
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { coerceTypes: false, allErrors: false } },
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

  const needPipeline = (): Pipeline => {
    if (loadError) throw new HttpError(500, `the pipeline failed to load: ${loadError.message}`);
    if (!pipeline) throw new HttpError(503, 'the pipeline is still loading', { 'retry-after': '2' });
    return pipeline;
  };
  const keyOf = (k: string | undefined): string => {
    if (k !== undefined) return store.checkKey(k);
    if (defaultKey) return defaultKey;
    throw new HttpError(400, 'indexKey: is required (this server has no default index and the pipeline config names none)');
  };

  app.setErrorHandler((err, request, reply) => {
    const { status, message, headers } = statusOf(err, bodyLimit);
    if (status >= 500 && status !== 503) request.log.error({ err }, 'request failed');
    if (headers) reply.headers(headers);
    reply.code(status).type('application/json').send({ logId: request.id, errorCode: status, errorMsg: message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ logId: request.id, errorCode: 404, errorMsg: `no route ${request.method} ${request.url}` });
  });

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'shitu-node PP-ShiTuV2 service',
        description: 'General image recognition (main-body detection, feature extraction, vector retrieval), compatible with the PaddleX PP-ShiTuV2 serving API.',
        version: '0.1.0',
      },
    },
  });

  app.register(async (r) => {
    r.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    r.get('/health', { schema: { summary: 'Liveness' } }, async (request) => success(request, { status: 'ok' }));

    r.get('/ready', { schema: { summary: 'Readiness: 200 once the pipeline is loaded' } }, async (request, reply) => {
      if (!state.ready) {
        const why = loadError ? `the pipeline failed to load: ${loadError.message}` : closing ? 'the server is closing' : 'the pipeline is still loading';
        reply.code(503).header('retry-after', '2');
        return { logId: request.id, errorCode: 503, errorMsg: why };
      }
      return success(request, { status: 'ready', ...limiter.stats });
    });

    r.post<{ Body: { imageLabelPairs: Array<{ image: string; label: string }>; indexType: IndexType; metricType: MetricType } }>(
      '/shitu-index-build', { schema: buildSchema }, async (request, reply) => {
        const p = needPipeline();
        const signal = clientGone(reply);
        const { imageLabelPairs, indexType, metricType } = request.body;
        const labels = checkLabels(imageLabelPairs);
        const images = await Promise.all(imageLabelPairs.map((x, i) => imageBytes(x.image, `imageLabelPairs[${i}].image`, fetchOpts)));
        const index = await limiter.run(
          () => p.buildIndex({ galleryImgs: images, galleryLabel: labels, indexType, metricType })
            .catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
          signal);
        const indexKey = await store.create(index);
        return success(request, { indexKey, idMap: idMapOf(index.idMapEntries) });
      });

    r.post<{ Body: { imageLabelPairs: Array<{ image: string; label: string }>; indexKey?: string } }>(
      '/shitu-index-add', { schema: addSchema }, async (request, reply) => {
        const p = needPipeline();
        const signal = clientGone(reply);
        const { imageLabelPairs } = request.body;
        const labels = checkLabels(imageLabelPairs);
        const key = keyOf(request.body.indexKey);
        await store.check(key); // 404 before any download
        const images = await Promise.all(imageLabelPairs.map((x, i) => imageBytes(x.image, `imageLabelPairs[${i}].image`, fetchOpts)));
        const idMap = await store.append(key, (index) => limiter.run(
          () => p.appendIndex({ index, galleryImgs: images, galleryLabel: labels })
            .catch((e) => { throw mapGalleryError(e, 'imageLabelPairs'); }),
          signal));
        return success(request, { idMap: idMapOf(idMap) });
      });

    r.post<{ Body: { ids: number[]; indexKey?: string } }>(
      '/shitu-index-remove', { schema: removeSchema }, async (request) => {
        needPipeline();
        const key = keyOf(request.body.indexKey);
        const { ids } = request.body;
        const idMap = await store.remove(key, ids).catch((e) => {
          if (e instanceof ShituError && e.code === 'ERR_INDEX_ID') {
            const unknown = Array.isArray(e.details) ? (e.details as number[]) : [];
            throw new HttpError(404, `ids: not in index ${key}, nothing removed: ${unknown.join(', ') || e.message}`);
          }
          throw e;
        });
        return success(request, { idMap: idMapOf(idMap) });
      });

    r.post<{ Body: { image: string; indexKey?: string; detThreshold?: number; recThreshold?: number; topk?: number; returnImage: boolean } }>(
      '/shitu-infer', { schema: inferSchema }, async (request, reply) => {
        const p = needPipeline();
        const signal = clientGone(reply);
        const b = request.body;
        // No key, no default key: the pipeline config's own index, when it names one.
        const index = b.indexKey === undefined && !defaultKey && p.config.index ? undefined : await store.searchable(keyOf(b.indexKey));
        const img = await imageBytes(b.image, 'image', fetchOpts);
        const out = await limiter.run(async () => {
          let res;
          try {
            res = await p.recognize(img, {
              index, detThreshold: b.detThreshold, recThreshold: b.recThreshold, recTopk: b.topk, keepImage: b.returnImage,
            });
          } catch (e) {
            if (e instanceof ShituError && e.code === 'ERR_IMAGE_DECODE') throw new HttpError(400, `image: cannot decode the image (not a supported format, or corrupt)`);
            throw e;
          }
          const picture = b.returnImage ? (await res.image('.jpg')).toString('base64') : null;
          return { boxes: res.boxes, picture };
        }, signal);
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

  // Graceful shutdown: Fastify stops accepting new requests (503 while closing);
  // wait for the running and queued work and the pending index writes.
  // preClose runs before the listening socket and idle connections are closed;
  // responses sent from now on carry "Connection: close" so that their
  // keep-alive connections do not hold the close back.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
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
  bodyLimit?: number;
  log?: boolean;
}

/** `shitu serve`: listens at once (/health answers, /ready waits for the models), runs until SIGINT/SIGTERM, then drains. */
export async function serve(o: ServeOptions): Promise<void> {
  const { createPipeline } = await import('./pipeline');
  const pipelineP = createPipeline(o.config ?? 'PP-ShiTuV2', { device: o.device, threads: o.threads });
  pipelineP.catch((e) => process.stderr.write(`error ${(e as { code?: string }).code ?? 'ERR_INTERNAL'}: ${(e as Error).message}\n`));
  const indexDir = path.resolve(o.indexDir ?? 'indexes');
  const app = createServer(pipelineP, {
    indexDir, indexStore: o.indexStore, defaultIndexKey: o.defaultIndexKey, maxConcurrent: o.maxConcurrent, maxQueue: o.maxQueue, bodyLimit: o.bodyLimit,
    logger: o.log ? { level: 'info' } : false,
  });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8080 });
  process.stderr.write(`shitu serve: listening on ${address} (indexes in ${app.shitu.store.location})\n`);
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

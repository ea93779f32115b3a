// The service's application/json body parser, in place of Fastify's: the body
// is read within bodyLimit, its shape (nesting depth, number of values) is
// checked on the raw bytes as they arrive (json-shape.ts), and a body over
// offloadBytes is parsed on a worker thread (json-worker.ts), so that no body
// holds the event loop: /health and other clients stay answered while the
// largest accepted body is parsed (bench/service/body-parse.ts). Long Base64
// image fields of such a body come back decoded (request.decodedImages).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import sjson from 'secure-json-parse';
import { BodyError } from './body-error';
import { JsonShapeError, JsonShapeScanner } from './json-shape';
import { JsonWorker, WorkerJob } from './json-worker';
import { BODY_LIMITS } from '../../limits';
import { IDEMPOTENCY_HEADER } from '../idempotency';

export interface JsonBodyOptions {
  bodyLimit: number;
  maxDepth: number;
  maxValues: number;
  /** Bodies larger than this are parsed on the worker thread. */
  offloadBytes: number;
}

export const tooLarge = (limit: number) => new BodyError('ERR_BODY_TOO_LARGE', `request body is larger than the server's limit of ${limit} bytes`);

/** Registers the parser on `app` (replacing Fastify's JSON parser); the worker stops when the app closes. */
export function registerJsonBody(app: FastifyInstance, o: JsonBodyOptions): void {
  const worker = new JsonWorker();
  app.decorateRequest('decodedImages', undefined);
  app.addHook('onClose', async () => { await worker.close(); });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (request: FastifyRequest, payload: Readable, done: (err: Error | null, body?: unknown) => void) => {
    readBody(request, payload ?? request.raw, o, worker).then((body) => done(null, body), (e) => done(e));
  });
}

function parseHere(bytes: Buffer): unknown {
  try {
    return sjson.parse(bytes.toString('utf8'), null, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new BodyError('ERR_BODY_INVALID', `request body: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Reads the body, its shape checked chunk by chunk, and parses it: here when
 * it stays within offloadBytes, else on the worker, which gets the chunks as
 * they arrive (so that no copy of the whole body is made on this thread).
 */
/**
 * A refused body whose declared length is within a few times the limit is read
 * to its end and dropped (bounded by requestTimeoutMs too), on a connection
 * kept open (error.drained; the service's error handler then takes back the
 * "Connection: close" Fastify puts on every parser error), so that the client
 * gets the answer: a client still sending when the server closes sees EPIPE or
 * a reset instead (Node 22's and 24's fetch do, one try in four at 64 MiB).
 * Far larger or undeclared (chunked) bodies are not worth reading: the
 * connection closes after the answer.
 */
function refuse(err: BodyError, payload: Readable, declared: number, o: JsonBodyOptions): BodyError {
  if (Number.isFinite(declared) && declared <= BODY_LIMITS.drainFactor * o.bodyLimit) {
    err.drained = true;
    payload.resume();
  }
  return err;
}

function readBody(request: FastifyRequest, payload: Readable, o: JsonBodyOptions, worker: JsonWorker): Promise<unknown> {
  const declared = Number(request.headers['content-length']); // NaN when not declared (chunked)
  // Refused on its Content-Length, before a byte is read.
  if (declared > o.bodyLimit) return Promise.reject(refuse(tooLarge(o.bodyLimit), payload, declared, o));
  return new Promise((resolve, reject) => {
    const scanner = new JsonShapeScanner(o.maxDepth, o.maxValues);
    let chunks: Buffer[] = [];
    let job: WorkerJob | undefined;
    let received = 0;
    const stop = () => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      payload.off('close', onClose);
    };
    const fail = (err: BodyError, connectionUp = true) => {
      stop();
      job?.abort();
      reject(connectionUp ? refuse(err, payload, declared, o) : err);
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += b.length;
      if (received > o.bodyLimit) return fail(tooLarge(o.bodyLimit));
      try {
        scanner.write(b);
      } catch (e) {
        const s = e as JsonShapeError;
        return fail(new BodyError(s.kind === 'depth' ? 'ERR_BODY_INVALID' : 'ERR_BODY_TOO_LARGE', s.message));
      }
      if (job) return job.push(b);
      chunks.push(b);
      if (received > o.offloadBytes) {
        job = worker.begin();
        for (const c of chunks) job.push(c);
        chunks = [];
      }
    };
    const onEnd = () => {
      stop();
      if (!Number.isNaN(declared) && received !== declared) {
        job?.abort();
        return reject(new BodyError('ERR_BODY_INVALID', `request body: ${received} bytes received, Content-Length said ${declared}`));
      }
      if (received === 0) return reject(new BodyError('ERR_BODY_INVALID', 'request body: empty, a JSON object is required'));
      // Image fields the worker decoded travel on the request, their placeholders in the body (decoded-images.ts).
      if (job) return job.end(request.headers[IDEMPOTENCY_HEADER] !== undefined).then((r) => { request.decodedImages = r.images; resolve(r.value); }, reject);
      try {
        resolve(parseHere(Buffer.concat(chunks, received)));
      } catch (e) {
        reject(e);
      }
    };
    const onError = (e: Error) => fail(new BodyError('ERR_BODY_INVALID', `request body: ${e.message}`), false);
    // The client went away mid-body: what the worker holds of it is dropped.
    const onClose = () => fail(new BodyError('ERR_BODY_INVALID', 'request body: the connection closed before the body ended'), false);
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.on('close', onClose);
    payload.resume();
  });
}

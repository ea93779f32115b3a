// The service's application/json body parser, in place of Fastify's: the body
// is read within bodyLimit, its shape (nesting depth, number of values) is
// checked on the raw bytes as they arrive (json-shape.ts), and a body over
// offloadBytes is parsed on a worker thread (json-worker.ts), so that no body
// holds the event loop: /health and other clients stay answered while the
// largest accepted body is parsed (bench/body-parse.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import sjson from 'secure-json-parse';
import { BodyError } from './body-error';
import { JsonShapeError, JsonShapeScanner } from './json-shape';
import { JsonWorker, WorkerJob } from './json-worker';
import { BODY_LIMITS } from '../../limits';

export interface JsonBodyOptions {
  bodyLimit: number;
  maxDepth: number;
  maxValues: number;
  /** Bodies larger than this are parsed on the worker thread. */
  offloadBytes: number;
}

export const tooLarge = (limit: number) => new BodyError('ERR_BODY_TOO_LARGE', 413, `request body is larger than the server's limit of ${limit} bytes`);

/** Registers the parser on `app` (replacing Fastify's JSON parser); the worker stops when the app closes. */
export function registerJsonBody(app: FastifyInstance, o: JsonBodyOptions): void {
  const worker = new JsonWorker();
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
    throw new BodyError('ERR_BODY_JSON', 400, `request body: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Reads the body, its shape checked chunk by chunk, and parses it: here when
 * it stays within offloadBytes, else on the worker, which gets the chunks as
 * they arrive (so that no copy of the whole body is made on this thread).
 */
function readBody(request: FastifyRequest, payload: Readable, o: JsonBodyOptions, worker: JsonWorker): Promise<unknown> {
  const declared = Number(request.headers['content-length']);
  if (declared > o.bodyLimit) {
    // Refused on its Content-Length, before a byte is read. What the client is
    // still sending is read and dropped (bounded by requestTimeoutMs) when it is
    // within a few times the limit, so that the client gets the 413: Node 24's
    // fetch reports a connection reset instead when the server stops reading
    // under it. Far larger declared bodies are not worth reading.
    if (declared <= BODY_LIMITS.drainFactor * o.bodyLimit) payload.resume();
    return Promise.reject(tooLarge(o.bodyLimit));
  }
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
    const fail = (err: Error) => {
      stop();
      job?.abort();
      // The rest of the body is read and dropped (bounded by requestTimeoutMs), so that the
      // client, still sending, gets the answer instead of a reset connection.
      payload.resume();
      reject(err);
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += b.length;
      if (received > o.bodyLimit) return fail(tooLarge(o.bodyLimit));
      try {
        scanner.write(b);
      } catch (e) {
        const s = e as JsonShapeError;
        return fail(new BodyError(s.kind === 'depth' ? 'ERR_BODY_DEPTH' : 'ERR_BODY_VALUES', s.kind === 'depth' ? 400 : 413, s.message));
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
        return reject(new BodyError('ERR_BODY_LENGTH', 400, `request body: ${received} bytes received, Content-Length said ${declared}`));
      }
      if (received === 0) return reject(new BodyError('ERR_BODY_EMPTY', 400, 'request body: empty, a JSON object is required'));
      if (job) return job.end().then(resolve, reject);
      try {
        resolve(parseHere(Buffer.concat(chunks, received)));
      } catch (e) {
        reject(e);
      }
    };
    const onError = (e: Error) => fail(new BodyError('ERR_BODY_LENGTH', 400, `request body: ${e.message}`));
    // The client went away mid-body: what the worker holds of it is dropped.
    const onClose = () => fail(new BodyError('ERR_BODY_LENGTH', 400, 'request body: the connection closed before the body ended'));
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.on('close', onClose);
    payload.resume();
  });
}

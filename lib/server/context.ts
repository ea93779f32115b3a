// What the route plugins share with the app that registers them (lib/server/app.ts):
// the store, the admission limiter, the pipeline once loaded, and the helpers
// every route answers with.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ShituError } from '../errors';
import type { FetchOptions } from '../input/fetch-image';
import type { Pipeline } from '../pipeline/pipeline';
import type { StageTimings } from '../pipeline/result';
import type { IdMapEntries, IndexStore } from '../store/index-store';
import type { IndexOwnership, Principal, Scope } from './auth';
import type { Limiter } from './limiter';
import type { routeSchemas } from './schemas';
import type { DecodedImages } from './body/decoded-images';

/** Route-level settings read by the hooks: the scope a route needs and whether it takes a recognition slot. */
export interface RouteConfig {
  scope?: Scope;
  admission?: boolean;
}

// Typed once for Fastify: a route's `config` is a RouteConfig, and the
// onRequest hook sets the authenticated principal on the request.
declare module 'fastify' {
  interface FastifyContextConfig extends RouteConfig {}
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface RouteContext {
  readonly store: IndexStore;
  readonly limiter: Limiter;
  readonly ownership: IndexOwnership;
  readonly fetchOpts: FetchOptions;
  readonly schemas: ReturnType<typeof routeSchemas>;
  /** The server's default index key, if any. */
  readonly defaultKey?: string;
  /** How long a request's work may take (ms) before it is stopped with 504 ERR_TIMEOUT. */
  readonly requestDeadlineMs: number;
  /** The loaded pipeline (503 while loading, 500 if it failed). */
  needPipeline(): Pipeline;
  /** The request's index key, or the default one (400 when neither). */
  keyOf(k: string | null | undefined): string;
  /**
   * The bytes of a request's image fields (URLs fetched under the fetch budget, lib/server/fetches/), in order;
   * `decoded`: request.decodedImages, the fields the JSON worker decoded.
   */
  images(values: readonly string[], where: (i: number) => string, signal?: AbortSignal, decoded?: DecodedImages): Promise<Buffer[]>;
  /** Decoded pixels a build or add holds at once (undefined: unbudgeted). */
  readonly pixelsInFlight?: number;
  /** The server's decode options over the pipeline's (only the keys the server sets). */
  decodeOverrideFor(p: Pipeline): { limitInputPixels?: number | false; imageFormats?: readonly string[] };
  /** Records a recognition's stage timings in the server's metrics. */
  observeRecognition(t: StageTimings): void;
}

export const success = (request: FastifyRequest, result: unknown) => ({ logId: request.id, errorCode: 0, errorMsg: 'Success', result });

/**
 * The work of one request: `signal` aborts when the client goes away before
 * its response is written or when the request's deadline passes; it is
 * passed to the limiter and to the pipeline, which drop queued work and stop
 * running work at its next boundary. `settle` turns the failure of aborted
 * work into why it was aborted (ERR_TIMEOUT: 504), without racing the work:
 * a write that passed its point of no return answers what it did.
 */
export function requestWork(reply: FastifyReply, deadlineMs: number): { signal: AbortSignal; settle<T>(p: Promise<T>): Promise<T> } {
  const ac = new AbortController();
  const res = reply.raw;
  const timer = setTimeout(() => ac.abort(new ShituError('ERR_TIMEOUT', `ERR_TIMEOUT: the request's work took longer than the server's request timeout of ${deadlineMs} ms`)), deadlineMs);
  res.once('close', () => {
    clearTimeout(timer);
    if (!res.writableFinished) ac.abort(new ShituError('ERR_ABORTED', 'the client went away before its response was written'));
  });
  return {
    signal: ac.signal,
    settle: async (p) => {
      try {
        return await p;
      } catch (e) {
        throw ac.signal.aborted ? ac.signal.reason : e;
      }
    },
  };
}

export function idMapOf(entries: IdMapEntries): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, label] of entries) out[String(id)] = label;
  return out;
}


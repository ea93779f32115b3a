// What the route plugins share with the app that registers them (lib/server/app.ts):
// the store, the admission limiter, the pipeline once loaded, and the helpers
// every route answers with.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FetchOptions } from '../input/image-input';
import type { Pipeline } from '../pipeline/pipeline';
import type { IdMapEntries, IndexStore } from '../store/index-store';
import type { IndexOwnership, Principal, Scope } from './auth';
import type { Limiter } from './limiter';
import type { routeSchemas } from './schemas';

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
  /** The loaded pipeline (503 while loading, 500 if it failed). */
  needPipeline(): Pipeline;
  /** The request's index key, or the default one (400 when neither). */
  keyOf(k: string | null | undefined): string;
  /** The bytes of a request's image fields (URLs fetched under the fetch budget, lib/server/fetches/), in order. */
  images(values: readonly string[], where: (i: number) => string, signal?: AbortSignal): Promise<Buffer[]>;
  /** Decoded pixels a build or add holds at once (undefined: unbudgeted). */
  readonly pixelsInFlight?: number;
  /** The server's decode options over the pipeline's (only the keys the server sets). */
  decodeOverrideFor(p: Pipeline): { limitInputPixels?: number | false; imageFormats?: readonly string[] };
}

export const success = (request: FastifyRequest, result: unknown) => ({ logId: request.id, errorCode: 0, errorMsg: 'Success', result });

/** Aborts when the client closes the connection before its response is written. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) ac.abort();
  };
  res.once('close', onClose);
  return ac.signal;
}

export function idMapOf(entries: IdMapEntries): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, label] of entries) out[String(id)] = label;
  return out;
}


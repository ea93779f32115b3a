// One structured log line per request answered by Fastify, through the
// server's logger (pino): logId, method, route (the pattern, never the raw URL
// with its query), status, ms, and the indexKey when the request names one or
// a build answers one. Fastify's own pair of request lines is off
// (disableRequestLogging in app.ts): this one line replaces them.
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Where a build's answer names its new key: the envelope's first fields (success() in context.ts). */
const BUILT_KEY = /"result":\{"indexKey":"([0-9a-fA-F-]{36})"/;

declare module 'fastify' {
  interface FastifyRequest {
    /** The index a request works on, for its log line. */
    logIndexKey?: string;
  }
}

function indexKeyOf(request: FastifyRequest): string | undefined {
  if (request.logIndexKey) return request.logIndexKey;
  const fromBody = (request.body as { indexKey?: unknown } | undefined)?.indexKey;
  if (typeof fromBody === 'string') return fromBody;
  const fromParams = (request.params as { indexKey?: unknown } | undefined)?.indexKey;
  return typeof fromParams === 'string' ? fromParams : undefined;
}

export function registerRequestLog(app: FastifyInstance): void {
  app.decorateRequest('logIndexKey', undefined);
  app.addHook('onSend', async (request, reply, payload) => {
    // Only the head of the answer is read (a build's idMap may be long).
    if (request.routeOptions.url === '/shitu-index-build' && reply.statusCode === 200 && typeof payload === 'string') {
      const m = BUILT_KEY.exec(payload.slice(0, 200));
      if (m) request.logIndexKey = m[1];
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const indexKey = indexKeyOf(request);
    request.log.info({
      logId: request.id, method: request.method, route: request.routeOptions.url ?? '(unmatched)', status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100, ...(indexKey !== undefined && { indexKey }),
    }, 'request');
  });
}

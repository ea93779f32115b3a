// How the service answers besides its routes' successes: any failure as the
// {logId, errorCode, errorMsg} envelope (its status from the one table of
// ./error-status.ts), unknown routes, and responses over maxResponseBytes.
import type { FastifyInstance } from 'fastify';
import { BodyError } from './body/body-error';
import { clientError, refusal, toShituError } from './error-status';
import type { ServerSettings } from './options';

export function registerReplies(app: FastifyInstance, s: Pick<ServerSettings, 'bodyLimit' | 'maxResponseBytes'>, closing: () => boolean): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, message, headers, internal } = clientError(toShituError(err, s.bodyLimit));
    if (internal) request.log.error({ err, logId: request.id }, 'request failed');
    if (headers) reply.headers(headers);
    // Fastify closes the connection after every body parser error; a body being drained keeps it (json-parser.ts).
    if (err instanceof BodyError && err.drained && !closing()) reply.removeHeader('connection');
    reply.code(status).type('application/json').send({ logId: request.id, errorCode: status, errorMsg: message });
  });
  app.setNotFoundHandler((request, reply) => {
    const r = refusal('ERR_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url}`, request.id);
    reply.code(r.status).send(r.body);
  });

  // A response over the limit is replaced by an error that names it.
  app.addHook('onSend', async (request, reply, payload) => {
    if (closing()) reply.header('connection', 'close');
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : Buffer.isBuffer(payload) ? payload.length : 0;
    if (size <= s.maxResponseBytes) return payload;
    const r = refusal('ERR_RESPONSE_TOO_LARGE', `the response (${size} bytes) is over the server's limit of ${s.maxResponseBytes} bytes; ask for less (topk, returnImage: false) or split the request`, request.id);
    reply.code(r.status).type('application/json');
    return JSON.stringify(r.body);
  });
}

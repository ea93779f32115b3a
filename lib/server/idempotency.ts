// The Idempotency-Key request header on the service's writes (POST
// /shitu-index-build, /shitu-index-add, /shitu-index-remove; routes opt in with
// `config.idempotent`). The first request with a key claims it in the index
// store (lib/store/idempotency/) and writes; the store records the answer with
// the write. A repeat of the same request (same owner, key, route and canonical
// body) gets the recorded answer again, marked `Idempotent-Replayed: true`,
// without writing; the same key with another request is 422
// ERR_IDEMPOTENCY_MISMATCH; a repeat while the first is still running is 409
// ERR_IDEMPOTENCY_IN_FLIGHT (Retry-After). Keys are per owner: the API key's
// name, or "anonymous" without keys. A request that fails before its write
// commits frees its key (a retry writes).
import * as crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ShituError } from '../errors';
import { IDEMPOTENCY } from '../limits';
import type { IdMapEntries, IndexStore } from '../store/index-store';
import { INDEX_KEY_RE } from '../store/index-store';
import type { IdempotencyClaim, IdempotencyKeys, IdempotentWrite } from '../store/idempotency/keys';
import { idMapOf, success } from './context';
import type { DecodedImages } from './body/decoded-images';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route honours Idempotency-Key. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    idempotency?: RequestIdempotency;
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
/** The owner of keys sent while the service has no API keys. */
export const ANONYMOUS_OWNER = 'anonymous';

const KEY_RE = new RegExp(IDEMPOTENCY.keyPattern);

export interface IdempotencyOptions {
  keys: IdempotencyKeys;
  store: IndexStore;
  /** How long answers are kept (default IDEMPOTENCY.ttlMs). */
  ttlMs: number;
  /** How long a running claim holds when its process vanished: the request deadline plus IDEMPOTENCY.leaseMs. */
  leaseMs: number;
}

/** A claimed key on a request: the route hands `write` to the store call. */
export interface RequestIdempotency {
  claim: IdempotencyClaim;
  /** The index the write goes to, as known when the key was claimed (a build's fresh key). */
  target?: string;
  write?: IdempotentWrite & { sent?: string };
  /** The claim was given back (the request failed before its write committed). */
  released?: boolean;
}

/** The header's key, or ERR_IDEMPOTENCY_KEY. */
export function checkIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ShituError('ERR_IDEMPOTENCY_KEY', 'ERR_IDEMPOTENCY_KEY: give the Idempotency-Key header once');
  if (!value.length || value.length > IDEMPOTENCY.maxKeyLength || !KEY_RE.test(value))
    throw new ShituError('ERR_IDEMPOTENCY_KEY', `ERR_IDEMPOTENCY_KEY: the Idempotency-Key header must be 1 to ${IDEMPOTENCY.maxKeyLength} visible ASCII characters (no spaces)`);
  return value;
}

/**
 * SHA-256 of the route and the body as canonical JSON (object keys sorted),
 * fed piece by piece: a 64 MiB body is not copied into one more string. An
 * image field the JSON worker decoded (`decoded`) counts by the SHA-256 of its
 * original text, which no JSON value's text can be mistaken for.
 */
export function requestHash(route: string, body: unknown, decoded?: DecodedImages): string {
  const h = crypto.createHash('sha256');
  h.update(route, 'utf8').update('\n');
  const walk = (v: unknown): void => {
    const digest = typeof v === 'string' ? decoded?.sha256(v) : undefined;
    if (digest !== undefined) {
      h.update(`B64:${digest}`);
    } else if (v === null || typeof v !== 'object') {
      h.update(JSON.stringify(v) ?? 'null', 'utf8');
    } else if (Array.isArray(v)) {
      h.update('[');
      v.forEach((x, i) => { if (i) h.update(','); walk(x); });
      h.update(']');
    } else {
      h.update('{');
      Object.keys(v).sort().forEach((k, i) => {
        if ((v as Record<string, unknown>)[k] === undefined) return;
        if (i) h.update(',');
        h.update(JSON.stringify(k), 'utf8').update(':');
        walk((v as Record<string, unknown>)[k]);
      });
      h.update('}');
    }
  };
  walk(body);
  return h.digest('hex');
}

/**
 * The route's side: the IdempotentWrite to pass to the store call (undefined
 * without a key). `result(idMap)` is the answer's result; the store records it
 * with the write, and the route sends exactly the recorded body (sendWrite).
 */
export function idempotentWrite(request: FastifyRequest, result: (idMap: IdMapEntries) => unknown): IdempotentWrite | undefined {
  const ri = request.idempotency;
  if (!ri) return undefined;
  const w: IdempotentWrite & { sent?: string } = {
    claim: ri.claim,
    answer: (idMap) => {
      w.sent = JSON.stringify(success(request, result(idMap)));
      return { status: 200, body: w.sent };
    },
  };
  ri.write = w;
  return w;
}

/** The route's answer: the recorded body where the write was idempotent, else `fallback`. */
export function sendWrite(request: FastifyRequest, reply: FastifyReply, fallback: unknown): unknown {
  const sent = request.idempotency?.write?.sent;
  if (sent === undefined) return fallback;
  return reply.type('application/json; charset=utf-8').send(sent);
}

/** The key a build writes to: chosen when its Idempotency-Key is claimed, so that a retry can find the write. */
export function buildKeyOf(request: FastifyRequest): string {
  return request.idempotency?.target ?? crypto.randomUUID();
}

export function registerIdempotency(app: FastifyInstance, o: IdempotencyOptions): void {
  // After validation (the body is parsed and well-formed) and authentication (the owner is known).
  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config?.idempotent) return;
    const key = checkIdempotencyKey(request.headers[IDEMPOTENCY_HEADER]);
    if (key === undefined) return;
    const route = request.routeOptions.url ?? request.url;
    const owner = request.principal?.name ?? ANONYMOUS_OWNER;
    const body = request.body as { indexKey?: unknown } | undefined;
    const building = route === '/shitu-index-build';
    const target = building ? crypto.randomUUID()
      : typeof body?.indexKey === 'string' && INDEX_KEY_RE.test(body.indexKey) ? body.indexKey.toLowerCase() : undefined;
    const r = await o.keys.claim({ owner, key, requestHash: requestHash(route, request.body, request.decodedImages) }, { ttlMs: o.ttlMs, leaseMs: o.leaseMs, target });
    if (r.state === 'mismatch')
      throw new ShituError('ERR_IDEMPOTENCY_MISMATCH', `ERR_IDEMPOTENCY_MISMATCH: Idempotency-Key ${JSON.stringify(key)} was used for another request (another route or body); use a new key for a new request`);
    if (r.state === 'in-flight')
      throw new ShituError('ERR_IDEMPOTENCY_IN_FLIGHT', `ERR_IDEMPOTENCY_IN_FLIGHT: Idempotency-Key ${JSON.stringify(key)}: the first request with this key is still running; retry later for its answer`);
    if (r.state === 'replay') {
      reply.code(r.answer.status).header(REPLAYED_HEADER, 'true').type('application/json; charset=utf-8');
      return reply.send(r.answer.body);
    }
    if (r.state === 'unanswered') {
      // The write happened and its process died before recording the answer: answered from the index as it is now.
      const t = r.claim.target!;
      const idMap = idMapOf(await o.store.idMap(t));
      const answer = JSON.stringify(success(request, building ? { indexKey: t, idMap } : { idMap }));
      await r.claim.complete({ status: 200, body: answer });
      reply.code(200).header(REPLAYED_HEADER, 'true').type('application/json; charset=utf-8');
      return reply.send(answer);
    }
    request.idempotency = { claim: r.claim, target: building ? target : undefined };
  });

  // A request that ends without its write committed frees its key; one that
  // committed keeps it (recorded, or recorded late by a retry: 'unanswered').
  // Freed before its answer goes out, so that a client retrying at once finds
  // the key free; again when the response ends (a client that left gets no answer).
  const release = async (request: FastifyRequest) => {
    const ri = request.idempotency;
    if (!ri || ri.write?.committed || ri.released) return;
    ri.released = true;
    await ri.claim.release().catch((err) => request.log.error({ err, logId: request.id }, 'releasing an idempotency key failed'));
  };
  app.addHook('onSend', async (request, _reply, payload) => {
    await release(request);
    return payload;
  });
  app.addHook('onResponse', release);
}

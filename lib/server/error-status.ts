// How the service answers a failure: HttpError (an error that carries its
// status), the one table from ShituError codes to HTTP statuses, and the
// mapping of every other error (validation, auth, admission, Fastify's own)
// to the {errorCode, errorMsg} envelope.
import type { FastifyError } from 'fastify';
import { ShituError } from '../errors';
import { LABEL_PATTERN } from '../limits';
import { AuthError } from './auth';
import { BusyError, CancelledError } from './limiter';
import { IndexKeyError } from '../store/index-store';
import { pointerToKey } from '../util/json-path';

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

/** Status (and Retry-After, seconds) of each ShituError code a client can cause or wait out; any other code is a 500. */
export const CODE_STATUS: Readonly<Record<string, { status: number; retryAfterS?: number }>> = {
  ERR_IMAGE_DECODE: { status: 400 },
  ERR_IMAGE_MISSING: { status: 400 },
  ERR_FETCH: { status: 400 },
  ERR_INPUT: { status: 400 },
  ERR_IMAGE_TOO_LARGE: { status: 413 },
  ERR_IMAGE_FORMAT: { status: 415 },
  ERR_OUT_OF_MEMORY: { status: 503, retryAfterS: 5 },
  ERR_INDEX_ID: { status: 404 },
  ERR_INDEX_UNSUPPORTED: { status: 422 },
  ERR_INDEX_DIM: { status: 422 },
  ERR_CLOSED: { status: 503, retryAfterS: 5 },
  ERR_BUSY: { status: 503, retryAfterS: 1 },
  ERR_TIMEOUT: { status: 504 },
  // The client went away: nobody reads this answer (as the limiter's CancelledError).
  ERR_ABORTED: { status: 499 },
  ERR_STORE_UNAVAILABLE: { status: 503, retryAfterS: 1 },
  // Idempotency-Key (lib/server/idempotency.ts): malformed; reused for another request; its first request still running.
  ERR_IDEMPOTENCY_KEY: { status: 400 },
  ERR_IDEMPOTENCY_MISMATCH: { status: 422 },
  ERR_IDEMPOTENCY_IN_FLIGHT: { status: 409, retryAfterS: 1 },
};

function validationMessage(err: FastifyError): string {
  return (err.validation ?? []).map((v) => {
    const missing = v.keyword === 'required' ? String((v.params as { missingProperty?: string }).missingProperty ?? '') : undefined;
    const field = pointerToKey(v.instancePath, 'body', missing);
    if (missing) return `${field}: is required`;
    if (v.keyword === 'pattern' && (v.params as { pattern?: string }).pattern === LABEL_PATTERN) return `${field}: must not contain U+0000 or unpaired UTF-16 surrogates`;
    if (v.keyword === 'enum') return `${field}: must be one of ${((v.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((a) => JSON.stringify(a)).join(', ')}`;
    return `${field}: ${v.message ?? 'is invalid'}`;
  }).join('; ');
}

/** Turns pipeline failures into HTTP errors; gallery failures name each image's position. */
export function mapGalleryError(e: unknown, prefix: string): unknown {
  if (e instanceof ShituError && e.code === 'ERR_GALLERY' && Array.isArray(e.details)) {
    const parts = (e.details as Array<{ image: string; message: string }>).map((d) => {
      const m = /^#(\d+)$/.exec(d.image);
      const where = m ? `${prefix}[${m[1]}].image` : d.image;
      return `${where}: ${d.message.replace(/^cannot decode image #\d+: /, 'cannot decode image: ')}`;
    });
    const codes = (e.details as Array<{ code?: string }>).map((d) => d.code);
    // The most telling code decides the status: too large, then format, then memory, else 400.
    const code = ['ERR_IMAGE_TOO_LARGE', 'ERR_IMAGE_FORMAT', 'ERR_OUT_OF_MEMORY'].find((c) => codes.includes(c));
    const s = code ? CODE_STATUS[code] : { status: 400 };
    return new HttpError(s.status, parts.join('; '), s.retryAfterS ? { 'retry-after': String(s.retryAfterS) } : undefined);
  }
  return e;
}

export function statusOf(e: unknown, bodyLimit: number): { status: number; message: string; headers?: Record<string, string> } {
  if (e instanceof HttpError) return { status: e.status, message: e.message, headers: e.headers };
  if (e instanceof IndexKeyError) return { status: e.status, message: e.message };
  if (e instanceof AuthError)
    return { status: e.status, message: e.message, headers: e.status === 401 ? { 'www-authenticate': 'Bearer realm="shitu"' } : undefined };
  if (e instanceof BusyError) return { status: 503, message: e.message, headers: { 'retry-after': String(e.retryAfterS) } };
  if (e instanceof CancelledError) return { status: 499, message: e.message };
  if (e instanceof ShituError) {
    const s = CODE_STATUS[e.code];
    if (!s) return { status: 500, message: `${e.code}: ${e.message}` };
    return { status: s.status, message: e.message, headers: s.retryAfterS ? { 'retry-after': String(s.retryAfterS) } : undefined };
  }
  const fe = e as FastifyError;
  if (fe && fe.validation) return { status: 422, message: validationMessage(fe) };
  if (fe && fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: `request body is larger than the server's limit of ${bodyLimit} bytes` };
  if (fe && typeof fe.code === 'string' && fe.code.startsWith('FST_') && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600)
    return { status: fe.statusCode, message: fe.message };
  if (e instanceof RangeError || e instanceof TypeError) return { status: 422, message: e.message };
  return { status: 500, message: (e as Error)?.message ?? String(e) };
}


/**
 * What a client is told of a server-side failure, by code: never the internal
 * message, which can carry file paths, connection strings or SQLSTATEs (it
 * goes to the request log with the logId instead).
 */
const PUBLIC_TEXT: Readonly<Record<string, string>> = {
  ERR_INDEX_CORRUPT: 'the stored index is damaged and cannot be read',
  ERR_INDEX_IO: 'the index store failed to read or write the index',
  ERR_INDEX_LABELS: 'the stored index has no readable labels',
  ERR_STORE_UNAVAILABLE: 'the index store is unavailable right now; retry later',
  ERR_MODEL_LOAD: 'a model failed to load',
  ERR_INFERENCE: 'the recognition failed',
  ERR_CONFIG: 'the server is misconfigured',
};

const SERVER_SIDE_TAIL = 'the server log has the details under this logId';

/**
 * Any message shown to clients, with what would tell them about the server's
 * insides removed: connection strings, SQLSTATE codes, stack frames and
 * absolute file paths (a `/` that starts a word; URLs the client sent keep
 * theirs, since `//` and a host come first).
 */
export function publicMessage(text: string): string {
  return text
    .replace(/\n\s*at [^\n]*/g, '')
    .replace(/postgres(?:ql)?:\/\/[^\s"'<>]*/gi, '<index store>')
    .replace(/\s*\(?SQLSTATE [0-9A-Z]{5}\)?/gi, '')
    .replace(/(^|[\s"'(=[,:])\/(?!\/)[^\s"'(),;:\]]*/g, '$1<path>');
}

/** The status, clean message and headers a failure answers with; `internal`: the full error belongs in the log. */
export function clientError(e: unknown, bodyLimit: number): { status: number; message: string; headers?: Record<string, string>; internal: boolean } {
  const s = statusOf(e, bodyLimit);
  const code = e instanceof ShituError ? e.code : undefined;
  // Refusals, departures and deadlines are the service working as meant: their messages name nothing inside.
  const routine = e instanceof BusyError || e instanceof CancelledError || (code !== undefined && ['ERR_CLOSED', 'ERR_BUSY', 'ERR_ABORTED', 'ERR_TIMEOUT'].includes(code));
  if (code && (s.status >= 500 && s.status !== 503 && !routine || code === 'ERR_STORE_UNAVAILABLE'))
    return { ...s, message: `${code}: ${PUBLIC_TEXT[code] ?? 'the server failed'}; ${SERVER_SIDE_TAIL}`, internal: true };
  if (s.status === 500 && !(e instanceof HttpError))
    return { ...s, message: `ERR_INTERNAL: the server failed; ${SERVER_SIDE_TAIL}`, internal: true };
  const message = publicMessage(s.message);
  return { ...s, message, internal: (s.status >= 500 && !routine) || message !== s.message };
}

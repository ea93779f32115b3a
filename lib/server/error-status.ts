// How the service answers a failure. Every failure becomes a ShituError
// (toShituError: Fastify's own errors, argument errors and anything unexpected
// included); ERROR_STATUS is the one place a code becomes an HTTP status; and
// clientError is what the client is told in the {errorCode, errorMsg} envelope.
import type { FastifyError } from 'fastify';
import { fieldText, ShituError, ShituErrorCode } from '../errors';
import { LABEL_PATTERN } from '../limits';
import type { GalleryFailure } from '../pipeline/options';
import { pointerToKey } from '../util/json-path';

/**
 * The status (and Retry-After, seconds) each code answers with. A Record over
 * every code: a code added to lib/errors.ts without a status here does not compile.
 */
export const ERROR_STATUS: Readonly<Record<ShituErrorCode, { status: number; retryAfterS?: number }>> = {
  // What the request sent or asked for.
  ERR_INPUT: { status: 400 },
  ERR_FETCH: { status: 400 },
  ERR_IMAGE_DECODE: { status: 400 },
  ERR_IMAGE_MISSING: { status: 400 },
  ERR_GALLERY: { status: 400 },
  ERR_BODY_INVALID: { status: 400 },
  ERR_UNAUTHORIZED: { status: 401 },
  ERR_ROUTE_NOT_FOUND: { status: 404 },
  ERR_FORBIDDEN: { status: 403 },
  ERR_INDEX_NOT_FOUND: { status: 404 },
  ERR_INDEX_ID: { status: 404 },
  ERR_IMAGE_TOO_LARGE: { status: 413 },
  ERR_BODY_TOO_LARGE: { status: 413 },
  ERR_IMAGE_FORMAT: { status: 415 },
  ERR_MEDIA_TYPE: { status: 415 },
  // A Host name this server is not meant to be reached by (DNS rebinding).
  ERR_MISDIRECTED: { status: 421 },
  ERR_VALIDATION: { status: 422 },
  ERR_INDEX_UNSUPPORTED: { status: 422 },
  ERR_INDEX_DIM: { status: 422 },
  // The client went away: nobody reads this answer.
  ERR_ABORTED: { status: 499 },
  // Waited out: the client may retry.
  ERR_OUT_OF_MEMORY: { status: 503, retryAfterS: 5 },
  ERR_CLOSED: { status: 503, retryAfterS: 5 },
  ERR_BUSY: { status: 503, retryAfterS: 1 },
  ERR_NOT_READY: { status: 503, retryAfterS: 2 },
  ERR_BODY_PARSER: { status: 503, retryAfterS: 1 },
  ERR_STORE_UNAVAILABLE: { status: 503, retryAfterS: 1 },
  // Idempotency-Key (lib/server/idempotency.ts): malformed; reused for another request; its first request still running.
  ERR_IDEMPOTENCY_KEY: { status: 400 },
  ERR_IDEMPOTENCY_MISMATCH: { status: 422 },
  ERR_IDEMPOTENCY_IN_FLIGHT: { status: 409, retryAfterS: 1 },
  ERR_TIMEOUT: { status: 504 },
  // The server's own failures.
  ERR_INDEX_REQUIRED: { status: 500 },
  ERR_INDEX_LABELS: { status: 500 },
  ERR_INDEX_IO: { status: 500 },
  ERR_INDEX_CORRUPT: { status: 500 },
  ERR_MODEL_CARD: { status: 500 },
  ERR_MODEL_NOT_FOUND: { status: 500 },
  ERR_MODEL_INVALID: { status: 500 },
  ERR_MODEL_UNSUPPORTED: { status: 500 },
  ERR_QUANTIZE_ACCURACY: { status: 500 },
  ERR_MODEL_LOAD: { status: 500 },
  ERR_MODEL_CONTRACT: { status: 500 },
  ERR_INFERENCE: { status: 500 },
  ERR_DEVICE: { status: 500 },
  ERR_DRAW: { status: 500 },
  ERR_CONFIG: { status: 500 },
  ERR_NATIVE_MISSING: { status: 500 },
  ERR_INTERNAL: { status: 500 },
  ERR_RESPONSE_TOO_LARGE: { status: 500 },
};

/**
 * The envelope of an answer the service writes itself, outside the error
 * handler (unknown routes, a refused Host, a response over the cap): its
 * status from ERROR_STATUS, the message as given (it names nothing inside).
 */
export function refusal(code: ShituErrorCode, message: string, logId: string): { status: number; body: { logId: string; errorCode: number; errorMsg: string } } {
  const { status } = ERROR_STATUS[code];
  return { status, body: { logId, errorCode: status, errorMsg: message } };
}

/** Fastify's validation failures, each naming its field once. */
function validationError(err: FastifyError): ShituError {
  const fields: string[] = [];
  const message = (err.validation ?? []).map((v) => {
    const missing = v.keyword === 'required' ? String((v.params as { missingProperty?: string }).missingProperty ?? '') : undefined;
    const field = pointerToKey(v.instancePath, 'body', missing);
    fields.push(field);
    if (missing) return fieldText(field, 'is required');
    if (v.keyword === 'pattern' && (v.params as { pattern?: string }).pattern === LABEL_PATTERN) return fieldText(field, 'must not contain U+0000 or unpaired UTF-16 surrogates');
    if (v.keyword === 'enum') return fieldText(field, `must be one of ${((v.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((a) => JSON.stringify(a)).join(', ')}`);
    return fieldText(field, v.message ?? 'is invalid');
  }).join('; ');
  return new ShituError('ERR_VALIDATION', message, { cause: err, details: { field: fields[0] } });
}

/** The request field a gallery image came from: `prefix[i].image`. */
export const galleryField = (prefix: string, index: number): string => `${prefix}[${index}].image`;

/** The skipped images of a build or add, named by their request field as the service's errors name them. */
export function skippedOf(skipped: ReadonlyArray<{ index: number; code: string; message: string }>, prefix: string) {
  return skipped.map((s) => ({ image: galleryField(prefix, s.index), code: s.code, message: s.message }));
}

/** A gallery's failure (ERR_GALLERY) as the request's fields: each image named by its field, the most telling code kept. */
export function mapGalleryError(e: unknown, prefix: string): unknown {
  if (!(e instanceof ShituError) || e.code !== 'ERR_GALLERY' || !Array.isArray(e.details)) return e;
  const images = (e.details as GalleryFailure[]).map((d) => ({ field: galleryField(prefix, d.index), code: d.code, message: d.message }));
  // The most telling code decides the status: too large, then format, then memory, else the gallery's.
  const code = (['ERR_IMAGE_TOO_LARGE', 'ERR_IMAGE_FORMAT', 'ERR_OUT_OF_MEMORY'] as const).find((c) => images.some((d) => d.code === c)) ?? 'ERR_GALLERY';
  return new ShituError(code, images.map((d) => fieldText(d.field, d.message)).join('; '), { cause: e, details: { field: images[0]?.field, images } });
}

/** Any failure as a ShituError: Fastify's own by their status, argument errors as validation, the rest ERR_INTERNAL. */
export function toShituError(e: unknown, bodyLimit: number): ShituError {
  if (e instanceof ShituError) return e;
  const fe = e as FastifyError;
  if (fe && fe.validation) return validationError(fe);
  if (fe && fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ShituError('ERR_BODY_TOO_LARGE', `request body is larger than the server's limit of ${bodyLimit} bytes`, { cause: e });
  if (fe && typeof fe.code === 'string' && fe.code.startsWith('FST_') && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ShituErrorCode = ({ 404: 'ERR_ROUTE_NOT_FOUND', 413: 'ERR_BODY_TOO_LARGE', 415: 'ERR_MEDIA_TYPE' } as const)[fe.statusCode as 404 | 413 | 415] ?? 'ERR_INPUT';
    return new ShituError(code, fe.message, { cause: e });
  }
  if (e instanceof RangeError || e instanceof TypeError) return new ShituError('ERR_VALIDATION', e.message, { cause: e });
  return new ShituError('ERR_INTERNAL', (e as Error)?.message ?? String(e), { cause: e });
}

/**
 * What a client is told of a server-side failure, by code: never the internal
 * message, which can carry file paths, connection strings or SQLSTATEs (it
 * goes to the request log with the logId instead).
 */
const PUBLIC_TEXT: Partial<Record<ShituErrorCode, string>> = {
  ERR_INDEX_CORRUPT: 'the stored index is damaged and cannot be read',
  ERR_INDEX_IO: 'the index store failed to read or write the index',
  ERR_INDEX_LABELS: 'the stored index has no readable labels',
  ERR_STORE_UNAVAILABLE: 'the index store is unavailable right now; retry later',
  ERR_MODEL_LOAD: 'a model failed to load',
  ERR_INFERENCE: 'the recognition failed',
  ERR_CONFIG: 'the server is misconfigured',
};

const SERVER_SIDE_TAIL = 'the server log has the details under this logId';

/** Refusals, departures and deadlines are the service working as meant: their messages name nothing inside. */
const ROUTINE: ReadonlySet<ShituErrorCode> = new Set(['ERR_CLOSED', 'ERR_BUSY', 'ERR_ABORTED', 'ERR_TIMEOUT']);

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

/**
 * The status, clean message and headers a failure answers with (`e` already
 * through toShituError); `internal`: the full error belongs in the log.
 */
export function clientError(e: ShituError): { status: number; message: string; headers?: Record<string, string>; internal: boolean } {
  const { status, retryAfterS } = ERROR_STATUS[e.code];
  // A refusal may know better when to come back (the limiter's estimate).
  const wait = (e.details as { retryAfterS?: number } | undefined)?.retryAfterS ?? retryAfterS;
  const headers: Record<string, string> = {};
  if (wait !== undefined) headers['retry-after'] = String(wait);
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="shitu"';
  const h = Object.keys(headers).length ? headers : undefined;
  const routine = ROUTINE.has(e.code);
  if ((status >= 500 && status !== 503 && !routine) || e.code === 'ERR_STORE_UNAVAILABLE')
    return { status, headers: h, message: `${e.code}: ${PUBLIC_TEXT[e.code] ?? 'the server failed'}; ${SERVER_SIDE_TAIL}`, internal: true };
  const message = publicMessage(e.message);
  return { status, headers: h, message, internal: (status >= 500 && !routine) || message !== e.message };
}

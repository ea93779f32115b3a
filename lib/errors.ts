// Typed errors. Every failure that reaches a user carries a stable `code`;
// native failures keep the native message.

/** Codes native code raises too (native/errors.h kErrorCodes; test/contracts.test.ts checks the two lists agree). */
export const NATIVE_ERROR_CODES = [
  'ERR_IMAGE_DECODE',
  'ERR_IMAGE_MISSING',
  'ERR_IMAGE_FORMAT',
  'ERR_IMAGE_TOO_LARGE',
  'ERR_OUT_OF_MEMORY',
  'ERR_MODEL_LOAD',
  'ERR_MODEL_CONTRACT',
  'ERR_INFERENCE',
  'ERR_INDEX_DIM',
  'ERR_INDEX_UNSUPPORTED',
  'ERR_INDEX_IO',
  'ERR_INDEX_ID',
  'ERR_INDEX_CORRUPT',
  'ERR_DEVICE',
  'ERR_DRAW',
  'ERR_ABORTED',
  'ERR_INTERNAL',
] as const;

/** Codes only the JS side raises: native code never sends them. */
export const JS_ONLY_ERROR_CODES = [
  'ERR_MODEL_CARD',
  'ERR_MODEL_NOT_FOUND',
  'ERR_MODEL_INVALID',
  'ERR_MODEL_UNSUPPORTED',
  'ERR_INDEX_LABELS',
  'ERR_INDEX_REQUIRED',
  'ERR_GALLERY',
  'ERR_CONFIG',
  'ERR_INPUT',
  'ERR_FETCH',
  'ERR_STORE_UNAVAILABLE',
  'ERR_CLOSED',
  'ERR_TIMEOUT',
  'ERR_BUSY',
  'ERR_NATIVE_MISSING',
  'ERR_QUANTIZE_ACCURACY',
  // The service's own refusals (lib/server/): what a request asked for, not what the library failed at.
  'ERR_VALIDATION',
  'ERR_UNAUTHORIZED',
  'ERR_FORBIDDEN',
  'ERR_INDEX_NOT_FOUND',
  'ERR_NOT_READY',
  'ERR_BODY_TOO_LARGE',
  'ERR_BODY_INVALID',
  'ERR_BODY_PARSER',
  'ERR_MEDIA_TYPE',
  'ERR_ROUTE_NOT_FOUND',
  'ERR_MISDIRECTED',
  'ERR_RESPONSE_TOO_LARGE',
  'ERR_IDEMPOTENCY_KEY',
  'ERR_IDEMPOTENCY_MISMATCH',
  'ERR_IDEMPOTENCY_IN_FLIGHT',
] as const;

/** Every stable code a ShituError may carry. */
export const ERROR_CODES = [...NATIVE_ERROR_CODES, ...JS_ONLY_ERROR_CODES] as const;
export type ShituErrorCode = (typeof ERROR_CODES)[number];

export class ShituError extends Error {
  readonly code: ShituErrorCode;
  /** Extra facts, e.g. every failing image of a gallery, or the request field a refusal is about ({field}). */
  readonly details?: unknown;
  constructor(code: ShituErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ShituError';
    this.code = code;
    if (options?.details !== undefined) this.details = options.details;
  }

  /**
   * An error about one field of a request (e.g. `imageLabelPairs[3].image`):
   * the field travels in `details.field`, and this is the one place that puts
   * it in front of the message.
   */
  static atField(code: ShituErrorCode, field: string, text: string, options?: { cause?: unknown }): ShituError {
    return new ShituError(code, fieldText(field, text), { ...options, details: { field } });
  }
}

/** How a message names the request field it is about. */
export const fieldText = (field: string, text: string): string => `${field}: ${text}`;

/** The field a ShituError.atField error is about. */
export function fieldOf(e: unknown): string | undefined {
  const d = e instanceof ShituError ? (e.details as { field?: unknown } | undefined) : undefined;
  return typeof d?.field === 'string' ? d.field : undefined;
}

/** What native calls recognize's image (its fourth argument, native/js_recognize.cc). */
export const RECOGNIZE_IMAGE_LABEL = 'argument 3';

/**
 * A native image error's message without native's name for the image: native
 * (native/image_decode.cc) writes "image <label> ..." or "cannot decode image
 * <label>: ...", with `label` the name the addon gave the argument ("#3" for a
 * gallery batch's fourth picture, "argument 3" for recognize's image). Callers
 * that name the image themselves (by request field or gallery position) drop
 * it: the exact label is removed, nothing is guessed.
 */
export function withoutImageLabel(message: string, label: string): string {
  const named = `image ${label}`;
  const at = message.indexOf(named);
  return at < 0 ? message : message.slice(0, at + 'image'.length) + message.slice(at + named.length);
}

/** Turns a native rejection (an Error with `code`) into a ShituError; TypeErrors and RangeErrors pass through. */
export function fromNative(err: unknown): Error {
  if (err instanceof ShituError || err instanceof TypeError || err instanceof RangeError) return err;
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return new ShituError((code as ShituErrorCode) ?? 'ERR_INTERNAL', err.message, { cause: err });
  }
  return new ShituError('ERR_INTERNAL', String(err));
}

/** Awaits a native promise, converting its failure. */
export async function callNative<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Runs a synchronous native call, converting its failure. */
export function callNativeSync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}

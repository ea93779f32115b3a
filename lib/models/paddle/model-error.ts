// The one way the Paddle readers report a broken model file: ERR_MODEL_INVALID
// naming the file and what is wrong with it.
import { ShituError } from '../../errors';
import type { Int64 } from './framework-proto';

export function invalidModel(file: string, what: string, cause?: unknown): ShituError {
  return new ShituError('ERR_MODEL_INVALID', `${file}: ${what}`, cause !== undefined ? { cause } : undefined);
}

/** An int64 protobuf field as a JS number when it is exactly representable, else undefined. */
export function exactInt(v: Int64): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  const n = v.toNumber();
  return Number.isSafeInteger(n) ? n : undefined;
}

/** An int64 protobuf field as a JS number, rounded when beyond 2^53 (attribute lists such as slice ends of INT64_MAX). */
export function approxInt(v: Int64): number {
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Checks one tensor shape: at most maxRank dims, each -1 (unknown) or 0..maxElements,
 * and the known dims' product at most maxElements. Returns the element count of the
 * known dims (1 for a scalar).
 */
export function checkShape(dims: readonly number[], limits: { maxRank: number; maxElements: number }, file: string, what: string): number {
  if (dims.length > limits.maxRank) throw invalidModel(file, `${what} has ${dims.length} dimensions (at most ${limits.maxRank})`);
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < -1 || d > limits.maxElements) throw invalidModel(file, `${what} has dimension ${d} (shape [${dims.join(', ')}])`);
    if (d >= 0) n *= d;
    if (n > limits.maxElements) throw invalidModel(file, `${what} has more than ${limits.maxElements} elements (shape [${dims.join(', ')}])`);
  }
  return n;
}

/** Names in Paddle's save order: Python's sorted() on str, i.e. by code point (UTF-8 byte order). */
export function sortNames(names: Iterable<string>): string[] {
  return [...names]
    .map((name) => ({ name, key: Buffer.from(name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((e) => e.name);
}

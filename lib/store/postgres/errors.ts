// Which PostgreSQL / connection failures mean "the database is not reachable
// right now" (the service answers 503 + Retry-After and the client retries)
// rather than a bug.
import { ShituError } from '../../errors';

const NODE_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function isUnavailable(e: unknown): boolean {
  if (e instanceof ShituError) return e.code === 'ERR_STORE_UNAVAILABLE';
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (NODE_NET_CODES.has(code)) return true;
    // 08: connection exception, 57P0x: admin shutdown / crash shutdown / cannot
    // connect now, 53: insufficient resources, 40001/40P01: retry the transaction.
    if (/^(08|57P0|53)/.test(code) || code === '40001' || code === '40P01') return true;
  }
  const msg = String((e as Error)?.message ?? '');
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable/i.test(msg);
}

export function unavailable(where: string, cause: unknown): ShituError {
  const why = (cause as Error)?.message ?? String(cause);
  return new ShituError('ERR_STORE_UNAVAILABLE', `the index store ${where} is unavailable: ${why}`, { cause });
}

/** Database failures that are not about availability keep their message and SQLSTATE. */
export function storeFailure(where: string, cause: unknown): Error {
  if (cause instanceof ShituError || cause instanceof TypeError || cause instanceof RangeError) return cause;
  if (isUnavailable(cause)) return unavailable(where, cause);
  const code = (cause as { code?: unknown })?.code;
  return new ShituError('ERR_INDEX_IO', `the index store ${where} failed${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

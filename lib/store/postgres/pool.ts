// The PostgreSQL store's connections (lib/store/postgres/pg-index-store.ts): a
// pool for reads and writes, one connection per statement or transaction, with
// failures turned into the store's errors (ERR_STORE_UNAVAILABLE when the
// database cannot be reached: the service answers 503) and a connection that
// broke mid-transaction never handed to the next request.
import pg from 'pg';
import { ShituError } from '../../errors';
import { storeFailure } from './errors';

export type Client = pg.PoolClient;

export interface PoolOptions {
  /** Pooled connections (default 8). */
  poolSize?: number;
  /** Bound on any one statement (default 30 s). */
  queryTimeoutMs?: number;
}

export class PgPool {
  readonly pool: pg.Pool;
  /** The last failure seen by any connection of the store (for /ready's reason). */
  lastError: unknown = new Error('not connected yet');

  constructor(connectionString: string, readonly location: string, o: PoolOptions = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: o.poolSize ?? 8,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 10000,
      query_timeout: o.queryTimeoutMs ?? 30000,
      keepAlive: true,
    });
    // An idle pooled connection that the server closes emits 'error' here; without
    // a listener that would crash the process. The pool drops it and reconnects.
    this.pool.on('error', (e) => { this.lastError = e; });
  }

  async withClient<T>(f: (c: Client) => Promise<T>): Promise<T> {
    let c: Client;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw storeFailure(this.location, e);
    }
    let broken: unknown;
    // A checked-out connection that the server drops between two statements
    // emits 'error' on the client (the pool listens only to idle ones): without
    // this listener that would crash the process. The next statement then fails.
    const onError = (e: Error) => { broken ??= e; this.lastError = e; };
    c.on('error', onError);
    try {
      return await f(c);
    } catch (e) {
      broken ??= e;
      throw storeFailure(this.location, e);
    } finally {
      c.off('error', onError);
      // A connection that failed mid-transaction is not handed to the next request.
      c.release(broken !== undefined && !(broken instanceof ShituError) ? (broken as Error) : undefined);
    }
  }

  async transaction<T>(f: (c: Client) => Promise<T>): Promise<T> {
    return this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        const r = await f(c);
        await c.query('COMMIT');
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }).catch((e) => {
      throw e instanceof Refusal ? e.reason : e;
    });
  }

  async query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (e) {
      throw storeFailure(this.location, e);
    }
  }

  async end(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * A caller's check that refused a write inside a transaction: a ShituError, so
 * the connection is not treated as broken; transaction() rolls back and
 * rethrows the caller's own error (not a store failure).
 */
export class Refusal extends ShituError {
  readonly reason: unknown;
  constructor(reason: unknown) {
    super('ERR_INPUT', (reason as Error)?.message ?? String(reason));
    this.reason = reason;
  }
}

export function refuseWith(check: () => void): void {
  try {
    check();
  } catch (e) {
    throw new Refusal(e);
  }
}

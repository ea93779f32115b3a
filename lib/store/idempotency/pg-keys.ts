// Idempotency keys in the PostgreSQL store (the shitu_idempotency table), shared
// by every replica: a retry that lands on another replica finds the key. A claim
// is one INSERT .. ON CONFLICT (the row lock orders concurrent claims, through
// any replica); the answer is written by the write's own transaction
// (recordInTransaction), so a write that committed has its answer, even if the
// replica died before it could reply. A claim whose replica vanished before
// committing holds until its lease ends; then a retry takes it over (a new
// token), and should the first request still be writing, its transaction finds
// the token changed and rolls back: one of the two writes commits, never both.
import * as crypto from 'node:crypto';
import { IDEMPOTENCY } from '../../limits';
import { ShituError } from '../../errors';
import type { SqlClient } from '../postgres/schema';
import type { IdMapEntries } from '../index-store';
import { ClaimOptions, ClaimResult, IdempotencyClaim, IdempotencyKeys, IdempotencyScope, IdempotentWrite, RecordedAnswer } from './keys';

type Transaction = <T>(f: (c: SqlClient) => Promise<T>) => Promise<T>;

/** The answer, kept ttl_ms from now on. */
const RECORD = `UPDATE shitu_idempotency SET status = $4, body = $5, running_until = NULL, expires_at = now() + ttl_ms * interval '1 millisecond'
                 WHERE owner = $1 AND key = $2 AND token = $3 AND body IS NULL`;

/** In the write's transaction: the claim's answer, or a refusal (rolling the write back) when the claim is no longer this request's. */
export async function recordInTransaction(c: SqlClient, w: IdempotentWrite, idMap: IdMapEntries): Promise<void> {
  const a = w.answer(idMap);
  const r = await c.query(RECORD, [w.claim.owner, w.claim.key, w.claim.token, a.status, a.body]);
  if (r.rowCount !== 1)
    throw new ShituError('ERR_IDEMPOTENCY_IN_FLIGHT', `Idempotency-Key ${JSON.stringify(w.claim.key)}: the key was taken over by a retry while this request ran (nothing written by this one)`);
}

export class PgIdempotencyKeys implements IdempotencyKeys {
  private nextCleanup = 0;

  constructor(private readonly transaction: Transaction) {}

  async claim(scope: IdempotencyScope, o: ClaimOptions): Promise<ClaimResult> {
    this.cleanup(o.ttlMs);
    const token = crypto.randomUUID();
    return this.transaction(async (c) => {
      // New, expired, or running past its lease with the same request: this request's now.
      const won = await c.query<{ token: string }>(
        `INSERT INTO shitu_idempotency AS i (owner, key, request_hash, token, running_until, expires_at, ttl_ms)
              VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond', now() + $6 * interval '1 millisecond', $6)
         ON CONFLICT (owner, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, token = EXCLUDED.token,
              running_until = EXCLUDED.running_until, status = NULL, body = NULL, expires_at = EXCLUDED.expires_at, ttl_ms = EXCLUDED.ttl_ms
          WHERE i.expires_at <= now() OR (i.body IS NULL AND i.running_until <= now() AND i.request_hash = EXCLUDED.request_hash)
         RETURNING token::text AS token`,
        [scope.owner, scope.key, scope.requestHash, token, o.leaseMs, o.ttlMs]);
      if (won.rows[0]?.token === token) return { state: 'claimed' as const, claim: this.claimOf(scope, token, Date.now() + o.ttlMs, o.target) };
      const r = await c.query<{ request_hash: string; status: number | null; body: string | null }>(
        'SELECT request_hash, status, body FROM shitu_idempotency WHERE owner = $1 AND key = $2', [scope.owner, scope.key]);
      const row = r.rows[0];
      if (!row || row.request_hash !== scope.requestHash) return { state: 'mismatch' as const };
      if (row.body === null || row.status === null) return { state: 'in-flight' as const };
      return { state: 'replay' as const, answer: { status: Number(row.status), body: row.body } };
    });
  }

  private claimOf(scope: IdempotencyScope, token: string, expiresAt: number, target?: string): IdempotencyClaim {
    return {
      owner: scope.owner, key: scope.key, token, target, expiresAt,
      complete: (a: RecordedAnswer) => this.transaction(async (c) => { await c.query(RECORD, [scope.owner, scope.key, token, a.status, a.body]); }),
      release: () => this.transaction(async (c) => {
        await c.query('DELETE FROM shitu_idempotency WHERE owner = $1 AND key = $2 AND token = $3 AND body IS NULL', [scope.owner, scope.key, token]);
      }),
    };
  }

  /** Expired keys, a bounded batch by the expiry index, at most once per interval per process; not awaited by the claim. */
  private cleanup(ttlMs: number): void {
    const now = Date.now();
    if (now < this.nextCleanup) return;
    this.nextCleanup = now + Math.min(IDEMPOTENCY.cleanupEveryMs, ttlMs);
    this.transaction(async (c) => {
      await c.query(`DELETE FROM shitu_idempotency WHERE ctid = ANY (ARRAY(
                       SELECT ctid FROM shitu_idempotency WHERE expires_at <= now() ORDER BY expires_at LIMIT $1))`, [IDEMPOTENCY.cleanupBatch]);
    }).catch(() => { this.nextCleanup = 0; });
  }
}

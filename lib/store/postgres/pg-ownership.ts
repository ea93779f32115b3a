// Index ownership in the PostgreSQL store (the shitu_owner table), shared by
// every replica. A reservation counts and inserts in one transaction under a
// per-owner advisory lock, so concurrent builds by one key, through any number
// of replicas, never hold more than its quota. An owner's count: its rows
// whose index exists, plus reservations not yet expired (a replica that died
// mid-build stops holding its slot after OWNERSHIP_LIMITS.reservationTtlMs).
import type { SqlClient } from './schema';
import { OWNERSHIP_LIMITS } from '../../limits';
import type { IndexOwnership, OwnerReservation } from '../index-store';

/** First key of the per-owner advisory locks (the second is hashtext(owner)): any constant every replica shares. */
const OWNER_LOCK = 0x5348_4f57; // "SHOW"

type Transaction = <T>(f: (c: SqlClient) => Promise<T>) => Promise<T>;

export class PgOwnership implements IndexOwnership {
  constructor(private readonly transaction: Transaction) {}

  async reserve(owner: string, indexKey: string, max?: number): Promise<OwnerReservation | { ok: false; held: number }> {
    const held = await this.transaction(async (c) => {
      if (max !== undefined) {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [OWNER_LOCK, owner]);
        const r = await c.query(
          `SELECT count(*)::bigint AS n FROM shitu_owner o
            WHERE o.owner = $1 AND (o.reserved_until > now() OR EXISTS (SELECT 1 FROM shitu_index i WHERE i.key = o.index_key))`, [owner]);
        const n = Number(r.rows[0].n);
        if (n >= max) return n;
      }
      await c.query("INSERT INTO shitu_owner (index_key, owner, reserved_until) VALUES ($1, $2, now() + $3 * interval '1 millisecond')",
        [indexKey, owner, OWNERSHIP_LIMITS.reservationTtlMs]);
      return undefined;
    });
    if (held !== undefined) return { ok: false, held };
    return {
      ok: true,
      commit: () => this.transaction(async (c) => { await c.query('UPDATE shitu_owner SET reserved_until = NULL WHERE index_key = $1', [indexKey]); }),
      release: () => this.transaction(async (c) => { await c.query('DELETE FROM shitu_owner WHERE index_key = $1', [indexKey]); }),
    };
  }

  async ownerOf(indexKey: string): Promise<string | undefined> {
    return this.transaction(async (c) => {
      const r = await c.query('SELECT owner FROM shitu_owner WHERE index_key = $1', [indexKey]);
      return r.rows.length ? String(r.rows[0].owner) : undefined;
    });
  }
}

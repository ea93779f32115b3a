// The PostgreSQL store's writes (lib/store/postgres/pg-index-store.ts): build,
// add and remove, each one transaction that locks the index's row (so
// concurrent writers through different replicas take ids one after another
// from next_id: unique, never reused), bumps the index's version, records the
// change for the replicas to replay and NOTIFYs them at commit; an
// Idempotency-Key's answer is recorded in the same transaction. This replica's
// copy is brought up to the new version before the write answers.
import { callNative, ShituError } from '../../errors';
import { IndexData } from '../../vector-index/index-data';
import { native } from '../../native/loader';
import { AppendOptions, checkStoredLabels, IdMapEntries, noIndex, WriteOptions } from '../index-store';
import { recordInTransaction } from '../idempotency/pg-keys';
import type { IdempotentWrite } from '../idempotency/keys';
import type { IndexCache, IndexMeta, SearchMode } from './index-cache';
import { Client, PgPool, refuseWith } from './pool';
import { createAnnIndex, vectorLiteral } from './pgvector-search';
import { CHANGE_CHANNEL } from './schema';

/** Rows per INSERT when writing vectors. */
const INSERT_BATCH = 256;

type Change = { op: 'add' | 'remove'; ids: number[]; nextId: number };

export class PgWrites {
  constructor(
    private readonly db: PgPool,
    private readonly cache: IndexCache,
    /** Changes kept per index for replicas to replay. */
    private readonly keepChanges: number,
    /** The index's id map when this replica holds no up-to-date copy. */
    private readonly idMap: (k: string) => Promise<IdMapEntries>,
  ) {}

  /** Stores a new index under the checked key `k`, searched in `search` mode. */
  async create(k: string, index: IndexData, search: SearchMode, o: WriteOptions = {}): Promise<void> {
    const meta: IndexMeta = { dim: index.dim, indexType: index.indexType, metricType: index.metricType, search };
    const entries = index.idMapEntries;
    checkStoredLabels(entries.map(([, label]) => label));
    const quantizer = search === 'faiss' && (meta.indexType === 'IVF' || meta.indexType === 'IVF_PQ') ? await trainedEmptyCopy(index) : null;
    await this.db.transaction(async (c) => {
      await c.query('INSERT INTO shitu_index (key, dim, index_type, metric_type, search, next_id, version, quantizer) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)',
        [k, meta.dim, meta.indexType, meta.metricType, search, index.nextId, quantizer]).catch((e) => {
        if ((e as { code?: string }).code === '23505') throw new ShituError('ERR_INDEX_IO', `index ${k} already exists in ${this.db.location}`);
        throw e;
      });
      await insertVectors(c, k, entries.map(([id, label]) => ({ id, label, vector: index.native.reconstruct(id) as Float32Array })));
      if (search === 'pgvector') await createAnnIndex(c, k, meta.dim, meta.indexType, meta.metricType, entries.length);
      if (o.idempotency) await recordInTransaction(c, o.idempotency, entries);
    });
    if (o.idempotency) o.idempotency.committed = o.idempotency.recorded = true;
    this.cache.remember(k, { meta, index: search === 'faiss' ? index : undefined, version: 1, sync: Promise.resolve() });
  }

  /** Adds the entries `f` puts into a scratch index of the index's shape (`meta`). */
  async append(k: string, meta: IndexMeta, f: (index: IndexData) => Promise<unknown>, o: AppendOptions = {}): Promise<IdMapEntries> {
    // The new entries are embedded into a scratch index outside any transaction;
    // the transaction only numbers and stores them.
    const scratch = IndexData.create(meta.dim, 'Flat', meta.metricType);
    await f(scratch);
    const fresh = scratch.idMapEntries.map(([id, label]) => ({ label, vector: scratch.native.reconstruct(id) as Float32Array }));
    checkStoredLabels(fresh.map((x) => x.label));
    const checkCount = o.checkCount;
    return this.write(k, async (c, row) => {
      // Counted under the index row's lock: concurrent adds (any replica) are counted one after another.
      if (checkCount) {
        const n = await c.query('SELECT count(*)::bigint AS n FROM shitu_vector WHERE index_key = $1', [k]);
        refuseWith(() => checkCount(Number(n.rows[0].n) + fresh.length));
      }
      const ids = fresh.map((_, i) => row.nextId + i);
      await insertVectors(c, k, fresh.map((x, i) => ({ id: ids[i], label: x.label, vector: x.vector })));
      return { op: 'add', ids, nextId: row.nextId + ids.length };
    }, o.idempotency);
  }

  /** Removes ids (unique, integers): ERR_INDEX_ID naming the unknown ones, nothing removed. */
  async remove(k: string, unique: number[], o: WriteOptions = {}): Promise<IdMapEntries> {
    return this.write(k, async (c, row) => {
      const r = await c.query('DELETE FROM shitu_vector WHERE index_key = $1 AND id = ANY($2::bigint[]) RETURNING id', [k, unique]);
      const gone = new Set(r.rows.map((x: { id: string }) => Number(x.id)));
      const unknown = unique.filter((id) => !gone.has(id));
      if (unknown.length) throw new ShituError('ERR_INDEX_ID', `unknown id(s), nothing removed: ${unknown.join(', ')}`, { details: unknown });
      return { op: 'remove', ids: unique, nextId: row.nextId };
    }, o.idempotency);
  }

  /**
   * One write: lock the index's row, make the change, bump the version, record
   * the change and NOTIFY (delivered at commit), commit; then bring this
   * replica's copy up to at least that version before answering.
   */
  private async write(k: string, change: (c: Client, row: { nextId: number; version: number }) => Promise<Change>, idempotency?: IdempotentWrite): Promise<IdMapEntries> {
    const version = await this.db.transaction(async (c) => {
      const r = await c.query('SELECT next_id, version FROM shitu_index WHERE key = $1 FOR UPDATE', [k]);
      if (!r.rows.length) throw noIndex(k);
      const row = { nextId: Number(r.rows[0].next_id), version: Number(r.rows[0].version) };
      const ch = await change(c, row);
      const v = row.version + 1;
      await c.query('UPDATE shitu_index SET next_id = $2, version = $3 WHERE key = $1', [k, ch.nextId, v]);
      await c.query('INSERT INTO shitu_change (index_key, version, op, ids) VALUES ($1, $2, $3, $4::bigint[])', [k, v, ch.op, ch.ids]);
      await c.query('DELETE FROM shitu_change WHERE index_key = $1 AND version <= $2', [k, v - this.keepChanges]);
      await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, `${k}:${v}`]);
      if (idempotency) {
        // The answer commits with the write: the id map as this transaction leaves it.
        const ids = await c.query('SELECT id, label FROM shitu_vector WHERE index_key = $1 ORDER BY id', [k]);
        await recordInTransaction(c, idempotency, ids.rows.map((x: { id: string; label: string }) => [Number(x.id), x.label] as [number, string]));
      }
      return v;
    });
    if (idempotency) idempotency.committed = idempotency.recorded = true;
    // Read your writes: this replica serves the new state from its answer on.
    if (this.cache.peek(k)) {
      // Committed: a failed replay must not turn into an error (the client would
      // retry a write that happened); the copy is dropped and reloaded on next use.
      await this.cache.replay(k).catch(() => undefined);
      const now = this.cache.peek(k);
      if (now?.index && now.version >= version) return now.index.idMapEntries;
    }
    return this.idMap(k);
  }
}

/** IVF: the index's trained structure without its entries (FAISS's own serialisation). */
async function trainedEmptyCopy(index: IndexData): Promise<Buffer> {
  // Bytes this process has just written: no structural check (it knows only Flat, IVF…,Flat and HNSW…Flat).
  const copy = await callNative(async () => native.VectorIndex.fromBuffer(await index.native.toBuffer(), { verify: false }));
  const ids: BigInt64Array = copy.ids();
  if (ids.length) await callNative(() => copy.remove(ids, false));
  return callNative(() => copy.toBuffer());
}

async function insertVectors(c: Client, k: string, rows: Array<{ id: number; label: string; vector: Float32Array }>): Promise<void> {
  for (let s = 0; s < rows.length; s += INSERT_BATCH) {
    const part = rows.slice(s, s + INSERT_BATCH);
    await c.query(
      'INSERT INTO shitu_vector (index_key, id, label, embedding) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::vector[])',
      [k, part.map((r) => r.id), part.map((r) => r.label), part.map((r) => vectorLiteral(r.vector))]);
  }
}

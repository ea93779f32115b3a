// The PostgreSQL store's in-process copies (lib/store/postgres/pg-index-store.ts):
// the indexes searched here (faiss mode) kept as FAISS indexes, least recently
// used evicted, each at the version (the number of the last committed write) it
// reflects. A change told by the feed (./change-feed.ts) or committed by this
// replica is replayed from shitu_change onto the copy; when that cannot bring
// it up to date (the entries of an add were removed since), it reloads that
// index whole, from one snapshot.
import { callNative, ShituError } from '../../errors';
import { IndexData, IndexType, INDEX_TYPES, MetricType, METRIC_TYPES } from '../../vector-index/index-data';
import { native } from '../../native/loader';
import { noIndex, LoadedIndex } from '../index-store';
import type { PgPool } from './pool';
import { parseVector } from './pgvector-search';

import type { SearchMode } from './schema';

export type { SearchMode } from './schema';

export interface IndexMeta {
  dim: number;
  indexType: IndexType | string;
  metricType: MetricType;
  search: SearchMode;
}

export interface Cached {
  meta: IndexMeta;
  /** The in-process copy (faiss mode). */
  index?: IndexData;
  /** The version `index` reflects. */
  version: number;
  /** Replays to this index, one after another. */
  sync: Promise<void>;
}

export class IndexCache {
  private readonly cache = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<Cached>>();
  /** Per cached index: the newest version notified and not yet applied, and since when one has been waiting. */
  private readonly behind = new Map<string, { version: number; since: number }>();

  constructor(private readonly db: PgPool, private readonly maxCached: number) {}

  /** The cached entry of `k`, if any (no load, no LRU change). */
  peek(k: string): Cached | undefined {
    return this.cache.get(k);
  }

  /** A change committed at `version` (NOTIFY): replayed onto the copy, if this replica holds one that is older. */
  notified(k: string, version: number): void {
    const entry = this.cache.get(k);
    if (entry && entry.version < version) {
      const was = this.behind.get(k);
      this.behind.set(k, { version: Math.max(version, was?.version ?? 0), since: was?.since ?? Date.now() });
      this.replay(k).then(() => this.caughtUp(k), () => undefined);
    }
  }

  /** Forgets the notified change of `k` once its cached copy (if still cached) has applied it. */
  private caughtUp(k: string): void {
    const b = this.behind.get(k);
    const entry = this.cache.get(k);
    if (b && (!entry || entry.version >= b.version)) this.behind.delete(k);
  }

  /** After a (re)connect caught every copy up: nothing is waiting any more. */
  allCaughtUp(): void {
    for (const k of this.behind.keys()) this.caughtUp(k);
  }

  /** Since when the oldest notified change has waited (undefined: none waits). */
  oldestWaiting(): number | undefined {
    // A change applied another way (a load, a failed replay dropping the copy) is no longer waiting.
    for (const k of [...this.behind.keys()]) this.caughtUp(k);
    let oldest: number | undefined;
    for (const b of this.behind.values()) oldest = Math.min(oldest ?? b.since, b.since);
    return oldest;
  }

  async loadedIndexes(): Promise<LoadedIndex[]> {
    const out: LoadedIndex[] = [];
    for (const [k, e] of this.cache) if (e.index) out.push({ indexKey: k, count: e.index.count });
    return out;
  }

  /** After a (re)connect: every cached index replays what it missed; indexes deleted meanwhile are dropped. */
  async replayAll(): Promise<void> {
    const keys = [...this.cache.keys()];
    if (!keys.length) return;
    const r = await this.db.pool.query('SELECT key::text AS key, version FROM shitu_index WHERE key = ANY($1::uuid[])', [keys]);
    const versions = new Map<string, number>(r.rows.map((row: { key: string; version: string }) => [row.key, Number(row.version)]));
    await Promise.all(keys.map(async (k) => {
      const entry = this.cache.get(k);
      if (!entry) return;
      if (!versions.has(k)) { this.cache.delete(k); return; }
      if (entry.version < versions.get(k)!) await this.replay(k);
    }));
  }

  /** Brings one cached index up to the database's latest committed version. */
  replay(k: string): Promise<void> {
    const entry = this.cache.get(k);
    if (!entry) return Promise.resolve();
    const run = async () => {
      if (this.cache.get(k) !== entry) return;
      const changes = await this.db.pool.query(
        'SELECT version, op, ids::text[] AS ids FROM shitu_change WHERE index_key = $1 AND version > $2 ORDER BY version', [k, entry.version]);
      for (const ch of changes.rows as Array<{ version: string; op: 'add' | 'remove'; ids: string[] }>) {
        const version = Number(ch.version);
        const ids = ch.ids.map(Number);
        if (version !== entry.version + 1) return this.reloadInto(k, entry);
        if (entry.index) {
          if (ch.op === 'add') {
            const ok = await this.applyAdd(k, entry.index, ids);
            if (!ok) return this.reloadInto(k, entry);
          } else {
            const known = ids.filter((id) => entry.index!.labelOf(id) !== undefined);
            if (known.length) await entry.index.remove(known);
          }
        }
        entry.version = version;
      }
    };
    const p = entry.sync.then(run, run);
    entry.sync = p.catch((e) => {
      this.db.lastError = e;
      // A failed replay leaves the copy in an unknown state: reload on next use.
      if (this.cache.get(k) === entry) this.cache.delete(k);
    });
    return p;
  }

  /** Replays one add; false when its entries are gone (removed since) or the ids do not follow on. */
  private async applyAdd(k: string, index: IndexData, ids: number[]): Promise<boolean> {
    if (!ids.length) return true;
    if (ids[0] !== index.nextId) return false;
    const r = await this.db.pool.query(
      'SELECT id, label, embedding::text AS e FROM shitu_vector WHERE index_key = $1 AND id = ANY($2::bigint[]) ORDER BY id', [k, ids]);
    if (r.rows.length !== ids.length) return false;
    const dim = index.dim;
    const vectors = new Float32Array(ids.length * dim);
    r.rows.forEach((row: { e: string }, i: number) => vectors.set(parseVector(row.e), i * dim));
    const got = await index.add(vectors, r.rows.map((row: { label: string }) => row.label));
    return got.every((id, i) => id === ids[i]);
  }

  private async reloadInto(k: string, entry: Cached): Promise<void> {
    const fresh = await this.loadWhole(k);
    entry.index = fresh.index;
    entry.version = fresh.version;
    entry.meta = fresh.meta;
  }

  /** An index's row and (faiss mode) all its entries, from one snapshot. */
  private async loadWhole(k: string): Promise<Cached> {
    return this.db.withClient(async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const r = await c.query('SELECT dim, index_type, metric_type, search, next_id, version, quantizer FROM shitu_index WHERE key = $1', [k]);
        if (!r.rows.length) throw noIndex(k);
        const row = r.rows[0];
        const meta: IndexMeta = { dim: row.dim, indexType: row.index_type, metricType: row.metric_type, search: row.search };
        const version = Number(row.version);
        let index: IndexData | undefined;
        if (meta.search === 'faiss') {
          const v = await c.query('SELECT id, label, embedding::text AS e FROM shitu_vector WHERE index_key = $1 ORDER BY id', [k]);
          index = await buildIndexData(meta, Number(row.next_id), v.rows.map((x: { id: string; label: string; e: string }) => ({ id: Number(x.id), label: x.label, e: x.e })), row.quantizer);
        }
        await c.query('COMMIT');
        return { meta, index, version, sync: Promise.resolve() };
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  /** The entry of a checked key: cached (LRU refreshed), or loaded once for all callers, then caught up. */
  async entry(k: string): Promise<Cached> {
    const hit = this.cache.get(k);
    if (hit) {
      this.cache.delete(k); // refresh its LRU position
      this.cache.set(k, hit);
      return hit;
    }
    let p = this.loading.get(k);
    if (!p) {
      p = this.loadWhole(k).then((loaded) => {
        this.remember(k, loaded);
        return loaded;
      });
      this.loading.set(k, p);
      const done = () => { if (this.loading.get(k) === p) this.loading.delete(k); };
      p.then(done, done);
    }
    const loaded = await p;
    // Writes committed while it loaded: replay them now.
    await this.replay(k);
    return loaded;
  }

  remember(k: string, entry: Cached): void {
    this.cache.set(k, entry);
    while (this.cache.size > this.maxCached) {
      const victim = this.cache.keys().next().value as string;
      if (victim === k) break;
      this.cache.delete(victim);
    }
  }
}

/** An in-process FAISS copy from stored entries (ids kept as they are, gaps included). */
async function buildIndexData(meta: IndexMeta, nextId: number, rows: Array<{ id: number; label: string; e: string }>, quantizer?: Buffer | null): Promise<IndexData> {
  if (!INDEX_TYPES.includes(meta.indexType as IndexType)) throw new ShituError('ERR_INDEX_UNSUPPORTED', `stored index type ${JSON.stringify(meta.indexType)} is not supported`);
  if (!METRIC_TYPES.includes(meta.metricType)) throw new ShituError('ERR_INDEX_UNSUPPORTED', `stored metric ${JSON.stringify(meta.metricType)} is not supported`);
  // IVF_PQ's trained quantizer is a type the structural check does not know; the store wrote it itself.
  const nat = quantizer ? await callNative(() => native.VectorIndex.fromBuffer(quantizer, { verify: meta.indexType === 'IVF' })) : new native.VectorIndex(meta.dim, meta.indexType, meta.metricType);
  if (nat.count() !== 0 || nat.dim() !== meta.dim) throw new ShituError('ERR_INDEX_IO', 'the stored IVF quantizer does not match its index');
  const idMap = new Map<number, string>();
  if (rows.length) {
    const vectors = new Float32Array(rows.length * meta.dim);
    rows.forEach((r, i) => {
      const v = parseVector(r.e);
      if (v.length !== meta.dim) throw new ShituError('ERR_INDEX_DIM', `stored entry ${r.id} has ${v.length} values, the index ${meta.dim}`);
      vectors.set(v, i * meta.dim);
      idMap.set(r.id, r.label);
    });
    await callNative(() => nat.add(vectors, BigInt64Array.from(rows.map((r) => BigInt(r.id)))));
  }
  return new IndexData(nat, idMap, nextId);
}

// The PostgreSQL + pgvector index store: one truth for any number of service
// replicas. Every write (build, add, remove) is one transaction that locks the
// index's row (so concurrent writers through different replicas take ids one
// after another from next_id: unique, never reused), bumps the index's version
// and records the change; a NOTIFY on commit tells every replica, which replays
// the change onto its in-process FAISS copy (searches stay in process, as fast
// as with the file store). A replica that reconnects, or that sees a version it
// missed, replays from shitu_change; when that cannot bring it up to date (the
// entries of an add were removed since), it reloads that index whole.
// With `search: 'pgvector'` (per store or per index) no copy is kept: searches
// run in the database (lib/store/postgres/pgvector-search.ts).
// This file is the store as the service sees it; its parts, one job each:
// ./pool.ts (connections), ./change-feed.ts (LISTEN/NOTIFY, readiness),
// ./index-cache.ts (in-process copies and their replays), ./writes.ts (the
// write transactions).
import * as crypto from 'node:crypto';
import { ShituError } from '../../errors';
import type { IndexData, SearchHit } from '../../vector-index/index-data';
import type { IndexSearcher } from '../../vector-index/searcher';
import { AppendOptions, WriteOptions, byNewest, checkIndexKey, IdMapEntries, noIndex, IndexListEntry, IndexOwnership, IndexStore, FeedState, LoadedIndex, StoreHealth } from '../index-store';
import { PgIdempotencyKeys } from '../idempotency/pg-keys';
import type { IdempotencyKeys } from '../idempotency/keys';
import { PgOwnership } from './pg-ownership';
import { PgSearchOptions, searchInDatabase } from './pgvector-search';
import { PgPool } from './pool';
import { ChangeFeed } from './change-feed';
import { Cached, IndexCache } from './index-cache';
import { PgWrites } from './writes';
import type { SearchMode } from './schema';

export type { SearchMode } from './schema';
export const SEARCH_MODES: readonly SearchMode[] = ['faiss', 'pgvector'];

export interface PgIndexStoreOptions {
  /** Where new indexes search (default 'faiss', or the URL's ?search=); each index keeps the mode it was created with. */
  search?: SearchMode;
  /** Indexes kept in process (default 32, least recently used evicted). */
  maxCached?: number;
  /** Pooled connections for reads and writes (default 8). */
  poolSize?: number;
  /** How long a request waits for a lost connection to come back before it fails with ERR_STORE_UNAVAILABLE (default 1500 ms). */
  reconnectWaitMs?: number;
  /** Bound on any one statement (default 30 s): a stuck database fails requests instead of hanging them. */
  queryTimeoutMs?: number;
  /**
   * Changes kept per index for replicas to replay (default 10000); a replica
   * further behind than that reloads the index whole.
   */
  keepChanges?: number;
}

/** "postgresql://user:secret@host/db?search=pgvector" -> the connection string without `search` and the mode. */
export function parseStoreUrl(url: string): { connectionString: string; search?: SearchMode; where: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ShituError('ERR_CONFIG', `indexStore: ${JSON.stringify(url)} is not a postgresql:// URL`);
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') throw new ShituError('ERR_CONFIG', `indexStore: ${JSON.stringify(url)} is not a postgresql:// URL`);
  const s = u.searchParams.get('search');
  if (s !== null && !SEARCH_MODES.includes(s as SearchMode))
    throw new ShituError('ERR_CONFIG', `indexStore: search must be one of ${SEARCH_MODES.join(', ')}, got ${JSON.stringify(s)}`);
  u.searchParams.delete('search');
  const where = `postgresql://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  return { connectionString: u.toString(), search: (s as SearchMode | null) ?? undefined, where };
}

export class PgIndexStore implements IndexStore {
  readonly location: string;
  readonly search: SearchMode;
  private readonly db: PgPool;
  private readonly cache: IndexCache;
  private readonly feed: ChangeFeed;
  private readonly writer: PgWrites;
  private readonly writes = new Set<Promise<unknown>>();
  private idempotencyKeys?: IdempotencyKeys;

  constructor(url: string, o: PgIndexStoreOptions = {}) {
    const parsed = parseStoreUrl(url);
    this.location = parsed.where;
    const search = o.search ?? parsed.search ?? 'faiss';
    if (!SEARCH_MODES.includes(search)) throw new RangeError(`search must be one of ${SEARCH_MODES.join(', ')}, got ${JSON.stringify(search)}`);
    this.search = search;
    this.db = new PgPool(parsed.connectionString, this.location, { poolSize: o.poolSize, queryTimeoutMs: o.queryTimeoutMs });
    this.cache = new IndexCache(this.db, Math.max(1, o.maxCached ?? 32));
    this.feed = new ChangeFeed(parsed.connectionString, this.db, this.cache, o.reconnectWaitMs ?? 1500);
    this.writer = new PgWrites(this.db, this.cache, Math.max(1, o.keepChanges ?? 10000), (k) => this.idMap(k));
  }

  /** Resolves once connected and caught up (or rejects with ERR_STORE_UNAVAILABLE after `ms`). */
  ready(ms?: number): Promise<void> {
    return this.feed.ready(ms);
  }

  checkKey(key: string): string { return checkIndexKey(key); }

  feedState(): FeedState {
    return this.feed.state();
  }

  /** Not ready while the change feed is down: the database is unreachable, or this replica is not caught up. */
  health(): StoreHealth {
    return this.feed.health();
  }

  loadedIndexes(): Promise<LoadedIndex[]> {
    return this.cache.loadedIndexes();
  }

  // ---- reads ---------------------------------------------------------------

  private async entry(key: string): Promise<Cached> {
    const k = this.checkKey(key);
    await this.ready();
    return this.cache.entry(k);
  }

  async get(key: string): Promise<IndexData> {
    const e = await this.entry(key);
    if (!e.index)
      throw new ShituError('ERR_INDEX_UNSUPPORTED', `index ${this.checkKey(key)} searches in the database (search: pgvector): use searchIndex(), not an in-process copy`);
    return e.index;
  }

  async check(key: string): Promise<void> {
    await this.entry(key);
  }

  /** The in-process copy, or (search: pgvector) a searcher that asks the database. */
  async searchable(key: string): Promise<IndexData | IndexSearcher> {
    const k = this.checkKey(key);
    const e = await this.entry(k);
    if (e.index) return e.index;
    const { dim, metricType } = e.meta;
    return {
      dim,
      metricType,
      search: (queries: Float32Array, n: number) => this.db.withClient((c) => searchInDatabase(c, k, dim, metricType, queries, n)),
    };
  }

  /** Where one index searches. */
  async searchModeOf(key: string): Promise<SearchMode> {
    return (await this.entry(key)).meta.search;
  }

  async dimOf(key: string): Promise<number> {
    return (await this.entry(key)).meta.dim;
  }

  /** k nearest entries per query, with FAISS's score conventions, wherever the index searches. */
  async searchIndex(key: string, queries: Float32Array, k: number, o: PgSearchOptions = {}): Promise<SearchHit[][]> {
    const e = await this.entry(key);
    if (e.index) return e.index.search(queries, k);
    return this.db.withClient((c) => searchInDatabase(c, this.checkKey(key), e.meta.dim, e.meta.metricType, queries, k, o));
  }

  async list(): Promise<IndexListEntry[]> {
    await this.ready();
    const r = await this.db.query('SELECT key::text AS key, created_at FROM shitu_index');
    return r.rows.map((x: { key: string; created_at: Date }) => ({ indexKey: x.key, modified: x.created_at.toISOString() })).sort(byNewest);
  }

  async idMap(key: string): Promise<IdMapEntries> {
    const k = this.checkKey(key);
    await this.ready();
    const cached = this.cache.peek(k);
    if (cached?.index) return cached.index.idMapEntries;
    const r = await this.db.query('SELECT i.key, v.id, v.label FROM shitu_index i LEFT JOIN shitu_vector v ON v.index_key = i.key WHERE i.key = $1 ORDER BY v.id', [k]);
    if (!r.rows.length) throw noIndex(k);
    return r.rows.filter((x: { id: string | null }) => x.id !== null).map((x: { id: string; label: string }) => [Number(x.id), x.label] as [number, string]);
  }

  // ---- writes (./writes.ts) --------------------------------------------------

  async create(index: IndexData, key?: string, o: WriteOptions & { search?: SearchMode } = {}): Promise<string> {
    const k = key === undefined ? crypto.randomUUID() : this.checkKey(key);
    const search = o.search ?? this.search;
    if (!SEARCH_MODES.includes(search)) throw new RangeError(`search must be one of ${SEARCH_MODES.join(', ')}, got ${JSON.stringify(search)}`);
    await this.ready();
    return this.track(this.writer.create(k, index, search, o).then(() => k));
  }

  async append(key: string, f: (index: IndexData) => Promise<unknown>, o: AppendOptions = {}): Promise<IdMapEntries> {
    const k = this.checkKey(key);
    const e = await this.entry(k); // 404 before any work
    return this.track(this.writer.append(k, e.meta, f, o));
  }

  async remove(key: string, ids: number[], o: WriteOptions = {}): Promise<IdMapEntries> {
    const k = this.checkKey(key);
    if (!Array.isArray(ids)) throw new TypeError('ids must be a list of integers');
    for (const id of ids) if (!Number.isSafeInteger(id)) throw new TypeError(`ids must be integers, got ${JSON.stringify(id)}`);
    await this.entry(k);
    return this.track(this.writer.remove(k, [...new Set(ids)], o));
  }

  // ---- ownership and idempotency keys, in the database ----------------------

  /** Who owns which index, in the database: one truth for every replica (lib/store/postgres/pg-ownership.ts). */
  ownership(): IndexOwnership {
    return new PgOwnership(async (f) => {
      await this.ready();
      return this.db.transaction(f);
    });
  }

  /** Idempotency keys in the database: one truth for every replica (lib/store/idempotency/pg-keys.ts). */
  idempotency(): IdempotencyKeys {
    return this.idempotencyKeys ??= new PgIdempotencyKeys(async (f) => {
      await this.ready();
      return this.db.transaction(f);
    });
  }

  // ---- lifecycle -------------------------------------------------------------

  private track<T>(p: Promise<T>): Promise<T> {
    this.writes.add(p);
    const done = () => this.writes.delete(p);
    p.then(done, done);
    return p;
  }

  async settled(): Promise<void> {
    while (this.writes.size) await Promise.allSettled([...this.writes]);
  }

  async close(): Promise<void> {
    if (this.feed.isClosed) return;
    await this.settled();
    await this.feed.close();
    await this.db.end();
  }
}

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
import * as crypto from 'node:crypto';
import pg from 'pg';
import { callNative, ShituError } from '../../errors';
import { IndexData, IndexType, INDEX_TYPES, MetricType, METRIC_TYPES, SearchHit } from '../../vector-index/index-data';
import type { IndexSearcher } from '../../vector-index/searcher';
import { native } from '../../native/loader';
import { AppendOptions, byNewest, checkIndexKey, checkStoredLabels, IdMapEntries, noIndex, IndexListEntry, IndexOwnership, IndexStore, FeedState, LoadedIndex, StoreHealth } from '../index-store';
import { PgOwnership } from './pg-ownership';
import { storeFailure, unavailable } from './errors';
import { createAnnIndex, parseVector, PgSearchOptions, searchInDatabase, vectorLiteral } from './pgvector-search';
import { CHANGE_CHANNEL, ensureSchema } from './schema';

export type SearchMode = 'faiss' | 'pgvector';
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

interface IndexMeta {
  dim: number;
  indexType: IndexType | string;
  metricType: MetricType;
  search: SearchMode;
}

interface Cached {
  meta: IndexMeta;
  /** The in-process copy (faiss mode). */
  index?: IndexData;
  /** The version `index` reflects. */
  version: number;
  /** Replays to this index, one after another. */
  sync: Promise<void>;
}

/** Rows per INSERT when writing vectors. */
const INSERT_BATCH = 256;
/** Where a lost connection's retries start and end. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 1000;
/** The feed's liveness check: every second, failing after two. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 2000;
/** (node-postgres reads query_timeout per query; its type declarations do not list it.) */
const PING = { text: 'SELECT 1', query_timeout: HEARTBEAT_TIMEOUT_MS };

type Client = pg.PoolClient;

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
  private readonly pool: pg.Pool;
  private readonly connectionString: string;
  private readonly maxCached: number;
  private readonly reconnectWaitMs: number;
  private readonly keepChanges: number;
  private readonly cache = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<Cached>>();
  private readonly writes = new Set<Promise<unknown>>();
  private feed?: pg.Client;
  private live = false;
  private closed = false;
  private lastError: unknown = new Error('not connected yet');
  private liveWaiters: Array<() => void> = [];
  /** When the feed last went down (or the store started), while it is not live: the lag's floor. */
  private downSince = Date.now();
  /** Per cached index: the newest version notified and not yet applied, and since when one has been waiting. */
  private readonly behind = new Map<string, { version: number; since: number }>();
  private feedLoop: Promise<void>;
  private wakeFeed?: () => void;

  constructor(url: string, o: PgIndexStoreOptions = {}) {
    const parsed = parseStoreUrl(url);
    this.location = parsed.where;
    this.connectionString = parsed.connectionString;
    const search = o.search ?? parsed.search ?? 'faiss';
    if (!SEARCH_MODES.includes(search)) throw new RangeError(`search must be one of ${SEARCH_MODES.join(', ')}, got ${JSON.stringify(search)}`);
    this.search = search;
    this.maxCached = Math.max(1, o.maxCached ?? 32);
    this.reconnectWaitMs = o.reconnectWaitMs ?? 1500;
    this.keepChanges = Math.max(1, o.keepChanges ?? 10000);
    this.pool = new pg.Pool({
      connectionString: this.connectionString,
      max: o.poolSize ?? 8,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 10000,
      query_timeout: o.queryTimeoutMs ?? 30000,
      keepAlive: true,
    });
    // An idle pooled connection that the server closes emits 'error' here; without
    // a listener that would crash the process. The pool drops it and reconnects.
    this.pool.on('error', (e) => { this.lastError = e; });
    this.feedLoop = this.runFeed();
  }

  /** Resolves once connected and caught up (or rejects with ERR_STORE_UNAVAILABLE after `ms`). */
  async ready(ms = this.reconnectWaitMs): Promise<void> {
    if (this.closed) throw new ShituError('ERR_CLOSED', 'the index store is closed');
    if (this.live) return;
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    const woke = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      this.liveWaiters.push(wake);
      timer = setTimeout(() => resolve(false), ms);
    });
    const ok = await woke;
    clearTimeout(timer);
    this.liveWaiters = this.liveWaiters.filter((w) => w !== wake);
    if (!ok || !this.live) throw unavailable(this.location, this.lastError);
  }

  checkKey(key: string): string { return checkIndexKey(key); }

  // ---- the change feed -----------------------------------------------------

  /** Connect, create the schema, LISTEN, replay what was missed; on loss, again. */
  private async runFeed(): Promise<void> {
    let delay = RECONNECT_MIN_MS;
    let schemaReady = false;
    while (!this.closed) {
      const c = new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: 2000, keepAlive: true, application_name: 'shitu-change-feed' });
      let heartbeat: NodeJS.Timeout | undefined;
      const lost = new Promise<void>((resolve) => {
        c.on('error', (e) => { this.lastError = e; resolve(); });
        c.on('end', () => resolve());
        this.wakeFeed = resolve;
        // A connection that dies silently (no reset reaches us) would leave this
        // replica serving without the feed: a heartbeat notices within seconds.
        heartbeat = setInterval(() => {
          if (this.feed === c) c.query(PING).catch((e) => { this.lastError = e; resolve(); });
        }, HEARTBEAT_MS);
        heartbeat.unref();
      });
      try {
        await c.connect();
        if (!schemaReady) {
          await ensureSchema(c);
          schemaReady = true;
        }
        c.on('notification', (m) => this.onNotify(m.payload));
        await c.query(`LISTEN ${CHANGE_CHANNEL}`);
        this.feed = c;
        await this.replayAll();
        this.live = true;
        delay = RECONNECT_MIN_MS;
        for (const k of this.behind.keys()) this.caughtUp(k); // replayAll brought the cached indexes up
        for (const w of this.liveWaiters.splice(0)) w();
        await lost;
      } catch (e) {
        this.lastError = e;
      }
      if (this.live) this.downSince = Date.now();
      this.live = false;
      this.feed = undefined;
      clearInterval(heartbeat);
      // Not awaited: ending a connection whose peer vanished can wait for TCP.
      c.end().catch(() => undefined);
      if (this.closed) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(RECONNECT_MAX_MS, delay * 2);
    }
  }

  private onNotify(payload: string | undefined) {
    const m = /^([0-9a-f-]{36}):(\d+)$/.exec(payload ?? '');
    if (!m) return;
    const entry = this.cache.get(m[1]);
    const version = Number(m[2]);
    if (entry && entry.version < version) {
      const was = this.behind.get(m[1]);
      this.behind.set(m[1], { version: Math.max(version, was?.version ?? 0), since: was?.since ?? Date.now() });
      this.replay(m[1]).then(() => this.caughtUp(m[1]), () => undefined);
    }
  }

  /** Forgets the notified change of `k` once its cached copy (if still cached) has applied it. */
  private caughtUp(k: string): void {
    const b = this.behind.get(k);
    const entry = this.cache.get(k);
    if (b && (!entry || entry.version >= b.version)) this.behind.delete(k);
  }

  feedState(): FeedState {
    // A change applied another way (a load, a failed replay dropping the copy) is no longer waiting.
    for (const k of [...this.behind.keys()]) this.caughtUp(k);
    const now = Date.now();
    let oldest = this.live ? now : Math.min(now, this.downSince);
    for (const b of this.behind.values()) oldest = Math.min(oldest, b.since);
    return { live: this.live, lagSeconds: (now - oldest) / 1000 };
  }

  /** Not ready while the change feed is down: the database is unreachable, or this replica is not caught up. */
  health(): StoreHealth {
    if (this.closed) return { ready: false, reason: 'the index store is closed' };
    if (this.live) return { ready: true };
    const why = (this.lastError as Error)?.message ?? String(this.lastError);
    return { ready: false, reason: `the index store ${this.location} is unreachable or its change feed is not live: ${why}` };
  }

  async loadedIndexes(): Promise<LoadedIndex[]> {
    const out: LoadedIndex[] = [];
    for (const [k, e] of this.cache) if (e.index) out.push({ indexKey: k, count: e.index.count });
    return out;
  }

  /** After a (re)connect: every cached index replays what it missed; indexes deleted meanwhile are dropped. */
  private async replayAll(): Promise<void> {
    const keys = [...this.cache.keys()];
    if (!keys.length) return;
    const r = await this.pool.query('SELECT key::text AS key, version FROM shitu_index WHERE key = ANY($1::uuid[])', [keys]);
    const versions = new Map<string, number>(r.rows.map((row: { key: string; version: string }) => [row.key, Number(row.version)]));
    await Promise.all(keys.map(async (k) => {
      const entry = this.cache.get(k);
      if (!entry) return;
      if (!versions.has(k)) { this.cache.delete(k); return; }
      if (entry.version < versions.get(k)!) await this.replay(k);
    }));
  }

  /** Brings one cached index up to the database's latest committed version. */
  private replay(k: string): Promise<void> {
    const entry = this.cache.get(k);
    if (!entry) return Promise.resolve();
    const run = async () => {
      if (this.cache.get(k) !== entry) return;
      const changes = await this.pool.query(
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
      this.lastError = e;
      // A failed replay leaves the copy in an unknown state: reload on next use.
      if (this.cache.get(k) === entry) this.cache.delete(k);
    });
    return p;
  }

  /** Replays one add; false when its entries are gone (removed since) or the ids do not follow on. */
  private async applyAdd(k: string, index: IndexData, ids: number[]): Promise<boolean> {
    if (!ids.length) return true;
    if (ids[0] !== index.nextId) return false;
    const r = await this.pool.query(
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

  // ---- reads ---------------------------------------------------------------

  /** An index's row and (faiss mode) all its entries, from one snapshot. */
  private async loadWhole(k: string): Promise<Cached> {
    return this.withClient(async (c) => {
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

  private async entry(key: string): Promise<Cached> {
    const k = this.checkKey(key);
    await this.ready();
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

  private remember(k: string, entry: Cached) {
    this.cache.set(k, entry);
    while (this.cache.size > this.maxCached) {
      const victim = this.cache.keys().next().value as string;
      if (victim === k) break;
      this.cache.delete(victim);
    }
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
      search: (queries: Float32Array, n: number) => this.withClient((c) => searchInDatabase(c, k, dim, metricType, queries, n)),
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
    return this.withClient((c) => searchInDatabase(c, this.checkKey(key), e.meta.dim, e.meta.metricType, queries, k, o));
  }

  async list(): Promise<IndexListEntry[]> {
    await this.ready();
    const r = await this.query('SELECT key::text AS key, created_at FROM shitu_index');
    return r.rows.map((x: { key: string; created_at: Date }) => ({ indexKey: x.key, modified: x.created_at.toISOString() })).sort(byNewest);
  }

  async idMap(key: string): Promise<IdMapEntries> {
    const k = this.checkKey(key);
    await this.ready();
    const cached = this.cache.get(k);
    if (cached?.index) return cached.index.idMapEntries;
    const r = await this.query('SELECT i.key, v.id, v.label FROM shitu_index i LEFT JOIN shitu_vector v ON v.index_key = i.key WHERE i.key = $1 ORDER BY v.id', [k]);
    if (!r.rows.length) throw noIndex(k);
    return r.rows.filter((x: { id: string | null }) => x.id !== null).map((x: { id: string; label: string }) => [Number(x.id), x.label] as [number, string]);
  }

  // ---- writes --------------------------------------------------------------

  async create(index: IndexData, key?: string, o: { search?: SearchMode } = {}): Promise<string> {
    const k = key === undefined ? crypto.randomUUID() : this.checkKey(key);
    const search = o.search ?? this.search;
    if (!SEARCH_MODES.includes(search)) throw new RangeError(`search must be one of ${SEARCH_MODES.join(', ')}, got ${JSON.stringify(search)}`);
    await this.ready();
    const meta: IndexMeta = { dim: index.dim, indexType: index.indexType, metricType: index.metricType, search };
    const entries = index.idMapEntries;
    checkStoredLabels(entries.map(([, label]) => label));
    const quantizer = search === 'faiss' && (meta.indexType === 'IVF' || meta.indexType === 'IVF_PQ') ? await trainedEmptyCopy(index) : null;
    return this.track(this.transaction(async (c) => {
      await c.query('INSERT INTO shitu_index (key, dim, index_type, metric_type, search, next_id, version, quantizer) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)',
        [k, meta.dim, meta.indexType, meta.metricType, search, index.nextId, quantizer]).catch((e) => {
        if ((e as { code?: string }).code === '23505') throw new ShituError('ERR_INDEX_IO', `index ${k} already exists in ${this.location}`);
        throw e;
      });
      await insertVectors(c, k, entries.map(([id, label]) => ({ id, label, vector: index.native.reconstruct(id) as Float32Array })));
      if (search === 'pgvector') await createAnnIndex(c, k, meta.dim, meta.indexType, meta.metricType, entries.length);
    }).then(() => {
      this.remember(k, { meta, index: search === 'faiss' ? index : undefined, version: 1, sync: Promise.resolve() });
      return k;
    }));
  }

  async append(key: string, f: (index: IndexData) => Promise<unknown>, o: AppendOptions = {}): Promise<IdMapEntries> {
    const k = this.checkKey(key);
    const e = await this.entry(k); // 404 before any work
    // The new entries are embedded into a scratch index outside any transaction;
    // the transaction only numbers and stores them.
    const scratch = IndexData.create(e.meta.dim, 'Flat', e.meta.metricType);
    await f(scratch);
    const fresh = scratch.idMapEntries.map(([id, label]) => ({ label, vector: scratch.native.reconstruct(id) as Float32Array }));
    checkStoredLabels(fresh.map((x) => x.label));
    const checkCount = o.checkCount;
    return this.track(this.write(k, async (c, row) => {
      // Counted under the index row's lock: concurrent adds (any replica) are counted one after another.
      if (checkCount) {
        const n = await c.query('SELECT count(*)::bigint AS n FROM shitu_vector WHERE index_key = $1', [k]);
        refuseWith(() => checkCount(Number(n.rows[0].n) + fresh.length));
      }
      const ids = fresh.map((_, i) => row.nextId + i);
      await insertVectors(c, k, fresh.map((x, i) => ({ id: ids[i], label: x.label, vector: x.vector })));
      return { op: 'add' as const, ids, nextId: row.nextId + ids.length };
    }));
  }

  async remove(key: string, ids: number[]): Promise<IdMapEntries> {
    const k = this.checkKey(key);
    if (!Array.isArray(ids)) throw new TypeError('ids must be a list of integers');
    for (const id of ids) if (!Number.isSafeInteger(id)) throw new TypeError(`ids must be integers, got ${JSON.stringify(id)}`);
    await this.entry(k);
    const unique = [...new Set(ids)];
    return this.track(this.write(k, async (c, row) => {
      const r = await c.query('DELETE FROM shitu_vector WHERE index_key = $1 AND id = ANY($2::bigint[]) RETURNING id', [k, unique]);
      const gone = new Set(r.rows.map((x: { id: string }) => Number(x.id)));
      const unknown = unique.filter((id) => !gone.has(id));
      if (unknown.length) throw new ShituError('ERR_INDEX_ID', `unknown id(s), nothing removed: ${unknown.join(', ')}`, { details: unknown });
      return { op: 'remove' as const, ids: unique, nextId: row.nextId };
    }));
  }

  /**
   * One write: lock the index's row, make the change, bump the version, record
   * the change and NOTIFY (delivered at commit), commit; then bring this
   * replica's copy up to at least that version before answering.
   */
  private async write(k: string, change: (c: Client, row: { nextId: number; version: number }) => Promise<{ op: 'add' | 'remove'; ids: number[]; nextId: number }>): Promise<IdMapEntries> {
    const version = await this.transaction(async (c) => {
      const r = await c.query('SELECT next_id, version FROM shitu_index WHERE key = $1 FOR UPDATE', [k]);
      if (!r.rows.length) throw noIndex(k);
      const row = { nextId: Number(r.rows[0].next_id), version: Number(r.rows[0].version) };
      const ch = await change(c, row);
      const v = row.version + 1;
      await c.query('UPDATE shitu_index SET next_id = $2, version = $3 WHERE key = $1', [k, ch.nextId, v]);
      await c.query('INSERT INTO shitu_change (index_key, version, op, ids) VALUES ($1, $2, $3, $4::bigint[])', [k, v, ch.op, ch.ids]);
      await c.query('DELETE FROM shitu_change WHERE index_key = $1 AND version <= $2', [k, v - this.keepChanges]);
      await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, `${k}:${v}`]);
      return v;
    });
    // Read your writes: this replica serves the new state from its answer on.
    const entry = this.cache.get(k);
    if (entry) {
      // Committed: a failed replay must not turn into an error (the client would
      // retry a write that happened); the copy is dropped and reloaded on next use.
      await this.replay(k).catch(() => undefined);
      const now = this.cache.get(k);
      if (now?.index && now.version >= version) return now.index.idMapEntries;
    }
    return this.idMap(k);
  }

  // ---- ownership -----------------------------------------------------------

  /** Who owns which index, in the database: one truth for every replica (lib/store/postgres/pg-ownership.ts). */
  ownership(): IndexOwnership {
    return new PgOwnership(async (f) => {
      await this.ready();
      return this.transaction(f);
    });
  }

  // ---- plumbing ------------------------------------------------------------

  private track<T>(p: Promise<T>): Promise<T> {
    this.writes.add(p);
    const done = () => this.writes.delete(p);
    p.then(done, done);
    return p;
  }

  private async withClient<T>(f: (c: Client) => Promise<T>): Promise<T> {
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

  private async transaction<T>(f: (c: Client) => Promise<T>): Promise<T> {
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

  private async query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (e) {
      throw storeFailure(this.location, e);
    }
  }

  async settled(): Promise<void> {
    while (this.writes.size) await Promise.allSettled([...this.writes]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.settled();
    this.closed = true;
    this.live = false;
    this.wakeFeed?.();
    await this.feedLoop;
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * A caller's check that refused a write inside a transaction: a ShituError, so
 * the connection is not treated as broken; transaction() rolls back and
 * rethrows the caller's own error (not a store failure).
 */
class Refusal extends ShituError {
  readonly reason: unknown;
  constructor(reason: unknown) {
    super('ERR_INPUT', (reason as Error)?.message ?? String(reason));
    this.reason = reason;
  }
}

function refuseWith(check: () => void): void {
  try {
    check();
  } catch (e) {
    throw new Refusal(e);
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

async function insertVectors(c: Client, k: string, rows: Array<{ id: number; label: string; vector: Float32Array }>): Promise<void> {
  for (let s = 0; s < rows.length; s += INSERT_BATCH) {
    const part = rows.slice(s, s + INSERT_BATCH);
    await c.query(
      'INSERT INTO shitu_vector (index_key, id, label, embedding) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::vector[])',
      [k, part.map((r) => r.id), part.map((r) => r.label), part.map((r) => vectorLiteral(r.vector))]);
  }
}

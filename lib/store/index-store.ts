// The IndexStore interface: what the service needs from wherever indexes live
// (the file store in ./file-store.ts, the PostgreSQL store in ./postgres/),
// and the index-key rule both share.
import { ShituError } from '../errors';
import { LABEL_PATTERN } from '../limits';
import type { IdMapEntries, IndexData } from '../vector-index/index-data';
import type { IndexSearcher } from '../vector-index/searcher';
import type { IdempotencyKeys, IdempotentWrite } from './idempotency/keys';

/** Any RFC 4122-shaped UUID (what crypto.randomUUID() gives), any case. */
export const INDEX_KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws ERR_VALIDATION for a malformed key. Keys are normalised to lower case. */
export function checkIndexKey(key: string): string {
  if (typeof key !== 'string' || !INDEX_KEY_RE.test(key))
    throw ShituError.atField('ERR_VALIDATION', 'indexKey', `${JSON.stringify(key)} is not an index key (a UUID returned by /shitu-index-build)`);
  return key.toLowerCase();
}

/** What every store throws for a well-formed key it does not hold. */
export const noIndex = (key: string) => ShituError.atField('ERR_INDEX_NOT_FOUND', 'indexKey', `no index ${key}`);

const LABEL_RE = new RegExp(LABEL_PATTERN, 'u');

/**
 * The label rule of lib/limits.ts (no U+0000, no lone surrogates), checked by
 * every store before it writes, so that library callers get the same answer
 * from both stores as the service's schema gives (ERR_INPUT, nothing written).
 */
export function checkStoredLabels(labels: Iterable<string>): void {
  let i = 0;
  for (const label of labels) {
    if (!LABEL_RE.test(label)) throw new ShituError('ERR_INPUT', `label #${i}: must not contain U+0000 or unpaired UTF-16 surrogates`);
    i++;
  }
}

/**
 * Who owns which index: API keys' index quotas and write rights
 * (lib/server/auth.ts). A store may provide its own (the PostgreSQL store keeps
 * it in the database, shared by every replica); the service falls back to
 * files beside a directory store, else to this process's memory.
 */
export interface IndexOwnership {
  /**
   * Records `owner` as the owner of the index about to be built under
   * `indexKey`, if the owner holds fewer than `max` indexes (built, or
   * reserved by builds in progress); atomic, also across the processes that
   * share the store. `{ ok: false, held }` when the quota is used up.
   */
  reserve(owner: string, indexKey: string, max?: number): Promise<OwnerReservation | { ok: false; held: number }>;
  /** The owner recorded for an index (undefined: none, e.g. built while the service had no keys). */
  ownerOf(indexKey: string): Promise<string | undefined>;
}

export interface OwnerReservation {
  ok: true;
  /** The index exists now: it counts as owned from here on. */
  commit(): Promise<void>;
  /** The build failed: the quota slot is free again. */
  release(): Promise<void>;
}

/** Options of every write (create, append, remove). */
export interface WriteOptions {
  /**
   * The Idempotency-Key claimed for this write (lib/store/idempotency/keys.ts):
   * the store records its answer with the write where it can.
   */
  idempotency?: IdempotentWrite;
}

/** Options of IndexStore.append. */
export interface AppendOptions extends WriteOptions {
  /**
   * Called at write time, under the store's write lock on the index, with the
   * number of vectors the index will hold after the append; throwing refuses
   * the write (nothing is written) with that error. Per-key vector quotas use
   * it, so that concurrent adds cannot overshoot.
   */
  checkCount?: (vectorsAfter: number) => void;
}

/** One index in a store's listing. */
export interface IndexListEntry {
  indexKey: string;
  /** When the index was last saved (file store) or created (PostgreSQL store), ISO 8601. */
  modified: string;
}

/** Newest first, then by key: the order every store lists in. */
export const byNewest = (a: IndexListEntry, b: IndexListEntry): number =>
  a.modified < b.modified ? 1 : a.modified > b.modified ? -1 : a.indexKey.localeCompare(b.indexKey);

/** One index held in process (IndexStore.loadedIndexes). */
export interface LoadedIndex {
  indexKey: string;
  count: number;
}

export type StoreHealth = { ready: true } | { ready: false; reason: string };

export interface FeedState {
  /** Connected, listening and caught up after the last (re)connect. */
  live: boolean;
  /**
   * Seconds the oldest change this replica was told of (NOTIFY at commit) has
   * waited to be applied to its in-process copy; while the feed is down, at
   * least the time since it went down (changes may be missed meanwhile). 0 when caught up.
   */
  lagSeconds: number;
}

export type { IdMapEntries } from '../vector-index/index-data';

/**
 * What the service needs from an index store. Every method that takes a key
 * throws ShituError ERR_VALIDATION (malformed) or ERR_INDEX_NOT_FOUND (unknown); a store whose backend is
 * unreachable throws ShituError ERR_STORE_UNAVAILABLE (the service answers 503).
 */
export interface IndexStore {
  /** For logs: where the indexes are. */
  readonly location: string;
  checkKey(key: string): string;
  /** The index to search, kept in process. */
  get(key: string): Promise<IndexData>;
  /** What /shitu-infer searches: the in-process index, or a searcher where the index searches elsewhere (pgvector). */
  searchable(key: string): Promise<IndexData | IndexSearcher>;
  /** Resolves when the index exists (else 404), without loading more than needed. */
  check(key: string): Promise<void>;
  /** Stores a new index under a fresh key (or `key`) and returns the key. */
  create(index: IndexData, key?: string, o?: WriteOptions): Promise<string>;
  /**
   * Adds entries: `f` adds vectors and labels to the index it is given (ids
   * from that index's nextId); the store gives them their final ids, commits,
   * and resolves with the index's id map after the write.
   */
  append(key: string, f: (index: IndexData) => Promise<unknown>, o?: AppendOptions): Promise<IdMapEntries>;
  /** Removes ids (ShituError ERR_INDEX_ID with the unknown ids as details: nothing removed). */
  remove(key: string, ids: number[], o?: WriteOptions): Promise<IdMapEntries>;
  /** Every index, newest first (ties by key). */
  list(): Promise<IndexListEntry[]>;
  /** One index's id map, without loading its vectors where the store can. */
  idMap(key: string): Promise<IdMapEntries>;
  /** Resolves when every write in progress has finished. */
  settled(): Promise<void>;
  /** The indexes held in process now and their sizes (for /metrics; loads nothing, waits for nothing). */
  loadedIndexes?(): Promise<LoadedIndex[]>;
  /** The store's readiness as it knows it without a query (for /ready): a reason when it cannot serve. */
  health?(): StoreHealth;
  /** A store fed by a change feed (PostgreSQL): whether it is live and how far behind it is (for /metrics). */
  feedState?(): FeedState;
  /** Index ownership kept by the store itself (see IndexOwnership), where it has one. */
  ownership?(): IndexOwnership;
  /** Idempotency keys kept by the store itself, beside its indexes (the service falls back to this process's memory). */
  idempotency?(): IdempotencyKeys;
  /** Releases connections and timers (after settled()). */
  close(): Promise<void>;
}

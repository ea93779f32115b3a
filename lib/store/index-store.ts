// The IndexStore interface: what the service needs from wherever indexes live
// (the file store in ./file-store.ts, the PostgreSQL store in ./postgres/),
// and the index-key rule both share.
import type { IndexData } from '../vector-index/index-data';
import type { IndexSearcher } from '../vector-index/searcher';

/** Any RFC 4122-shaped UUID (what crypto.randomUUID() gives), any case. */
export const INDEX_KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class IndexKeyError extends Error {
  readonly status: 404 | 422;
  constructor(status: 404 | 422, message: string) {
    super(message);
    this.name = 'IndexKeyError';
    this.status = status;
  }
}

/** Throws 422 for a malformed key. Keys are normalised to lower case. */
export function checkIndexKey(key: string): string {
  if (typeof key !== 'string' || !INDEX_KEY_RE.test(key))
    throw new IndexKeyError(422, `indexKey: ${JSON.stringify(key)} is not an index key (a UUID returned by /shitu-index-build)`);
  return key.toLowerCase();
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

/** id -> label, in id order. */
export type IdMapEntries = Array<[number, string]>;

/**
 * What the service needs from an index store. Every method that takes a key
 * throws IndexKeyError (422 malformed, 404 unknown); a store whose backend is
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
  create(index: IndexData, key?: string): Promise<string>;
  /**
   * Adds entries: `f` adds vectors and labels to the index it is given (ids
   * from that index's nextId); the store gives them their final ids, commits,
   * and resolves with the index's id map after the write.
   */
  append(key: string, f: (index: IndexData) => Promise<unknown>): Promise<IdMapEntries>;
  /** Removes ids (ShituError ERR_INDEX_ID with the unknown ids as details: nothing removed). */
  remove(key: string, ids: number[]): Promise<IdMapEntries>;
  /** Every index, newest first (ties by key). */
  list(): Promise<IndexListEntry[]>;
  /** One index's id map, without loading its vectors where the store can. */
  idMap(key: string): Promise<IdMapEntries>;
  /** Resolves when every write in progress has finished. */
  settled(): Promise<void>;
  /** Releases connections and timers (after settled()). */
  close(): Promise<void>;
}

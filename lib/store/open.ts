// One call from a spec to a store: a postgresql:// URL opens the PostgreSQL
// store (shared by replicas), anything else is a directory for the file store.
import type { IndexData } from '../vector-index/index-data';
import { FileIndexStore } from './file-store';
import type { IndexStore } from './index-store';
import type { PgIndexStore, PgIndexStoreOptions } from './postgres/pg-index-store';

export interface OpenIndexStoreOptions extends PgIndexStoreOptions {
  maxCached?: number;
}

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** `openIndexStore('postgresql://user@host:5432/db')` or `openIndexStore('indexes/')`. */
export function openIndexStore(spec: string, o: OpenIndexStoreOptions = {}): IndexStore {
  if (typeof spec !== 'string' || !spec) throw new TypeError('indexStore must be a postgresql:// URL or a directory');
  if (isPostgresUrl(spec)) {
    // Loaded on use: file-store users do not load pg.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { PgIndexStore: Store } = require('./postgres/pg-index-store') as typeof import('./postgres/pg-index-store');
    return new Store(spec, o) as PgIndexStore;
  }
  return new FileIndexStore(spec, o.maxCached);
}

/**
 * Opens one stored index for searching in this process: `openIndex(url, key)`.
 * With a PostgreSQL store the copy follows other writers' changes until
 * `close()` is called on the returned store.
 */
export async function openIndex(spec: string, key: string, o: OpenIndexStoreOptions = {}): Promise<{ index: IndexData; store: IndexStore }> {
  const store = openIndexStore(spec, o);
  try {
    return { index: await store.get(key), store };
  } catch (e) {
    await store.close();
    throw e;
  }
}

// The embedded default index store: indexDir/<indexKey>/ = vector.index +
// id_map.yaml, loaded lazily by key and cached. Writes to one index (add,
// remove, and the save after each) run one at a time on a per-key promise
// chain, while searches go on against the in-memory index.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../errors';
import { IndexData } from '../vector-index/index-data';
import { AppendOptions, byNewest, checkIndexKey, checkStoredLabels, IdMapEntries, noIndex, IndexListEntry, IndexStore, INDEX_KEY_RE, LoadedIndex } from './index-store';

export class FileIndexStore implements IndexStore {
  readonly dir: string;
  private readonly maxCached: number;
  /** Loaded (or loading) indexes, least recently used first. */
  private readonly cache = new Map<string, Promise<IndexData>>();
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(dir: string, maxCached = 32) {
    this.dir = path.resolve(dir);
    this.maxCached = Math.max(1, maxCached);
  }

  get location(): string { return this.dir; }

  checkKey(key: string): string { return checkIndexKey(key); }

  newKey(): string {
    return crypto.randomUUID();
  }

  /** The index for a key: 422 if malformed, 404 if there is none. */
  async get(key: string): Promise<IndexData> {
    const k = this.checkKey(key);
    let p = this.cache.get(k);
    if (p) {
      this.cache.delete(k); // refresh its LRU position
      this.cache.set(k, p);
      return p;
    }
    const dir = path.join(this.dir, k);
    if (!fs.existsSync(path.join(dir, 'vector.index'))) throw noIndex(k);
    p = IndexData.load(dir);
    this.remember(k, p);
    p.catch(() => {
      if (this.cache.get(k) === p) this.cache.delete(k);
    });
    return p;
  }

  async check(key: string): Promise<void> {
    await this.get(key);
  }

  searchable(key: string): Promise<IndexData> {
    return this.get(key);
  }

  /** Saves a new index under a fresh key and caches it. */
  async create(index: IndexData, key?: string): Promise<string> {
    const k = key === undefined ? this.newKey() : this.checkKey(key);
    checkStoredLabels(index.idMapEntries.map(([, label]) => label));
    await index.save(path.join(this.dir, k));
    this.remember(k, Promise.resolve(index));
    return k;
  }

  async append(key: string, f: (index: IndexData) => Promise<unknown>, o: AppendOptions = {}): Promise<IdMapEntries> {
    return this.write(key, async (index) => {
      const before = index.nextId;
      await f(index);
      // Checked before the save; a refusal drops the changed in-memory copy (see write()).
      checkStoredLabels(index.idMapEntries.filter(([id]) => id >= before).map(([, label]) => label));
      o.checkCount?.(index.count);
      return index.idMapEntries;
    });
  }

  async remove(key: string, ids: number[]): Promise<IdMapEntries> {
    return this.write(key, async (index) => {
      await index.remove(ids);
      return index.idMapEntries;
    });
  }

  async list(): Promise<IndexListEntry[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: IndexListEntry[] = [];
    for (const name of names) {
      if (!INDEX_KEY_RE.test(name)) continue;
      const stat = await fs.promises.stat(path.join(this.dir, name, 'vector.index')).catch(() => undefined);
      if (stat?.isFile()) out.push({ indexKey: name.toLowerCase(), modified: stat.mtime.toISOString() });
    }
    return out.sort(byNewest);
  }

  async idMap(key: string): Promise<IdMapEntries> {
    return (await this.get(key)).idMapEntries;
  }

  /**
   * Runs `f(index)` then saves the index, after every earlier write to the same
   * key. If the change or the save fails, the cached copy is dropped so the next
   * request reloads the last saved state (unknown ids change nothing: kept).
   */
  write<T>(key: string, f: (index: IndexData) => Promise<T>): Promise<T> {
    const k = this.checkKey(key);
    const prev = this.chains.get(k) ?? Promise.resolve();
    const run = async () => {
      const index = await this.get(k);
      try {
        const r = await f(index);
        await index.save(path.join(this.dir, k));
        return r;
      } catch (e) {
        const unchanged = (e as { keepCache?: boolean }).keepCache || (e instanceof ShituError && e.code === 'ERR_INDEX_ID');
        if (!unchanged) this.cache.delete(k);
        throw e;
      }
    };
    const p = prev.then(run, run);
    const tail = p.then(() => undefined, () => undefined);
    this.chains.set(k, tail);
    tail.then(() => {
      if (this.chains.get(k) === tail) this.chains.delete(k);
    });
    return p;
  }

  async loadedIndexes(): Promise<LoadedIndex[]> {
    const pending = Symbol('pending');
    const out: LoadedIndex[] = [];
    for (const [k, p] of this.cache) {
      // An already-resolved promise wins the race against the sentinel: only loaded indexes count.
      const index = await Promise.race([p, Promise.resolve(pending)]).catch(() => pending);
      if (index !== pending) out.push({ indexKey: k, count: (index as IndexData).count });
    }
    return out;
  }

  /** Resolves when every queued write has finished. */
  async settled(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  async close(): Promise<void> {
    await this.settled();
  }

  private remember(k: string, p: Promise<IndexData>) {
    this.cache.set(k, p);
    while (this.cache.size > this.maxCached) {
      // Evict the least recently used index that has no write in progress.
      const victim = [...this.cache.keys()].find((key) => key !== k && !this.chains.has(key));
      if (!victim) break;
      this.cache.delete(victim);
    }
  }
}

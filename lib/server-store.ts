// The service's indexes on disk: indexDir/<indexKey>/ (vector.index +
// id_map.yaml), loaded lazily by key and cached; writes to one index (add,
// remove, and the save after each) run one at a time on a per-key promise
// chain, while searches go on against the in-memory index.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IndexData } from './index-data';

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

export class IndexStore {
  readonly dir: string;
  private readonly maxCached: number;
  /** Loaded (or loading) indexes, least recently used first. */
  private readonly cache = new Map<string, Promise<IndexData>>();
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(dir: string, maxCached = 32) {
    this.dir = path.resolve(dir);
    this.maxCached = Math.max(1, maxCached);
  }

  /** Throws 422 for a malformed key. Keys are normalised to lower case. */
  checkKey(key: string): string {
    if (typeof key !== 'string' || !INDEX_KEY_RE.test(key))
      throw new IndexKeyError(422, `indexKey: ${JSON.stringify(key)} is not an index key (a UUID returned by /shitu-index-build)`);
    return key.toLowerCase();
  }

  pathOf(key: string): string {
    return path.join(this.dir, this.checkKey(key));
  }

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
    if (!fs.existsSync(path.join(dir, 'vector.index'))) throw new IndexKeyError(404, `indexKey: no index ${k}`);
    p = IndexData.load(dir);
    this.remember(k, p);
    p.catch(() => {
      if (this.cache.get(k) === p) this.cache.delete(k);
    });
    return p;
  }

  /** Saves a new index under a fresh key and caches it. */
  async create(index: IndexData): Promise<string> {
    const k = this.newKey();
    await index.save(path.join(this.dir, k));
    this.remember(k, Promise.resolve(index));
    return k;
  }

  /**
   * Runs `f(index)` then saves the index, after every earlier write to the same
   * key. If the change or the save fails, the cached copy is dropped so the next
   * request reloads the last saved state.
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
        if (!(e as { keepCache?: boolean }).keepCache) this.cache.delete(k);
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

  /** Resolves when every queued write has finished. */
  async settled(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
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

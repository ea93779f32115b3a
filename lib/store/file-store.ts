// The embedded default index store: indexDir/<indexKey>/ = vector.index +
// id_map.yaml (+ shitu-generation.json), loaded lazily by key and cached.
// Any number of processes may share the directory (two `shitu serve`, the CLI
// beside a server): a write to one index runs under that index's lock file
// (indexDir/.locks/<indexKey>.lock, lib/store/file/file-lock.ts), first
// reloads the index if another process saved it since it was loaded, and
// saves the next generation (lib/store/file/generation.ts), checking right
// before its swap that it still holds the lock and that nobody saved meanwhile.
// Within a process, writes to one index also run one at a time on a per-key
// promise chain, while searches go on against the in-memory index. Every read
// checks (one stat) whether another process saved the index since, and
// reloads it then.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../errors';
import { IndexData } from '../vector-index/index-data';
import { recoverInterruptedSave, saveInProgress } from '../vector-index/index-dir';
import { AppendOptions, byNewest, checkIndexKey, checkStoredLabels, IdMapEntries, noIndex, IndexListEntry, IndexStore, INDEX_KEY_RE, LoadedIndex, WriteOptions } from './index-store';
import { acquireFileLock, HeldLock, removeDeadLocks } from './file/file-lock';
import { Generation, GENERATION_FILE, nextGeneration, readGeneration, savedState, stampAfter } from './file/generation';
import { FileIdempotencyKeys } from './idempotency/file-keys';
import type { IdempotencyKeys, IdempotentWrite } from './idempotency/keys';

/** An index as loaded: the saved state it reflects (see savedState) and its generation. */
interface Loaded {
  index: IndexData;
  state: string | undefined;
  generation: Generation;
}

/** How often a load retries when a save by another process swapped the directory while it read. */
const LOAD_TRIES = 5;

export class FileIndexStore implements IndexStore {
  readonly dir: string;
  private readonly maxCached: number;
  /** Loaded (or loading) indexes, least recently used first. */
  private readonly cache = new Map<string, Promise<Loaded>>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private idempotencyKeys?: FileIdempotencyKeys;
  private tidied?: Promise<void>;

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
    return (await this.loaded(this.checkKey(key))).index;
  }

  /**
   * The cached index if it is still the saved one (one stat), else a reload:
   * another process saved it since. While a write of this process is under way
   * the in-memory copy is the newer one and is served as it is.
   */
  private async loaded(k: string, writing = false): Promise<Loaded> {
    const p = this.cache.get(k);
    if (p) {
      this.cache.delete(k); // refresh its LRU position
      this.cache.set(k, p);
      if (this.chains.has(k) && !writing) return p;
      const l = await p;
      // A writer, under the index's lock, also compares the generation: identical-looking files cannot fool it.
      if ((await savedState(path.join(this.dir, k))) === l.state && (!writing || (await readGeneration(path.join(this.dir, k))).generation === l.generation.generation)) return l;
      if (this.cache.get(k) !== p) return this.cache.get(k) ?? this.load(k);
    }
    return this.load(k);
  }

  private load(k: string): Promise<Loaded> {
    const dir = path.join(this.dir, k);
    const p = (async (): Promise<Loaded> => {
      for (let attempt = 0; ; attempt++) {
        const state = await savedState(dir);
        if (state === undefined) {
          // A save without an atomic exchange may be between its two renames (or died there).
          if (attempt < LOAD_TRIES && !fs.existsSync(dir) && (saveInProgress(dir) || (await recoverInterruptedSave(dir)))) {
            await new Promise((r) => setTimeout(r, 5 * (attempt + 1)));
            continue;
          }
          throw noIndex(k);
        }
        const index = await IndexData.load(dir);
        const generation = await readGeneration(dir);
        // The same save before and after the reads: the generation belongs to the index read.
        if ((await savedState(dir)) === state || attempt >= LOAD_TRIES) return { index, state, generation };
      }
    })();
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

  /** Saves a new index under a fresh key (or replaces the index at `key`) and caches it. */
  async create(index: IndexData, key?: string, o: WriteOptions = {}): Promise<string> {
    const k = key === undefined ? this.newKey() : this.checkKey(key);
    checkStoredLabels(index.idMapEntries.map(([, label]) => label));
    await this.serialised(k, () => this.locked(k, async (lock) => {
      const generation = await readGeneration(path.join(this.dir, k));
      await this.saveLocked(k, index, generation, lock, o.idempotency);
    }));
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
    }, o.idempotency);
  }

  async remove(key: string, ids: number[], o: WriteOptions = {}): Promise<IdMapEntries> {
    return this.write(key, async (index) => {
      await index.remove(ids);
      return index.idMapEntries;
    }, o.idempotency);
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
   * key (in this process, and in any process: under the index's lock, on the
   * latest saved state). If the change or the save fails, the cached copy is
   * dropped so the next request reloads the last saved state (unknown ids
   * change nothing: kept).
   */
  write<T>(key: string, f: (index: IndexData) => Promise<T>, idempotency?: IdempotentWrite): Promise<T> {
    const k = this.checkKey(key);
    return this.serialised(k, () => this.locked(k, async (lock) => {
      const l = await this.loaded(k, true);
      try {
        const r = await f(l.index);
        await this.saveLocked(k, l.index, l.generation, lock, idempotency);
        return r;
      } catch (e) {
        const unchanged = (e as { keepCache?: boolean }).keepCache || (e instanceof ShituError && e.code === 'ERR_INDEX_ID');
        if (!unchanged && this.cache.get(k) !== undefined) this.cache.delete(k);
        throw e;
      }
    }));
  }

  /**
   * Saves `index` at `k` as the generation after `prev`, holding `lock`: right
   * before the swap, the lock must still be this writer's and the saved
   * generation still `prev` (else another writer saved meanwhile and this one
   * is fenced off), and an idempotent write's claim still its own. The claim's
   * token is marked in the save itself; its answer is recorded right after.
   */
  private async saveLocked(k: string, index: IndexData, prev: Generation, lock: HeldLock, w?: IdempotentWrite): Promise<void> {
    const dir = path.join(this.dir, k);
    const mark = w && { token: w.claim.token, until: w.claim.expiresAt };
    const fenced = (why: string) => new ShituError('ERR_STORE_UNAVAILABLE', `index ${k}: ${why}; nothing written, retry`);
    await index.save(dir, {
      files: { [GENERATION_FILE]: nextGeneration(prev, mark) },
      beforeSwap: async (tmp) => {
        if (!(await lock.stillHeld())) throw fenced('this writer lost the index lock');
        await stampAfter(dir, tmp);
        if ((await readGeneration(dir)).generation !== prev.generation) throw fenced('another writer saved the index meanwhile');
        if (w?.claim.stillHeld && !(await w.claim.stillHeld()))
          throw new ShituError('ERR_IDEMPOTENCY_IN_FLIGHT', `Idempotency-Key ${JSON.stringify(w.claim.key)}: the key was taken over by a retry while this request ran (nothing written by this one)`);
      },
    });
    if (w) w.committed = true;
    const generation = await readGeneration(dir);
    this.remember(k, Promise.resolve({ index, state: await savedState(dir), generation }));
    if (w) {
      const answer = w.answer(index.idMapEntries);
      try {
        await w.claim.complete(answer);
        w.recorded = true;
      } catch {
        // The write is saved: failing it now would invite a second one. Its mark in
        // the save lets a retry learn that it happened ('unanswered').
      }
    }
  }

  /** `f` after every earlier write of this process to `k`. */
  private serialised<T>(k: string, f: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(k) ?? Promise.resolve();
    const p = prev.then(f, f);
    const tail = p.then(() => undefined, () => undefined);
    this.chains.set(k, tail);
    tail.then(() => {
      if (this.chains.get(k) === tail) this.chains.delete(k);
    });
    return p;
  }

  /** `f` holding the index's lock file, shared with every process on the directory. */
  private async locked<T>(k: string, f: (lock: HeldLock) => Promise<T>): Promise<T> {
    // Once per store: the locks of indexes no one wrote since their writer died.
    await (this.tidied ??= removeDeadLocks(path.join(this.dir, '.locks')).then(() => undefined, () => undefined));
    const lock = await acquireFileLock(path.join(this.dir, '.locks', `${k}.lock`));
    try {
      return await f(lock);
    } finally {
      await lock.release();
    }
  }

  /** Idempotency keys beside the indexes (lib/store/idempotency/file-keys.ts), shared by every process on the directory. */
  idempotency(): IdempotencyKeys {
    return this.idempotencyKeys ??= new FileIdempotencyKeys(this.dir, async (target, token) => {
      if (!INDEX_KEY_RE.test(target)) return false;
      return (await readGeneration(path.join(this.dir, target.toLowerCase()))).writes.some((w) => w.token === token);
    });
  }

  async loadedIndexes(): Promise<LoadedIndex[]> {
    const pending = Symbol('pending');
    const out: LoadedIndex[] = [];
    for (const [k, p] of this.cache) {
      // An already-resolved promise wins the race against the sentinel: only loaded indexes count.
      const index = await Promise.race([p, Promise.resolve(pending)]).catch(() => pending);
      if (index !== pending) out.push({ indexKey: k, count: (index as Loaded).index.count });
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

  private remember(k: string, p: Promise<Loaded>) {
    this.cache.set(k, p);
    while (this.cache.size > this.maxCached) {
      // Evict the least recently used index that has no write in progress.
      const victim = [...this.cache.keys()].find((key) => key !== k && !this.chains.has(key));
      if (!victim) break;
      this.cache.delete(victim);
    }
  }
}

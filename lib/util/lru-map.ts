// The least-recently-used map both index stores keep their in-process copies
// in (lib/store/file-store.ts, lib/store/postgres/index-cache.ts). A Map keeps
// insertion order, so "most recent" is "re-inserted last". Not the lru-cache
// package: its eviction cannot skip an entry that is busy (an index with a write
// under way must stay, whatever its age), and a store needs no TTL or sizing.
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`LruMap: max must be at least 1 (got ${max})`);
  }

  get size(): number { return this.map.size; }

  /** The value without touching its place in the order. */
  peek(k: K): V | undefined { return this.map.get(k); }

  /** The value, made the most recently used. */
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  has(k: K): boolean { return this.map.has(k); }

  delete(k: K): boolean { return this.map.delete(k); }

  keys(): IterableIterator<K> { return this.map.keys(); }

  [Symbol.iterator](): IterableIterator<[K, V]> { return this.map[Symbol.iterator](); }

  /**
   * Sets `k` as the most recently used, then evicts the least recently used
   * entries over `max`, never `k` itself nor one that `busy` says is in use
   * (then the map stays over `max` until those are free).
   */
  set(k: K, v: V, busy: (key: K) => boolean = () => false): void {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.max) {
      let victim: K | undefined;
      for (const key of this.map.keys()) if (key !== k && !busy(key)) { victim = key; break; }
      if (victim === undefined) break;
      this.map.delete(victim);
    }
  }
}

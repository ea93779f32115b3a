// Index ownership kept in this process only: for index stores that keep none
// of their own and have no directory (a store instance given to createServer).
import type { IndexOwnership, OwnerReservation } from './index-store';

/** Ownership kept in this process only (stores without a directory or an ownership of their own). */
export class MemoryOwnership implements IndexOwnership {
  private readonly owners = new Map<string, string>();

  async reserve(owner: string, indexKey: string, max?: number): Promise<OwnerReservation | { ok: false; held: number }> {
    // Counted and recorded without an await in between: atomic in one process.
    if (max !== undefined) {
      let n = 0;
      for (const who of this.owners.values()) if (who === owner) n++;
      if (n >= max) return { ok: false, held: n };
    }
    this.owners.set(indexKey, owner);
    return { ok: true, commit: async () => undefined, release: async () => { this.owners.delete(indexKey); } };
  }

  async ownerOf(indexKey: string): Promise<string | undefined> {
    return this.owners.get(indexKey);
  }
}

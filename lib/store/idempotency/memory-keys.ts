// Idempotency keys kept in this process only: for index stores that keep none
// of their own (a store instance given to createServer). A retry that reaches
// another process, or this one after a restart, is not recognised.
import * as crypto from 'node:crypto';
import { IDEMPOTENCY } from '../../limits';
import { ClaimOptions, ClaimResult, expired, IdempotencyKeys, IdempotencyScope, RecordedAnswer } from './keys';

interface Entry {
  requestHash: string;
  token: string;
  expiresAt: number;
  answer?: RecordedAnswer;
}

export class MemoryIdempotencyKeys implements IdempotencyKeys {
  private readonly entries = new Map<string, Entry>();
  private nextCleanup = 0;

  async claim(scope: IdempotencyScope, o: ClaimOptions): Promise<ClaimResult> {
    const now = Date.now();
    this.cleanup(now);
    const id = `${scope.owner}\0${scope.key}`;
    const e = this.entries.get(id);
    if (e && !expired(e.expiresAt, now)) {
      if (e.requestHash !== scope.requestHash) return { state: 'mismatch' };
      // In one process a running claim's holder is known alive: no lease needed.
      return e.answer ? { state: 'replay', answer: e.answer } : { state: 'in-flight' };
    }
    const mine: Entry = { requestHash: scope.requestHash, token: crypto.randomUUID(), expiresAt: now + o.ttlMs };
    this.entries.set(id, mine);
    return {
      state: 'claimed',
      claim: {
        owner: scope.owner, key: scope.key, token: mine.token, target: o.target, expiresAt: mine.expiresAt,
        complete: async (answer) => {
          if (this.entries.get(id) !== mine) return;
          mine.answer = answer;
          mine.expiresAt = Date.now() + o.ttlMs;
        },
        release: async () => { if (this.entries.get(id) === mine && !mine.answer) this.entries.delete(id); },
      },
    };
  }

  /** Expired entries, at most once per IDEMPOTENCY.cleanupEveryMs and cleanupBatch at a time (Map order: oldest claim first). */
  private cleanup(now: number): void {
    if (now < this.nextCleanup) return;
    this.nextCleanup = now + IDEMPOTENCY.cleanupEveryMs;
    let n = 0;
    for (const [id, e] of this.entries) {
      if (n++ >= IDEMPOTENCY.cleanupBatch) break;
      if (expired(e.expiresAt, now)) this.entries.delete(id);
    }
  }
}

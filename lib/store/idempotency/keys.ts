// Idempotency keys as the index stores keep them: a client's key for one write,
// the request it stands for (a SHA-256), and the answer that write gave, so that
// a retry of the same request gets that answer again instead of a second write.
// Each store keeps them where its indexes are (PostgreSQL: ./pg-keys.ts, shared
// by every replica; a directory: ./file-keys.ts; else ./memory-keys.ts) and
// records the answer with the write itself where it can (see IdempotentWrite).
import type { IdMapEntries } from '../../vector-index/index-data';

/** One write's key: whose (the API key's name, or "anonymous"), the client's key, and the request it names. */
export interface IdempotencyScope {
  owner: string;
  key: string;
  /** SHA-256 (hex) of the route and the canonical request body. */
  requestHash: string;
}

/** What a write answered: the HTTP status and the JSON body, byte for byte. */
export interface RecordedAnswer {
  status: number;
  body: string;
}

/** A key taken by a request that is about to write. */
export interface IdempotencyClaim {
  readonly owner: string;
  readonly key: string;
  /** This claim's own token: a claim taken over after its holder vanished has another. */
  readonly token: string;
  /** The index the write goes to (a build's fresh key), where the store needs it to find a write that committed unanswered. */
  readonly target?: string;
  /** Epoch ms: when the key's record expires unless answered (an answer is then kept ttlMs from its recording). */
  readonly expiresAt: number;
  /** Records the answer where the store could not record it with the write (or after a write without a store). */
  complete(answer: RecordedAnswer): Promise<void>;
  /** Frees the key: the request failed and wrote nothing (a retry writes again). */
  release(): Promise<void>;
  /** Whether the claim is still this request's (not taken over): checked by the file store right before its save becomes visible. */
  stillHeld?(): Promise<boolean>;
}

export type ClaimResult =
  | { state: 'claimed'; claim: IdempotencyClaim }
  | { state: 'replay'; answer: RecordedAnswer }
  /** The key was used for another request (another route or body). */
  | { state: 'mismatch' }
  /** The key's first request is still running. */
  | { state: 'in-flight' }
  /**
   * The key's first request wrote (its mark is in the index's save) but its
   * process died before recording the answer: the caller answers from the
   * index as it is now (`claim.target`) and completes the claim with that.
   */
  | { state: 'unanswered'; claim: IdempotencyClaim };

export interface ClaimOptions {
  /** How long the recorded answer is kept, from when it is recorded (a claim never answered: from the claim). */
  ttlMs: number;
  /** How long a claim counts as running without its holder being known alive (see IDEMPOTENCY.leaseMs). */
  leaseMs: number;
  /** The index the write goes to, when known before the write (add, remove, and a build's chosen key). */
  target?: string;
}

export interface IdempotencyKeys {
  /** Takes the key for a request, or says why not (a recorded answer to replay, another request, one running). */
  claim(scope: IdempotencyScope, o: ClaimOptions): Promise<ClaimResult>;
  /** Stops timers (a store's close does it for its own). */
  close?(): void;
}

/**
 * The `idempotency` option of IndexStore.create / append / remove: the claim
 * taken for the write and how to answer it. A store that can (PostgreSQL)
 * records `answer(idMap)` in the write's own transaction, so a write whose
 * commit reached the database has its answer recorded, whatever happens to the
 * process afterwards; the file store marks the write's claim in the index's
 * own save and records the answer right after it.
 */
export interface IdempotentWrite {
  claim: IdempotencyClaim;
  /** The answer to record, from the index's id map after the write. */
  answer(idMap: IdMapEntries): RecordedAnswer;
  /** Set by the store once the write is durable: from then on the claim must not be released. */
  committed?: boolean;
  /** Set by the store once the answer is recorded too. */
  recorded?: boolean;
}

/** Whether a recorded claim is past its expiry. */
export const expired = (expiresAt: number, now = Date.now()): boolean => expiresAt <= now;

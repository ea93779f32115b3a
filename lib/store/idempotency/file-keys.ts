// Idempotency keys beside a directory store's indexes, shared by every process
// on the directory:
//   indexDir/.idempotency/<digest>.json   one key's record (digest: SHA-256 of
//                                          owner and key), replaced atomically
//                                          (temporary file + rename); its mtime
//                                          is its expiry, so pruning reads no file
//   indexDir/.idempotency/<digest>.lock   held while the record is read and
//                                          changed (lib/store/file/file-lock.ts)
// A running claim names its process: on the same host a claim whose process
// died is taken over at once; from another host, once its lease has passed.
// The write itself marks its claim's token in the index's own save
// (lib/store/file/generation.ts), then records the answer here: a process that
// died between the two leaves a claim whose write is known to have happened,
// and the retry is told so ('unanswered') instead of writing again.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IDEMPOTENCY } from '../../limits';
import { acquireFileLock, pidAlive, THIS_HOST } from '../file/file-lock';
import { ClaimOptions, ClaimResult, expired, IdempotencyClaim, IdempotencyKeys, IdempotencyScope, RecordedAnswer } from './keys';

interface Record {
  requestHash: string;
  token: string;
  pid: number;
  host: string;
  /** Epoch ms: until when a running claim holds without its holder known alive. */
  leaseUntil: number;
  expiresAt: number;
  target?: string;
  status?: number;
  body?: string;
}

const TMP = /\.tmp-(\d+)-[0-9a-f]+$/;
const STALE_LOCK = /\.lock\.stale-(\d+)-[0-9a-f]+$/;

export class FileIdempotencyKeys implements IdempotencyKeys {
  readonly dir: string;
  private nextPrune = 0;

  /** `committed(target, token)`: whether the index `target`'s save carries the write of that claim. */
  constructor(indexDir: string, private readonly committed: (target: string, token: string) => Promise<boolean>) {
    this.dir = path.join(path.resolve(indexDir), '.idempotency');
  }

  async claim(scope: IdempotencyScope, o: ClaimOptions): Promise<ClaimResult> {
    this.prune(o.ttlMs);
    const file = this.fileOf(scope);
    return this.locked(file, async () => {
      const now = Date.now();
      const rec = await readRecord(file);
      const fresh = (): Record => ({
        requestHash: scope.requestHash, token: crypto.randomUUID(), pid: process.pid, host: THIS_HOST,
        leaseUntil: now + o.leaseMs, expiresAt: now + o.ttlMs, target: o.target,
      });
      if (rec && !expired(rec.expiresAt, now)) {
        if (rec.requestHash !== scope.requestHash) return { state: 'mismatch' as const };
        if (rec.body !== undefined && rec.status !== undefined) return { state: 'replay' as const, answer: { status: rec.status, body: rec.body } };
        const holderAlive = rec.host === THIS_HOST ? pidAlive(rec.pid) : true;
        if (holderAlive && now < rec.leaseUntil) return { state: 'in-flight' as const };
        // The holder is gone: did its write make it into the index?
        if (rec.target && (await this.committed(rec.target, rec.token))) {
          const mine = { ...fresh(), target: rec.target, expiresAt: rec.expiresAt };
          await writeRecord(file, mine);
          return { state: 'unanswered' as const, claim: this.claimOf(scope, file, mine, o.ttlMs) };
        }
      }
      const mine = fresh();
      await writeRecord(file, mine);
      return { state: 'claimed' as const, claim: this.claimOf(scope, file, mine, o.ttlMs) };
    });
  }

  private claimOf(scope: IdempotencyScope, file: string, mine: Record, ttlMs: number): IdempotencyClaim {
    const ours = (r: Record | undefined) => r?.token === mine.token;
    return {
      owner: scope.owner, key: scope.key, token: mine.token, target: mine.target, expiresAt: mine.expiresAt,
      stillHeld: async () => ours(await readRecord(file)),
      complete: (a: RecordedAnswer) => this.locked(file, async () => {
        if (ours(await readRecord(file))) await writeRecord(file, { ...mine, status: a.status, body: a.body, expiresAt: Date.now() + ttlMs });
      }),
      release: () => this.locked(file, async () => {
        const r = await readRecord(file);
        if (ours(r) && r!.body === undefined) await fs.promises.rm(file, { force: true });
      }),
    };
  }

  private fileOf(scope: IdempotencyScope): string {
    const digest = crypto.createHash('sha256').update(scope.owner, 'utf8').update('\0').update(scope.key, 'utf8').digest('hex');
    return path.join(this.dir, `${digest}.json`);
  }

  private async locked<T>(file: string, f: () => Promise<T>): Promise<T> {
    const lock = await acquireFileLock(file.replace(/\.json$/, '.lock'));
    try {
      return await f();
    } finally {
      await lock.release();
    }
  }

  /**
   * Expired records (mtime = expiry, no file read) and what killed processes
   * left (temporary files, moved-aside locks), at most once per interval and
   * cleanupBatch names per pass; not awaited by the claim.
   */
  private prune(ttlMs: number): void {
    const now = Date.now();
    if (now < this.nextPrune) return;
    this.nextPrune = now + Math.min(IDEMPOTENCY.cleanupEveryMs, ttlMs);
    this.pruneNow().catch(() => { this.nextPrune = 0; });
  }

  /** One pruning pass (also for tests and the soak bench); returns the names removed. */
  async pruneNow(): Promise<string[]> {
    const names = await fs.promises.readdir(this.dir).catch(() => [] as string[]);
    const removed: string[] = [];
    for (const name of names.slice(0, IDEMPOTENCY.cleanupBatch)) {
      const full = path.join(this.dir, name);
      const leftover = TMP.exec(name) ?? STALE_LOCK.exec(name);
      if (leftover) {
        if (!pidAlive(Number(leftover[1]))) { await fs.promises.rm(full, { force: true }); removed.push(name); }
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const st = await fs.promises.stat(full).catch(() => undefined);
      if (!st || st.mtimeMs > Date.now()) continue;
      await this.locked(full, async () => {
        const r = await readRecord(full);
        if (r && expired(r.expiresAt)) { await fs.promises.rm(full, { force: true }); removed.push(name); }
      });
    }
    return removed;
  }
}

async function readRecord(file: string): Promise<Record | undefined> {
  try {
    return JSON.parse(await fs.promises.readFile(file, 'utf8')) as Record;
  } catch {
    return undefined; // none (a torn record cannot exist: records are renamed into place)
  }
}

async function writeRecord(file: string, r: Record): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  try {
    await fs.promises.writeFile(tmp, JSON.stringify(r));
    // Its expiry as its mtime: pruning needs a stat, not a read.
    const at = new Date(r.expiresAt);
    await fs.promises.utimes(tmp, at, at);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

// Index ownership kept beside a directory store (see IndexOwnership in
// lib/store/index-store.ts; its PostgreSQL twin: lib/store/postgres/pg-ownership.ts), atomic across every process that shares the
// directory:
//   indexDir/.owners/<indexKey>             the owner's name (the API key's name)
//   indexDir/.owners/.by-owner/<id>/<key>   one file per index the owner holds (id:
//                                           a digest of the name): empty once built,
//                                           {pid, host, at} while the build runs
//   indexDir/.owners/.lock                  created with O_EXCL while a reservation
//                                           counts and writes (the only critical section)
// An owner's count reads only its own folder: its indexes that exist, plus
// builds still in progress (their process alive, within
// OWNERSHIP_LIMITS.reservationTtlMs). Entries whose index is gone and whose
// build is over no longer count and are removed.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ShituError } from '../../errors';
import { OWNERSHIP_LIMITS } from '../../limits';
import type { IndexOwnership, OwnerReservation } from '../index-store';
import { INDEX_KEY_RE } from '../index-store';

interface Pending {
  pid: number;
  host: string;
  at: number;
}

const HOST = os.hostname();

/** Whether a process of this host is alive (EPERM: alive, another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exists = (p: string) => fs.promises.access(p).then(() => true, () => false);

export class FileOwnership implements IndexOwnership {
  private readonly dir: string;
  private readonly byOwner: string;
  private readonly lockFile: string;
  private readonly indexDir: string;
  /** Records written before .by-owner existed, indexed once per directory (under the lock). */

  constructor(indexDir: string) {
    this.indexDir = path.resolve(indexDir);
    this.dir = path.join(this.indexDir, '.owners');
    this.byOwner = path.join(this.dir, '.by-owner');
    this.lockFile = path.join(this.dir, '.lock');
  }

  async reserve(owner: string, indexKey: string, max?: number): Promise<OwnerReservation | { ok: false; held: number }> {
    const mine = this.ownerDir(owner);
    const entry = path.join(mine, indexKey);
    await fs.promises.mkdir(mine, { recursive: true });
    const write = async () => {
      const p: Pending = { pid: process.pid, host: HOST, at: Date.now() };
      await fs.promises.writeFile(entry, JSON.stringify(p), { flag: 'wx' });
      await this.writeRecord(indexKey, owner);
    };
    if (max === undefined) await write();
    else {
      const held = await this.locked(async () => {
        const n = await this.count(mine);
        if (n >= max) return n;
        await write();
        return undefined;
      });
      if (held !== undefined) return { ok: false, held };
    }
    return {
      ok: true,
      // The index exists now and counts by itself: the entry says built.
      commit: () => fs.promises.writeFile(entry, ''),
      // The entry first: that frees the slot; the record only names the owner.
      release: async () => {
        await fs.promises.rm(entry, { force: true });
        await fs.promises.rm(path.join(this.dir, indexKey), { force: true });
      },
    };
  }

  async ownerOf(indexKey: string): Promise<string | undefined> {
    try {
      return await fs.promises.readFile(path.join(this.dir, indexKey), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private ownerDir(owner: string): string {
    return path.join(this.byOwner, crypto.createHash('sha256').update(owner, 'utf8').digest('hex').slice(0, 32));
  }

  private async writeRecord(indexKey: string, owner: string): Promise<void> {
    const tmp = path.join(this.dir, `.${indexKey}.${crypto.randomUUID()}.tmp`);
    await fs.promises.writeFile(tmp, owner);
    await fs.promises.rename(tmp, path.join(this.dir, indexKey));
  }

  /** The indexes an owner holds: built (the index exists) or being built. Called under the lock. */
  private async count(mine: string): Promise<number> {
    let n = 0;
    for (const key of await fs.promises.readdir(mine)) {
      if (!INDEX_KEY_RE.test(key)) continue;
      if ((await exists(path.join(this.indexDir, key, 'vector.index'))) || (await this.building(path.join(mine, key)))) n++;
      else await fs.promises.rm(path.join(mine, key), { force: true }); // gone, or a build that died
    }
    return n;
  }

  private async building(entry: string): Promise<boolean> {
    let p: Pending;
    try {
      const text = await fs.promises.readFile(entry, 'utf8');
      if (!text) return false; // built, and the index is gone since
      p = JSON.parse(text) as Pending;
    } catch {
      return false;
    }
    if (Date.now() - p.at > OWNERSHIP_LIMITS.reservationTtlMs) return false;
    return p.host !== HOST || alive(p.pid);
  }

  /**
   * Runs `f` holding indexDir/.owners/.lock (O_EXCL). A lock whose holder died
   * (same host) or that is older than lockStaleMs is taken over; the takeover
   * itself is serialised by a second O_EXCL file, so two processes cannot both
   * remove a stale lock and one of them the other's fresh one.
   */
  private async locked<T>(f: () => Promise<T>): Promise<T> {
    const token = `${process.pid} ${HOST} ${crypto.randomUUID()}`;
    const deadline = Date.now() + OWNERSHIP_LIMITS.lockWaitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.promises.writeFile(this.lockFile, token, { flag: 'wx' });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      if (Date.now() > deadline) throw new ShituError('ERR_STORE_UNAVAILABLE', 'the index ownership lock stays taken; retry later');
      await this.breakIfStale();
      await sleep(Math.min(50, 1 + attempt) * (0.5 + Math.random()));
    }
    try {
      return await f();
    } finally {
      const now = await fs.promises.readFile(this.lockFile, 'utf8').catch(() => '');
      if (now === token) await fs.promises.rm(this.lockFile, { force: true });
    }
  }

  private async breakIfStale(): Promise<void> {
    const seen = await this.staleLock();
    if (seen === undefined) return;
    const breaker = `${this.lockFile}.break`;
    try {
      await fs.promises.writeFile(breaker, String(process.pid), { flag: 'wx' });
    } catch {
      // Another process is taking it over; a breaker left by a crash is removed once old.
      const st = await fs.promises.stat(breaker).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > OWNERSHIP_LIMITS.lockStaleMs) await fs.promises.rm(breaker, { force: true });
      return;
    }
    try {
      // Still the lock judged stale (not a fresh one taken meanwhile)?
      if ((await fs.promises.readFile(this.lockFile, 'utf8').catch(() => undefined)) === seen) await fs.promises.rm(this.lockFile, { force: true });
    } finally {
      await fs.promises.rm(breaker, { force: true });
    }
  }

  /** The lock's content when its holder is gone, else undefined. */
  private async staleLock(): Promise<string | undefined> {
    const [content, st] = await Promise.all([
      fs.promises.readFile(this.lockFile, 'utf8').catch(() => undefined),
      fs.promises.stat(this.lockFile).catch(() => undefined),
    ]);
    if (content === undefined || !st) return undefined;
    const [pid, host] = content.split(' ');
    if (host === HOST && !alive(Number(pid))) return content;
    return Date.now() - st.mtimeMs > OWNERSHIP_LIMITS.lockStaleMs ? content : undefined;
  }
}

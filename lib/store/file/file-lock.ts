// A lock file shared by every process on a directory: the file store's
// per-index write lock, and the lock around one idempotency key's record.
//
// Written here rather than taken from proper-lockfile: that library judges a
// lock stale by its age alone (at least 2 s, its holder refreshing it), so a
// writer killed with SIGKILL blocks the next one for seconds, and it has no
// notion of "the holder on this host is dead". Here the lock file names its
// holder (pid, host, a random token): on the same host a lock whose pid is gone
// is taken over at once; one held from another host (a shared file system) once
// its holder has not refreshed it (mtime) for FILE_LOCK.staleMs.
//
// Taking over renames the stale file away (only one process can rename a
// given file) and checks that what it moved is the lock it judged stale; if a
// fresh lock slipped in between, it is linked back (unless yet another took
// its place). Whoever then holds a lock still checks it before writing
// (stillHeld), and the file store also checks the index's generation there,
// so a writer that lost its lock does not overwrite a newer save.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ShituError } from '../../errors';
import { FILE_LOCK } from '../../limits';

const HOST = os.hostname();

/** Whether a process of this host is alive (EPERM: alive, another user's). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a holder named as "pid host" is gone for sure (same host, process not alive). */
export function holderDead(pid: number, host: string): boolean {
  return host === HOST && !pidAlive(pid);
}

export const THIS_HOST = HOST;

export interface HeldLock {
  /** Still this holder's (not taken over as stale): checked right before a write becomes visible. */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

export interface LockOptions {
  waitMs?: number;
  staleMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes the lock file `file` (its directory is created), waiting up to waitMs; ERR_STORE_UNAVAILABLE past it. */
export async function acquireFileLock(file: string, o: LockOptions = {}): Promise<HeldLock> {
  const waitMs = o.waitMs ?? FILE_LOCK.waitMs;
  const staleMs = o.staleMs ?? FILE_LOCK.staleMs;
  const content = `${process.pid} ${HOST} ${crypto.randomUUID()}`;
  const deadline = Date.now() + waitMs;
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.promises.writeFile(file, content, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (await breakIfStale(file, staleMs)) continue;
    if (Date.now() > deadline) throw new ShituError('ERR_STORE_UNAVAILABLE', `the lock ${path.basename(file)} stays taken; retry later`);
    await sleep(Math.min(20, 1 + attempt) * (0.5 + Math.random()));
  }
  // Refreshed so that processes on other hosts do not judge it stale while held.
  const refresh = setInterval(() => {
    const now = new Date();
    fs.promises.utimes(file, now, now).catch(() => undefined);
  }, Math.max(100, Math.floor(staleMs / 3)));
  refresh.unref();
  let released = false;
  return {
    stillHeld: async () => !released && (await fs.promises.readFile(file, 'utf8').catch(() => '')) === content,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(refresh);
      if ((await fs.promises.readFile(file, 'utf8').catch(() => '')) === content) await fs.promises.rm(file, { force: true });
    },
  };
}

/** Whether the lock at `file` is stale: its content then, else undefined. */
async function staleContent(file: string, staleMs: number): Promise<string | undefined> {
  const [content, st] = await Promise.all([
    fs.promises.readFile(file, 'utf8').catch(() => undefined),
    fs.promises.stat(file).catch(() => undefined),
  ]);
  if (content === undefined || !st) return undefined;
  const [pid, host] = content.split(' ');
  if (host === HOST) return pidAlive(Number(pid)) ? undefined : content;
  return Date.now() - st.mtimeMs > staleMs ? content : undefined;
}

/** Moves a stale lock out of the way; true when the next attempt may find the name free. */
async function breakIfStale(file: string, staleMs: number): Promise<boolean> {
  const seen = await staleContent(file, staleMs);
  if (seen === undefined) return false;
  const aside = `${file}.stale-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  try {
    await fs.promises.rename(file, aside);
  } catch {
    return true; // another process moved it first
  }
  try {
    const moved = await fs.promises.readFile(aside, 'utf8').catch(() => undefined);
    // A fresh lock taken between our read and our rename: give it back unless another took the name meanwhile.
    if (moved !== undefined && moved !== seen) await fs.promises.link(aside, file).catch(() => undefined);
  } finally {
    await fs.promises.rm(aside, { force: true });
  }
  return true;
}

/**
 * Removes, in the folder `dir`, lock files whose holder died on this host and
 * what killed takeovers moved aside (a process's start-up tidying; locks are
 * also taken over one by one when next wanted). Returns the names removed.
 */
export async function removeDeadLocks(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.promises.readdir(dir).catch(() => [] as string[])) {
    const full = path.join(dir, name);
    const aside = /\.stale-(\d+)-[0-9a-f]+$/.exec(name);
    if (aside) {
      if (!pidAlive(Number(aside[1]))) { await fs.promises.rm(full, { force: true }); removed.push(name); }
    } else if (name.endsWith('.lock')) {
      const content = await fs.promises.readFile(full, 'utf8').catch(() => undefined);
      const [pid, host] = (content ?? '').split(' ');
      if (content !== undefined && holderDead(Number(pid), host) && (await breakIfStale(full, FILE_LOCK.staleMs))) removed.push(name);
    }
  }
  return removed;
}

// Replacing an index directory so that, at every instant, a reader of the path
// sees the complete old or the complete new index, and a kill -9 at any moment
// leaves one of them; plus finding and removing what crashed saves left behind.
//
// A save writes a sibling `.{name}.tmp-{pid}-{random}` (mode 0777 & ~umask, like
// any mkdir), then swaps it with the target in one step (Linux renameat2
// RENAME_EXCHANGE, native/js_path_exchange.cc) and deletes what the swap left
// at the temporary name (the old index). Where the file system cannot exchange,
// it renames the target to `.{name}.old-{pid}-{random}` and the new one into
// place; a kill -9 between those renames leaves no target, and the next load
// (recoverInterruptedSave) puts the old one back. The directory stays a real
// directory, so PaddleX reads and writes it like its own.
//
// Leftovers: temporary and old directories whose process is gone (pid not
// alive), and those of this process that no save is using; cleaned on the next
// save or load of the same index and by removeSaveLeftovers(dir) at server start.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../native/loader';

const LEFTOVER = /^\.(.+)\.(tmp|old)-(\d+)-([0-9a-f]+)$/;

/** Temporary directories that saves of this process are writing. */
const inFlight = new Set<string>();

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A fresh temporary directory beside `target`, created with the process umask. */
export async function makeTempDir(target: string): Promise<string> {
  const dir = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  await fs.promises.mkdir(dir, { mode: 0o777 });
  inFlight.add(dir);
  return dir;
}

/** Forgets a temporary directory and removes it if it is still there. */
export async function dropTempDir(dir: string): Promise<void> {
  inFlight.delete(dir);
  await fs.promises.rm(dir, { recursive: true, force: true });
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some file systems cannot sync a directory; the rename itself is still atomic.
  } finally {
    await fh?.close();
  }
}

/**
 * Puts the complete directory `tmp` at `target`. Afterwards `tmp` is gone or
 * holds the previous index (the caller removes it with dropTempDir).
 */
export async function swapIntoPlace(tmp: string, target: string): Promise<void> {
  await fsyncDir(tmp);
  const st = await fs.promises.lstat(target).catch(() => undefined);
  if (!st) {
    try {
      await fs.promises.rename(tmp, target);
      await fsyncDir(path.dirname(target));
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e; // another save created it meanwhile: exchange
    }
  } else if (!st.isDirectory()) {
    throw Object.assign(new Error(`${target} exists and is not a directory`), { code: 'ENOTDIR' });
  }
  if (await native.exchangePaths(tmp, target)) {
    await fsyncDir(path.dirname(target));
    return;
  }
  const old = path.join(path.dirname(target), `.${path.basename(target)}.old-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  inFlight.add(old);
  try {
    await fs.promises.rename(target, old);
    try {
      await fs.promises.rename(tmp, target);
    } catch (e) {
      await fs.promises.rename(old, target);
      throw e;
    }
    await fsyncDir(path.dirname(target));
    await fs.promises.rm(old, { recursive: true, force: true });
  } finally {
    inFlight.delete(old);
  }
}

/**
 * If `target` is missing because a fallback save died between its two renames,
 * puts the previous index back. Returns whether it did.
 */
export async function recoverInterruptedSave(target: string): Promise<boolean> {
  if (fs.existsSync(target)) return false;
  const base = path.basename(target);
  const entries = await fs.promises.readdir(path.dirname(target)).catch(() => [] as string[]);
  for (const name of entries) {
    const m = LEFTOVER.exec(name);
    if (!m || m[1] !== base || m[2] !== 'old' || pidAlive(Number(m[3]))) continue;
    try {
      await fs.promises.rename(path.join(path.dirname(target), name), target);
      return true;
    } catch {
      // Another process recovered it first, or the directory is read-only.
    }
  }
  return false;
}

/** Whether a save of `target` may be between its two fallback renames right now. */
export function saveInProgress(target: string): boolean {
  const base = path.basename(target);
  let entries: string[];
  try {
    entries = fs.readdirSync(path.dirname(target));
  } catch {
    return false;
  }
  return entries.some((name) => {
    const m = LEFTOVER.exec(name);
    return !!m && m[1] === base && m[2] === 'old' && pidAlive(Number(m[3]));
  });
}

/**
 * Removes what crashed saves left in `parent`: for the index `only` (a name in
 * `parent`), or for every index there. Best effort: a read-only directory is
 * left as it is. Returns the paths removed.
 */
export async function removeSaveLeftovers(parent: string, only?: string): Promise<string[]> {
  const removed: string[] = [];
  const entries = await fs.promises.readdir(parent).catch(() => [] as string[]);
  const present = new Set(entries);
  for (const name of entries) {
    const full = path.join(parent, name);
    let base: string | undefined;
    let stale = false;
    const m = LEFTOVER.exec(name);
    if (m) {
      base = m[1];
      // An old copy is the recovery source while its target is missing.
      stale = !inFlight.has(full) && !(m[3] !== String(process.pid) && pidAlive(Number(m[3]))) && (m[2] === 'tmp' || present.has(base));
    }
    if (!base || !stale || (only !== undefined && base !== only)) continue;
    try {
      await fs.promises.rm(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // Read-only or already gone.
    }
  }
  return removed;
}

/** SHA-256 of a file, streamed (hex). */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** SHA-256 of bytes in memory, hashed in slices so a large index does not hold the event loop. */
export async function sha256Bytes(buf: Uint8Array): Promise<string> {
  const h = crypto.createHash('sha256');
  const slice = 8 << 20;
  for (let i = 0; i < buf.length; i += slice) {
    h.update(buf.subarray(i, Math.min(buf.length, i + slice)));
    if (i + slice < buf.length) await new Promise<void>((r) => setImmediate(r));
  }
  return h.digest('hex');
}

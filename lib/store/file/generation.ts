// An index directory's generation (the file store, lib/store/file-store.ts): a
// number written with every save, inside the directory that the save swaps into
// place, so it always belongs to the files beside it. A writer, holding the
// index's lock, reads it, checks right before its swap that it has not moved
// (else another writer saved meanwhile: fenced off) and saves the next one.
// It also marks the idempotent writes that went into the saves (their claim
// tokens), so that a write whose process died before recording its answer is
// known to have happened (lib/store/idempotency/file-keys.ts).
// Readers in other processes notice a new save by the vector file's identity
// (stat: inode, times, size): no read of the file. Inodes are reused and file
// times come from a coarse clock (a few ms), so two saves could look alike:
// each save sets its vector file's mtime past the previous save's
// (stampAfter), which makes every save's identity new. Writers compare the
// generation itself.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IDEMPOTENCY } from '../../limits';

export const GENERATION_FILE = 'shitu-generation.json';
const VECTOR_FILE = 'vector.index';

export interface WriteMark {
  token: string;
  /** Epoch ms after which the mark may be dropped (its key has expired). */
  until: number;
}

export interface Generation {
  generation: number;
  writes: WriteMark[];
}

/** The generation of the index at `dir`: 0 for an index saved without one (older versions, PaddleX). */
export async function readGeneration(dir: string): Promise<Generation> {
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(dir, GENERATION_FILE), 'utf8');
  } catch {
    return { generation: 0, writes: [] };
  }
  try {
    const g = JSON.parse(text) as Partial<Generation>;
    const generation = Number.isSafeInteger(g.generation) ? Number(g.generation) : 0;
    const writes = Array.isArray(g.writes) ? g.writes.filter((w) => typeof w?.token === 'string' && typeof w?.until === 'number') : [];
    return { generation, writes };
  } catch {
    return { generation: 0, writes: [] };
  }
}

/** The file content of the save after `prev`: generation + 1, expired marks dropped, `mark` added (newest kept). */
export function nextGeneration(prev: Generation, mark?: WriteMark, now = Date.now()): string {
  const writes = prev.writes.filter((w) => w.until > now);
  if (mark) writes.push(mark);
  const next: Generation = { generation: prev.generation + 1, writes: writes.slice(-IDEMPOTENCY.marksPerIndex) };
  return JSON.stringify(next);
}

/** The identity of the index's saved state at `dir` (undefined: no index there now). */
export async function savedState(dir: string): Promise<string | undefined> {
  const st = await fs.promises.stat(path.join(dir, VECTOR_FILE), { bigint: true }).catch(() => undefined);
  return st ? `${st.ino}:${st.mtimeNs}:${st.ctimeNs}:${st.size}` : undefined;
}

/** Sets the vector file in `tmp` (a save about to replace `dir`) to an mtime later than the saved one's: no two saves look alike. */
export async function stampAfter(dir: string, tmp: string): Promise<void> {
  const prev = await fs.promises.stat(path.join(dir, VECTOR_FILE), { bigint: true }).catch(() => undefined);
  const file = path.join(tmp, VECTOR_FILE);
  const mine = await fs.promises.stat(file, { bigint: true });
  if (!prev || mine.mtimeNs > prev.mtimeNs) return;
  // A microsecond past the previous save (a double holds today's epoch seconds to about 0.24 us).
  const at = Number(prev.mtimeNs / 1000n + 1n) / 1e6;
  await fs.promises.utimes(file, at, at);
}

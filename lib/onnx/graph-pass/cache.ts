// The graph pass's output kept on disk, so that only the first load of a model
// pays for the rewrite (~0.4 s for the 4 MB PicoDet stand-in; a cache hit reads
// and hashes the files, ~20 ms). An entry is keyed by the SHA-256 of the model
// file and GRAPH_PASS_VERSION, and holds a header (magic + SHA-256 of the
// payload) before the rewritten model: a truncated or corrupt entry fails the
// check, is ignored and written again. Entries are written to a temporary file
// and renamed into place, so a reader never sees half of one.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { debug } from '../../util/debug-log';
import { GRAPH_PASS_VERSION, GraphPassReport, runGraphPass } from './index';

const MAGIC = Buffer.from('SHITUGP1', 'latin1');
const HEADER = MAGIC.length + 32;

export interface OptimizedModel {
  /** The rewritten model (a view into the cache entry when read from it). */
  bytes: Buffer;
  /** 'hit': read from cacheFile; 'written': rewritten now and stored in cacheFile; 'uncached': rewritten now, no directory was writable. */
  cache: 'hit' | 'written' | 'uncached';
  cacheFile?: string;
  /** Only when rewritten now. */
  report?: GraphPassReport;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** The cache entry's file name for a model's bytes. */
export function cacheEntryName(modelBytes: Uint8Array): string {
  return `${sha256(modelBytes).toString('hex')}.v${GRAPH_PASS_VERSION}.onnx`;
}

/** The payload of a valid entry, or undefined (missing, unreadable, truncated, corrupt). */
function readEntry(file: string): Buffer | undefined {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (b.length <= HEADER || !b.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = b.subarray(HEADER);
  return sha256(payload).equals(b.subarray(MAGIC.length, HEADER)) ? payload : undefined;
}

function writeEntry(dir: string, name: string, payload: Buffer): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([MAGIC, sha256(payload), payload]));
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return file;
}

/**
 * The graph-pass rewrite of the model in `modelFile`, from the first of
 * `cacheDirs` that holds a valid entry, else computed and stored in the first
 * that can be written. null when the pass leaves the model alone or cannot read
 * it (the caller then loads the file as it is, and ONNX Runtime reports what is
 * wrong with it).
 */
export function optimizedModel(modelFile: string, cacheDirs: readonly string[]): OptimizedModel | null {
  let source: Buffer;
  try {
    source = fs.readFileSync(modelFile);
  } catch {
    return null;
  }
  const name = cacheEntryName(source);
  for (const dir of cacheDirs) {
    const hit = readEntry(path.join(dir, name));
    if (hit) return { bytes: hit, cache: 'hit', cacheFile: path.join(dir, name) };
  }
  let result: ReturnType<typeof runGraphPass>;
  try {
    result = runGraphPass(source, modelFile);
  } catch (e) {
    debug('graph pass: %s left as it is: %s', modelFile, (e as Error).message);
    return null;
  }
  if (!result) return null;
  debug('graph pass: %s: %d -> %d nodes, %j%s', modelFile, result.report.nodesBefore, result.report.nodesAfter, result.report.applied,
    result.report.skipped.length ? `; skipped: ${result.report.skipped.join('; ')}` : '');
  for (const dir of cacheDirs) {
    try {
      const file = writeEntry(dir, name, result.bytes);
      return { bytes: result.bytes, cache: 'written', cacheFile: file, report: result.report };
    } catch (e) {
      debug('graph pass: cannot cache in %s: %s', dir, (e as Error).message);
    }
  }
  return { bytes: result.bytes, cache: 'uncached', report: result.report };
}

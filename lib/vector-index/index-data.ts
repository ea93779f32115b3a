// A gallery index: FAISS vectors (native VectorIndex) plus the id -> label map,
// saved as a directory (vector.index + id_map.yaml) in PaddleX's layout, with
// no gap (lib/vector-index/index-dir.ts), and loaded only when ids, vectors and labels agree.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { callNative, callNativeSync, ShituError } from '../errors';
import { formatIdMapYaml, parseIdMapYaml } from './formats/id-map-yaml';
import { dropTempDir, makeTempDir, recoverInterruptedSave, removeSaveLeftovers, saveInProgress, sha256Bytes, sha256File, swapIntoPlace } from './index-dir';
import type { NativeVectorIndex } from '../native/binding';
import { native } from '../native/loader';
import { readPaddleClasIdMap } from './formats/pickle';
import { RwLock } from './rw-lock';
import { debug } from '../util/debug-log';

export { DEFAULT_INDEX_SHAPE, INDEX_TYPES, METRIC_TYPES, SERVICE_INDEX_SHAPE, TOMBSTONE_INDEX_TYPES } from './index-types';
export type { IndexType, MetricType } from './index-types';
import { DEFAULT_INDEX_SHAPE, IndexType, INDEX_TYPES, MetricType, METRIC_TYPES, TOMBSTONE_INDEX_TYPES } from './index-types';

/** Internal: a native cancel flag (lib/native/cancel-flag.ts); a cancelled add or remove changes nothing. */
export interface NativeCancel { cancel?: Int32Array }

export interface SearchHit {
  id: number;
  label: string;
  score: number;
}

const META_FILE = 'id_map.yaml';
const VECTOR_FILE = 'vector.index';
/** How often a load re-reads a directory whose two files belong to different saves (a save swapped them meanwhile). */
const LOAD_RETRIES = 20;

export class IndexData {
  /** @internal */ readonly native: NativeVectorIndex;
  private readonly idMap: Map<number, string>;
  private nextIdValue: number;
  /** @internal */ readonly lock = new RwLock();
  readonly indexType: IndexType | string;
  readonly metricType: MetricType;
  /** What load noticed and accepted, e.g. PaddleX's listless IVF (its vectors were never stored). */
  readonly warnings: string[] = [];

  /** @internal */
  constructor(nativeIndex: NativeVectorIndex, idMap: Map<number, string>, nextId?: number) {
    this.native = nativeIndex;
    this.idMap = idMap;
    this.indexType = nativeIndex.type();
    this.metricType = nativeIndex.metric();
    let max = -1;
    for (const id of idMap.keys()) if (id > max) max = id;
    this.nextIdValue = Math.max(nextId ?? 0, max + 1);
  }

  /** An empty index of the given dimension. */
  static create(dim: number, indexType: IndexType = DEFAULT_INDEX_SHAPE.indexType, metricType: MetricType = DEFAULT_INDEX_SHAPE.metricType): IndexData {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`dimension must be a positive integer, got ${dim}`);
    if (!INDEX_TYPES.includes(indexType)) throw new RangeError(`indexType must be one of ${INDEX_TYPES.join(', ')}, got ${JSON.stringify(indexType)}`);
    if (!METRIC_TYPES.includes(metricType)) throw new RangeError(`metricType must be one of ${METRIC_TYPES.join(', ')}, got ${JSON.stringify(metricType)}`);
    return new IndexData(callNativeSync(() => new native.VectorIndex(dim, indexType, metricType)), new Map());
  }

  get dim(): number { return this.native.dim(); }
  /** Live vectors (removed ones excluded). */
  get count(): number { return this.native.count(); }
  /** The id that the next added vector gets: ids are never reused. */
  get nextId(): number { return this.nextIdValue; }
  get idMapEntries(): IdMapEntries { return [...this.idMap.entries()].sort((a, b) => a[0] - b[0]); }
  labelOf(id: number): string | undefined { return this.idMap.get(id); }
  get labels(): string[] { return [...new Set(this.idMap.values())]; }

  /** Adds L2-normalised vectors (n*dim) with their labels; returns the new ids. */
  async add(vectors: Float32Array, labels: string[], o: NativeCancel = {}): Promise<number[]> {
    if (vectors.length !== labels.length * this.dim)
      throw new ShituError('ERR_INDEX_DIM', `${labels.length} labels need ${labels.length * this.dim} values of dimension ${this.dim}, got ${vectors.length}`);
    return this.lock.write(async () => {
      const ids = labels.map((_, i) => this.nextIdValue + i);
      await callNative(() => this.native.add(vectors, BigInt64Array.from(ids.map(BigInt)), { cancel: o.cancel }));
      ids.forEach((id, i) => this.idMap.set(id, labels[i]));
      this.nextIdValue += ids.length;
      return ids;
    });
  }

  /** Removes ids; unknown ids are an error and nothing is removed. HNSW32 (and HNSW32_SQ8) mark them deleted (compacted on save). */
  async remove(ids: number[], o: NativeCancel = {}): Promise<number> {
    for (const id of ids) if (!Number.isInteger(id)) throw new TypeError(`ids must be integers, got ${JSON.stringify(id)}`);
    return this.lock.write(async () => {
      const unknown = [...new Set(ids)].filter((id) => !this.idMap.has(id));
      if (unknown.length) throw new ShituError('ERR_INDEX_ID', `unknown id(s), nothing removed: ${unknown.join(', ')}`, { details: unknown });
      const unique = [...new Set(ids)];
      const n = await callNative(() => this.native.remove(BigInt64Array.from(unique.map(BigInt)), TOMBSTONE_INDEX_TYPES.includes(String(this.indexType)), { cancel: o.cancel }));
      unique.forEach((id) => this.idMap.delete(id));
      return n as number;
    });
  }

  /** k nearest gallery entries for each of nq query vectors. */
  async search(queries: Float32Array, k: number): Promise<SearchHit[][]> {
    if (queries.length % this.dim !== 0)
      throw new ShituError('ERR_INDEX_DIM', `query length ${queries.length} is not a multiple of the index dimension ${this.dim}`);
    const nq = queries.length / this.dim;
    const r = await this.lock.read(() => callNative(() => this.native.search(queries, k)));
    const out: SearchHit[][] = [];
    for (let q = 0; q < nq; q++) {
      const row: SearchHit[] = [];
      for (let j = 0; j < k; j++) {
        const id = Number(r.ids[q * k + j]);
        const label = this.idMap.get(id);
        if (id < 0 || label === undefined) continue;
        row.push({ id, label, score: r.scores[q * k + j] });
      }
      out.push(row);
    }
    return out;
  }

  /**
   * Saves as a directory: vector.index (FAISS) + id_map.yaml (id_map, index_type,
   * metric_type as PaddleX writes them, plus next_id and vector_sha256). Written
   * to a temporary sibling, then swapped into place in one step: a concurrent
   * load sees the old or the new index, a crash or a full disk leaves the old
   * one. Files and directories follow the process umask.
   */
  async save(dir: string, o: SaveOptions = {}): Promise<void> {
    // A symlinked index directory is replaced where it really is; the link stays.
    const target = await fs.promises.realpath(path.resolve(dir)).catch(() => path.resolve(dir));
    await this.lock.write(async () => {
      if (this.native.tombstones() > 0) await callNative(() => this.native.compact());
      let tmp: string | undefined;
      try {
        await fs.promises.mkdir(path.dirname(target), { recursive: true });
        await removeSaveLeftovers(path.dirname(target), path.basename(target));
        tmp = await makeTempDir(target);
        const vec = path.join(tmp, VECTOR_FILE);
        await callNative(() => this.native.writeFile(vec));
        const text = formatIdMapYaml({
          idMap: this.idMap,
          indexType: String(this.indexType),
          metricType: this.metricType,
          nextId: this.nextIdValue,
          vectorSha256: await sha256File(vec),
        });
        await writeSynced(path.join(tmp, META_FILE), text);
        for (const [name, body] of Object.entries(o.files ?? {})) await writeSynced(path.join(tmp, name), body);
        await o.beforeSwap?.(tmp);
        await swapIntoPlace(tmp, target);
        debug('index saved: %d vector(s) to %s', this.count, target);
      } catch (e) {
        if (e instanceof ShituError) throw e;
        throw new ShituError('ERR_INDEX_IO', `cannot save index to ${target}: ${(e as Error).message}`, { cause: e });
      } finally {
        if (tmp) await dropTempDir(tmp).catch(() => undefined);
      }
    });
  }

  /**
   * Loads a saved index: this package's / PaddleX's layout (vector.index +
   * id_map.yaml or index_info.yaml) or PaddleClas's (vector.index + id_map.pkl).
   * A vector.index with a matching vector_sha256 loads directly; any other
   * (PaddleX, PaddleClas, hand-edited) first passes a structural check. Ids that
   * do not match the labels are ERR_INDEX_CORRUPT, naming what is wrong.
   */
  static async load(dir: string): Promise<IndexData> {
    const d = path.resolve(dir);
    for (let attempt = 0; ; attempt++) {
      if (!fs.existsSync(d)) {
        // A save of this index may be between its two fallback renames (or died there).
        if (attempt < LOAD_RETRIES && saveInProgress(d)) { await sleep(5 * (attempt + 1)); continue; }
        if (await recoverInterruptedSave(d)) continue;
        throw new ShituError('ERR_INDEX_IO', `no index at ${d}: vector.index is missing`);
      }
      await removeSaveLeftovers(path.dirname(d), path.basename(d));
      const r = await loadOnce(d);
      if (r !== 'mixed') {
        debug('index loaded: %d vector(s) from %s', r.count, d);
        return r;
      }
      if (attempt >= LOAD_RETRIES) {
        throw new ShituError('ERR_INDEX_CORRUPT', `index ${d}: ${VECTOR_FILE} does not match the vector_sha256 of its ${META_FILE}`);
      }
      await sleep(5 * (attempt + 1));
    }
  }

  /** Removes what crashed saves left under `parent` (every index there); for a server's index directory at start. */
  static removeSaveLeftovers(parent: string): Promise<string[]> {
    return removeSaveLeftovers(path.resolve(parent));
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** id -> label, in id order. */
export type IdMapEntries = Array<[number, string]>;

async function writeSynced(file: string, text: string): Promise<void> {
  const fh = await fs.promises.open(file, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Options of IndexData.save, for stores that keep more beside an index (lib/store/file-store.ts). */
export interface SaveOptions {
  /** More files written into the directory, swapped into place with the index itself. */
  files?: Record<string, string>;
  /** Runs once everything is written into the temporary directory `tmp`, right before the swap; throwing abandons the save (the old index stays). */
  beforeSwap?: (tmp: string) => Promise<void>;
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ShituError('ERR_INDEX_IO', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

// One attempt: 'mixed' when the labels and the vectors come from different saves.
async function loadOnce(d: string): Promise<IndexData | 'mixed'> {
  const vecFile = path.join(d, VECTOR_FILE);
  const bytes = await readIfExists(vecFile);
  if (!bytes) throw new ShituError('ERR_INDEX_IO', `no index at ${d}: vector.index is missing`);
  const meta = await readIdMap(d);
  let trusted = false;
  if (meta.vectorSha256 !== undefined) {
    if ((await sha256Bytes(bytes)) !== meta.vectorSha256) {
      // A save may have swapped the directory between the two reads: then the
      // files read now differ from those read before. If not, the file is bad.
      const [metaNow, vecNow] = await Promise.all([readIfExists(path.join(d, meta.file)), readIfExists(vecFile)]);
      if (metaNow && vecNow && metaNow.equals(meta.raw) && vecNow.equals(bytes)) {
        throw new ShituError('ERR_INDEX_CORRUPT', `index ${d}: ${VECTOR_FILE} does not match the vector_sha256 of its ${META_FILE}`);
      }
      return 'mixed';
    }
    trusted = true;
  }
  const nat = await callNative(() => native.VectorIndex.fromBuffer(bytes, { verify: !trusted })).catch((e: ShituError) => {
    throw new ShituError(e.code, `${vecFile}: ${e.message}`, { cause: e });
  });
  const index = new IndexData(nat, meta.idMap, meta.nextId);
  const count: number = nat.count();
  const ids = Array.from(nat.ids() as BigInt64Array, Number);
  const unlabelled = ids.filter((id) => !meta.idMap.has(id));
  if (count !== meta.idMap.size || unlabelled.length) {
    const inIndex = new Set(ids);
    const vectorless = [...meta.idMap.keys()].filter((id) => !inIndex.has(id));
    const parts = [`index ${d} holds ${count} vectors but its ${meta.file} has ${meta.idMap.size} labels`];
    if (unlabelled.length) parts.push(`${unlabelled.length} vector id(s) have no label (first: ${unlabelled.slice(0, 5).join(', ')})`);
    if (vectorless.length) parts.push(`${vectorless.length} label id(s) have no vector (first: ${vectorless.slice(0, 5).join(', ')})`);
    throw new ShituError('ERR_INDEX_CORRUPT', parts.join('; '));
  }
  const dropped: number = nat.droppedVectors();
  if (dropped > 0) {
    index.warnings.push(`PaddleX built this IVF with no lists (fewer than 8 images): FAISS stored none of its ${dropped} vectors, so searches find nothing; rebuild it`);
  }
  return index;
}

async function readIdMap(d: string): Promise<{ idMap: Map<number, string>; nextId?: number; vectorSha256?: string; file: string; raw: Buffer }> {
  for (const f of [META_FILE, 'index_info.yaml']) {
    const p = path.join(d, f);
    const buf = await readIfExists(p);
    if (!buf) continue;
    const parsed = await parseIdMapYaml(buf.toString('utf8'), p);
    return { ...parsed, file: f, raw: buf };
  }
  const pkl = path.join(d, 'id_map.pkl');
  const buf = await readIfExists(pkl);
  if (buf) return { idMap: readPaddleClasIdMap(buf, pkl), file: 'id_map.pkl', raw: buf };
  throw new ShituError('ERR_INDEX_LABELS', `index ${d} has no id_map.yaml, index_info.yaml or id_map.pkl`);
}

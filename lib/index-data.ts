// A gallery index: FAISS vectors (native VectorIndex) plus the id -> label map,
// saved as a directory (vector.index + id_map.yaml), atomically.
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { callNative, callNativeSync, ShituError } from './errors';
import { native } from './native';
import { readPickle } from './pickle';
import { RwLock } from './rw-lock';

export type IndexType = 'HNSW32' | 'IVF' | 'Flat';
export type MetricType = 'IP' | 'L2';
export const INDEX_TYPES: readonly IndexType[] = ['HNSW32', 'IVF', 'Flat'];
export const METRIC_TYPES: readonly MetricType[] = ['IP', 'L2'];

export interface SearchHit {
  id: number;
  label: string;
  score: number;
}

const META_FILE = 'id_map.yaml';

export class IndexData {
  /** @internal */ readonly native: any;
  private readonly idMap: Map<number, string>;
  private nextIdValue: number;
  /** @internal */ readonly lock = new RwLock();
  readonly indexType: IndexType | string;
  readonly metricType: MetricType;

  /** @internal */
  constructor(nativeIndex: any, idMap: Map<number, string>, nextId?: number) {
    this.native = nativeIndex;
    this.idMap = idMap;
    this.indexType = nativeIndex.type();
    this.metricType = nativeIndex.metric();
    let max = -1;
    for (const id of idMap.keys()) if (id > max) max = id;
    this.nextIdValue = Math.max(nextId ?? 0, max + 1);
  }

  /** An empty index of the given dimension. */
  static create(dim: number, indexType: IndexType = 'HNSW32', metricType: MetricType = 'IP'): IndexData {
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
  get idMapEntries(): Array<[number, string]> { return [...this.idMap.entries()].sort((a, b) => a[0] - b[0]); }
  labelOf(id: number): string | undefined { return this.idMap.get(id); }
  get labels(): string[] { return [...new Set(this.idMap.values())]; }

  /** Higher is better for IP; lower is better for L2 (squared distances). */
  isBetter(a: number, b: number): boolean { return this.metricType === 'L2' ? a < b : a > b; }
  /** Whether a top-1 score passes rec_threshold, following the metric's direction. */
  passes(score: number, threshold: number): boolean {
    return this.metricType === 'L2' ? score <= threshold : score >= threshold;
  }

  /** Adds L2-normalised vectors (n*dim) with their labels; returns the new ids. */
  async add(vectors: Float32Array, labels: string[]): Promise<number[]> {
    if (vectors.length !== labels.length * this.dim)
      throw new ShituError('ERR_INDEX_DIM', `${labels.length} labels need ${labels.length * this.dim} values of dimension ${this.dim}, got ${vectors.length}`);
    return this.lock.write(async () => {
      const ids = labels.map((_, i) => this.nextIdValue + i);
      await callNative(() => this.native.add(vectors, BigInt64Array.from(ids.map(BigInt))));
      ids.forEach((id, i) => this.idMap.set(id, labels[i]));
      this.nextIdValue += ids.length;
      return ids;
    });
  }

  /** Removes ids; unknown ids are an error and nothing is removed. HNSW32 marks them deleted (compacted on save). */
  async remove(ids: number[]): Promise<number> {
    for (const id of ids) if (!Number.isInteger(id)) throw new TypeError(`ids must be integers, got ${JSON.stringify(id)}`);
    return this.lock.write(async () => {
      const unknown = [...new Set(ids)].filter((id) => !this.idMap.has(id));
      if (unknown.length) throw new ShituError('ERR_INDEX_ID', `unknown id(s), nothing removed: ${unknown.join(', ')}`, { details: unknown });
      const unique = [...new Set(ids)];
      const n = await callNative(() => this.native.remove(BigInt64Array.from(unique.map(BigInt)), this.indexType === 'HNSW32'));
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
   * metric_type, next_id). Written to a temporary sibling directory first, then
   * renamed into place: a crash or a full disk leaves the old index intact.
   */
  async save(dir: string): Promise<void> {
    const target = path.resolve(dir);
    await this.lock.write(async () => {
      if (this.native.tombstones() > 0) await callNative(() => this.native.compact());
      const parent = path.dirname(target);
      let tmp: string | undefined;
      try {
        await fs.promises.mkdir(parent, { recursive: true });
        const dir = (tmp = await fs.promises.mkdtemp(path.join(parent, `.${path.basename(target)}.tmp-`)));
        await callNative(() => this.native.writeFile(path.join(dir, 'vector.index')));
        const meta = {
          index_type: this.indexType,
          metric_type: this.metricType,
          next_id: this.nextIdValue,
          id_map: Object.fromEntries(this.idMapEntries),
        };
        const fh = await fs.promises.open(path.join(dir, META_FILE), 'w');
        try {
          await fh.writeFile(YAML.stringify(meta));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await swapDirectory(dir, target);
      } catch (e) {
        if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
        if (e instanceof ShituError) throw e;
        throw new ShituError('ERR_INDEX_IO', `cannot save index to ${target}: ${(e as Error).message}`, { cause: e });
      }
    });
  }

  /**
   * Loads a saved index: this package's / PaddleX's layout (vector.index +
   * id_map.yaml or index_info.yaml) or PaddleClas's (vector.index + id_map.pkl).
   */
  static async load(dir: string): Promise<IndexData> {
    const d = path.resolve(dir);
    const vec = path.join(d, 'vector.index');
    if (!fs.existsSync(vec)) throw new ShituError('ERR_INDEX_IO', `no index at ${d}: vector.index is missing`);
    const { idMap, nextId } = readIdMap(d);
    const nat = await callNative(() => native.VectorIndex.readFile(vec));
    const index = new IndexData(nat, idMap, nextId);
    const count = nat.count();
    if (count !== idMap.size)
      throw new ShituError('ERR_INDEX_LABELS', `index ${d} holds ${count} vectors but its id map has ${idMap.size} labels`);
    const ids: BigInt64Array = nat.ids();
    const missing = Array.from(ids, Number).filter((id) => !idMap.has(id));
    if (missing.length)
      throw new ShituError('ERR_INDEX_LABELS', `index ${d}: ${missing.length} vector id(s) have no label (first: ${missing.slice(0, 5).join(', ')})`);
    return index;
  }
}

function readIdMap(d: string): { idMap: Map<number, string>; nextId?: number } {
  for (const f of [META_FILE, 'index_info.yaml']) {
    const p = path.join(d, f);
    if (!fs.existsSync(p)) continue;
    let doc: any;
    try {
      doc = YAML.parse(fs.readFileSync(p, 'utf8'));
    } catch (e) {
      throw new ShituError('ERR_INDEX_IO', `${p} is not valid YAML: ${(e as Error).message}`);
    }
    const raw = doc?.id_map;
    if (!raw || typeof raw !== 'object') throw new ShituError('ERR_INDEX_LABELS', `${p} has no id_map`);
    const idMap = new Map<number, string>();
    for (const [k, v] of Object.entries(raw)) {
      const id = Number(k);
      if (!Number.isInteger(id)) throw new ShituError('ERR_INDEX_LABELS', `${p}: id ${JSON.stringify(k)} is not an integer`);
      idMap.set(id, String(v));
    }
    return { idMap, nextId: typeof doc.next_id === 'number' ? doc.next_id : undefined };
  }
  const pkl = path.join(d, 'id_map.pkl');
  if (fs.existsSync(pkl)) {
    const m = readPickle(fs.readFileSync(pkl), pkl);
    if (!(m instanceof Map)) throw new ShituError('ERR_INDEX_LABELS', `${pkl} is not a dict`);
    const idMap = new Map<number, string>();
    for (const [k, v] of m) {
      // PaddleClas stores "relative/path.jpg\tlabel".
      const s = String(v);
      const tab = s.lastIndexOf('\t');
      idMap.set(Number(k), tab >= 0 ? s.slice(tab + 1) : s);
    }
    return { idMap };
  }
  throw new ShituError('ERR_INDEX_LABELS', `index ${d} has no id_map.yaml, index_info.yaml or id_map.pkl`);
}

/** Puts `tmp` at `target`, replacing an existing directory without a moment where neither exists on disk. */
async function swapDirectory(tmp: string, target: string): Promise<void> {
  let old: string | undefined;
  if (fs.existsSync(target)) {
    old = `${target}.old-${process.pid}-${Date.now()}`;
    await fs.promises.rename(target, old);
  }
  try {
    await fs.promises.rename(tmp, target);
  } catch (e) {
    if (old) await fs.promises.rename(old, target);
    throw e;
  }
  if (old) await fs.promises.rm(old, { recursive: true, force: true });
}

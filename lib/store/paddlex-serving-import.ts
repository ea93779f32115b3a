// PaddleX serving's stored indexes, read and written here as this package's
// index directories: `shitu import-paddlex-serving --from DIR --index-dir DIR`.
//
// PaddleX's PP-ShiTuV2 serving app keeps each index in its storage (by default
// FileSystemStorage on the directory `.index`) as one file named by its
// indexKey (a UUID), holding pickle.dumps((faiss.serialize_index(index),
// index_info)): the FAISS bytes as a numpy uint8 array and the dict index_type,
// metric_type, id_map. The import is one-time rather than reading in place
// because each request there re-reads and rewrites the whole pickle; here an
// index is a directory saved atomically with a checksum, loaded once and cached.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { callNative, ShituError } from '../errors';
import { IndexData } from '../vector-index/index-data';
import { native } from '../native/loader';
import { NdArray, readPickle } from '../vector-index/formats/pickle';
import { INDEX_KEY_RE } from './index-store';

/** One stored entry (the bytes of the file <storage>/<indexKey>) as an index. */
export async function readPaddleXServingEntry(bytes: Buffer, file: string): Promise<IndexData> {
  const tuple = readPickle(bytes, file);
  const bad = (what: string): never => { throw new ShituError('ERR_INDEX_CORRUPT', `${file}: ${what}`); };
  if (!Array.isArray(tuple) || tuple.length !== 2) bad('not the (index bytes, index_info) pair of PaddleX serving');
  const [arr, info] = tuple as [NdArray, Map<unknown, unknown>];
  if (typeof arr !== 'object' || arr === null || arr.kind !== 'ndarray' || arr.dtype.replace(/^\|/, '') !== 'u1') bad('the index is not a numpy uint8 array');
  if (!(info instanceof Map)) bad('index_info is not a dict');
  const rawMap = info.get('id_map');
  if (!(rawMap instanceof Map)) bad('index_info has no id_map dict');
  const idMap = new Map<number, string>();
  for (const [k, v] of rawMap as Map<unknown, unknown>) {
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0) bad(`id ${String(k)} is not a safe non-negative integer`);
    if (typeof v !== 'string') bad(`the label of id ${String(k)} is not a string`);
    idMap.set(k as number, v as string);
  }
  const nat = await callNative(() => native.VectorIndex.fromBuffer(arr.data, { verify: true })).catch((e: ShituError) => {
    throw new ShituError(e.code, `${file}: ${e.message}`, { cause: e });
  });
  const metric = info.get('metric_type');
  if (typeof metric === 'string' && metric !== nat.metric()) bad(`index_info says metric ${metric}, the FAISS index ${nat.metric()}`);
  const ids = Array.from(nat.ids() as BigInt64Array, Number);
  const unlabelled = ids.filter((id) => !idMap.has(id));
  if (ids.length !== idMap.size || unlabelled.length) bad(`${ids.length} vectors for ${idMap.size} labels (${unlabelled.length} vector ids without a label)`);
  return new IndexData(nat, idMap);
}

export interface ImportReport {
  imported: string[];
  skipped: Array<{ key: string; reason: string }>;
  failed: Array<{ key: string; code: string; message: string }>;
}

/**
 * Imports every entry of a PaddleX serving storage directory into `indexDir`
 * (indexDir/<indexKey>/, what `shitu serve --index-dir` reads). Existing
 * indexes are kept unless `overwrite`. Files that are not index keys are skipped.
 */
export async function importPaddleXServing(from: string, indexDir: string, options: { overwrite?: boolean } = {}): Promise<ImportReport> {
  const src = path.resolve(from);
  const report: ImportReport = { imported: [], skipped: [], failed: [] };
  let names: string[];
  try {
    names = (await fs.promises.readdir(src)).sort();
  } catch (e) {
    throw new ShituError('ERR_INDEX_IO', `cannot read PaddleX serving storage ${src}: ${(e as Error).message}`, { cause: e });
  }
  for (const name of names) {
    const file = path.join(src, name);
    if (!INDEX_KEY_RE.test(name) || !(await fs.promises.stat(file)).isFile()) {
      report.skipped.push({ key: name, reason: 'not an index key file' });
      continue;
    }
    const key = name.toLowerCase();
    const target = path.join(path.resolve(indexDir), key);
    if (!options.overwrite && fs.existsSync(target)) {
      report.skipped.push({ key, reason: 'already imported (use --overwrite)' });
      continue;
    }
    try {
      const index = await readPaddleXServingEntry(await fs.promises.readFile(file), file);
      await index.save(target);
      report.imported.push(key);
    } catch (e) {
      report.failed.push({ key, code: (e as ShituError).code ?? 'ERR_INTERNAL', message: (e as Error).message });
    }
  }
  return report;
}

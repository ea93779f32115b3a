// PaddleX's side of the index files, for the compatibility tests: its FAISS
// calls (test/helpers/paddlex-faiss.cc, compiled here against this machine's
// FAISS) and its YAML and pickle handling (real PyYAML and numpy in Debian's
// python3; scripts/setup.sh installs python3-yaml and python3-numpy).
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PYTHON } from './pyyaml';

const SOURCE = path.join(__dirname, 'paddlex-faiss.cc');

let binary: string | undefined;
/** The compiled harness (cached by source hash under the OS temp directory). */
export function paddlexFaiss(): string {
  if (binary) return binary;
  const hash = crypto.createHash('sha256').update(fs.readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const out = path.join(os.tmpdir(), `shitu-paddlex-faiss-${hash}`);
  if (!fs.existsSync(out)) {
    const tmp = `${out}.${process.pid}`;
    execFileSync('g++', ['-O1', '-std=c++17', '-fopenmp', SOURCE, '-o', tmp, '-lfaiss', '-lblas', '-llapack'], { stdio: 'inherit' });
    fs.renameSync(tmp, out);
  }
  return (binary = out);
}

export function faissOp(...args: string[]): any {
  return JSON.parse(execFileSync(paddlexFaiss(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Runs a FAISS operation expected to fail; returns its stderr. */
export function faissOpFails(...args: string[]): string {
  try {
    execFileSync(paddlexFaiss(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return String((e as { stderr?: string }).stderr);
  }
  throw new Error(`expected ${args[0]} to fail`);
}

export function writeFloats(file: string, v: Float32Array): string {
  fs.writeFileSync(file, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  return file;
}

/** PaddleX's search of `queries` (nq x d): row-major ids and scores. */
export function paddlexSearch(indexFile: string, queries: Float32Array, d: number, k: number, scratch: string) {
  const q = writeFloats(path.join(scratch, `q-${crypto.randomBytes(4).toString('hex')}.f32`), queries);
  return faissOp('search', indexFile, q, String(queries.length / d), String(k)) as { ntotal: number; ids: number[]; scores: number[] };
}

function python(script: string, ...args: string[]): string {
  return execFileSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

export function haveNumpy(): boolean {
  try {
    python('import numpy, yaml');
    return true;
  } catch {
    return false;
  }
}

/** PaddleClas's id_map.pkl: {np.int64(id): "path\tlabel"}, pickled as PaddleClas does. */
export function writePaddleClasIdMap(file: string, entries: Array<[number, string]>): void {
  const spec = `${file}.json`;
  fs.writeFileSync(spec, JSON.stringify(entries));
  python(`
import json, pickle, sys
import numpy as np
entries = json.load(open(sys.argv[1], encoding='utf-8'))
with open(sys.argv[2], 'wb') as f:
    pickle.dump({np.int64(k): v for k, v in entries}, f)
`, spec, file);
  fs.rmSync(spec);
}

/**
 * One entry of PaddleX serving's index storage (FileSystemStorage: the file
 * <directory>/<indexKey>): pickle.dumps((faiss.serialize_index(index), index_info)),
 * the index bytes being a numpy uint8 array. `protocol` as Python's pickle.
 */
export function writePaddleXServingEntry(file: string, indexFile: string, info: { index_type: string; metric_type: string; id_map: Record<string, string> }, protocol = 4): void {
  const spec = `${file}.json`;
  fs.writeFileSync(spec, JSON.stringify(info));
  python(`
import json, pickle, sys
import numpy as np
info = json.load(open(sys.argv[1], encoding='utf-8'))
info = {'index_type': info['index_type'], 'metric_type': info['metric_type'],
        'id_map': {int(k): str(v) for k, v in info['id_map'].items()}}
arr = np.frombuffer(open(sys.argv[2], 'rb').read(), dtype=np.uint8)
with open(sys.argv[3], 'wb') as f:
    f.write(pickle.dumps((arr, info), protocol=int(sys.argv[4])))
`, spec, indexFile, file, String(protocol));
  fs.rmSync(spec);
}

// PaddleX serving's stored indexes (pickle of (serialize_index bytes as numpy
// uint8, index_info), one file per indexKey) import into index directories
// that `shitu serve` reads; bad entries are reported with a code, good ones kept.
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { IndexData } from '../../lib/index';
import { readPaddleXServingEntry } from '../../lib/store/paddlex-serving-import';
import { FileIndexStore } from '../../lib/store/file-store';
import { faissOp, haveNumpy, writeFloats, writePaddleXServingEntry } from '../helpers/paddlex';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-pxserve-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
if (!haveNumpy()) throw new Error('python3 with PyYAML and numpy is needed (scripts/setup.sh installs them)');
const CLI = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');

const D = 12;
const n = 20;
const v = new Float32Array(n * D).map((_, i) => Math.sin(i * 1.7 + 0.3));
const labels = Array.from({ length: n }, (_, i) => (i % 3 ? `商品 ${i}` : `yes\t${i}`));

t.test('import-paddlex-serving: entries become index directories the service reads', async (t) => {
  const storage = path.join(tmp, '.index');
  fs.mkdirSync(storage);
  const indexFile = path.join(tmp, 'flat.index');
  // PaddleX serving builds Flat / IP (pp_shituv2.py) and stores serialize_index(index).
  faissOp('build', 'Flat', 'IP', writeFloats(path.join(tmp, 'v.f32'), v), String(n), String(D), indexFile);
  const info = { index_type: 'Flat', metric_type: 'IP', id_map: Object.fromEntries(labels.map((l, i) => [String(i), l])) };
  const keys = [crypto.randomUUID(), crypto.randomUUID()];
  writePaddleXServingEntry(path.join(storage, keys[0]), indexFile, info, 4);
  writePaddleXServingEntry(path.join(storage, keys[1]), indexFile, info, 5);
  const broken = crypto.randomUUID();
  fs.writeFileSync(path.join(storage, broken), fs.readFileSync(path.join(storage, keys[0])).subarray(0, 300));
  fs.writeFileSync(path.join(storage, 'README'), 'not an index');

  const indexDir = path.join(tmp, 'indexes');
  const r = await promisify(execFile)(process.execPath, [CLI, 'import-paddlex-serving', '--from', storage, '--index-dir', indexDir]).catch((e) => e);
  t.equal(r.code, 1, 'exit 1: one entry failed');
  t.match(r.stderr, new RegExp(`failed ${broken}: ERR_INDEX_CORRUPT`));
  t.match(r.stderr, /skipped README/);
  const store = new FileIndexStore(indexDir);
  for (const key of keys) {
    const index = await store.get(key);
    t.same(index.idMapEntries, labels.map((l, i) => [i, l]), `protocol ${key === keys[0] ? 4 : 5}: labels`);
    t.same((await index.search(v, 1)).map((h) => h[0].id), Array.from({ length: n }, (_, i) => i), 'each vector finds itself');
  }
  // Again: already imported, kept.
  const again = await promisify(execFile)(process.execPath, [CLI, 'import-paddlex-serving', '--from', storage, '--index-dir', indexDir]).catch((e) => e);
  t.match(again.stderr, new RegExp(`skipped ${keys[0]}: already imported`));
});

t.test('bad entries are coded errors', async (t) => {
  const good = path.join(tmp, 'good.pkl');
  const indexFile = path.join(tmp, 'flat2.index');
  faissOp('build', 'Flat', 'L2', writeFloats(path.join(tmp, 'v2.f32'), v), String(n), String(D), indexFile);
  writePaddleXServingEntry(good, indexFile, { index_type: 'Flat', metric_type: 'IP', id_map: { 0: 'a' } });
  await t.rejects(readPaddleXServingEntry(fs.readFileSync(good), 'e'), { code: 'ERR_INDEX_CORRUPT', message: /metric IP/ });
  await t.rejects(readPaddleXServingEntry(Buffer.from([0x80, 0x04, 0x4e, 0x2e]), 'e'), { code: 'ERR_INDEX_CORRUPT' });
  const loaded = await IndexData.load(path.join(tmp, 'indexes', fs.readdirSync(path.join(tmp, 'indexes')).find((f) => !f.startsWith('.'))!));
  t.equal(loaded.count, n);
});

// The single-field corruptions that once crashed, hung or exhausted
// memory in FAISS's own reader, generated here: each is ERR_INDEX_CORRUPT from
// the structural check (native/faiss_file_check.cc), before FAISS sees it.
// Plus the pickle and YAML bombs: bounded, coded.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { IndexData } from '../../lib/index';
import { native } from '../../lib/native/loader';
import { parseIdMapYaml } from '../../lib/vector-index/formats/id-map-yaml';
import { readPickle } from '../../lib/vector-index/formats/pickle';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-bombs-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const D = 8;

async function saved(type: string): Promise<Buffer> {
  const index = new native.VectorIndex(D, type, 'IP');
  await index.add(new Float32Array(40 * D).map((_, i) => Math.sin(i)), BigInt64Array.from({ length: 40 }, (_, i) => BigInt(i)));
  return index.toBuffer();
}

// Offsets of the HNSW scalars that follow its tables, in an IxM2 + IHNf file.
function hnswFields(b: Buffer) {
  let pos = 74; // IxM2 header (37) + IHNf fourcc + header (37)
  const skip = (elem: number) => { const n = Number(b.readBigUInt64LE(pos)); pos += 8 + n * elem; };
  skip(8); skip(4); skip(4); skip(8); skip(4);
  return { entryPoint: pos, maxLevel: pos + 4, efConstruction: pos + 8, efSearch: pos + 12, upperBeam: pos + 16 };
}

const patch = (b: Buffer, f: (c: Buffer) => void) => { const c = Buffer.from(b); f(c); return c; };

t.test('FAISS file bombs are ERR_INDEX_CORRUPT', async (t) => {
  const hnsw = await saved('HNSW32');
  const flat = await saved('Flat');
  const ivf = await saved('IVF');
  const h = hnswFields(hnsw);
  const idMapLen = (b: Buffer) => b.length - 40 * 8 - 8;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['outer ntotal = 2^31', patch(flat, (c) => c.writeBigInt64LE(1n << 31n, 8)), /id map has 40 ids for 2147483648 vectors|claims/],
    ['id-map length 0', patch(flat, (c) => c.writeBigUInt64LE(0n, idMapLen(c))), /id map has 0 ids/],
    ['id-map length 2^40', patch(flat, (c) => c.writeBigUInt64LE(1n << 40n, idMapLen(c))), /claims/],
    ['HNSW entry_point = 2^24', patch(hnsw, (c) => c.writeInt32LE(1 << 24, h.entryPoint)), /entry point 16777216/],
    ['HNSW max_level = 127', patch(hnsw, (c) => c.writeInt32LE(127, h.maxLevel)), /max level 127/],
    ['HNSW upper_beam = -5', patch(hnsw, (c) => c.writeInt32LE(-5, h.upperBeam)), /upper_beam -5/],
    ['HNSW efSearch = 2^31-1', patch(hnsw, (c) => c.writeInt32LE(0x7fffffff, h.efSearch)), /efSearch 2147483647/],
    ['HNSW efConstruction = 0', patch(hnsw, (c) => c.writeInt32LE(0, h.efConstruction)), /efConstruction 0/],
    ['metric_type = -1', patch(flat, (c) => c.writeInt32LE(-1, 33)), /unknown metric type -1/],
    ['inner metric_type = -1', patch(hnsw, (c) => c.writeInt32LE(-1, 70)), /unknown metric type -1/],
    ['HNSW levels size 2^40', patch(hnsw, (c) => { const p = 74 + 8 + Number(c.readBigUInt64LE(74)) * 8; const q = p + 8 + Number(c.readBigUInt64LE(p)) * 4; c.writeBigUInt64LE(1n << 40n, q); }), /claims|level table/],
    ['flat vectors 2^38 floats', patch(flat, (c) => c.writeBigUInt64LE(1n << 38n, 74)), /claims/],
    ['dimension 0', patch(flat, (c) => c.writeInt32LE(0, 4)), /dimension 0/],
    ['IVF nlist 2^40', patch(ivf, (c) => c.writeBigUInt64LE(1n << 40n, 37)), /nlist/],
    ['truncated HNSW', hnsw.subarray(0, hnsw.length - 500), /needs|claims|left/],
  ];
  for (const [name, bytes, msg] of cases) {
    await t.rejects(native.VectorIndex.fromBuffer(bytes), { code: 'ERR_INDEX_CORRUPT', message: msg }, name);
  }
  // The untouched files still load.
  for (const b of [hnsw, flat, ivf]) t.equal((await native.VectorIndex.fromBuffer(b)).count(), 40);
});

t.test('a corrupt index directory is a coded error through IndexData.load too', async (t) => {
  const dir = path.join(tmp, 'idx');
  const index = IndexData.create(D, 'HNSW32', 'IP');
  await index.add(new Float32Array(10 * D).fill(0.3), Array.from({ length: 10 }, (_, i) => `l${i}`));
  await index.save(dir);
  const meta = path.join(dir, 'id_map.yaml');
  fs.writeFileSync(meta, fs.readFileSync(meta, 'utf8').replace(/^vector_sha256:.*\n/m, ''));
  const vec = path.join(dir, 'vector.index');
  const b = fs.readFileSync(vec);
  b.writeInt32LE(1 << 24, hnswFields(b).entryPoint);
  fs.writeFileSync(vec, b);
  await t.rejects(IndexData.load(dir), { code: 'ERR_INDEX_CORRUPT', message: /vector\.index.*entry point/ });
});

t.test('pickle bombs: bounded, iterative, coded', async (t) => {
  const appends = Buffer.concat([Buffer.from([0x80, 4, 0x5d, 0x28]), Buffer.alloc(300_000 * 2, Buffer.from([0x4b, 7])), Buffer.from([0x65, 0x2e])]);
  t.equal((readPickle(appends) as number[]).length, 300_000, 'APPENDS of 300k items: no stack overflow');
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['pop on empty stack', Buffer.from([0x80, 4, 0x30, 0x2e])],
    ['setitem on a list', Buffer.from([0x80, 4, 0x5d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e])],
    ['huge string length', Buffer.from([0x80, 4, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e])],
    ['huge BINBYTES8', Buffer.from([0x80, 4, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x2e])],
    ['os.system', Buffer.from('cos\nsystem\n(S"echo hi"\ntR.', 'latin1')],
    ['missing memo', Buffer.from([0x80, 4, 0x68, 9, 0x2e])],
    ['a million MARKs', Buffer.concat([Buffer.from([0x80, 4]), Buffer.alloc(1_000_000, 0x28), Buffer.from([0x2e])])],
    ['list as dict key', Buffer.from([0x80, 4, 0x7d, 0x5d, 0x4b, 1, 0x73, 0x2e])],
    ['STOP with two items', Buffer.from([0x80, 4, 0x4e, 0x4e, 0x2e])],
  ];
  for (const [name, b] of bad) t.throws(() => readPickle(b, 'x.pkl'), { code: 'ERR_INDEX_CORRUPT' }, name);
});

t.test('YAML bombs: coded', async (t) => {
  const bombs = [
    'id_map:\n  1: a\nnext_id: 1e308\n',
    'id_map:\n  1: a\nnext_id: .inf\n',
    'a: &a [x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nid_map: *d\n',
    '[' .repeat(10_000) + ']'.repeat(10_000),
    'id_map:\n  1: !!python/object/apply:os.system ["echo hi"]\n',
    '\uffff',
  ];
  for (const b of bombs) await t.rejects(parseIdMapYaml(b, 'f'), { code: 'ERR_INDEX_CORRUPT' }, JSON.stringify(b.slice(0, 40)));
});

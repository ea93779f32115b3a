// Broken and hostile legacy Paddle files: each ends in ERR_MODEL_INVALID naming
// the file, without a crash, a hang or an allocation sized by the file's claims.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { readPdmodel, parsePdmodel } from '../../../lib/models/paddle/read-pdmodel';
import { openParams } from '../../../lib/models/paddle/params';
import { readPaddleModelDir } from '../../../lib/models/paddle/read-program';
import { readPir } from '../../../lib/models/paddle/read-pir';
import { writeParams, seededParams, paramRecordHeader } from '../../../lib/models/paddle/write-params';
import { paddleType, VAR_TYPE, ATTR_TYPE } from '../../../lib/models/paddle/framework-proto';
import { ShituError } from '../../../lib/errors';
import { PADDLE_LIMITS } from '../../../lib/limits';
import { encodeProgram, tinyGlobal } from '../../helpers/paddle-programs';

const SHARED = process.env.SHITU_SHARED_DIR ?? '/work/shared';
const REC = path.join(SHARED, 'models/pp-shituv2-programs/general_PPLCNetV2_base_pretrained_v1.0_infer/inference.pdmodel');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-paddle-hostile-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
    return { message: 'no error' };
  } catch (e) {
    if (!(e instanceof ShituError)) throw e;
    return { code: e.code, message: e.message };
  }
}

function programFile(name: string, bytes: Uint8Array): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, bytes);
  return f;
}

t.test('the tiny program itself reads', async (t) => {
  const p = parsePdmodel(encodeProgram(), 'tiny');
  t.strictSame(p.paramNames, ['w']);
  t.strictSame(p.feeds, [{ name: 'x', dtype: 'float32', shape: [-1, 4] }]);
  t.strictSame(p.fetches, ['y']);
});

t.test('hostile programs', async (t) => {
  const real = fs.readFileSync(REC);
  const cases: [string, Uint8Array][] = [
    ['empty file', new Uint8Array(0)],
    ['truncated real program', real.subarray(0, Math.floor(real.length / 2))],
    ['not protobuf', Buffer.from('PK\x03\x04 this is a zip, not a program '.repeat(10))],
    ['absurd dims', encodeProgram([tinyGlobal({ vars: [{ name: 'big', dims: [2 ** 40, 2 ** 40] }] })])],
    ['dims beyond 2^53', encodeProgram([tinyGlobal({ vars: [{ name: 'big', dims: [Number.MAX_SAFE_INTEGER + 2] }] })])],
    ['rank 100', encodeProgram([tinyGlobal({ vars: [{ name: 'deep', dims: new Array(100).fill(1) }] })])],
    ['unknown element type', encodeProgram([tinyGlobal({ vars: [{ name: 'odd', dims: [1], dtype: 99 }] })])],
    ['unknown var kind', encodeProgram([tinyGlobal({ vars: [{ name: 'odd', dims: [], kind: 77 }] })])],
    ['duplicate var', encodeProgram([tinyGlobal({ vars: [{ name: 'x', dims: [1] }] })])],
    ['unknown attribute type', encodeProgram([tinyGlobal({ ops: [{ type: 'relu', attrs: [{ name: 'a', type: 99 }] }] })])],
    ['sub-block is its own block', encodeProgram([
      tinyGlobal(),
      { parent_idx: 0, ops: [{ type: 'while', attrs: [{ name: 'sub_block', type: ATTR_TYPE.BLOCK, block_idx: 1 }] }] },
    ])],
    ['sub-block is the parent (cycle)', encodeProgram([
      tinyGlobal({ ops: [{ type: 'while', attrs: [{ name: 'sub_block', type: ATTR_TYPE.BLOCK, block_idx: 1 }] }] }),
      { parent_idx: 0, ops: [{ type: 'conditional_block', attrs: [{ name: 'sub_block', type: ATTR_TYPE.BLOCK, block_idx: 0 }] }] },
    ])],
    ['sub-block out of range', encodeProgram([tinyGlobal({ ops: [{ type: 'while', attrs: [{ name: 'sub_block', type: ATTR_TYPE.BLOCK, block_idx: 5000 }] }] })])],
    ['blocks list with a cycle', encodeProgram([tinyGlobal(), { parent_idx: 1 }])],
    ['block index mismatch', encodeProgram([tinyGlobal(), { idx: 7, parent_idx: 0 }])],
    ['feed column 10^9', encodeProgram([{
      ...tinyGlobal(),
      ops: [{ type: 'feed', inputs: { X: ['feed'] }, outputs: { Out: ['x'] }, attrs: [{ name: 'col', type: ATTR_TYPE.INT, i: 1e9 }] },
        { type: 'fetch', inputs: { X: ['x'] }, outputs: { Out: ['fetch'] }, attrs: [{ name: 'col', type: ATTR_TYPE.INT, i: 0 }] }],
    }])],
    ['no feed', encodeProgram([{ vars: [{ name: 'x', dims: [1] }], ops: [{ type: 'relu', inputs: { X: ['x'] }, outputs: { Out: ['x'] } }] }])],
  ];
  for (let seed = 1; seed <= 12; seed++) {
    // byte flips of the real program: either still a program or ERR_MODEL_INVALID
    const b = Buffer.from(real);
    let s = seed * 2654435761;
    for (let k = 0; k < 20; k++) {
      s = (s * 1103515245 + 12345) >>> 0;
      b[s % b.length] ^= 1 + (s >>> 24) % 255;
    }
    const f = programFile(`flip${seed}.pdmodel`, b);
    const r = await codeOf(readPdmodel(f));
    t.ok(r.code === undefined || r.code === 'ERR_MODEL_INVALID', `flip seed ${seed}: ${r.code ?? 'read'}`);
  }
  for (const [what, bytes] of cases) {
    const f = programFile('case.pdmodel', bytes);
    const r = await codeOf(readPdmodel(f));
    t.equal(r.code, 'ERR_MODEL_INVALID', what);
    t.match(r.message, f, `${what}: names the file (${r.message.slice(0, 160)})`);
  }
});

t.test('hostile weights', async (t) => {
  const dir = path.join(tmp, 'model');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'inference.pdmodel'), encodeProgram());
  const program = parsePdmodel(encodeProgram(), 'tiny');
  const good = path.join(tmp, 'good.pdiparams');
  await writeParams(good, seededParams(program, 1));
  const goodBytes = fs.readFileSync(good);
  t.equal(goodBytes.length, paramRecordHeader('float32', [4]).length + 16);
  const header = (dtype: number, dims: number[], descSize?: number) => {
    const desc = paddleType('VarType.TensorDesc').encode({ data_type: dtype, dims }).finish();
    const h = Buffer.alloc(20);
    h.writeInt32LE(descSize ?? desc.length, 16);
    return Buffer.concat([h, desc]);
  };
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['truncated data', goodBytes.subarray(0, goodBytes.length - 3)],
    ['truncated header', goodBytes.subarray(0, 10)],
    ['trailing bytes', Buffer.concat([goodBytes, Buffer.alloc(8)])],
    ['wrong version (magic)', Buffer.concat([Buffer.from([1, 0, 0, 0]), goodBytes.subarray(4)])],
    ['huge LoD level count', Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from([255, 255, 255, 255, 255, 255, 255, 127]), goodBytes.subarray(12)])],
    ['description size 2^31-1', Buffer.concat([header(VAR_TYPE.FP32, [4], 2 ** 31 - 1), Buffer.alloc(16)])],
    ['negative description size', Buffer.concat([header(VAR_TYPE.FP32, [4], -5), Buffer.alloc(16)])],
    ['absurd dims (2^31 x 2^31)', Buffer.concat([header(VAR_TYPE.FP32, [2 ** 31, 2 ** 31]), Buffer.alloc(16)])],
    ['2^31 elements claimed, 16 bytes present', Buffer.concat([header(VAR_TYPE.FP32, [2 ** 31]), Buffer.alloc(16)])],
    ['wrong dtype', Buffer.concat([header(VAR_TYPE.INT32, [4]), Buffer.alloc(16)])],
    ['unknown dtype', Buffer.concat([header(99, [4]), Buffer.alloc(16)])],
    ['wrong shape', Buffer.concat([header(VAR_TYPE.FP32, [2, 2]), Buffer.alloc(16)])],
    ['garbage description', Buffer.concat([Buffer.alloc(16), Buffer.from([6, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(16)])],
  ];
  for (const [what, bytes] of cases) {
    fs.writeFileSync(path.join(dir, 'inference.pdiparams'), bytes);
    const r = await codeOf(readPaddleModelDir(dir).then((m) => m.params.close()));
    t.equal(r.code, 'ERR_MODEL_INVALID', what);
    t.match(r.message, 'inference.pdiparams', `${what}: names the file (${r.message.slice(0, 160)})`);
  }
  // the weights of another program
  const rec = await readPdmodel(REC);
  const r = await codeOf(openParams(good, rec));
  t.equal(r.code, 'ERR_MODEL_INVALID', 'weights of another program');
});

t.test('a 300 MB weights file is indexed from its headers alone', async (t) => {
  // Three tensors of 25,000,000 floats; the data regions are holes of a sparse
  // file, so the test writes only the headers, and indexing must read only them.
  const n = 25_000_000;
  const names = ['a', 'b', 'c'];
  const bytes = encodeProgram([tinyGlobal({ vars: names.map((name) => ({ name, dims: [n], persistable: true })) })]);
  const program = parsePdmodel(bytes, 'big');
  t.strictSame(program.paramNames, ['a', 'b', 'c', 'w']);
  const file = path.join(tmp, 'big.pdiparams');
  const fd = fs.openSync(file, 'w');
  let pos = 0;
  for (const name of program.paramNames) {
    const dims = name === 'w' ? [4] : [n];
    const h = paramRecordHeader('float32', dims);
    fs.writeSync(fd, h, 0, h.length, pos);
    pos += h.length + dims[0] * 4;
  }
  fs.ftruncateSync(fd, pos);
  fs.closeSync(fd);
  t.ok(pos > 300_000_000, `${pos} bytes`);
  global.gc?.();
  const before = process.memoryUsage();
  const table = await openParams(file, program);
  const after = process.memoryUsage();
  t.teardown(() => table.close());
  t.equal(table.params.size, 4);
  t.strictSame(table.params.get('c'), { name: 'c', dtype: 'float32', dims: [n], offset: table.params.get('b')!.offset + n * 4 + paramRecordHeader('float32', [n]).length, byteLength: n * 4 });
  const grew = after.rss + after.arrayBuffers - (before.rss + before.arrayBuffers);
  t.ok(grew < 32 * 1024 * 1024, `memory grew ${(grew / 1048576).toFixed(1)} MiB while indexing ${(pos / 1048576).toFixed(0)} MiB`);
  const w = await table.read('w');
  t.equal(w.length, 16);
});

t.test('model directory: what is looked for when nothing is found', async (t) => {
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const r = await codeOf(readPaddleModelDir(empty));
  t.equal(r.code, 'ERR_MODEL_NOT_FOUND');
  t.match(r.message, /inference\.pdmodel, model\.pdmodel, inference\.json/);
  t.match(r.message, /\.pdiparams/);
  const r2 = await codeOf(readPaddleModelDir(path.join(tmp, 'does-not-exist')));
  t.equal(r2.code, 'ERR_MODEL_NOT_FOUND');
  t.ok(PADDLE_LIMITS.maxRank >= 4);
});

t.test('programs over the size limit are refused from their size, unread', async (t) => {
  for (const [name, read] of [['big.pdmodel', readPdmodel], ['inference.json', readPir]] as const) {
    const f = path.join(tmp, name);
    const fd = fs.openSync(f, 'w');
    fs.ftruncateSync(fd, (name.endsWith('.json') ? PADDLE_LIMITS.maxJsonBytes : PADDLE_LIMITS.maxProgramBytes) + 1); // sparse: no bytes written
    fs.closeSync(fd);
    const r = await codeOf(read(f));
    t.equal(r.code, 'ERR_MODEL_INVALID', name);
    t.match(r.message, /over the \d+-byte limit/);
    fs.rmSync(f);
  }
});

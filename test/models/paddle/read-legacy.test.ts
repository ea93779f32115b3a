// The legacy Paddle readers on real files: the two PP-ShiTuV2 programs (as
// their README documents them) and the paddle-pairs models, whose weights must
// equal, byte for byte, tensors of the ONNX files paddle2onnx made from them.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import t from 'tap';
import { readPdmodel } from '../../../lib/models/paddle/read-pdmodel';
import { openParams } from '../../../lib/models/paddle/params';
import { readPaddleModelDir } from '../../../lib/models/paddle/read-program';
import { writeParams, seededParams } from '../../../lib/models/paddle/write-params';
import { onnxType } from '../../../lib/onnx/onnx-proto';
import type { PaddleProgram } from '../../../lib/models/paddle/program';

const SHARED = process.env.SHITU_SHARED_DIR ?? '/work/shared';
const PROGRAMS = path.join(SHARED, 'models/pp-shituv2-programs');
const PAIRS = path.join(SHARED, 'models/paddle-pairs');
const REC = path.join(PROGRAMS, 'general_PPLCNetV2_base_pretrained_v1.0_infer');
const DET = path.join(PROGRAMS, 'picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-paddle-read-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

function opKinds(p: PaddleProgram): string[] {
  return [...new Set(p.blocks.flatMap((b) => b.ops.map((o) => o.type)))].sort();
}
function paramValues(p: PaddleProgram): number {
  return p.paramNames.reduce((n, name) => n + p.blocks[0].vars.get(name)!.shape.reduce((a, d) => a * d, 1), 0);
}

t.test('PP-ShiTuV2 feature program: feeds, fetches, op kinds, 171 tensors / 4,575,616 values', async (t) => {
  const p = await readPdmodel(path.join(REC, 'inference.pdmodel'));
  t.equal(p.format, 'legacy');
  t.equal(p.blocks.length, 1);
  t.strictSame(p.feeds, [{ name: 'x', dtype: 'float32', shape: [-1, 3, 224, 224] }]);
  t.equal(p.fetches.length, 1);
  t.strictSame(p.blocks[0].vars.get(p.fetches[0])?.shape, [-1, 512]);
  t.strictSame(opKinds(p), [
    'batch_norm', 'conv2d', 'depthwise_conv2d', 'dropout', 'elementwise_add', 'elementwise_mul', 'feed', 'fetch',
    'flatten_contiguous_range', 'pool2d', 'relu', 'sigmoid',
  ]);
  t.equal(p.paramNames.length, 171);
  t.equal(paramValues(p), 4_575_616);
  t.strictSame(p.paramNames, [...p.paramNames].sort(), 'save order is by name');
  const dropout = p.blocks[0].ops.find((o) => o.type === 'dropout')!;
  t.equal(dropout.attrs.dropout_implementation, 'downgrade_in_infer');
  t.equal(Math.fround(dropout.attrs.dropout_prob as number), Math.fround(0.2));
  t.equal(dropout.attrs.is_test, true);
  t.notOk('op_callstack' in dropout.attrs, 'bookkeeping attributes are dropped');
});

t.test('PP-ShiTuV2 detector program: 10 blocks, control flow, 407 tensors / 6,633,116 values', async (t) => {
  const p = await readPdmodel(path.join(DET, 'inference.pdmodel'));
  t.equal(p.blocks.length, 10);
  t.strictSame(p.feeds.map((f) => [f.name, f.shape]).sort(), [['im_shape', [-1, 2]], ['image', [-1, 3, 640, 640]], ['scale_factor', [-1, 2]]]);
  t.equal(p.fetches.length, 2);
  t.equal(p.blocks[0].vars.get(p.fetches[1])?.dtype, 'int32', 'second output is the box count');
  const kinds = opKinds(p);
  t.equal(kinds.length, 47);
  for (const k of ['hard_swish', 'leaky_relu', 'nearest_interp_v2', 'multiclass_nms3', 'while', 'conditional_block', 'meshgrid', 'top_k_v2', 'gather']) {
    t.ok(kinds.includes(k), k);
  }
  t.equal(p.paramNames.length, 407);
  t.equal(paramValues(p), 6_633_116);
  const w = p.blocks[0].ops.find((o) => o.type === 'while')!;
  t.strictSame(w.attrs.sub_block, { block: 1 });
  for (const b of p.blocks.slice(1)) t.ok(b.parentIdx >= 0 && b.parentIdx < b.idx, `block ${b.idx} parent ${b.parentIdx}`);
  const cond = p.blocks[1].ops.filter((o) => o.type === 'conditional_block').map((o) => (o.attrs.sub_block as { block: number }).block);
  t.strictSame(cond, [2, 3, 4, 5, 6, 7, 8, 9]);
});

t.test('seeded weights for a program: written, indexed, read back', async (t) => {
  const p = await readPdmodel(path.join(REC, 'inference.pdmodel'));
  const file = path.join(tmp, 'rec.pdiparams');
  await writeParams(file, seededParams(p, 7));
  t.equal(fs.statSync(file).size, 4_575_616 * 4 + 171 * 20 + [...seededParams(p, 7)].reduce((n, x) => n + (headerLen(x.dims) - 20), 0));
  const table = await openParams(file, p);
  t.teardown(() => table.close());
  t.equal(table.params.size, 171);
  let total = 0;
  for (const info of table.params.values()) total += info.byteLength / 4;
  t.equal(total, 4_575_616);
  const first = [...seededParams(p, 7)][0];
  const got = await table.read(first.name);
  t.ok(got.equals(Buffer.from(first.data)), 'read() returns the bytes written');
  const variance = p.blocks[0].ops.find((o) => o.type === 'batch_norm')!.inputs.Variance[0];
  const v = await table.read(variance);
  const f = new Float32Array(v.buffer, v.byteOffset, v.length / 4);
  t.ok(f.every((x) => x >= 0.5 && x <= 1.5), 'batch-norm variances are positive');
});

/** Bytes of a record header for dims (TensorDesc: data_type varint + one int64 varint per dim). */
function headerLen(dims: number[]): number {
  const varint = (n: number) => { let b = 1; while (n >= 128) { n = Math.floor(n / 128); b++; } return b; };
  return 20 + 2 + dims.reduce((a, d) => a + 1 + varint(d), 0);
}

/** Hashes of every tensor of an ONNX file: initializers and Constant nodes' values, as raw little-endian bytes. */
function onnxTensorHashes(file: string): Set<string> {
  const m = onnxType('ModelProto').decode(fs.readFileSync(file)) as unknown as {
    graph: { initializer: TensorMsg[]; node: { opType: string; attribute: { name: string; t?: TensorMsg }[] }[] };
  };
  const out = new Set<string>();
  const add = (t: TensorMsg) => {
    let bytes: Buffer;
    if (t.rawData && t.rawData.length > 0) bytes = Buffer.from(t.rawData);
    else if (t.floatData && t.floatData.length > 0) bytes = Buffer.from(new Float32Array(t.floatData).buffer);
    else return;
    out.add(createHash('sha256').update(bytes).digest('hex'));
  };
  for (const i of m.graph.initializer) add(i);
  for (const n of m.graph.node) if (n.opType === 'Constant') for (const a of n.attribute) if (a.name === 'value' && a.t) add(a.t);
  return out;
}
interface TensorMsg { rawData?: Uint8Array; floatData?: number[] }

for (const [dir, onnxFile, count] of [
  ['ch_ppocr_mobile_v2.0_cls', 'onnx/ch_ppocr_mobile_v2.0_cls_infer.onnx', 213],
  ['portrait_pp_humansegv1_lite_398x224', 'onnx/model.onnx', 240],
] as const) {
  t.test(`${dir}: every weight equals a tensor of the paddle2onnx twin`, async (t) => {
    const m = await readPaddleModelDir(path.join(PAIRS, dir, 'paddle'));
    t.teardown(() => m.params.close());
    t.equal(m.program.format, 'legacy');
    t.equal(m.params.params.size, count);
    const hashes = onnxTensorHashes(path.join(PAIRS, dir, onnxFile));
    const missing: string[] = [];
    const shapeDiffers: string[] = [];
    for (const name of m.program.paramNames) {
      const info = m.params.params.get(name)!;
      if (info.dims.join() !== m.program.blocks[0].vars.get(name)!.shape.join()) shapeDiffers.push(name);
      const bytes = await m.params.read(name);
      if (!hashes.has(createHash('sha256').update(bytes).digest('hex'))) missing.push(name);
    }
    t.strictSame(shapeDiffers, []);
    t.strictSame(missing, [], 'every weight occurs in the ONNX file');
  });
}

// PIR constructs the real textline model does not show, on a hand-written
// inference.json: vectors (builtin.combine / builtin.split), scalar attributes,
// `full` constants becoming legacy attributes, assign_value_; read, converted
// and run in ONNX Runtime, the values are Paddle's.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { parsePir } from '../../../lib/models/paddle/read-pir';
import { openParams } from '../../../lib/models/paddle/params';
import { writeParams } from '../../../lib/models/paddle/write-params';
import { convertProgram } from '../../../lib/models/paddle/convert/convert';
import { native } from '../../../lib/native/loader';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-pir-ops-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const f32 = (dims: number[]) => ({ '#': '0.t_dtensor', D: [{ '#': '0.t_f32' }, dims, 'NCHW', [], 0] });
const vec = (n: number, dims: number[]) => ({ '#': '0.t_vec', D: Array.from({ length: n }, () => f32(dims)) });
const attr = (N: string, tag: string, D: unknown) => ({ N, AT: { '#': tag, D } });
const out = (id: number, TT: unknown) => ({ '%': id, TT });

const ops = [
  { '#': 'p', A: [0, 1, 1, 'w'], O: out(1, f32([4])), OA: [1, 0, 1] },
  { '#': '1.data', A: [attr('name', '0.a_str', 'x'), attr('shape', '1.a_intarray', [-1, 4]), attr('dtype', '1.a_dtype', 'float32')], I: [], O: [out(10, f32([-1, 4]))] },
  { '#': '1.full', A: [attr('shape', '1.a_intarray', [1]), attr('value', '1.a_scalar', ['float64', 1]), attr('dtype', '1.a_dtype', 'int32')], I: [], O: [out(11, { '#': '0.t_dtensor', D: [{ '#': '0.t_i32' }, [1], 'NCHW', [], 0] })] },
  { '#': '0.combine', A: [], I: [{ '%': 10 }, { '%': 10 }], O: [out(12, vec(2, [-1, 4]))] },
  { '#': '1.concat', A: [], I: [{ '%': 12 }, { '%': 11 }], O: [out(13, f32([-1, 8]))] },
  { '#': '1.split_with_num', A: [attr('num', '0.a_i32', 2)], I: [{ '%': 13 }, { '%': 11 }], O: [out(14, vec(2, [-1, 4]))] },
  { '#': '0.split', A: [], I: [{ '%': 14 }], O: [out(15, f32([-1, 4])), out(16, f32([-1, 4]))] },
  { '#': '1.full', A: [attr('shape', '1.a_intarray', [1]), attr('value', '1.a_scalar', ['float32', 2]), attr('dtype', '1.a_dtype', 'float32')], I: [], O: [out(17, f32([1]))] },
  { '#': '1.scale', A: [attr('bias', '0.a_f32', 0.5), attr('bias_after_scale', '0.a_bool', true)], I: [{ '%': 15 }, { '%': 17 }], O: [out(18, f32([-1, 4]))] },
  {
    '#': '1.dropout',
    A: [attr('p', '1.a_scalar', ['float32', 0.2]), attr('is_test', '0.a_bool', true), attr('mode', '0.a_str', 'downgrade_in_infer'), attr('seed', '0.a_i32', 0), attr('fix_seed', '0.a_bool', false)],
    I: [{ '%': 18 }, { '%': 0 }],
    O: [out(19, f32([-1, 4])), out(20, { '#': '0.t_dtensor', D: [{ '#': '0.t_ui8' }, [-1, 4], 'NCHW', [], 0] })],
  },
  {
    '#': '1.assign_value_',
    A: [attr('shape', '0.a_array', [{ '#': '0.a_i32', D: 4 }]), attr('dtype', '1.a_dtype', 'float32'),
      attr('values', '0.a_array', [1, 2, 3, 4].map((v) => ({ '#': '1.a_scalar', D: ['float64', v] })))],
    I: [],
    O: [out(21, f32([4]))],
  },
  { '#': '1.multiply', A: [], I: [{ '%': 19 }, { '%': 1 }], O: [out(22, f32([-1, 4]))] },
  { '#': '1.add', A: [], I: [{ '%': 22 }, { '%': 21 }], O: [out(23, f32([-1, 4]))] },
  { '#': '1.add', A: [], I: [{ '%': 23 }, { '%': 16 }], O: [out(24, f32([-1, 4]))] },
  { '#': '1.fetch', A: [attr('name', '0.a_str', 'y'), attr('col', '0.a_i32', 0)], I: [{ '%': 24 }], O: [out(25, f32([-1, 4]))] },
];
const json = JSON.stringify({ base_code: { magic: 'pir', version: 1 }, program: { regions: [{ '#': 'region_0', blocks: [{ '#': 'block_0', args: [], ops }] }] } });

t.test('vectors, scalars and constants in the legacy vocabulary', async (t) => {
  const p = parsePir(json, 'ops.json');
  const byType = (type: string) => p.blocks[0].ops.filter((o) => o.type === type);
  t.strictSame(byType('concat')[0].inputs, { X: ['x', 'x'] }, 'combine expands into the slot');
  t.equal(byType('concat')[0].attrs.axis, 1, 'axis from a full constant');
  const split = byType('split')[0];
  t.strictSame(split.outputs.Out, ['pir_15', 'pir_16'], 'builtin.split names the vector\'s parts');
  t.equal(split.attrs.num, 2);
  t.equal(split.attrs.axis, 1);
  t.match(byType('scale')[0].attrs, { scale: 2, bias: 0.5, bias_after_scale: true });
  t.strictSame(Object.keys(byType('scale')[0].inputs), ['X']);
  t.match(byType('dropout')[0].attrs, { dropout_prob: 0.2, dropout_implementation: 'downgrade_in_infer', is_test: true });
  t.strictSame(byType('dropout')[0].inputs.Seed, [], 'an absent operand is an empty slot');
  t.match(byType('assign_value').at(-1)!.attrs, { shape: [4], dtype: 5, fp32_values: [1, 2, 3, 4] });
  t.match(byType('fill_constant')[0].attrs, { shape: [1], value: 1, dtype: 2 });
  t.strictSame(p.fetches, ['y']);
});

t.test('converted and run: the values Paddle computes', async (t) => {
  const p = parsePir(json, 'ops.json');
  const params = path.join(tmp, 'w.pdiparams');
  await writeParams(params, [{ dtype: 'float32', dims: [4], data: Buffer.from(new Float32Array([1, -1, 0.5, 2]).buffer) }]);
  const table = await openParams(params, p);
  t.teardown(() => table.close());
  const file = path.join(tmp, 'ops.onnx');
  await convertProgram(p, table, { output: file });
  const m = await native.loadModel(file, {});
  const x = [1, 2, 3, 4];
  const r = await m.run({ x: { data: Float32Array.from(x), dims: [1, 4] } });
  // (x*2 + 0.5) * 0.8 (dropout downgrade_in_infer) * w + [1,2,3,4] + x (the second half of the split)
  const w = [1, -1, 0.5, 2];
  const want = x.map((v, i) => (v * 2 + 0.5) * 0.8 * w[i] + (i + 1) + v);
  const got = [...r.y.data];
  t.strictSame(r.y.dims, [1, 4]);
  t.ok(got.every((v, i) => Math.abs(v - want[i]) < 1e-5), `got [${got.join(', ')}], want [${want.join(', ')}]`);
});

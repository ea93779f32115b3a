// Control flow folded at conversion time, on a hand-made program shaped like
// the detector's post-processing: a `while` over the batch (counter, slice of
// image i, tensor array appended at its length, stacked after the loop) with a
// conditional_block pair + select_input inside. With a fixed batch the loop
// unrolls and the branches resolve; with a symbolic batch the converter refuses
// (ERR_MODEL_UNSUPPORTED naming the fix), never a wrong graph.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../../../lib/errors';
import { convertProgram } from '../../../lib/models/paddle/convert/convert';
import type { PaddleBlock, PaddleProgram, PaddleVar } from '../../../lib/models/paddle/program';
import { ProgramMaker, convertAndRun, tmpDir } from '../../helpers/paddle-program';

const INT64 = 3;
const INT32 = 2;
const FP32 = 5;

/**
 * out[i] = x[i] * (i + 1), plus 100 from the second image on (the branch), stacked.
 * Block 0 runs the loop; block 1 is its body; blocks 2 and 3 the two branches.
 */
function loopProgram(): ProgramMaker {
  const m = new ProgramMaker();
  m.feed('x', [-1, 2]);
  m.v('i', [1], 'int64');
  m.v('xs', [2], 'int32');
  m.v('n32', [1], 'int32');
  m.v('n', [1], 'int64');
  m.v('cond', [1], 'bool');
  m.vars.set('arr', { name: 'arr', kind: 'lod_tensor_array', dtype: 'float32', shape: [2], persistable: false });
  m.v('len_out', [1], 'int64');
  m.v('stacked', [-1, 2]);
  m.v('stacked_index', [-1], 'int32');
  m.op('fill_constant', {}, { Out: 'i' }, { shape: [1], value: 0, dtype: INT64, str_value: '0' });
  m.op('shape', { Input: 'x' }, { Out: 'xs' });
  m.op('slice', { Input: 'xs' }, { Out: 'n32' }, { axes: [0], starts: [0], ends: [1], decrease_axis: [0], infer_flags: [1] });
  m.op('cast', { X: 'n32' }, { Out: 'n' }, { in_dtype: INT32, out_dtype: INT64 });
  m.op('less_than', { X: 'i', Y: 'n' }, { Out: 'cond' }, { axis: -1 });
  m.op('while', { Condition: 'cond', X: ['x', 'i', 'n', 'arr'] }, { Out: ['i', 'cond', 'arr'], StepScopes: [] }, { sub_block: { block: 1 }, is_test: true });
  m.op('tensor_array_to_tensor', { X: 'arr' }, { Out: 'stacked', OutIndex: 'stacked_index' }, { axis: 0, use_stack: true });
  m.fetch('stacked');

  const vars = (list: [string, number[], PaddleVar['dtype']][]) => new Map(list.map(([name, shape, dtype]) => [name, { name, kind: 'tensor', dtype, shape, persistable: false }]));
  const body: PaddleBlock = {
    idx: 1,
    parentIdx: 0,
    vars: vars([
      ['i1', [1], 'int64'], ['row', [2], 'float32'], ['f', [1], 'float32'], ['scaled', [2], 'float32'], ['zero', [1], 'int64'],
      ['first', [1], 'bool'], ['later', [1], 'bool'], ['mask', [1], 'int32'], ['out_a', [2], 'float32'], ['out_b', [2], 'float32'],
      ['sel', [2], 'float32'], ['len', [1], 'int64'], ['c2', [1], 'bool'],
    ]),
    ops: [
      { type: 'scale', inputs: { X: ['i'] }, outputs: { Out: ['i1'] }, attrs: { scale: 1, bias: 1, bias_after_scale: true } },
      { type: 'slice', inputs: { Input: ['x'], StartsTensorList: ['i'], EndsTensorList: ['i1'] }, outputs: { Out: ['row'] }, attrs: { axes: [0], starts: [-1], ends: [-1], decrease_axis: [0], infer_flags: [-1] } },
      { type: 'cast', inputs: { X: ['i1'] }, outputs: { Out: ['f'] }, attrs: { in_dtype: INT64, out_dtype: FP32 } },
      { type: 'elementwise_mul', inputs: { X: ['row'], Y: ['f'] }, outputs: { Out: ['scaled'] }, attrs: { axis: -1 } },
      { type: 'fill_constant', inputs: {}, outputs: { Out: ['zero'] }, attrs: { shape: [1], value: 0, dtype: INT64, str_value: '0' } },
      { type: 'greater_than', inputs: { X: ['i'], Y: ['zero'] }, outputs: { Out: ['later'] }, attrs: { axis: -1 } },
      { type: 'conditional_block', inputs: { Cond: ['later'], Input: ['scaled'] }, outputs: { Out: ['out_a'], Scope: [] }, attrs: { is_scalar_condition: true, sub_block: { block: 2 } } },
      { type: 'logical_not', inputs: { X: ['later'] }, outputs: { Out: ['first'] }, attrs: {} },
      { type: 'conditional_block', inputs: { Cond: ['first'], Input: ['scaled'] }, outputs: { Out: ['out_b'], Scope: [] }, attrs: { is_scalar_condition: true, sub_block: { block: 3 } } },
      { type: 'cast', inputs: { X: ['later'] }, outputs: { Out: ['mask'] }, attrs: { in_dtype: 0, out_dtype: INT32 } },
      { type: 'select_input', inputs: { Mask: ['mask'], X: ['out_b', 'out_a'] }, outputs: { Out: ['sel'] }, attrs: {} },
      { type: 'lod_array_length', inputs: { X: ['arr'] }, outputs: { Out: ['len'] }, attrs: {} },
      { type: 'write_to_array', inputs: { I: ['len'], X: ['sel'] }, outputs: { Out: ['arr'] }, attrs: {} },
      { type: 'less_than', inputs: { X: ['i1'], Y: ['n'] }, outputs: { Out: ['c2'] }, attrs: { axis: -1 } },
      { type: 'assign', inputs: { X: ['i1'] }, outputs: { Out: ['i'] }, attrs: {} },
      { type: 'assign', inputs: { X: ['c2'] }, outputs: { Out: ['cond'] }, attrs: {} },
    ],
  };
  const branchA: PaddleBlock = {
    idx: 2,
    parentIdx: 1,
    vars: vars([['hundred', [1], 'float32'], ['plus', [2], 'float32']]),
    ops: [
      { type: 'fill_constant', inputs: {}, outputs: { Out: ['hundred'] }, attrs: { shape: [1], value: 100, dtype: FP32, str_value: '100.0' } },
      { type: 'elementwise_add', inputs: { X: ['scaled'], Y: ['hundred'] }, outputs: { Out: ['plus'] }, attrs: { axis: -1 } },
      { type: 'assign', inputs: { X: ['plus'] }, outputs: { Out: ['out_a'] }, attrs: {} },
    ],
  };
  const branchB: PaddleBlock = {
    idx: 3,
    parentIdx: 1,
    vars: new Map(),
    ops: [{ type: 'assign', inputs: { X: ['scaled'] }, outputs: { Out: ['out_b'] }, attrs: {} }],
  };
  const base = m.program();
  const full: PaddleProgram = { ...base, blocks: [...base.blocks, body, branchA, branchB] };
  m.program = () => full;
  return m;
}

async function run(batch: number, x: number[]): Promise<{ dims: number[]; data: number[] }> {
  const [y] = await convertAndRun(loopProgram(), { x: { dims: [batch, 2], data: x } }, { inputShapes: { x: [batch, 2] } });
  return y;
}

t.test('a while over a fixed batch unrolls; branches and tensor arrays resolve at conversion time', async (t) => {
  const one = await run(1, [1, 2]);
  t.same(one.dims, [1, 2]);
  t.same(one.data, [1, 2], 'image 0: x * 1, the first branch');
  const three = await run(3, [1, 2, 3, 4, 5, 6]);
  t.same(three.dims, [3, 2]);
  t.same(three.data, [1, 2, 106, 108, 115, 118], 'image 1: x * 2 + 100, image 2: x * 3 + 100');
});

t.test('a while over a symbolic batch is refused with the fix in the message', async (t) => {
  const m = loopProgram();
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const err = await convertProgram(m.program(), m.params, { output: path.join(dir, 'm.onnx') }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ShituError, String(err));
  t.equal((err as ShituError).code, 'ERR_MODEL_UNSUPPORTED');
  t.match((err as ShituError).message, /while.*loop condition.*fixed sizes/);
  t.same(fs.readdirSync(dir), [], 'nothing written');
});

t.test('a loop that would unroll past the limit is refused', async (t) => {
  const m = loopProgram();
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const err = await convertProgram(m.program(), m.params, { output: path.join(dir, 'm.onnx'), inputShapes: { x: [65, 2] } }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ShituError && err.code === 'ERR_MODEL_UNSUPPORTED', String(err));
  t.match((err as ShituError).message, /more than 64 copies/);
});

t.test('a sub-block that is not a child of the op\'s block is refused (no re-entry, no cycle)', async (t) => {
  const m = loopProgram();
  const p = m.program();
  const cyclic: PaddleProgram = { ...p, blocks: p.blocks.map((b) => (b.idx === 1 ? { ...b, ops: [...b.ops, { type: 'while', inputs: { Condition: ['cond'] }, outputs: { Out: [] }, attrs: { sub_block: { block: 1 } } }] } : b)) };
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const err = await convertProgram(cyclic, m.params, { output: path.join(dir, 'm.onnx'), inputShapes: { x: [1, 2] } }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ShituError && err.code === 'ERR_MODEL_INVALID', String(err));
  t.match((err as ShituError).message, /sub-block 1 is not a child of block 1/);
});

t.test('a branch condition known only at run time is refused', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1]);
  m.v('c', [1], 'bool');
  m.v('y', [1]);
  m.op('greater_than', { X: 'x', Y: 'x' }, { Out: 'c' }, { axis: -1 });
  m.op('conditional_block', { Cond: 'c', Input: 'x' }, { Out: 'y', Scope: [] }, { is_scalar_condition: true, sub_block: { block: 1 } });
  m.fetch('y');
  const p = m.program();
  const prog = { ...p, blocks: [...p.blocks, { idx: 1, parentIdx: 0, vars: new Map(), ops: [{ type: 'assign', inputs: { X: ['x'] }, outputs: { Out: ['y'] }, attrs: {} }] }] };
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const err = await convertProgram(prog, m.params, { output: path.join(dir, 'm.onnx') }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ShituError && err.code === 'ERR_MODEL_UNSUPPORTED', String(err));
  t.match((err as ShituError).message, /conditional_block.*branch condition/);
});

t.test('tensor arrays: concatenated with OutIndex, read back by index; the non-scalar branch runs on non-empty Inputs', async (t) => {
  const m = new ProgramMaker();
  m.feed('a', [2, 3]);
  m.feed('b', [1, 3]);
  m.vars.set('arr', { name: 'arr', kind: 'lod_tensor_array', dtype: 'float32', shape: [-1, 3], persistable: false });
  for (const [n, s, d] of [['i0', [1], 'int64'], ['i1', [1], 'int64'], ['cat', [3, 3], 'float32'], ['sizes', [2], 'int32'], ['second', [1, 3], 'float32'], ['y', [2, 3], 'float32']] as const) m.v(n, [...s], d);
  m.op('fill_constant', {}, { Out: 'i0' }, { shape: [1], value: 0, dtype: INT64, str_value: '0' });
  m.op('fill_constant', {}, { Out: 'i1' }, { shape: [1], value: 1, dtype: INT64, str_value: '1' });
  m.op('write_to_array', { I: 'i0', X: 'a' }, { Out: 'arr' });
  m.op('write_to_array', { I: 'i1', X: 'b' }, { Out: 'arr' });
  m.op('tensor_array_to_tensor', { X: 'arr' }, { Out: 'cat', OutIndex: 'sizes' }, { axis: 0, use_stack: false });
  m.op('read_from_array', { X: 'arr', I: 'i1' }, { Out: 'second' });
  m.op('conditional_block', { Cond: [], Input: ['a'] }, { Out: 'y', Scope: [] }, { is_scalar_condition: false, sub_block: { block: 1 } });
  for (const f of ['cat', 'sizes', 'second', 'y']) m.fetch(f);
  const base = m.program();
  const full: PaddleProgram = {
    ...base,
    blocks: [...base.blocks, { idx: 1, parentIdx: 0, vars: new Map(), ops: [{ type: 'elementwise_add', inputs: { X: ['a'], Y: ['a'] }, outputs: { Out: ['y'] }, attrs: { axis: -1 } }] }],
  };
  m.program = () => full;
  const [cat, sizes, second, y] = await convertAndRun(m, { a: { dims: [2, 3], data: [1, 2, 3, 4, 5, 6] }, b: { dims: [1, 3], data: [7, 8, 9] } });
  t.same(cat.dims, [3, 3]);
  t.same(cat.data, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.same(sizes.data, [2, 1]);
  t.same(second.data, [7, 8, 9]);
  t.same(y.data, [2, 4, 6, 8, 10, 12]);
});

t.test('comparisons and logic fold on constants and run on tensors', async (t) => {
  const m = new ProgramMaker();
  m.feed('a', [4]);
  m.feed('b', [4]);
  for (const v of ['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or', 'xor', 'not']) m.v(v, [4], 'bool');
  m.op('less_than', { X: 'a', Y: 'b' }, { Out: 'lt' }, { axis: -1 });
  m.op('less_equal', { X: 'a', Y: 'b' }, { Out: 'le' }, { axis: -1 });
  m.op('greater_than', { X: 'a', Y: 'b' }, { Out: 'gt' }, { axis: -1 });
  m.op('greater_equal', { X: 'a', Y: 'b' }, { Out: 'ge' }, { axis: -1 });
  m.op('equal', { X: 'a', Y: 'b' }, { Out: 'eq' }, { axis: -1 });
  m.op('not_equal', { X: 'a', Y: 'b' }, { Out: 'ne' }, { axis: -1 });
  m.op('logical_and', { X: 'lt', Y: 'eq' }, { Out: 'and' });
  m.op('logical_or', { X: 'lt', Y: 'eq' }, { Out: 'or' });
  m.op('logical_xor', { X: 'le', Y: 'ge' }, { Out: 'xor' });
  m.op('logical_not', { X: 'lt' }, { Out: 'not' });
  for (const v of ['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or', 'xor', 'not']) m.fetch(v);
  const out = await convertAndRun(m, { a: { dims: [4], data: [1, 2, 3, 4] }, b: { dims: [4], data: [2, 2, 2, 5] } });
  t.same(out.map((o) => o.data), [
    [1, 0, 0, 1], [1, 1, 0, 1], [0, 0, 1, 0], [0, 1, 1, 0], [0, 1, 0, 0], [1, 0, 1, 1],
    [0, 0, 0, 0], [1, 1, 0, 1], [1, 0, 1, 1], [0, 1, 1, 0],
  ]);
});

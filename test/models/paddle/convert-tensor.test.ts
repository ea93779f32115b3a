// Shape/layout ops and the math family on hand-made programs, with the
// expected values worked out here from Paddle's definitions; and the folding
// of shape arithmetic once the feed sizes are fixed (no Shape node left).
import t from 'tap';
import { buildGraph } from '../../../lib/models/paddle/convert/convert';
import { ProgramMaker, convertAndRun, maxAbsDiff, ramp } from '../../helpers/paddle-program';

const TOL = 1e-5;

/** One op X -> Out on a float feed; returns the output. */
async function one(type: string, xs: number[], x: number[], attrs: Record<string, unknown>, outShape: number[], extraIn: Record<string, string> = {}, m = new ProgramMaker(), outType: 'float32' | 'int64' = 'float32') {
  m.feed('x', xs);
  m.v('y', outShape, outType);
  m.op(type, { X: 'x', ...extraIn }, { Out: 'y', XShape: 'xs' }, attrs as Record<string, number>);
  m.fetch('y');
  return (await convertAndRun(m, { x: { dims: xs, data: x } }))[0];
}

t.test('reshape2: 0 copies a dim, -1 is inferred', async (t) => {
  const y = await one('reshape2', [2, 3, 4], ramp(24, 1), { shape: [0, -1, 2] }, [2, 6, 2]);
  t.same(y.dims, [2, 6, 2]);
  t.same(y.data, ramp(24, 1));
});

t.test('transpose2', async (t) => {
  const y = await one('transpose2', [2, 3], [1, 2, 3, 4, 5, 6], { axis: [1, 0] }, [3, 2]);
  t.same(y.dims, [3, 2]);
  t.same(y.data, [1, 4, 2, 5, 3, 6]);
});

t.test('flatten_contiguous_range: start 1 stop 2 keeps the trailing dim; default 1..1 is the identity', async (t) => {
  const y = await one('flatten_contiguous_range', [2, 3, 4, 5], ramp(120, 1), { start_axis: 1, stop_axis: 2 }, [2, 12, 5]);
  t.same(y.dims, [2, 12, 5]);
  t.same(y.data, ramp(120, 1));
  const z = await one('flatten_contiguous_range', [2, 3, 4], ramp(24), { start_axis: 1, stop_axis: -1 }, [2, 12]);
  t.same(z.dims, [2, 12]);
  // A trailing dim unknown until run time: built from the input's shape.
  const m = new ProgramMaker();
  m.feed('x', [2, 3, -1, -1]);
  m.v('y', [-1, -1, -1]);
  m.op('flatten_contiguous_range', { X: 'x' }, { Out: 'y', XShape: 'xs' }, { start_axis: 0, stop_axis: 1 });
  m.fetch('y');
  const [w] = await convertAndRun(m, { x: { dims: [2, 3, 2, 5], data: ramp(60) } });
  t.same(w.dims, [6, 2, 5]);
});

t.test('squeeze2 keeps a listed axis that is not 1; unsqueeze2 inserts one axis after the other', async (t) => {
  const y = await one('squeeze2', [1, 3, 1, 2], ramp(6), { axes: [0, 1, -2] }, [3, 2]);
  t.same(y.dims, [3, 2]);
  // [2,3] with axes [0, -1]: [1,2,3] then -1 + 3 + 1 = 3 -> [1,2,3,1].
  const z = await one('unsqueeze2', [2, 3], ramp(6, 1), { axes: [0, -1] }, [1, 2, 3, 1]);
  t.same(z.dims, [1, 2, 3, 1]);
  t.same(z.data, ramp(6, 1));
});

t.test('concat on axis -1, split by sections with -1 and by num', async (t) => {
  const m = new ProgramMaker();
  m.feed('a', [2, 1]);
  m.feed('b', [2, 2]);
  m.v('c', [2, 3]); m.v('p', [2, 1]); m.v('q', [2, 2]); m.v('r', [1, 3]); m.v('s', [1, 3]);
  m.op('concat', { X: ['a', 'b'] }, { Out: 'c' }, { axis: -1 });
  m.op('split', { X: 'c' }, { Out: ['p', 'q'] }, { axis: 1, sections: [1, -1] });
  m.op('split', { X: 'c' }, { Out: ['r', 's'] }, { axis: 0, num: 2 });
  for (const f of ['c', 'p', 'q', 'r', 's']) m.fetch(f);
  const [c, p, q, r, s] = await convertAndRun(m, { a: { dims: [2, 1], data: [1, 2] }, b: { dims: [2, 2], data: [3, 4, 5, 6] } });
  t.same(c.data, [1, 3, 4, 2, 5, 6]);
  t.same(p.data, [1, 2]);
  t.same(q.data, [3, 4, 5, 6]);
  t.same(r.data, [1, 3, 4]);
  t.same(s.data, [2, 5, 6]);
});

t.test('slice: negative start, end past the dim (clamped), decrease_axis', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [3, 4]);
  m.v('y', [2, 2]); m.v('z', [4]);
  m.op('slice', { Input: 'x' }, { Out: 'y' }, { axes: [0, 1], starts: [-2, 1], ends: [1000, 3], decrease_axis: [], infer_flags: [1, 1] });
  m.op('slice', { Input: 'x' }, { Out: 'z' }, { axes: [0], starts: [1], ends: [2], decrease_axis: [0] });
  m.fetch('y'); m.fetch('z');
  const [y, z] = await convertAndRun(m, { x: { dims: [3, 4], data: ramp(12, 1) } });
  t.same(y.dims, [2, 2]);
  t.same(y.data, [5, 6, 9, 10]);
  t.same(z.dims, [4]);
  t.same(z.data, [4, 5, 6, 7]);
});

/** shape -> slice -> fill_constant -> concat -> reshape: the batch-keeping reshape of the cls model. */
function shapeArithmetic(): ProgramMaker {
  const m = new ProgramMaker();
  m.feed('x', [-1, 3, 4]);
  m.v('shp', [3], 'int32'); m.v('n', [1], 'int32'); m.v('k', [1], 'int32'); m.v('tgt', [2], 'int32'); m.v('y', [-1, 12]);
  m.op('shape', { Input: 'x' }, { Out: 'shp' });
  m.op('slice', { Input: 'shp' }, { Out: 'n' }, { axes: [0], starts: [0], ends: [1], decrease_axis: [] });
  m.op('fill_constant', {}, { Out: 'k' }, { shape: [1], value: 12, dtype: 2 });
  m.op('concat', { X: ['n', 'k'] }, { Out: 'tgt' }, { axis: 0 });
  m.op('reshape2', { X: 'x', Shape: 'tgt' }, { Out: 'y', XShape: 'xs' });
  m.fetch('y');
  return m;
}

t.test('shape arithmetic: dynamic at run time; folded to constants when inputShapes fixes the feed', async (t) => {
  const [y] = await convertAndRun(shapeArithmetic(), { x: { dims: [2, 3, 4], data: ramp(24) } });
  t.same(y.dims, [2, 12]);
  const dyn = buildGraph(shapeArithmetic().program(), shapeArithmetic().params);
  t.ok(dyn.nodes.some((n) => n.opType === 'Shape'), 'a Shape node without fixed sizes');
  const fixed = buildGraph(shapeArithmetic().program(), shapeArithmetic().params, { inputShapes: { x: [2, 3, 4] } });
  t.same(fixed.nodes.map((n) => n.opType), ['Reshape'], 'only the Reshape is left');
  t.same(fixed.inputs[0].dims, [2, 3, 4]);
  t.same(dyn.inputs[0].dims, ['batch', 3, 4]);
  const [z] = await convertAndRun(shapeArithmetic(), { x: { dims: [2, 3, 4], data: ramp(24) } }, { inputShapes: { x: [2, 3, 4] } });
  t.same(z.dims, [2, 12]);
  t.throws(() => buildGraph(shapeArithmetic().program(), shapeArithmetic().params, { inputShapes: { x: [2, 4] } }), { code: 'ERR_CONFIG' });
  t.throws(() => buildGraph(shapeArithmetic().program(), shapeArithmetic().params, { inputShapes: { x: [2, 0, 4] } }), { code: 'ERR_CONFIG' });
  t.throws(() => buildGraph(shapeArithmetic().program(), shapeArithmetic().params, { inputShapes: { nope: [1] } }), { code: 'ERR_CONFIG' });
});

t.test('fill_constant (str_value), assign_value, cast, stack, expand_v2', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [2, 1]);
  m.v('f', [2, 2]); m.v('a', [3], 'int32'); m.v('af', [3]); m.v('st', [2, 2, 1]); m.v('e', [2, 3]);
  m.op('fill_constant', {}, { Out: 'f' }, { shape: [2, 2], str_value: '-inf', value: 0, dtype: 5 });
  m.op('assign_value', {}, { Out: 'a' }, { shape: [3], dtype: 2, int32_values: [7, -8, 9] });
  m.op('cast', { X: 'a' }, { Out: 'af' }, { in_dtype: 2, out_dtype: 5 });
  m.op('stack', { X: ['x', 'x'] }, { Y: 'st' }, { axis: 1 });
  m.op('expand_v2', { X: 'x' }, { Out: 'e' }, { shape: [-1, 3] });
  for (const f of ['f', 'af', 'st', 'e']) m.fetch(f);
  const [f, af, st, e] = await convertAndRun(m, { x: { dims: [2, 1], data: [1.5, -2] } });
  t.same(f.data, [-Infinity, -Infinity, -Infinity, -Infinity]);
  t.same(af.data, [7, -8, 9]);
  t.same(st.dims, [2, 2, 1]);
  t.same(st.data, [1.5, 1.5, -2, -2]);
  t.same(e.dims, [2, 3]);
  t.same(e.data, [1.5, 1.5, 1.5, -2, -2, -2]);
});

t.test('scale: bias after and before scale; dropout: downgrade_in_infer multiplies by 1-p, upscale_in_train is the identity', async (t) => {
  const x = [-1, 0, 2];
  t.same((await one('scale', [3], x, { scale: 2, bias: 1, bias_after_scale: true }, [3])).data, [-1, 1, 5]);
  t.same((await one('scale', [3], x, { scale: 2, bias: 1, bias_after_scale: false }, [3])).data, [0, 2, 6]);
  const d = await one('dropout', [3], x, { dropout_prob: 0.2, is_test: true, dropout_implementation: 'downgrade_in_infer' }, [3]);
  t.ok(maxAbsDiff(d.data, [-0.8, 0, 1.6]) < TOL);
  const dflt = await one('dropout', [3], x, { dropout_prob: 0.5, is_test: true }, [3]);
  t.ok(maxAbsDiff(dflt.data, [-0.5, 0, 1]) < TOL, 'the default implementation is downgrade_in_infer');
  t.same((await one('dropout', [3], x, { dropout_prob: 0.2, is_test: true, dropout_implementation: 'upscale_in_train' }, [3])).data, x);
});

t.test('clip: attributes, and Min/Max tensors overriding them', async (t) => {
  const x = [-3, -0.5, 0.5, 3];
  t.same((await one('clip', [4], x, { min: -1, max: 1 }, [4])).data, [-1, -0.5, 0.5, 1]);
  const m = new ProgramMaker();
  m.param('lo', [1], [0]);
  m.param('hi', [1], [2]);
  t.same((await one('clip', [4], x, { min: -1, max: 1 }, [4], { Min: 'lo', Max: 'hi' }, m)).data, [0, 0, 0.5, 2]);
});

t.test('matmul: transpose_X/transpose_Y and alpha; matmul_v2 batched; mul with x_num_col_dims 2', async (t) => {
  const m = new ProgramMaker();
  m.feed('a', [3, 2]); // used transposed: [2,3]
  m.param('b', [2, 3], [1, 0, 2, -1, 1, 0]); // used transposed: [3,2]
  m.v('y', [2, 2]);
  m.op('matmul', { X: 'a', Y: 'b' }, { Out: 'y' }, { transpose_X: true, transpose_Y: true, alpha: 0.5 });
  m.fetch('y');
  const a = [1, 2, 3, 4, 5, 6]; // aT = [[1,3,5],[2,4,6]]; bT = [[1,-1],[0,1],[2,0]]
  const [y] = await convertAndRun(m, { a: { dims: [3, 2], data: a } });
  // aT.bT = [[1+0+10, -1+3+0],[2+0+12, -2+4+0]] = [[11,2],[14,2]]; * 0.5
  t.same(y.data, [5.5, 1, 7, 1]);

  const m2 = new ProgramMaker();
  m2.feed('x', [2, 1, 2]);
  m2.feed('w', [2, 2, 1]);
  m2.v('y', [2, 1, 1]);
  m2.op('matmul_v2', { X: 'x', Y: 'w' }, { Out: 'y' }, { trans_x: false, trans_y: false });
  m2.fetch('y');
  const [y2] = await convertAndRun(m2, { x: { dims: [2, 1, 2], data: [1, 2, 3, 4] }, w: { dims: [2, 2, 1], data: [1, 1, 2, -1] } });
  t.same(y2.data, [3, 2]);

  const m3 = new ProgramMaker();
  m3.feed('x', [2, 2, 3]);
  m3.param('w', [3, 2], [1, 0, 0, 1, 1, 1]);
  m3.v('y', [2, 2, 2]);
  m3.op('mul', { X: 'x', Y: 'w' }, { Out: 'y' }, { x_num_col_dims: 2, y_num_col_dims: 1 });
  m3.fetch('y');
  const [y3] = await convertAndRun(m3, { x: { dims: [2, 2, 3], data: ramp(12, 1) } });
  t.same(y3.dims, [2, 2, 2]);
  // rows [0,1,2] -> [0+2, 1+2]
  t.same(y3.data, [2, 3, 8, 9, 14, 15, 20, 21]);
});

t.test('reduce_mean keep_dim; reduce_sum reduce_all to [1]; arg_max', async (t) => {
  const x = [1, 2, 3, 4, 5, 6];
  const r = await one('reduce_mean', [2, 3], x, { dim: [1], keep_dim: true }, [2, 1]);
  t.same(r.dims, [2, 1]);
  t.same(r.data, [2, 5]);
  const s = await one('reduce_sum', [2, 3], x, { dim: [0], reduce_all: true }, [1]);
  t.same(s.dims, [1]);
  t.same(s.data, [21]);
  const a = await one('arg_max', [2, 3], [1, 9, 3, 7, 5, 6], { axis: -1, keepdims: false, dtype: 3 }, [2], {}, new ProgramMaker(), 'int64');
  t.same(a.data, [1, 0]);
});

t.test('pad3d (W first: [left, right, top, bottom, front, back]) and pad2d reflect / replicate', async (t) => {
  const p3 = await one('pad3d', [1, 1, 1, 2, 3], [1, 2, 3, 4, 5, 6], { paddings: [1, 0, 0, 1, 0, 0], mode: 'constant', value: 9, data_format: 'NCDHW' }, [1, 1, 1, 3, 4]);
  t.same(p3.dims, [1, 1, 1, 3, 4]);
  t.same(p3.data, [9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9]);
  const r = await one('pad2d', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6], { paddings: [0, 0, 1, 1], mode: 'reflect' }, [1, 1, 2, 5]);
  t.same(r.data, [2, 1, 2, 3, 2, 5, 4, 5, 6, 5]);
  const e = await one('pad2d', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6], { paddings: [1, 0, 0, 1], mode: 'replicate' }, [1, 1, 3, 4]);
  t.same(e.data, [1, 2, 3, 3, 1, 2, 3, 3, 4, 5, 6, 6]);
});

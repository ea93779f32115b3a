// The ViT / CLIP op set on hand-made programs, each against values computed
// here from Paddle's definitions: layer_norm, matmul_v2 / matmul, p_norm,
// stack, expand_v2 / expand_as_v2, unsqueeze2 / squeeze2, reduce_*,
// fill_any_like, and a whole one-head attention block (gather of the class
// token, GELU MLP, L2 normalisation), and the token assembly (class token
// expanded to the run-time batch, concat, position embedding, slice).
import t from 'tap';
import { ProgramMaker, convertAndRun, maxAbsDiff, ramp } from '../../helpers/paddle-program';

const TOL = 1e-5;

// ---- tiny dense JS tensors, row-major ----

type Mat = number[][];
const matmul = (a: Mat, b: Mat): Mat => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const transpose = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
const chunk = (v: number[], n: number): Mat => Array.from({ length: v.length / n }, (_, i) => v.slice(i * n, i * n + n));
function layerNormRow(row: number[], scale: number[], bias: number[], eps: number): number[] {
  const mean = row.reduce((a, b) => a + b, 0) / row.length;
  const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
  return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * scale[i] + bias[i]);
}
const softmaxRow = (row: number[]): number[] => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
function erf(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

t.test('layer_norm over the last dim, with Scale and Bias', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [-1, 3, 4]);
  const scale = [1, 2, 0.5, -1];
  const bias = [0, 0.1, -0.2, 3];
  m.param('s', [4], scale);
  m.param('b', [4], bias);
  m.v('y', [-1, 3, 4]);
  m.op('layer_norm', { X: 'x', Scale: 's', Bias: 'b' }, { Y: 'y' }, { begin_norm_axis: 2, epsilon: 1e-5 });
  m.fetch('y');
  const x = ramp(24, 0.37, -4).map((v, i) => v * (i % 3 === 0 ? 2 : 1));
  const [y] = await convertAndRun(m, { x: { dims: [2, 3, 4], data: x } });
  const rows = chunk(x, 4);
  const want = rows.flatMap((r) => layerNormRow(r, scale, bias, 1e-5));
  t.same(y.dims, [2, 3, 4]);
  t.ok(maxAbsDiff(y.data, want) < TOL, `Y max diff ${maxAbsDiff(y.data, want)}`);
});

t.test('layer_norm over the last two dims (begin_norm_axis 1, Scale flattened), and without Scale/Bias', async (t) => {
  for (const withParams of [true, false]) {
    const m = new ProgramMaker();
    m.feed('x', [2, 3, 4]);
    const scale = ramp(12, 0.1, 0.5);
    const bias = ramp(12, -0.05, 0.2);
    if (withParams) {
      m.param('s', [12], scale);
      m.param('b', [12], bias);
    }
    m.v('y', [2, 3, 4]);
    m.op('layer_norm', withParams ? { X: 'x', Scale: 's', Bias: 'b' } : { X: 'x' }, { Y: 'y' }, { begin_norm_axis: 1, epsilon: 1e-6 });
    m.fetch('y');
    const x = ramp(24, 0.21, -2).map((v) => v * v);
    const [y] = await convertAndRun(m, { x: { dims: [2, 3, 4], data: x } });
    const want = chunk(x, 12).flatMap((r) => layerNormRow(r, withParams ? scale : r.map(() => 1), withParams ? bias : r.map(() => 0), 1e-6));
    t.ok(maxAbsDiff(y.data, want) < TOL, `${withParams ? 'with' : 'without'} params: ${maxAbsDiff(y.data, want)}`);
  }
});

t.test('matmul_v2: batch broadcast, trans_x, trans_y; legacy matmul alpha and a 1-D Y', async (t) => {
  const a = ramp(24, 0.1, -1); // [2,3,4]
  const w = ramp(20, 0.05, -0.3); // [4,5]
  {
    const m = new ProgramMaker();
    m.feed('a', [2, 3, 4]);
    m.param('w', [4, 5], w);
    m.v('y', [2, 3, 5]);
    m.op('matmul_v2', { X: 'a', Y: 'w' }, { Out: 'y' }, { trans_x: false, trans_y: false });
    m.fetch('y');
    const [y] = await convertAndRun(m, { a: { dims: [2, 3, 4], data: a } });
    const want = [0, 1].flatMap((i) => matmul(chunk(a.slice(i * 12, i * 12 + 12), 4), chunk(w, 5)).flat());
    t.same(y.dims, [2, 3, 5]);
    t.ok(maxAbsDiff(y.data, want) < TOL, 'plain');
  }
  {
    // q k^T: [2,3,4] x [2,3,4]^T -> [2,3,3]; and trans_x: a^T a -> [2,4,4]
    const m = new ProgramMaker();
    m.feed('a', [2, 3, 4]);
    m.v('qk', [2, 3, 3]);
    m.v('ata', [2, 4, 4]);
    m.op('matmul_v2', { X: 'a', Y: 'a' }, { Out: 'qk' }, { trans_x: false, trans_y: true });
    m.op('matmul_v2', { X: 'a', Y: 'a' }, { Out: 'ata' }, { trans_x: true, trans_y: false });
    m.fetch('qk');
    m.fetch('ata');
    const [qk, ata] = await convertAndRun(m, { a: { dims: [2, 3, 4], data: a } });
    const mats = [0, 1].map((i) => chunk(a.slice(i * 12, i * 12 + 12), 4));
    t.ok(maxAbsDiff(qk.data, mats.flatMap((x) => matmul(x, transpose(x)).flat())) < TOL, 'trans_y');
    t.ok(maxAbsDiff(ata.data, mats.flatMap((x) => matmul(transpose(x), x).flat())) < TOL, 'trans_x');
    t.same(ata.dims, [2, 4, 4]);
  }
  {
    const m = new ProgramMaker();
    m.feed('x', [6, 4]);
    m.param('p', [4], [0, 1, 2, 3]);
    m.v('y', [6]);
    m.v('z', [4, 4]);
    m.op('matmul', { X: 'x', Y: 'p' }, { Out: 'y' }, { transpose_X: false, transpose_Y: false, alpha: 1 });
    m.op('matmul', { X: 'x', Y: 'x' }, { Out: 'z' }, { transpose_X: true, transpose_Y: false, alpha: 0.5 });
    m.fetch('y');
    m.fetch('z');
    const x = ramp(24, 0.3, -2);
    const [y, z] = await convertAndRun(m, { x: { dims: [6, 4], data: x } });
    const xm = chunk(x, 4);
    t.same(y.dims, [6], 'a 1-D Y gives [M] (the detector\'s distribution projection)');
    t.ok(maxAbsDiff(y.data, xm.map((r) => r[1] + 2 * r[2] + 3 * r[3])) < TOL, 'x . [0,1,2,3]');
    t.ok(maxAbsDiff(z.data, matmul(transpose(xm), xm).flat().map((v) => v * 0.5)) < 1e-4, 'alpha 0.5 x^T x');
  }
});

t.test('p_norm: p 2 keepdim then elementwise_div normalises rows; p 1, inf, 3, asvector', async (t) => {
  const x = [3, 4, 0, 0, 2, -2, 1, 0.5];
  const s2 = Math.sqrt(9.25);
  const cases: [Record<string, number | boolean>, number[], number[]][] = [
    [{ porder: 2, axis: -1, keepdim: true }, [5, s2], [2, 1]],
    [{ porder: 1, axis: 1, keepdim: false }, [7, 5.5], [2]],
    [{ porder: Infinity, axis: -1, keepdim: false }, [4, 2], [2]],
    [{ porder: 3, axis: -1, keepdim: false }, [Math.cbrt(27 + 64), Math.cbrt(8 + 8 + 1 + 0.125)], [2]],
    [{ porder: 2, axis: 0, asvector: true, keepdim: false }, [Math.sqrt(25 + 9.25)], []],
  ];
  for (const [attrs, want, dims] of cases) {
    const m = new ProgramMaker();
    m.feed('x', [2, 4]);
    m.v('n', dims);
    m.op('p_norm', { X: 'x' }, { Out: 'n' }, { epsilon: 1e-12, ...attrs });
    m.fetch('n');
    const [n] = await convertAndRun(m, { x: { dims: [2, 4], data: x } });
    t.same(n.dims, dims, `${JSON.stringify(attrs)} dims`);
    t.ok(maxAbsDiff(n.data, want) < TOL, `${JSON.stringify(attrs)}: ${n.data} vs ${want}`);
  }
  const m = new ProgramMaker();
  m.feed('x', [2, 4]);
  m.v('n', [2, 1]);
  m.v('y', [2, 4]);
  m.op('p_norm', { X: 'x' }, { Out: 'n' }, { porder: 2, axis: -1, keepdim: true });
  m.op('elementwise_div', { X: 'x', Y: 'n' }, { Out: 'y' }, { axis: -1 });
  m.fetch('y');
  const [y] = await convertAndRun(m, { x: { dims: [2, 4], data: x } });
  t.ok(maxAbsDiff(y.data, [0.6, 0.8, 0, 0, 2 / s2, -2 / s2, 1 / s2, 0.5 / s2]) < TOL, 'unit rows');
});

t.test('unsqueeze2 inserts axes one at a time as Paddle does; squeeze2 drops only 1s', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [3, 4]);
  m.v('u', [1, 3, 4, 1]);
  m.v('s', [3, 4]);
  m.v('s2', [3, 4, 1]);
  m.op('unsqueeze2', { X: 'x' }, { Out: 'u' }, { axes: [0, -1] });
  m.op('squeeze2', { X: 'u' }, { Out: 's' }, { axes: [] });
  m.op('squeeze2', { X: 'u' }, { Out: 's2' }, { axes: [0, 1] }); // dim 1 is 3: kept
  m.fetch('u');
  m.fetch('s');
  m.fetch('s2');
  const x = ramp(12);
  const [u, s, s2] = await convertAndRun(m, { x: { dims: [3, 4], data: x } });
  t.same(u.dims, [1, 3, 4, 1]);
  t.same(s.dims, [3, 4]);
  t.same(s2.dims, [3, 4, 1]);
  t.ok(maxAbsDiff(s2.data, x) < TOL);
});

t.test('stack, expand_v2 (-1 keeps a dim), expand_as_v2, fill_any_like', async (t) => {
  const m = new ProgramMaker();
  m.feed('a', [1, 3]);
  m.feed('b', [1, 3]);
  m.v('st', [1, 2, 3]);
  m.v('ex', [2, 2, 3]);
  m.v('ea', [4, 3]);
  m.v('fl', [1, 3]);
  m.param('target', [4, 3], new Array(12).fill(0));
  m.op('stack', { X: ['a', 'b'] }, { Y: 'st' }, { axis: 1 });
  m.op('expand_v2', { X: 'st' }, { Out: 'ex' }, { shape: [2, -1, 3] });
  m.op('expand_as_v2', { X: 'a', Y: 'target' }, { Out: 'ea' }, {});
  m.op('fill_any_like', { X: 'a' }, { Out: 'fl' }, { value: 2.5, dtype: -1 });
  for (const f of ['st', 'ex', 'ea', 'fl']) m.fetch(f);
  const [st, ex, ea, fl] = await convertAndRun(m, { a: { dims: [1, 3], data: [1, 2, 3] }, b: { dims: [1, 3], data: [4, 5, 6] } });
  t.same(st.dims, [1, 2, 3]);
  t.same(st.data, [1, 2, 3, 4, 5, 6]);
  t.same(ex.dims, [2, 2, 3]);
  t.same(ex.data, [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
  t.same(ea.dims, [4, 3]);
  t.same(ea.data, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
  t.same(fl.data, [2.5, 2.5, 2.5]);
});

t.test('reduce_mean / reduce_max / reduce_sum: dims, keep_dim, a full reduction declared [1]', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [2, 3]);
  m.v('mean', [2]);
  m.v('max', [1]);
  m.v('sum', [1, 3]);
  m.op('reduce_mean', { X: 'x' }, { Out: 'mean' }, { dim: [1], keep_dim: false, reduce_all: false });
  m.op('reduce_max', { X: 'x' }, { Out: 'max' }, { dim: [0], keep_dim: false, reduce_all: true });
  m.op('reduce_sum', { X: 'x' }, { Out: 'sum' }, { dim: [-2], keep_dim: true, reduce_all: false });
  for (const f of ['mean', 'max', 'sum']) m.fetch(f);
  const [mean, max, sum] = await convertAndRun(m, { x: { dims: [2, 3], data: [1, 2, 6, -1, 0, 4] } });
  t.same(mean.data, [3, 1]);
  t.same(max.dims, [1]);
  t.same(max.data, [6]);
  t.same(sum.dims, [1, 3]);
  t.same(sum.data, [0, 2, 10]);
});

t.test('a one-head attention block with a GELU MLP and an L2-normalised class token', async (t) => {
  const D = 4;
  const L = 3;
  const r = (n: number, s: number, o: number) => ramp(n, s, o).map((v, i) => v * (i % 2 ? 1 : -1));
  const W = { q: r(16, 0.07, 0.3), k: r(16, 0.05, -0.2), v: r(16, 0.06, 0.1), o: r(16, 0.04, 0.2), f1: r(32, 0.03, -0.1), f2: r(32, 0.02, 0.25) };
  const lnS = [1, 0.9, 1.1, 1.2];
  const lnB = [0.1, 0, -0.1, 0.05];
  const m = new ProgramMaker();
  m.feed('x', [-1, L, D]);
  m.param('ln_s', [D], lnS);
  m.param('ln_b', [D], lnB);
  for (const [k, w] of Object.entries(W)) m.param(`w_${k}`, k === 'f1' ? [D, 8] : k === 'f2' ? [8, D] : [D, D], w);
  m.param('inv_sqrt_d', [1], [1 / Math.sqrt(D)]);
  m.param('cls_idx', [1], [0], 'int64');
  const v = (n: string, s: number[]) => m.v(n, s);
  v('ln', [-1, L, D]); v('q', [-1, L, D]); v('k', [-1, L, D]); v('vv', [-1, L, D]);
  v('s', [-1, L, L]); v('ss', [-1, L, L]); v('p', [-1, L, L]); v('a', [-1, L, D]); v('o', [-1, L, D]); v('h', [-1, L, D]);
  v('ln2', [-1, L, D]); v('f1', [-1, L, 8]); v('g', [-1, L, 8]); v('f2', [-1, L, D]); v('h2', [-1, L, D]);
  v('cls', [-1, 1, D]); v('cls2', [-1, D]); v('norm', [-1, 1]); v('feat', [-1, D]);
  m.op('layer_norm', { X: 'x', Scale: 'ln_s', Bias: 'ln_b' }, { Y: 'ln' }, { begin_norm_axis: 2, epsilon: 1e-6 });
  m.op('matmul_v2', { X: 'ln', Y: 'w_q' }, { Out: 'q' }, {});
  m.op('matmul_v2', { X: 'ln', Y: 'w_k' }, { Out: 'k' }, {});
  m.op('matmul_v2', { X: 'ln', Y: 'w_v' }, { Out: 'vv' }, {});
  m.op('matmul_v2', { X: 'q', Y: 'k' }, { Out: 's' }, { trans_y: true });
  m.op('elementwise_mul', { X: 's', Y: 'inv_sqrt_d' }, { Out: 'ss' }, { axis: -1 });
  m.op('softmax', { X: 'ss' }, { Out: 'p' }, { axis: -1 });
  m.op('matmul_v2', { X: 'p', Y: 'vv' }, { Out: 'a' }, {});
  m.op('matmul_v2', { X: 'a', Y: 'w_o' }, { Out: 'o' }, {});
  m.op('elementwise_add', { X: 'x', Y: 'o' }, { Out: 'h' }, { axis: -1 });
  m.op('layer_norm', { X: 'h', Scale: 'ln_s', Bias: 'ln_b' }, { Y: 'ln2' }, { begin_norm_axis: 2, epsilon: 1e-6 });
  m.op('matmul_v2', { X: 'ln2', Y: 'w_f1' }, { Out: 'f1' }, {});
  m.op('gelu', { X: 'f1' }, { Out: 'g' }, { approximate: false });
  m.op('matmul_v2', { X: 'g', Y: 'w_f2' }, { Out: 'f2' }, {});
  m.op('elementwise_add', { X: 'h', Y: 'f2' }, { Out: 'h2' }, { axis: -1 });
  m.op('gather', { X: 'h2', Index: 'cls_idx' }, { Out: 'cls' }, { axis: 1 });
  m.op('squeeze2', { X: 'cls' }, { Out: 'cls2' }, { axes: [1] });
  m.op('p_norm', { X: 'cls2' }, { Out: 'norm' }, { porder: 2, axis: -1, keepdim: true });
  m.op('elementwise_div', { X: 'cls2', Y: 'norm' }, { Out: 'feat' }, { axis: -1 });
  m.fetch('feat');
  const x = ramp(2 * L * D, 0.13, -1.5).map((z, i) => z * (i % 3 === 1 ? -1 : 1));
  const [feat] = await convertAndRun(m, { x: { dims: [2, L, D], data: x } });

  const want = [0, 1].flatMap((b) => {
    const X = chunk(x.slice(b * L * D, (b + 1) * L * D), D);
    const ln = X.map((row) => layerNormRow(row, lnS, lnB, 1e-6));
    const q = matmul(ln, chunk(W.q, D));
    const k = matmul(ln, chunk(W.k, D));
    const vv = matmul(ln, chunk(W.v, D));
    const p = matmul(q, transpose(k)).map((row) => softmaxRow(row.map((z) => z / Math.sqrt(D))));
    const o = matmul(matmul(p, vv), chunk(W.o, D));
    const h = X.map((row, i) => row.map((z, j) => z + o[i][j]));
    const ln2 = h.map((row) => layerNormRow(row, lnS, lnB, 1e-6));
    const f2 = matmul(matmul(ln2, chunk(W.f1, 8)).map((row) => row.map(gelu)), chunk(W.f2, D));
    const cls = h[0].map((z, j) => z + f2[0][j]);
    const n = Math.hypot(...cls);
    return cls.map((z) => z / n);
  });
  t.same(feat.dims, [2, D]);
  t.ok(maxAbsDiff(feat.data, want) < TOL, `max diff ${maxAbsDiff(feat.data, want)}`);
});

t.test('ViT token assembly: class token expanded to the run-time batch, concat, position embedding, class token sliced out', async (t) => {
  const D = 4;
  const m = new ProgramMaker();
  m.feed('x', [-1, 2, D]);
  const cls = [0.5, -1, 2, 0.25];
  const pos = ramp(3 * D, 0.1, -0.6);
  m.param('cls_token', [1, 1, D], cls);
  m.param('pos_embed', [1, 3, D], pos);
  m.v('xs', [3], 'int32');
  m.v('bsz', [1], 'int32');
  m.v('m1', [1], 'int32');
  m.v('clsb', [-1, 1, D]);
  m.v('tok', [-1, 3, D]);
  m.v('h', [-1, 3, D]);
  m.v('first', [-1, D]);
  m.op('shape', { Input: 'x' }, { Out: 'xs' });
  m.op('slice', { Input: 'xs' }, { Out: 'bsz' }, { axes: [0], starts: [0], ends: [1], decrease_axis: [0], infer_flags: [1] });
  m.op('fill_constant', {}, { Out: 'm1' }, { shape: [1], value: -1, dtype: 2, str_value: '-1' });
  m.op('expand_v2', { X: 'cls_token', expand_shapes_tensor: ['bsz', 'm1', 'm1'] }, { Out: 'clsb' }, { shape: [] });
  m.op('concat', { X: ['clsb', 'x'] }, { Out: 'tok' }, { axis: 1 });
  m.op('elementwise_add', { X: 'tok', Y: 'pos_embed' }, { Out: 'h' }, { axis: -1 });
  m.op('slice', { Input: 'h' }, { Out: 'first' }, { axes: [1], starts: [0], ends: [1], decrease_axis: [1], infer_flags: [1] });
  m.fetch('h');
  m.fetch('first');
  const x = ramp(3 * 2 * D, 0.2, -2);
  const [h, first] = await convertAndRun(m, { x: { dims: [3, 2, D], data: x } });
  const want = [0, 1, 2].flatMap((b) => [...cls, ...x.slice(b * 2 * D, (b + 1) * 2 * D)].map((v, i) => v + pos[i]));
  t.same(h.dims, [3, 3, D]);
  t.ok(maxAbsDiff(h.data, want) < TOL, 'tokens');
  t.same(first.dims, [3, D]);
  t.ok(maxAbsDiff(first.data, [0, 1, 2].flatMap(() => cls.map((v, i) => v + pos[i]))) < TOL, 'the class token of each image');
});

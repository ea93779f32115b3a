// conv2d / depthwise_conv2d / conv2d_transpose, batch_norm, pool2d and
// layer_norm converted from hand-made programs, against direct loops that
// follow Paddle's kernels (written here, independent of ONNX's definitions):
// padding algorithms, groups, dilations, ceil_mode, exclusive, adaptive, NHWC.
import t from 'tap';
import { ProgramMaker, convertAndRun, maxAbsDiff, ramp } from '../../helpers/paddle-program';

const TOL = 1e-4;

/** Paddle conv2d, NCHW, pads [top, bottom, left, right]. */
function refConv(x: number[], xs: number[], w: number[], ws: number[], stride: number[], pads: number[], dil: number[], groups: number): { data: number[]; dims: number[] } {
  const [n, c, h, wd] = xs;
  const [oc, icg, kh, kw] = ws;
  const oh = Math.floor((h + pads[0] + pads[1] - (dil[0] * (kh - 1) + 1)) / stride[0]) + 1;
  const ow = Math.floor((wd + pads[2] + pads[3] - (dil[1] * (kw - 1) + 1)) / stride[1]) + 1;
  const out: number[] = [];
  const ocg = oc / groups;
  for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const g = Math.floor(o / ocg);
    let acc = 0;
    for (let ci = 0; ci < icg; ci++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
      const y = i * stride[0] - pads[0] + u * dil[0];
      const xx = j * stride[1] - pads[2] + v * dil[1];
      if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
      acc += x[((b * c + g * icg + ci) * h + y) * wd + xx] * w[((o * icg + ci) * kh + u) * kw + v];
    }
    out.push(acc);
  }
  return { data: out, dims: [n, oc, oh, ow] };
}

function convCase(name: string, xs: number[], ws: number[], attrs: Record<string, number[] | number | string>, pads: number[], dil: number[]) {
  t.test(`conv2d ${name}`, async (t) => {
    const m = new ProgramMaker();
    const groups = (attrs.groups as number) ?? 1;
    const type = groups > 1 && groups === xs[1] ? 'depthwise_conv2d' : 'conv2d';
    m.feed('x', [-1, ...xs.slice(1)]);
    const w = ramp(ws.reduce((a, b) => a * b, 1), 0.07, -0.5);
    m.param('w', ws, w);
    m.v('y', [-1, ws[0], -1, -1]);
    m.op(type, { Input: 'x', Filter: 'w' }, { Output: 'y' }, attrs);
    m.fetch('y');
    const x = ramp(xs.reduce((a, b) => a * b, 1), 0.05, -1);
    const [y] = await convertAndRun(m, { x: { dims: xs, data: x } });
    const want = refConv(x, xs, w, ws, attrs.strides as number[] ?? [1, 1], pads, dil, groups);
    t.same(y.dims, want.dims, 'dims');
    t.ok(maxAbsDiff(y.data, want.data) < TOL, `max abs diff ${maxAbsDiff(y.data, want.data)}`);
  });
}

convCase('explicit [1,2] pads, stride 2', [1, 2, 7, 6], [3, 2, 3, 3], { strides: [2, 2], paddings: [1, 2] }, [1, 1, 2, 2], [1, 1]);
convCase('explicit 4-value pads', [1, 2, 6, 6], [2, 2, 3, 2], { paddings: [0, 2, 1, 0] }, [0, 2, 1, 0], [1, 1]);
// SAME at stride 2 on 7: out 4, total pad (4-1)*2+3-7 = 2 -> 1, 1; on 6: out 3, total 1 -> 0, 1. Dilation is ignored (reset to 1).
convCase('SAME, stride 2, dilation reset', [1, 2, 7, 6], [2, 2, 3, 3], { strides: [2, 2], padding_algorithm: 'SAME', dilations: [2, 2], paddings: [5, 5] }, [1, 1, 0, 1], [1, 1]);
convCase('VALID ignores paddings', [1, 2, 6, 6], [2, 2, 3, 3], { padding_algorithm: 'VALID', paddings: [2, 2] }, [0, 0, 0, 0], [1, 1]);
convCase('dilation 2', [1, 1, 7, 7], [2, 1, 3, 3], { dilations: [2, 2], paddings: [1, 1] }, [1, 1, 1, 1], [2, 2]);
convCase('depthwise, groups = channels', [1, 3, 5, 5], [3, 1, 3, 3], { groups: 3, paddings: [1, 1] }, [1, 1, 1, 1], [1, 1]);
convCase('groups 2', [1, 4, 5, 5], [4, 2, 1, 1], { groups: 2 }, [0, 0, 0, 0], [1, 1]);

t.test('conv2d NHWC', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1, 4, 4, 2]);
  const ws = [3, 2, 3, 3];
  const w = ramp(54, 0.03, -0.7);
  m.param('w', ws, w);
  m.v('y', [1, 4, 4, 3]);
  m.op('conv2d', { Input: 'x', Filter: 'w' }, { Output: 'y' }, { paddings: [1, 1], data_format: 'NHWC' });
  m.fetch('y');
  const xNchw = ramp(32, 0.1, -1);
  const xNhwc: number[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let c = 0; c < 2; c++) xNhwc.push(xNchw[(c * 4 + i) * 4 + j]);
  const [y] = await convertAndRun(m, { x: { dims: [1, 4, 4, 2], data: xNhwc } });
  const ref = refConv(xNchw, [1, 2, 4, 4], w, ws, [1, 1], [1, 1, 1, 1], [1, 1], 1);
  const refNhwc: number[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let c = 0; c < 3; c++) refNhwc.push(ref.data[(c * 4 + i) * 4 + j]);
  t.same(y.dims, [1, 4, 4, 3]);
  t.ok(maxAbsDiff(y.data, refNhwc) < TOL);
});

t.test('conv2d_transpose: stride 2, padding 1, output_size picks output_padding', async (t) => {
  // in 3x3, k 3, s 2, p 1: base size (3-1)*2 - 2 + 3 = 5; output_size 6 -> output_padding 1.
  const m = new ProgramMaker();
  m.feed('x', [1, 1, 3, 3]);
  const w = ramp(9, 1, 1); // [Cin=1, Cout=1, 3, 3]
  m.param('w', [1, 1, 3, 3], w);
  m.v('y', [1, 1, 6, 6]);
  m.op('conv2d_transpose', { Input: 'x', Filter: 'w' }, { Output: 'y' }, { strides: [2, 2], paddings: [1, 1], output_size: [6, 6] });
  m.fetch('y');
  const x = ramp(9, 1, 1);
  const [y] = await convertAndRun(m, { x: { dims: [1, 1, 3, 3], data: x } });
  // Scatter: out[i*2 - 1 + u][j*2 - 1 + v] += x[i][j] * w[u][v], cropped to 6x6 (the extra row/col from output_padding).
  const want = new Array(36).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let u = 0; u < 3; u++) for (let v = 0; v < 3; v++) {
    const oy = i * 2 - 1 + u;
    const ox = j * 2 - 1 + v;
    if (oy >= 0 && oy < 6 && ox >= 0 && ox < 6) want[oy * 6 + ox] += x[i * 3 + j] * w[u * 3 + v];
  }
  t.same(y.dims, [1, 1, 6, 6]);
  t.ok(maxAbsDiff(y.data, want) < TOL);
});

t.test('batch_norm at inference: (x - mean) / sqrt(var + eps) * scale + bias, NCHW and NHWC', async (t) => {
  for (const layout of ['NCHW', 'NHWC']) {
    const m = new ProgramMaker();
    const shape = layout === 'NCHW' ? [1, 2, 2, 2] : [1, 2, 2, 2];
    m.feed('x', shape);
    m.param('scale', [2], [2, 0.5]);
    m.param('bias', [2], [1, -1]);
    m.param('mean', [2], [0.5, -0.5]);
    m.param('var', [2], [4, 0.25]);
    m.v('y', shape);
    m.op('batch_norm', { X: 'x', Scale: 'scale', Bias: 'bias', Mean: 'mean', Variance: 'var' },
      { Y: 'y', MeanOut: 'mean', VarianceOut: 'var', SavedMean: 'sm', SavedVariance: 'sv' }, { epsilon: 0.001, is_test: true, data_layout: layout });
    m.fetch('y');
    const x = ramp(8, 0.5, -2);
    const [y] = await convertAndRun(m, { x: { dims: shape, data: x } });
    const ch = (i: number) => (layout === 'NCHW' ? Math.floor(i / 4) : i % 2);
    const sc = [2, 0.5]; const bi = [1, -1]; const mu = [0.5, -0.5]; const va = [4, 0.25];
    const want = x.map((v, i) => ((v - mu[ch(i)]) / Math.sqrt(va[ch(i)] + 0.001)) * sc[ch(i)] + bi[ch(i)]);
    t.ok(maxAbsDiff(y.data, want) < TOL, layout);
  }
});

/** Paddle pool2d, NCHW, explicit pads, divisor rule of the kernel. */
function refPool(x: number[], xs: number[], k: number[], s: number[], pads: number[], isMax: boolean, exclusive: boolean, ceil: boolean): { data: number[]; dims: number[] } {
  const [n, c, h, w] = xs;
  const size = (len: number, i: number) => {
    const total = len + pads[2 * i] + pads[2 * i + 1] - k[i];
    return (ceil ? Math.floor((total + s[i] - 1) / s[i]) : Math.floor(total / s[i])) + 1;
  };
  const oh = size(h, 0);
  const ow = size(w, 1);
  const out: number[] = [];
  for (let b = 0; b < n * c; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const hs = i * s[0] - pads[0];
    const ws = j * s[1] - pads[2];
    const he = Math.min(hs + k[0], h + pads[1]);
    const we = Math.min(ws + k[1], w + pads[3]);
    const hs0 = Math.max(hs, 0); const ws0 = Math.max(ws, 0);
    const he0 = Math.min(he, h); const we0 = Math.min(we, w);
    let acc = isMax ? -Infinity : 0;
    for (let y = hs0; y < he0; y++) for (let xx = ws0; xx < we0; xx++) {
      const v = x[(b * h + y) * w + xx];
      acc = isMax ? Math.max(acc, v) : acc + v;
    }
    out.push(isMax ? acc : acc / (exclusive ? (he0 - hs0) * (we0 - ws0) : k[0] * k[1]));
  }
  return { data: out, dims: [n, c, oh, ow] };
}

function poolCase(name: string, xs: number[], attrs: Record<string, number[] | number | string | boolean>, ref: { data: number[]; dims: number[] } | ((x: number[]) => { data: number[]; dims: number[] })) {
  t.test(`pool2d ${name}`, async (t) => {
    const m = new ProgramMaker();
    m.feed('x', xs);
    m.v('y', [xs[0], xs[1], -1, -1]);
    m.op('pool2d', { X: 'x' }, { Out: 'y' }, attrs);
    m.fetch('y');
    const x = ramp(xs.reduce((a, b) => a * b, 1), 0.37, -5).map((v, i) => (i % 3 === 0 ? -v : v));
    const [y] = await convertAndRun(m, { x: { dims: xs, data: x } });
    const want = typeof ref === 'function' ? ref(x) : ref;
    t.same(y.dims, want.dims, 'dims');
    t.ok(maxAbsDiff(y.data, want.data) < TOL, `max abs diff ${maxAbsDiff(y.data, want.data)}`);
  });
}

const X5 = [1, 2, 5, 5];
poolCase('max 3x3 s2 p1', X5, { pooling_type: 'max', ksize: [3, 3], strides: [2, 2], paddings: [1, 1] }, (x) => refPool(x, X5, [3, 3], [2, 2], [1, 1, 1, 1], true, true, false));
poolCase('avg exclusive p1', X5, { pooling_type: 'avg', ksize: [3, 3], strides: [2, 2], paddings: [1, 1] }, (x) => refPool(x, X5, [3, 3], [2, 2], [1, 1, 1, 1], false, true, false));
poolCase('avg non-exclusive p1 (padding counted)', X5, { pooling_type: 'avg', ksize: [3, 3], strides: [2, 2], paddings: [1, 1], exclusive: false }, (x) => refPool(x, X5, [3, 3], [2, 2], [1, 1, 1, 1], false, false, false));
const X6 = [1, 1, 6, 6];
poolCase('max ceil_mode', X6, { pooling_type: 'max', ksize: [3, 3], strides: [2, 2], ceil_mode: true }, (x) => refPool(x, X6, [3, 3], [2, 2], [0, 0, 0, 0], true, true, true));
poolCase('avg exclusive ceil_mode', X6, { pooling_type: 'avg', ksize: [3, 3], strides: [2, 2], ceil_mode: true }, (x) => refPool(x, X6, [3, 3], [2, 2], [0, 0, 0, 0], false, true, true));
poolCase('avg non-exclusive ceil_mode (overhang divides by 9)', X6, { pooling_type: 'avg', ksize: [3, 3], strides: [2, 2], ceil_mode: true, exclusive: false }, (x) => refPool(x, X6, [3, 3], [2, 2], [0, 0, 0, 0], false, false, true));
poolCase('global avg', X5, { pooling_type: 'avg', ksize: [1, 1], global_pooling: true }, (x) => refPool(x, X5, [5, 5], [1, 1], [0, 0, 0, 0], false, true, false));
poolCase('adaptive avg 1x1', X5, { pooling_type: 'avg', ksize: [1, 1], adaptive: true }, (x) => refPool(x, X5, [5, 5], [1, 1], [0, 0, 0, 0], false, true, false));
poolCase('adaptive max 3x2 of 6x6', X6, { pooling_type: 'max', ksize: [3, 2], adaptive: true }, (x) => refPool(x, X6, [2, 3], [2, 3], [0, 0, 0, 0], true, true, false));
// SAME, stride 2 on 5: out 3, total pad (3-1)*2+3-5 = 2 -> 1, 1.
poolCase('max SAME', X5, { pooling_type: 'max', ksize: [3, 3], strides: [2, 2], padding_algorithm: 'SAME' }, (x) => refPool(x, X5, [3, 3], [2, 2], [1, 1, 1, 1], true, true, false));

/** Paddle's adaptive pooling: window i of out covers [floor(i*in/out), ceil((i+1)*in/out)). */
function refAdaptive(x: number[], [n, c, h, w]: number[], [oh, ow]: number[], isMax: boolean): { data: number[]; dims: number[] } {
  const out: number[] = [];
  for (let b = 0; b < n * c; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const hs = Math.floor((i * h) / oh); const he = Math.ceil(((i + 1) * h) / oh);
    const ws = Math.floor((j * w) / ow); const we = Math.ceil(((j + 1) * w) / ow);
    let acc = isMax ? -Infinity : 0;
    for (let y = hs; y < he; y++) for (let xx = ws; xx < we; xx++) acc = isMax ? Math.max(acc, x[(b * h + y) * w + xx]) : acc + x[(b * h + y) * w + xx];
    out.push(isMax ? acc : acc / ((he - hs) * (we - ws)));
  }
  return { data: out, dims: [n, c, oh, ow] };
}
const X57 = [1, 2, 5, 7];
poolCase('adaptive avg 2x3 of 5x7 (unequal, overlapping windows)', X57, { pooling_type: 'avg', ksize: [2, 3], adaptive: true }, (x) => refAdaptive(x, X57, [2, 3], false));
poolCase('adaptive max 3x4 of 5x7', X57, { pooling_type: 'max', ksize: [3, 4], adaptive: true }, (x) => refAdaptive(x, X57, [3, 4], true));

t.test('adaptive pooling of a map whose size is known only at run time: ERR_MODEL_UNSUPPORTED', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1, 1, -1, -1]);
  m.v('y', [1, 1, 2, 2]);
  m.op('pool2d', { X: 'x' }, { Out: 'y' }, { pooling_type: 'avg', ksize: [2, 2], adaptive: true });
  m.fetch('y');
  await t.rejects(convertAndRun(m, { x: { dims: [1, 1, 5, 5], data: ramp(25) } }), { code: 'ERR_MODEL_UNSUPPORTED' });
});

t.test('layer_norm over the last two dims, flat Scale/Bias', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [2, 2, 3]);
  m.param('s', [6], [1, 2, 3, 4, 5, 6]);
  m.param('b', [6], [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  m.v('y', [2, 2, 3]);
  m.op('layer_norm', { X: 'x', Scale: 's', Bias: 'b' }, { Y: 'y', Mean: 'm', Variance: 'v' }, { begin_norm_axis: 1, epsilon: 1e-5 });
  m.fetch('y');
  const x = ramp(12, 0.3, -1).map((v, i) => v * (i % 2 ? 2 : 1));
  const [y] = await convertAndRun(m, { x: { dims: [2, 2, 3], data: x } });
  const want: number[] = [];
  for (let b = 0; b < 2; b++) {
    const row = x.slice(b * 6, b * 6 + 6);
    const mu = row.reduce((a, v) => a + v, 0) / 6;
    const va = row.reduce((a, v) => a + (v - mu) ** 2, 0) / 6;
    row.forEach((v, i) => want.push(((v - mu) / Math.sqrt(va + 1e-5)) * (i + 1) + i * 0.1));
  }
  t.ok(maxAbsDiff(y.data, want) < TOL);
});

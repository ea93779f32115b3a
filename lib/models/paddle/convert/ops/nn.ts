// Convolutions, normalisations and pooling (NCHW or NHWC, 2-D).
//
// Facts from Paddle's kernels (phi/kernels/funcs/pooling.cc,
// phi/infermeta/binary.cc ConvInferMeta, funcs/padding.h UpdatePaddingAndDilation):
// - `paddings` is [h, w] or [top, bottom, left, right]; ONNX's pads are
//   [top, left, bottom, right].
// - padding_algorithm SAME: out = ceil(in / stride), the total padding
//   max((out - 1) * stride + k - in, 0) split with the smaller half first, and
//   dilations reset to 1; VALID: no padding. EXPLICIT: `paddings`.
// - pool2d: global_pooling (or adaptive with ksize 1x1) covers the whole map;
//   adaptive windows are [floor(i*in/out), ceil((i+1)*in/out)), a plain
//   pooling when in is a multiple of out, else pooled band by band; `exclusive` avg divides by the
//   in-bounds count, non-exclusive by kh*kw always (padding and ceil_mode's
//   overhang included), which ONNX's count_include_pad does not do for the
//   overhang: that case pads explicitly with zeros and pools unpadded.
import { PADDLE_CONVERT_LIMITS } from '../../../../limits';
import { registerOps, OpContext } from '../context';
import { attrFloat, attrInt, attrInts, attrStr } from '../graph';

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

/** [top, bottom, left, right] from Paddle's 2- or 4-element `paddings`. */
export function paddings4(ctx: OpContext, name = 'paddings'): number[] {
  const p = ctx.ints(name, [0, 0]);
  if (p.length === 2) return [p[0], p[0], p[1], p[1]];
  if (p.length === 4) return p;
  return ctx.invalid(`${name} has ${p.length} values (2 or 4 expected)`);
}

function convOut(size: number, k: number, s: number, p0: number, p1: number, d: number): number {
  return size < 0 ? -1 : Math.floor((size + p0 + p1 - (d * (k - 1) + 1)) / s) + 1;
}

/** Paddle's SAME padding of one spatial dim: [before, after]. */
function samePads(size: number, k: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** The NCHW view of input `slot` (transposed when data_format is NHWC), with its static NCHW shape. */
function nchwInput(ctx: OpContext, slot: string, nhwc: boolean): { x: string; shape: number[] | undefined } {
  const x = ctx.input(slot);
  const s = ctx.shape(slot);
  if (!nhwc) return { x, shape: s };
  const t = ctx.b.op('Transpose', [x], { perm: attrInts(TO_NCHW) });
  const shape = s && s.length === 4 ? TO_NCHW.map((i) => s[i]) : undefined;
  ctx.setShape(t, shape);
  return { x: t, shape };
}

/** Writes the NCHW result `y` to output `slot`, transposing back for NHWC. */
function nchwOutput(ctx: OpContext, slot: string, y: string, nchwShape: number[] | undefined, nhwc: boolean, opType: string, inputs: string[], attrs: Parameters<typeof ctx.b.node>[3]): void {
  const out = ctx.output(slot);
  if (!nhwc) {
    ctx.b.node(opType, inputs, [out], attrs);
    ctx.setShape(out, nchwShape);
    return;
  }
  ctx.b.node(opType, inputs, [y], attrs);
  ctx.b.node('Transpose', [y], [out], { perm: attrInts(TO_NHWC) });
  ctx.setShape(out, nchwShape ? TO_NHWC.map((i) => nchwShape[i]) : undefined);
}

/** Strides, dilations and kernel sizes must be positive (ONNX Runtime would refuse the file at load). */
function positive(ctx: OpContext, what: string, v: number[]): number[] {
  if (v.length !== 2 || v.some((d) => !Number.isInteger(d) || d < 1)) ctx.invalid(`${what} [${v.join(',')}] (two positive integers expected)`);
  return v;
}

function isNhwc(ctx: OpContext, attr: string): boolean {
  const f = ctx.str(attr, 'NCHW');
  if (f === 'NHWC') return true;
  if (f === 'NCHW' || f === 'AnyLayout') return false;
  return ctx.unsupported(`${attr} ${f}`);
}

/** Resolved 2-D padding: [top, bottom, left, right] and dilations, or SAME left to ONNX. */
function resolvePadding(ctx: OpContext, inHW: number[] | undefined, k: number[], strides: number[], dilations: number[]): { pads?: number[]; autoPad?: string; dilations: number[] } {
  const algo = ctx.str('padding_algorithm', 'EXPLICIT');
  if (algo === 'VALID') return { pads: [0, 0, 0, 0], dilations };
  if (algo === 'SAME') {
    if (inHW && inHW.every((d) => d > 0)) {
      const [t, b] = samePads(inHW[0], k[0], strides[0]);
      const [l, r] = samePads(inHW[1], k[1], strides[1]);
      return { pads: [t, b, l, r], dilations: [1, 1] };
    }
    return { autoPad: 'SAME_UPPER', dilations: [1, 1] };
  }
  if (algo !== 'EXPLICIT') ctx.unsupported(`padding_algorithm ${algo}`);
  return { pads: paddings4(ctx), dilations };
}

function conv2d(ctx: OpContext): void {
  const nhwc = isNhwc(ctx, 'data_format');
  const { x, shape } = nchwInput(ctx, 'Input', nhwc);
  const w = ctx.input('Filter');
  const ws = ctx.shape('Filter');
  if (!ws || ws.length !== 4) ctx.unsupported('only 2-D convolution (a 4-D filter) is converted');
  const k = positive(ctx, 'filter size', [ws[2], ws[3]]);
  const strides = positive(ctx, 'strides', ctx.ints('strides', [1, 1]));
  const groups = ctx.int('groups', 1);
  if (groups < 1) ctx.invalid(`groups ${groups}`);
  const pad = resolvePadding(ctx, shape?.slice(2), k, strides, positive(ctx, 'dilations', ctx.ints('dilations', [1, 1])));
  const attrs = {
    kernel_shape: attrInts(k),
    strides: attrInts(strides),
    dilations: attrInts(pad.dilations),
    group: attrInt(groups),
    ...(pad.pads ? { pads: attrInts([pad.pads[0], pad.pads[2], pad.pads[1], pad.pads[3]]) } : { auto_pad: attrStr(pad.autoPad!) }),
  };
  const inputs = [x, w, ...(ctx.has('Bias') ? [ctx.input('Bias')] : [])];
  let outShape: number[] | undefined;
  if (shape && shape.length === 4) {
    const hw = pad.pads
      ? [0, 1].map((i) => convOut(shape[2 + i], k[i], strides[i], pad.pads![2 * i], pad.pads![2 * i + 1], pad.dilations[i]))
      : [0, 1].map((i) => (shape[2 + i] < 0 ? -1 : Math.ceil(shape[2 + i] / strides[i])));
    outShape = [shape[0], ws[0], ...hw];
  }
  nchwOutput(ctx, 'Output', ctx.b.fresh('conv_nchw'), outShape, nhwc, 'Conv', inputs, attrs);
}

function conv2dTranspose(ctx: OpContext): void {
  const nhwc = isNhwc(ctx, 'data_format');
  const { x, shape } = nchwInput(ctx, 'Input', nhwc);
  const w = ctx.input('Filter');
  const ws = ctx.shape('Filter');
  if (!ws || ws.length !== 4) ctx.unsupported('only 2-D transposed convolution is converted');
  const k = positive(ctx, 'filter size', [ws[2], ws[3]]);
  const strides = positive(ctx, 'strides', ctx.ints('strides', [1, 1]));
  const dilations = positive(ctx, 'dilations', ctx.ints('dilations', [1, 1]));
  const groups = ctx.int('groups', 1);
  if (groups < 1) ctx.invalid(`groups ${groups}`);
  const algo = ctx.str('padding_algorithm', 'EXPLICIT');
  if (algo === 'SAME') ctx.unsupported('padding_algorithm SAME');
  const p = algo === 'VALID' ? [0, 0, 0, 0] : paddings4(ctx);
  let outPad = ctx.ints('output_padding', []);
  const outSize = ctx.ints('output_size', []);
  // Size without output_padding: (in - 1) * s - pad_total + d * (k - 1) + 1.
  const base = (i: number) => (shape && shape[2 + i] > 0 ? (shape[2 + i] - 1) * strides[i] - p[2 * i] - p[2 * i + 1] + dilations[i] * (k[i] - 1) + 1 : -1);
  if (outSize.length > 0) {
    if (outSize.length !== 2) ctx.invalid('output_size needs 2 values');
    if (base(0) < 0 || base(1) < 0) ctx.unsupported('output_size with an input size unknown at conversion (fix it with inputShapes)');
    outPad = [outSize[0] - base(0), outSize[1] - base(1)];
    if (outPad.some((v, i) => v < 0 || v >= Math.max(strides[i], dilations[i]))) ctx.invalid(`output_size [${outSize.join(',')}] unreachable`);
  }
  if (outPad.length === 0) outPad = [0, 0];
  const attrs = {
    kernel_shape: attrInts(k),
    strides: attrInts(strides),
    dilations: attrInts(dilations),
    group: attrInt(groups),
    pads: attrInts([p[0], p[2], p[1], p[3]]),
    output_padding: attrInts(outPad),
  };
  const inputs = [x, w, ...(ctx.has('Bias') ? [ctx.input('Bias')] : [])];
  const outShape = shape ? [shape[0], ws[1] * groups, ...[0, 1].map((i) => (base(i) < 0 ? -1 : base(i) + outPad[i]))] : undefined;
  nchwOutput(ctx, 'Output', ctx.b.fresh('convt_nchw'), outShape, nhwc, 'ConvTranspose', inputs, attrs);
}

function batchNorm(ctx: OpContext): void {
  const nhwc = isNhwc(ctx, 'data_layout');
  const rank = ctx.rank('X');
  const channelsLast = nhwc && rank > 2;
  const x0 = ctx.input('X');
  const s0 = ctx.shape('X');
  let x = x0;
  const perm = Array.from({ length: rank }, (_, i) => i);
  if (channelsLast) {
    const toFirst = [0, rank - 1, ...perm.slice(1, rank - 1)];
    x = ctx.b.op('Transpose', [x0], { perm: attrInts(toFirst) });
  }
  const ins = [x, ctx.input('Scale'), ctx.input('Bias'), ctx.input('Mean'), ctx.input('Variance')];
  const attrs = { epsilon: attrFloat(ctx.float('epsilon', 1e-5)) };
  const out = ctx.output('Y');
  if (!channelsLast) {
    ctx.b.node('BatchNormalization', ins, [out], attrs);
  } else {
    const y = ctx.b.op('BatchNormalization', ins, attrs);
    ctx.b.node('Transpose', [y], [out], { perm: attrInts([0, ...perm.slice(2), 1]) });
  }
  ctx.setShape(out, s0);
}

function pool2d(ctx: OpContext): void {
  const nhwc = isNhwc(ctx, 'data_format');
  const { x, shape: inShape } = nchwInput(ctx, 'X', nhwc);
  let shape = inShape;
  const type = ctx.str('pooling_type', 'max');
  if (type !== 'max' && type !== 'avg') ctx.unsupported(`pooling_type ${type}`);
  const isMax = type === 'max';
  let k = ctx.ints('ksize', []);
  const adaptive = ctx.bool('adaptive', false);
  const hw = shape && shape.length === 4 ? shape.slice(2) : undefined;
  const known = hw !== undefined && hw.every((d) => d > 0);
  // Global pooling ignores ksize (which may then be absent).
  if (ctx.bool('global_pooling', false) || (adaptive && k.length === 2 && k[0] === 1 && k[1] === 1)) {
    const op = isMax ? 'GlobalMaxPool' : 'GlobalAveragePool';
    nchwOutput(ctx, 'Out', ctx.b.fresh('pool_nchw'), shape ? [shape[0], shape[1], 1, 1] : undefined, nhwc, op, [x], {});
    return;
  }
  positive(ctx, 'ksize', k);
  let strides = positive(ctx, 'strides', ctx.ints('strides', [1, 1]));
  let pads: number[];
  let autoPad: string | undefined;
  let ceil = ctx.bool('ceil_mode', false);
  if (adaptive) {
    if (!known) ctx.unsupported(`adaptive pooling to [${k.join(',')}] from a map of unknown size (fix it with inputShapes)`);
    if (hw[0] % k[0] !== 0 || hw[1] % k[1] !== 0) {
      adaptiveBands(ctx, x, shape!, k, isMax, nhwc);
      return;
    }
    strides = [hw[0] / k[0], hw[1] / k[1]];
    k = strides.slice();
    pads = [0, 0, 0, 0];
    ceil = false;
  } else {
    const r = resolvePadding(ctx, hw, k, strides, [1, 1]);
    pads = r.pads ?? [0, 0, 0, 0];
    autoPad = r.autoPad;
  }
  const exclusive = ctx.bool('exclusive', true);
  let input = x;
  // Non-exclusive avg divides by kh*kw for every window, ceil_mode's overhang
  // included: pad with zeros up to the last window's end and pool unpadded.
  if (!isMax && !exclusive && (pads.some((p) => p > 0) || ceil)) {
    if (autoPad) ctx.unsupported('non-exclusive avg pooling with SAME padding of an unknown size (fix it with inputShapes)');
    const extra = [0, 1].map((i) => {
      if (!ceil) return 0;
      if (!known) ctx.unsupported('non-exclusive avg pooling with ceil_mode on an unknown size (fix it with inputShapes)');
      const total = hw[i] + pads[2 * i] + pads[2 * i + 1];
      const out = Math.floor((total - k[i] + strides[i] - 1) / strides[i]) + 1;
      return Math.max(0, (out - 1) * strides[i] + k[i] - total);
    });
    const padsT = ctx.b.int64s([0, 0, pads[0], pads[2], 0, 0, pads[1] + extra[0], pads[3] + extra[1]]);
    input = ctx.b.op('Pad', [x, padsT]);
    if (shape) shape = [shape[0], shape[1], ...[0, 1].map((i) => (shape![2 + i] < 0 ? -1 : shape![2 + i] + pads[2 * i] + pads[2 * i + 1] + extra[i]))];
    pads = [0, 0, 0, 0];
    ceil = false;
  }
  const attrs = {
    kernel_shape: attrInts(k),
    strides: attrInts(strides),
    ...(autoPad ? { auto_pad: attrStr(autoPad) } : { pads: attrInts([pads[0], pads[2], pads[1], pads[3]]) }),
    ...(ceil ? { ceil_mode: attrInt(1) } : {}),
    ...(!isMax ? { count_include_pad: attrInt(exclusive ? 0 : 1) } : {}),
  };
  let outShape: number[] | undefined;
  if (shape && shape.length === 4) {
    const o = [0, 1].map((i) => {
      const size = shape[2 + i];
      if (size < 0) return -1;
      if (autoPad) return Math.ceil(size / strides[i]);
      const total = size + pads[2 * i] + pads[2 * i + 1] - k[i];
      return (ceil ? Math.floor((total + strides[i] - 1) / strides[i]) : Math.floor(total / strides[i])) + 1;
    });
    outShape = [shape[0], shape[1], ...o];
  }
  nchwOutput(ctx, 'Out', ctx.b.fresh('pool_nchw'), outShape, nhwc, isMax ? 'MaxPool' : 'AveragePool', [input], attrs);
}

/**
 * Adaptive pooling whose windows differ in size ([floor(i*in/out),
 * ceil((i+1)*in/out)) per output cell): every row of a window spans the same
 * columns, so the mean (or max) over a window is that over H bands, then over
 * W bands: a Slice and a Reduce per band and dim, two Concats.
 */
function adaptiveBands(ctx: OpContext, x: string, shape: number[], out: number[], isMax: boolean, nhwc: boolean): void {
  if (out[0] * out[1] > PADDLE_CONVERT_LIMITS.maxFoldedElements) ctx.unsupported(`adaptive pooling to [${out.join(',')}]`);
  const reduce = isMax ? 'ReduceMax' : 'ReduceMean';
  let v = x;
  for (const d of [0, 1]) {
    const size = shape[2 + d];
    const axis = 2 + d;
    const bands = Array.from({ length: out[d] }, (_, i) => {
      const start = Math.floor((i * size) / out[d]);
      const end = Math.ceil(((i + 1) * size) / out[d]);
      const band = ctx.b.op('Slice', [v, ctx.b.int64s([start]), ctx.b.int64s([end]), ctx.b.int64s([axis])]);
      return ctx.b.op(reduce, [band], { axes: attrInts([axis]), keepdims: attrInt(1) });
    });
    v = bands.length === 1 ? bands[0] : ctx.b.op('Concat', bands, { axis: attrInt(axis) });
  }
  const outShape = [shape[0], shape[1], out[0], out[1]];
  nchwOutput(ctx, 'Out', ctx.b.fresh('pool_nchw'), outShape, nhwc, 'Identity', [v], {});
}

function layerNorm(ctx: OpContext): void {
  const x = ctx.input('X');
  const s = ctx.shape('X');
  const rank = ctx.rank('X');
  const axis = ctx.int('begin_norm_axis', 1);
  const eps = ctx.float('epsilon', 1e-5);
  const normShape = s ? s.slice(axis) : undefined;
  const normKnown = normShape !== undefined && normShape.every((d) => d > 0);
  // Paddle's Scale/Bias are flat [prod(dims[axis:])]; ONNX wants them broadcastable to dims[axis:].
  const fit = (v: string): string => {
    if (axis === rank - 1) return v;
    if (!normKnown) ctx.unsupported('begin_norm_axis before the last dim with unknown normalised dims (fix them with inputShapes)');
    return ctx.b.op('Reshape', [v, ctx.b.int64s(normShape)]);
  };
  const size = normKnown ? normShape.reduce((a, b) => a * b, 1) : -1;
  let scale: string;
  if (ctx.has('Scale')) scale = fit(ctx.input('Scale'));
  else {
    if (!normKnown) ctx.unsupported('layer_norm without Scale on unknown normalised dims');
    scale = ctx.b.constant({ dtype: 'float32', dims: normShape, values: new Array<number>(size).fill(1) }, 'ln_ones');
  }
  const ins = [x, scale, ...(ctx.has('Bias') ? [fit(ctx.input('Bias'))] : [])];
  const out = ctx.output('Y');
  ctx.b.node('LayerNormalization', ins, [out], { axis: attrInt(axis), epsilon: attrFloat(eps) });
  ctx.setShape(out, s);
}

function prelu(ctx: OpContext): void {
  const x = ctx.input('X');
  const s = ctx.shape('X');
  const rank = ctx.rank('X');
  const mode = ctx.str('mode', 'all');
  const fmt = ctx.str('data_format', 'NCHW');
  let alpha = ctx.input('Alpha');
  if (mode === 'channel' && fmt !== 'NHWC' && rank > 2) {
    // [C] -> [C, 1, ..., 1] so it broadcasts over dim 1.
    alpha = ctx.b.op('Reshape', [alpha, ctx.b.int64s([-1, ...new Array<number>(rank - 2).fill(1)])]);
  } else if (mode === 'element') {
    alpha = ctx.b.op('Reshape', [alpha, ctx.b.int64s([1, ...(s ?? []).slice(1).map((d) => (d < 0 ? 0 : d))])]);
    if (!s || s.slice(1).some((d) => d < 0)) ctx.unsupported('element-mode prelu on unknown dims');
  } else if (mode !== 'all' && mode !== 'channel') {
    ctx.unsupported(`mode ${mode}`);
  }
  const out = ctx.output('Out');
  ctx.b.node('PRelu', [x, alpha], [out]);
  ctx.setShape(out, s);
}

registerOps({
  conv2d,
  depthwise_conv2d: conv2d,
  conv2d_transpose: conv2dTranspose,
  depthwise_conv2d_transpose: conv2dTranspose,
  batch_norm: batchNorm,
  sync_batch_norm: batchNorm,
  pool2d,
  layer_norm: layerNorm,
  prelu,
});

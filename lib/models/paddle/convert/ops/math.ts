// scale, dropout, clip, sum, matmul / matmul_v2 / mul, reductions, arg_max/arg_min.
//
// Facts from Paddle (phi/kernels/impl/, fluid/operators/*_op.cc makers):
// - scale: Out = scale * X + bias (bias_after_scale, the default) or
//   scale * (X + bias); `ScaleTensor` overrides `scale`.
// - dropout at inference: downgrade_in_infer (the legacy default) multiplies by
//   (1 - dropout_prob); upscale_in_train scaled in training and is the identity here.
// - clip: `Min`/`Max` tensors override the min/max attributes.
// - matmul (legacy): transpose_X/transpose_Y swap the last two dims, alpha
//   scales the product; matmul_v2: trans_x/trans_y. mul flattens X at
//   x_num_col_dims and Y at y_num_col_dims into matrices.
// - reduce_*: `dim` (default [0]), keep_dim, reduce_all (or an empty dim)
//   reduces every axis; a full reduction is 0-D or [1] as the program's
//   output var says.
import { registerOps, OpContext } from '../context';
import { attrInt, attrInts, numel } from '../graph';
import { castValues, dtypeAttr } from './tensor';
import { broadcastShape, emit, normAxis, scalarLike } from './util';

function scale(ctx: OpContext): void {
  const bias = ctx.float('bias', 0);
  const after = ctx.bool('bias_after_scale', true);
  const c = ctx.constant('X');
  const st = ctx.has('ScaleTensor') ? ctx.constant('ScaleTensor') : undefined;
  if (c && (!ctx.has('ScaleTensor') || st)) {
    const k = st ? st.values[0] : ctx.float('scale', 1);
    ctx.setConst('Out', { ...c, values: castValues(c.values.map((v) => (after ? k * v + bias : k * (v + bias))), c.dtype) });
    return;
  }
  const x = ctx.input('X');
  const k = ctx.has('ScaleTensor') ? ctx.input('ScaleTensor') : scalarLike(ctx, 'X', ctx.float('scale', 1));
  const b = scalarLike(ctx, 'X', bias);
  if (after) emit(ctx, 'Out', 'Add', [ctx.b.op('Mul', [x, k]), b], {}, ctx.shape('X'));
  else emit(ctx, 'Out', 'Mul', [ctx.b.op('Add', [x, b]), k], {}, ctx.shape('X'));
}

function dropout(ctx: OpContext): void {
  const impl = ctx.str('dropout_implementation', 'downgrade_in_infer');
  const p = ctx.float('dropout_prob', 0.5);
  if (impl === 'upscale_in_train') {
    emit(ctx, 'Out', 'Identity', [ctx.input('X')], {}, ctx.shape('X'));
  } else if (impl === 'downgrade_in_infer') {
    emit(ctx, 'Out', 'Mul', [ctx.input('X'), scalarLike(ctx, 'X', 1 - p)], {}, ctx.shape('X'));
  } else {
    ctx.unsupported(`dropout_implementation ${impl}`);
  }
}

function clip(ctx: OpContext): void {
  const bound = (slot: string, attr: string, def: number): string => {
    if (ctx.has(slot)) {
      // ONNX's Clip takes 0-D bounds; Paddle's tensors are [1].
      return ctx.b.op('Reshape', [ctx.input(slot), ctx.b.int64s([])]);
    }
    return scalarLike(ctx, 'X', ctx.float(attr, def));
  };
  const lo = bound('Min', 'min', -3.4028234663852886e38);
  const hi = bound('Max', 'max', 3.4028234663852886e38);
  emit(ctx, 'Out', 'Clip', [ctx.input('X'), lo, hi], {}, ctx.shape('X'));
}

function sum(ctx: OpContext): void {
  const xs = ctx.inputs('X');
  if (xs.length === 1) emit(ctx, 'Out', 'Identity', xs, {}, ctx.shape('X'));
  else emit(ctx, 'Out', 'Sum', xs, {}, ctx.shape('X'));
}

function swapLast(ctx: OpContext, x: string, rank: number): string {
  if (rank < 2) return x;
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.b.op('Transpose', [x], { perm: attrInts(perm) });
}

function matmulShape(a: number[] | undefined, b: number[] | undefined, ta: boolean, tb: boolean): number[] | undefined {
  if (!a || !b || a.length < 2 || b.length < 2) return undefined;
  const sw = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
  const A = sw(a, ta);
  const B = sw(b, tb);
  const batch = broadcastShape(A.slice(0, -2), B.slice(0, -2));
  return batch ? [...batch, A[A.length - 2], B[B.length - 1]] : undefined;
}

function matmul(transX: string, transY: string) {
  return (ctx: OpContext): void => {
    const tx = ctx.bool(transX, false);
    const ty = ctx.bool(transY, false);
    const alpha = ctx.float('alpha', 1);
    const x = tx ? swapLast(ctx, ctx.input('X'), ctx.rank('X')) : ctx.input('X');
    const y = ty ? swapLast(ctx, ctx.input('Y'), ctx.rank('Y')) : ctx.input('Y');
    const shape = matmulShape(ctx.shape('X'), ctx.shape('Y'), tx, ty) ?? ctx.outShape('Out');
    if (alpha === 1) emit(ctx, 'Out', 'MatMul', [x, y], {}, shape);
    else emit(ctx, 'Out', 'Mul', [ctx.b.op('MatMul', [x, y]), scalarLike(ctx, 'X', alpha)], {}, shape);
  };
}

function mul(ctx: OpContext): void {
  const xn = ctx.int('x_num_col_dims', 1);
  const yn = ctx.int('y_num_col_dims', 1);
  const xs = ctx.shape('X')!;
  const ys = ctx.shape('Y')!;
  const x2 = xs.length === 2 && xn === 1 ? ctx.input('X') : ctx.b.op('Flatten', [ctx.input('X')], { axis: attrInt(xn) });
  const y2 = ys.length === 2 && yn === 1 ? ctx.input('Y') : ctx.b.op('Flatten', [ctx.input('Y')], { axis: attrInt(yn) });
  const outShape = [...xs.slice(0, xn), ...ys.slice(yn)];
  if (xn === 1 && ys.length - yn === 1) {
    emit(ctx, 'Out', 'MatMul', [x2, y2], {}, outShape);
    return;
  }
  if (ys.slice(yn).some((d) => d < 0)) ctx.unsupported('mul with unknown trailing dims of Y');
  // X's leading dims, then Y's trailing ones.
  const lead = xs.slice(0, xn);
  const target = lead.every((d) => d >= 0)
    ? ctx.b.int64s([...lead, ...ys.slice(yn)])
    : ctx.b.op('Concat', [
      ctx.b.op('Slice', [ctx.b.op('Shape', [ctx.input('X')]), ctx.b.int64s([0]), ctx.b.int64s([xn])]),
      ctx.b.int64s(ys.slice(yn)),
    ], { axis: attrInt(0) });
  emit(ctx, 'Out', 'Reshape', [ctx.b.op('MatMul', [x2, y2]), target], {}, outShape);
}

function reduce(onnxOp: string, axesAsInput: boolean) {
  return (ctx: OpContext): void => {
    const rank = ctx.rank('X');
    const s = ctx.shape('X')!;
    const keep = ctx.bool('keep_dim', false);
    let dims = ctx.attr('dim') !== undefined ? ctx.ints('dim', [0]) : ctx.ints('axis', [0]);
    if (ctx.bool('reduce_all', false) || dims.length === 0) dims = Array.from({ length: rank }, (_, i) => i);
    const axes = [...new Set(dims.map((d) => normAxis(d, rank)))].sort((a, b) => a - b);
    let shape = keep ? s.map((d, i) => (axes.includes(i) ? 1 : d)) : s.filter((_, i) => !axes.includes(i));
    const desc = ctx.outShape('Out');
    const toOne = !keep && shape.length === 0 && desc !== undefined && desc.length === 1;
    const attrs = { keepdims: attrInt(keep ? 1 : 0), ...(axesAsInput ? {} : { axes: attrInts(axes) }) };
    const inputs = axesAsInput ? [ctx.input('X'), ctx.b.int64s(axes)] : [ctx.input('X')];
    if (rank === 0) {
      emit(ctx, 'Out', 'Identity', [ctx.input('X')], {}, s);
      return;
    }
    if (toOne) {
      shape = [1];
      emit(ctx, 'Out', 'Reshape', [ctx.b.op(onnxOp, inputs, attrs), ctx.b.int64s([1])], {}, shape);
      return;
    }
    emit(ctx, 'Out', onnxOp, inputs, attrs, shape);
  };
}

function mean(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const desc = ctx.outShape('Out');
  const r = ctx.b.op('ReduceMean', [ctx.input('X')], { keepdims: attrInt(0), axes: attrInts(Array.from({ length: rank }, (_, i) => i)) });
  if (desc && desc.length === 1) emit(ctx, 'Out', 'Reshape', [r, ctx.b.int64s([1])], {}, [1]);
  else emit(ctx, 'Out', 'Identity', [r], {}, []);
}

function argExt(onnxOp: string) {
  return (ctx: OpContext): void => {
    const keep = ctx.bool('keepdims', false);
    const flat = ctx.bool('flatten', false);
    const dtype = dtypeAttr(ctx, 'dtype', 'int64');
    let x = ctx.input('X');
    let s = ctx.shape('X')!;
    let axis = ctx.int('axis', 0);
    if (flat) {
      x = ctx.b.op('Reshape', [x, ctx.b.int64s([-1])]);
      s = [s.every((d) => d >= 0) ? numel(s) : -1];
      axis = 0;
    }
    axis = normAxis(axis, s.length);
    const shape = keep ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis);
    const r = ctx.b.op(onnxOp, [x], { axis: attrInt(axis), keepdims: attrInt(keep ? 1 : 0) });
    const o = dtype === 'int64' ? emit(ctx, 'Out', 'Identity', [r], {}, shape) : emit(ctx, 'Out', 'Cast', [r], { to: attrInt(6) }, shape);
    ctx.b.setFacts(o, { dtype });
  };
}

registerOps({
  scale,
  dropout,
  clip,
  sum,
  matmul: matmul('transpose_X', 'transpose_Y'),
  matmul_v2: matmul('trans_x', 'trans_y'),
  mul,
  reduce_mean: reduce('ReduceMean', false),
  reduce_sum: reduce('ReduceSum', true),
  reduce_max: reduce('ReduceMax', false),
  reduce_min: reduce('ReduceMin', false),
  reduce_prod: reduce('ReduceProd', false),
  mean,
  arg_max: argExt('ArgMax'),
  arg_min: argExt('ArgMin'),
});



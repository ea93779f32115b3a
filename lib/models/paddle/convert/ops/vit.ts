// The ops of transformer (ViT / CLIP) programs beyond the CNN families:
// layer_norm, matmul_v2 and the legacy matmul, p_norm (feature
// normalisation). gelu and softmax are in activation.ts; stack, expand_v2,
// unsqueeze2, squeeze2, reduce_mean, fill_any_like, gather in tensor.ts.
import { OpContext } from '../context';
import { ONNX_ELEM, attrFloat, attrInt, attrInts } from '../graph';
import { registerMissing } from './register-missing';
import { broadcastShape, normAxis, scalarLike } from './util';

/**
 * layer_norm: normalises over dims begin_norm_axis.. (flattened in Paddle), so
 * Scale and Bias are 1-D of their product; ONNX LayerNormalization wants them in
 * the shape of those dims, hence the Reshape when more than one dim is normalised.
 * Mean and Variance are Paddle's [prod(leading dims)] outputs, derived from ONNX's
 * mean and inverse standard deviation (pruned when nothing reads them).
 */
function layerNorm(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const axis = normAxis(ctx.int('begin_norm_axis', 1), rank);
  if (axis < 0 || axis >= rank) ctx.invalid(`begin_norm_axis ${axis} out of range for rank ${rank}`);
  const eps = ctx.float('epsilon', 1e-5);
  const x = ctx.input('X');
  const normShape = rank - axis === 1 ? undefined : ctx.b.op('Slice', [ctx.b.op('Shape', [x]), ctx.b.int64s([axis]), ctx.b.int64s([rank])]);
  const param = (slot: string, fill: number): string => {
    if (ctx.has(slot)) {
      const v = ctx.input(slot);
      return normShape ? ctx.b.op('Reshape', [v, normShape]) : v;
    }
    const shape = normShape ?? ctx.b.op('Slice', [ctx.b.op('Shape', [x]), ctx.b.int64s([axis]), ctx.b.int64s([rank])]);
    return ctx.b.op('Expand', [scalarLike(ctx, 'X', fill), shape]);
  };
  const y = ctx.output('Y');
  const [, mean, invStd] = ctx.b.node('LayerNormalization', [x, param('Scale', 1), param('Bias', 0)], [y, ctx.b.fresh('ln_mean'), ctx.b.fresh('ln_inv_std')], {
    axis: attrInt(axis),
    epsilon: attrFloat(eps),
  });
  ctx.setShape(y, ctx.shape('X'));
  if (ctx.hasOutput('Mean')) ctx.b.node('Reshape', [mean, ctx.b.int64s([-1])], [ctx.output('Mean')]);
  if (ctx.hasOutput('Variance')) {
    const variance = ctx.b.op('Sub', [ctx.b.op('Reciprocal', [ctx.b.op('Mul', [invStd, invStd])]), scalarLike(ctx, 'X', eps)]);
    ctx.b.node('Reshape', [variance, ctx.b.int64s([-1])], [ctx.output('Variance')]);
  }
}

/** The last two dims swapped (a 1-D operand has nothing to transpose, as in Paddle). */
function transposeLast2(ctx: OpContext, v: string, rank: number): string {
  if (rank < 2) return v;
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.b.op('Transpose', [v], { perm: attrInts(perm) });
}

/** numpy matmul's static output shape, when both shapes are known. */
function matmulShape(a: number[] | undefined, b: number[] | undefined, ta: boolean, tb: boolean): number[] | undefined {
  if (!a || !b) return undefined;
  const sw = (s: number[], t: boolean) => (t && s.length >= 2 ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
  const x = sw(a, ta);
  const y = sw(b, tb);
  if (x.length === 1 && y.length === 1) return [];
  if (x.length === 1) return [...y.slice(0, -2), y[y.length - 1]];
  if (y.length === 1) return x.slice(0, -1);
  const batch = broadcastShape(x.slice(0, -2), y.slice(0, -2)) ?? [];
  return [...batch, x[x.length - 2], y[y.length - 1]];
}

function matmul(transX: string, transY: string, withAlpha: boolean) {
  return (ctx: OpContext): void => {
    const tx = ctx.bool(transX, false);
    const ty = ctx.bool(transY, false);
    const rx = ctx.rank('X');
    const ry = ctx.rank('Y');
    const x = tx ? transposeLast2(ctx, ctx.input('X'), rx) : ctx.input('X');
    const y = ty ? transposeLast2(ctx, ctx.input('Y'), ry) : ctx.input('Y');
    let prod = ctx.b.op('MatMul', [x, y]);
    const alpha = withAlpha ? ctx.float('alpha', 1) : 1;
    if (alpha !== 1) prod = ctx.b.op('Mul', [prod, scalarLike(ctx, 'X', alpha)]);
    const out = ctx.output('Out');
    ctx.b.node('Identity', [prod], [out]);
    ctx.setShape(out, matmulShape(ctx.shape('X'), ctx.shape('Y'), tx, ty));
  };
}

/**
 * p_norm: (sum |x|^p)^(1/p) over `axis` (every element with asvector). Paddle's
 * epsilon only guards the gradient, so the forward value has none.
 */
function pNorm(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const p = ctx.float('porder', 2);
  const keep = ctx.bool('keepdim', false) ? 1 : 0;
  const axes = ctx.bool('asvector', false) ? Array.from({ length: rank }, (_, i) => i) : [normAxis(ctx.int('axis', -1), rank)];
  const x = ctx.input('X');
  const abs = ctx.b.op('Abs', [x]);
  const red = (op: string, v: string) => ctx.b.op(op, [v], { axes: attrInts(axes), keepdims: attrInt(keep) });
  let y: string;
  if (p === Infinity) y = red('ReduceMax', abs);
  else if (p === -Infinity) y = red('ReduceMin', abs);
  else if (p === 0) {
    const nz = ctx.b.op('Cast', [ctx.b.op('Not', [ctx.b.op('Equal', [x, scalarLike(ctx, 'X', 0)])])], { to: attrInt(ONNX_ELEM[ctx.dtype('X') ?? 'float32']) });
    y = ctx.b.op('ReduceSum', [nz, ctx.b.int64s(axes)], { keepdims: attrInt(keep) });
  } else if (p === 1) y = red('ReduceL1', x);
  else if (p === 2) y = red('ReduceL2', x);
  else {
    const sum = ctx.b.op('ReduceSum', [ctx.b.op('Pow', [abs, scalarLike(ctx, 'X', p)]), ctx.b.int64s(axes)], { keepdims: attrInt(keep) });
    y = ctx.b.op('Pow', [sum, scalarLike(ctx, 'X', 1 / p)]);
  }
  const out = ctx.output('Out');
  ctx.b.node('Identity', [y], [out]);
  const s = ctx.shape('X');
  if (s) ctx.setShape(out, s.map((d, i) => (axes.includes(i) ? 1 : d)).filter((_, i) => keep === 1 || !axes.includes(i)));
}

registerMissing({
  layer_norm: layerNorm,
  matmul_v2: matmul('trans_x', 'trans_y', false),
  matmul: matmul('transpose_X', 'transpose_Y', true),
  p_norm: pNorm,
});

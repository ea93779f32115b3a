// p_norm: the vector norms a feature model ends with (a CLIP image tower's
// L2-normalised embedding is p_norm then elementwise_div).
import { OpContext, registerOps } from '../context';
import { ONNX_ELEM, attrInt, attrInts } from '../graph';
import { normAxis, scalarLike } from './util';

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

registerOps({ p_norm: pNorm });

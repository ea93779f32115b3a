// elementwise_add/sub/mul/div/max/min/pow/mod with Paddle's `axis` broadcasting.
//
// Paddle (elementwise_op.h, funcs::GetBroadcastDimsArrays): with axis = -1 the
// smaller operand is aligned to the trailing dims of the larger (numpy's
// rule); with axis = k the smaller operand's dims match the larger's dims
// k .. k + rank(small) - 1, so it needs trailing 1s before ONNX's numpy
// broadcasting applies. Both operands constant: folded.
import { registerOps, OpContext } from '../context';
import { PADDLE_CONVERT_LIMITS } from '../../../../limits';
import { ConstValue, numel } from '../graph';
import { broadcastShape, foldBinary } from './util';

/** The smaller operand's dims padded with trailing 1s so numpy broadcasting equals Paddle's axis rule. */
function trailingOnes(axis: number, rankBig: number, rankSmall: number): number {
  if (axis === -1 || rankBig === rankSmall) return 0;
  const pad = rankBig - axis - rankSmall;
  return pad > 0 ? pad : 0;
}

function padConst(c: ConstValue, pad: number): ConstValue {
  return pad === 0 ? c : { ...c, dims: [...c.dims, ...new Array<number>(pad).fill(1)] };
}

function elementwise(onnxOp: string, fold: (a: number, b: number) => number) {
  return (ctx: OpContext): void => {
    const axis = ctx.int('axis', -1);
    const rx = ctx.rank('X');
    const ry = ctx.rank('Y');
    if (axis !== -1 && (axis < 0 || axis > Math.max(rx, ry) - Math.min(rx, ry))) ctx.invalid(`axis ${axis} out of range for ranks ${rx} and ${ry}`);
    const pad = trailingOnes(axis, Math.max(rx, ry), Math.min(rx, ry));
    const padX = rx < ry ? pad : 0;
    const padY = ry < rx ? pad : 0;
    const cx = ctx.constant('X');
    const cy = ctx.constant('Y');
    const folded = cx && cy ? broadcastShape(padConst(cx, padX).dims, padConst(cy, padY).dims) : undefined;
    if (cx && cy && folded && numel(folded) <= PADDLE_CONVERT_LIMITS.maxFoldedElements) {
      ctx.setConst('Out', foldBinary(padConst(cx, padX), padConst(cy, padY), fold));
      return;
    }
    const unsq = (slot: string, n: number, rank: number): string => {
      const v = ctx.input(slot);
      if (n === 0) return v;
      const axes = Array.from({ length: n }, (_, i) => rank + i);
      const out = ctx.b.op('Unsqueeze', [v, ctx.b.int64s(axes)]);
      const s = ctx.shape(slot);
      ctx.setShape(out, s ? [...s, ...new Array<number>(n).fill(1)] : undefined);
      return out;
    };
    const x = unsq('X', padX, rx);
    const y = unsq('Y', padY, ry);
    const out = ctx.output('Out');
    ctx.b.node(onnxOp, [x, y], [out]);
    ctx.setShape(out, broadcastShape(ctx.b.factsOf(x).shape ?? ctx.shape('X'), ctx.b.factsOf(y).shape ?? ctx.shape('Y')));
  };
}

registerOps({
  elementwise_add: elementwise('Add', (a, b) => a + b),
  elementwise_sub: elementwise('Sub', (a, b) => a - b),
  elementwise_mul: elementwise('Mul', (a, b) => a * b),
  elementwise_div: elementwise('Div', (a, b) => a / b),
  elementwise_max: elementwise('Max', (a, b) => Math.max(a, b)),
  elementwise_min: elementwise('Min', (a, b) => Math.min(a, b)),
  elementwise_pow: elementwise('Pow', (a, b) => a ** b),
});

// Activations and other one-input elementwise ops (X -> Out, shape kept).
// Attribute names and defaults are those of Paddle's op makers
// (paddle/fluid/operators/activation_op.cc, phi/ops/yaml/op_compat.yaml).
import { registerOps, OpContext } from '../context';
import { attrFloat, attrInt } from '../graph';
import { scalarLike } from './util';

/** Out = f(X) as built by `build`, with X's static shape kept. */
function unary(build: (ctx: OpContext, x: string) => string) {
  return (ctx: OpContext): void => {
    const x = ctx.input('X');
    const y = build(ctx, x);
    const out = ctx.output('Out');
    if (!ctx.b.renameLastOutput(y, out)) ctx.b.node('Identity', [y], [out]);
    ctx.setShape(out, ctx.shape('X'));
  };
}

/** One ONNX op, attributes fixed. */
function simple(onnxOp: string) {
  return (ctx: OpContext): void => {
    const x = ctx.input('X');
    const out = ctx.output('Out');
    ctx.b.node(onnxOp, [x], [out]);
    ctx.setShape(out, ctx.shape('X'));
  };
}

/** min(max(x, lo), hi) with scalar bounds in X's type. */
function clip(ctx: OpContext, x: string, lo: string, hi: string): string {
  return ctx.b.op('Clip', [x, lo, hi]);
}

const GELU_TANH_C = Math.sqrt(2 / Math.PI);

registerOps({
  relu: simple('Relu'),
  sigmoid: simple('Sigmoid'),
  tanh: simple('Tanh'),
  exp: simple('Exp'),
  sqrt: simple('Sqrt'),
  abs: simple('Abs'),
  log: simple('Log'),
  floor: simple('Floor'),
  ceil: simple('Ceil'),
  erf: simple('Erf'),
  sin: simple('Sin'),
  cos: simple('Cos'),
  reciprocal: simple('Reciprocal'),
  softsign: simple('Softsign'),
  relu6: unary((ctx, x) => clip(ctx, x, scalarLike(ctx, 'X', 0), scalarLike(ctx, 'X', ctx.float('threshold', 6)))),
  leaky_relu: unary((ctx, x) => ctx.b.op('LeakyRelu', [x], { alpha: attrFloat(ctx.float('alpha', 0.02)) })),
  elu: unary((ctx, x) => ctx.b.op('Elu', [x], { alpha: attrFloat(ctx.float('alpha', 1)) })),
  hard_sigmoid: unary((ctx, x) => ctx.b.op('HardSigmoid', [x], {
    alpha: attrFloat(ctx.float('slope', 0.2)),
    beta: attrFloat(ctx.float('offset', 0.5)),
  })),
  // x * min(max(x + offset, 0), threshold) / scale; ONNX's HardSwish is the case 6, 6, 3.
  hard_swish: unary((ctx, x) => {
    const threshold = ctx.float('threshold', 6);
    const scale = ctx.float('scale', 6);
    const offset = ctx.float('offset', 3);
    if (threshold === 6 && scale === 6 && offset === 3) return ctx.b.op('HardSwish', [x]);
    const shifted = ctx.b.op('Add', [x, scalarLike(ctx, 'X', offset)]);
    const clipped = clip(ctx, shifted, scalarLike(ctx, 'X', 0), scalarLike(ctx, 'X', threshold));
    return ctx.b.op('Div', [ctx.b.op('Mul', [x, clipped]), scalarLike(ctx, 'X', scale)]);
  }),
  // x * sigmoid(beta * x)
  swish: unary((ctx, x) => {
    const beta = ctx.float('beta', 1);
    const arg = beta === 1 ? x : ctx.b.op('Mul', [x, scalarLike(ctx, 'X', beta)]);
    return ctx.b.op('Mul', [x, ctx.b.op('Sigmoid', [arg])]);
  }),
  silu: unary((ctx, x) => ctx.b.op('Mul', [x, ctx.b.op('Sigmoid', [x])])),
  // exact: 0.5 x (1 + erf(x / sqrt 2)); approximate: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  gelu: unary((ctx, x) => {
    const half = ctx.b.op('Mul', [x, scalarLike(ctx, 'X', 0.5)]);
    let inner: string;
    if (ctx.bool('approximate', false)) {
      const cube = ctx.b.op('Mul', [ctx.b.op('Mul', [x, x]), x]);
      const poly = ctx.b.op('Add', [x, ctx.b.op('Mul', [cube, scalarLike(ctx, 'X', 0.044715)])]);
      inner = ctx.b.op('Tanh', [ctx.b.op('Mul', [poly, scalarLike(ctx, 'X', GELU_TANH_C)])]);
    } else {
      inner = ctx.b.op('Erf', [ctx.b.op('Div', [x, scalarLike(ctx, 'X', Math.SQRT2)])]);
    }
    return ctx.b.op('Mul', [half, ctx.b.op('Add', [inner, scalarLike(ctx, 'X', 1)])]);
  }),
  softmax: unary((ctx, x) => ctx.b.op('Softmax', [x], { axis: attrInt(ctx.int('axis', -1)) })),
  log_softmax: unary((ctx, x) => ctx.b.op('LogSoftmax', [x], { axis: attrInt(ctx.int('axis', -1)) })),
  pow: unary((ctx, x) => {
    if (ctx.has('FactorTensor')) return ctx.b.op('Pow', [x, ctx.input('FactorTensor')]);
    return ctx.b.op('Pow', [x, scalarLike(ctx, 'X', ctx.float('factor', 1))]);
  }),
  square: unary((ctx, x) => ctx.b.op('Mul', [x, x])),
  rsqrt: unary((ctx, x) => ctx.b.op('Reciprocal', [ctx.b.op('Sqrt', [x])])),
  softplus: unary((ctx, x) => {
    // beta = 1 and a threshold above float32's exp range: ONNX's Softplus exactly.
    const beta = ctx.float('beta', 1);
    const threshold = ctx.float('threshold', 20);
    if (beta !== 1) ctx.unsupported(`beta ${beta} (only 1 is converted)`);
    if (threshold < 20) ctx.unsupported(`threshold ${threshold} (only >= 20 is converted)`);
    return ctx.b.op('Softplus', [x]);
  }),
});

// Comparisons (less_than, ..., not_equal) and logic (logical_and/or/xor/not)
// with Paddle's `axis` broadcasting. Both sides known at conversion time (loop
// counters, shapes of fixed-size feeds): folded, which is what lets
// control-flow.ts resolve a `while` or `conditional_block` condition.
import type { PaddleDType } from '../../program';
import { OpContext, registerOps } from '../context';
import { ConstValue, ONNX_ELEM, attrInt } from '../graph';
import { broadcastShape, foldBinary } from './util';

/** Paddle's `axis` broadcasting for compare ops: the smaller operand aligned at `axis` (trailing 1s added). */
function alignedInputs(ctx: OpContext): [string, string, ConstValue | undefined, ConstValue | undefined] {
  const axis = ctx.int('axis', -1);
  const rx = ctx.rank('X');
  const ry = ctx.rank('Y');
  let x = ctx.input('X');
  let y = ctx.input('Y');
  let cx = ctx.constant('X');
  let cy = ctx.constant('Y');
  if (axis !== -1 && rx !== ry) {
    const pad = Math.max(rx, ry) - axis - Math.min(rx, ry);
    if (pad > 0) {
      const axes = Array.from({ length: pad }, (_, i) => Math.min(rx, ry) + i);
      const ones = new Array<number>(pad).fill(1);
      if (rx < ry) {
        x = ctx.b.op('Unsqueeze', [x, ctx.b.int64s(axes)]);
        if (cx) cx = { ...cx, dims: [...cx.dims, ...ones] };
      } else {
        y = ctx.b.op('Unsqueeze', [y, ctx.b.int64s(axes)]);
        if (cy) cy = { ...cy, dims: [...cy.dims, ...ones] };
      }
    }
  }
  return [x, y, cx, cy];
}

function compare(onnxOp: string, f: (a: number, b: number) => boolean, negate = false) {
  return (ctx: OpContext): void => {
    const [x, y, cx, cy] = alignedInputs(ctx);
    if (cx && cy) {
      ctx.setConst('Out', foldBinary(cx, cy, (a, b) => (f(a, b) ? 1 : 0), 'bool'));
      return;
    }
    const out = ctx.output('Out');
    if (negate) ctx.b.node('Not', [ctx.b.op(onnxOp, [x, y])], [out]);
    else ctx.b.node(onnxOp, [x, y], [out]);
    ctx.setShape(out, broadcastShape(ctx.shape('X'), ctx.shape('Y')));
  };
}

function logicalBinary(onnxOp: string, f: (a: boolean, b: boolean) => boolean) {
  return (ctx: OpContext): void => {
    const cx = ctx.constant('X');
    const cy = ctx.constant('Y');
    if (cx && cy) {
      ctx.setConst('Out', foldBinary(cx, cy, (a, b) => (f(a !== 0, b !== 0) ? 1 : 0), 'bool'));
      return;
    }
    const asBool = (slot: string) => (ctx.dtype(slot) === 'bool' ? ctx.input(slot) : ctx.b.op('Cast', [ctx.input(slot)], { to: attrInt(ONNX_ELEM.bool) }));
    const out = ctx.output('Out');
    ctx.b.node(onnxOp, [asBool('X'), asBool('Y')], [out]);
    ctx.setShape(out, broadcastShape(ctx.shape('X'), ctx.shape('Y')));
  };
}

function logicalNot(ctx: OpContext): void {
  const c = ctx.constant('X');
  if (c) {
    ctx.setConst('Out', { dtype: 'bool' as PaddleDType, dims: [...c.dims], values: c.values.map((v) => (v === 0 ? 1 : 0)) });
    return;
  }
  const x = ctx.dtype('X') === 'bool' ? ctx.input('X') : ctx.b.op('Cast', [ctx.input('X')], { to: attrInt(ONNX_ELEM.bool) });
  const out = ctx.output('Out');
  ctx.b.node('Not', [x], [out]);
  ctx.setShape(out, ctx.shape('X'));
}

registerOps({
  less_than: compare('Less', (a, b) => a < b),
  less_equal: compare('LessOrEqual', (a, b) => a <= b),
  greater_than: compare('Greater', (a, b) => a > b),
  greater_equal: compare('GreaterOrEqual', (a, b) => a >= b),
  equal: compare('Equal', (a, b) => a === b),
  not_equal: compare('Equal', (a, b) => a !== b, true),
  logical_and: logicalBinary('And', (a, b) => a && b),
  logical_or: logicalBinary('Or', (a, b) => a || b),
  logical_xor: logicalBinary('Xor', (a, b) => a !== b),
  logical_not: logicalNot,
});

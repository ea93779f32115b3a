// Paddle's control flow (while, conditional_block, select_input) and its
// tensor arrays (write_to_array, read_from_array, lod_array_length,
// tensor_array_to_tensor); the conditions come from compare.ts, folded.
//
// Why folded and not ONNX Loop / If: the graph builder is one flat graph, and
// in the programs these ops come from (PaddleDetection exports, e.g. the
// PP-ShiTuV2 PicoDet detector) every condition is static once the feeds have
// fixed sizes: a `while` walks the batch one image at a time, and the
// `conditional_block` pairs ask "has this level more anchors than nms_top_k?",
// which only the 640x640 input size decides. So a condition known at
// conversion time selects the branch to inline, and a loop whose condition
// stays known is unrolled (at most PADDLE_CONVERT_LIMITS.maxWhileIterations
// times). A condition that is only known at run time is ERR_MODEL_UNSUPPORTED
// with the advice to fix the feed sizes (e.g. batch 1), never a wrong graph.
//
// Tensor arrays exist only during conversion: an array is the list of ONNX
// values written into it, indexed by constants.
import { PADDLE_CONVERT_LIMITS } from '../../../../limits';
import { ConvertState, OpContext, registerOps } from '../context';
import { ConstValue, ONNX_ELEM, attrInt, numel } from '../graph';

/** Per conversion: the tensor arrays (Paddle array var -> ONNX values by index) and the loop bodies inlined so far. */
interface FlowState {
  arrays: Map<string, string[]>;
  unrolled: number;
}
const FLOW = new WeakMap<ConvertState, FlowState>();

function flowOf(ctx: OpContext): FlowState {
  let f = FLOW.get(ctx.state);
  if (!f) {
    f = { arrays: new Map(), unrolled: 0 };
    FLOW.set(ctx.state, f);
  }
  return f;
}

const arraysOf = (ctx: OpContext): Map<string, string[]> => flowOf(ctx).arrays;

/**
 * The sub-block of a block attribute. Paddle creates a sub-block after the
 * block holding its op, with that block as parent; holding programs to it means
 * inlining can never re-enter a block (no cycles, depth at most the block count).
 */
export function blockAttr(ctx: OpContext, name: string): number {
  const a = ctx.attr(name);
  const idx = a && typeof a === 'object' && 'block' in a ? a.block : typeof a === 'number' ? a : ctx.invalid(`attribute ${name} is not a block`);
  const sub = ctx.program.blocks[idx];
  if (!sub || idx <= ctx.block.idx || sub.parentIdx !== ctx.block.idx) {
    ctx.invalid(`sub-block ${idx} is not a child of block ${ctx.block.idx}`);
  }
  return idx;
}

/** An input's value, which must be known at conversion time. */
function staticInput(ctx: OpContext, slot: string, what: string, i = 0): ConstValue {
  const c = ctx.constant(slot, i);
  if (!c) {
    ctx.unsupported(
      `${what} is only known at run time; the converter folds control flow, so give the feeds fixed sizes (e.g. batch 1) to make it static`,
    );
  }
  return c;
}

function staticIndex(ctx: OpContext, slot: string, what: string): number {
  const c = staticInput(ctx, slot, what);
  if (c.values.length !== 1 || !Number.isInteger(c.values[0]) || c.values[0] < 0) ctx.invalid(`${what} is not one non-negative integer`);
  return c.values[0];
}

function truth(ctx: OpContext, c: ConstValue, what: string): boolean {
  if (c.values.length !== 1) ctx.invalid(`${what} has ${c.values.length} values, expected one`);
  return c.values[0] !== 0;
}

/**
 * while: the body is inlined once per iteration while the condition (a var the
 * body reassigns) stays a known true. Loop-carried vars need nothing more: the
 * body's `assign`s rebind them in the shared name table. The bodies inlined in
 * one conversion, nested loops included, are at most maxWhileIterations.
 */
function whileOp(ctx: OpContext): void {
  const body = blockAttr(ctx, 'sub_block');
  const condVar = ctx.names('Condition')[0];
  if (condVar === undefined) ctx.invalid('no Condition');
  const flow = flowOf(ctx);
  const max = PADDLE_CONVERT_LIMITS.maxWhileIterations;
  for (let iter = 0; ; iter++) {
    const c = staticInput(ctx, 'Condition', `the loop condition ${condVar} (iteration ${iter})`);
    if (!truth(ctx, c, 'the loop condition')) return;
    if (++flow.unrolled > max) ctx.unsupported(`loops would unroll into more than ${max} copies of their bodies; only short loops with static conditions are converted`);
    ctx.convertBlock(body);
  }
}

/**
 * conditional_block: inlined when its condition is a known true, skipped when
 * a known false (its outputs then stay unbound; Paddle's select_input picks
 * the other branch). Paddle's two kinds of condition (conditional_block_op.cc):
 * the scalar bool Cond (is_scalar_condition), else "every Input tensor is
 * non-empty", which needs their sizes known.
 */
function conditionalBlock(ctx: OpContext): void {
  const sub = blockAttr(ctx, 'sub_block');
  let run: boolean;
  if (ctx.bool('is_scalar_condition', false)) {
    run = truth(ctx, staticInput(ctx, 'Cond', 'the branch condition'), 'the branch condition');
  } else {
    run = ctx.names('Input').every((_, i) => {
      const s = ctx.shape('Input', i);
      if (!s || s.some((d) => d < 0)) ctx.unsupported('the branch condition (are the Input tensors empty?) is only known at run time');
      return numel(s) !== 0;
    });
  }
  if (run) ctx.convertBlock(sub);
}

/** select_input: Out = X[Mask], with the mask known (the branch that ran). */
function selectInput(ctx: OpContext): void {
  const mask = staticIndex(ctx, 'Mask', 'the select_input mask');
  const chosen = ctx.names('X')[mask];
  if (chosen === undefined) ctx.invalid(`mask ${mask} is out of range for ${ctx.names('X').length} inputs`);
  ctx.bindOutput('Out', ctx.state.valueOf(chosen, ctx.op));
}

function writeToArray(ctx: OpContext): void {
  const i = staticIndex(ctx, 'I', 'the array index');
  const arrName = ctx.outNames('Out')[0];
  if (arrName === undefined) ctx.invalid('no Out');
  const arrays = arraysOf(ctx);
  const arr = arrays.get(arrName) ?? [];
  if (i > arr.length) ctx.unsupported(`write at index ${i} leaves a gap in an array of ${arr.length}`);
  const next = [...arr];
  next[i] = ctx.input('X');
  arrays.set(arrName, next);
}

function readFromArray(ctx: OpContext): void {
  const i = staticIndex(ctx, 'I', 'the array index');
  const arr = arraysOf(ctx).get(ctx.names('X')[0] ?? '') ?? [];
  if (i >= arr.length) ctx.invalid(`read at index ${i} of an array of ${arr.length}`);
  ctx.bindOutput('Out', arr[i]);
}

function lodArrayLength(ctx: OpContext): void {
  const arr = arraysOf(ctx).get(ctx.names('X')[0] ?? '') ?? [];
  ctx.setConst('Out', { dtype: 'int64', dims: [1], values: [arr.length] });
}

/** tensor_array_to_tensor: the array's tensors concatenated (or stacked) along `axis`; OutIndex = each one's size there. */
function tensorArrayToTensor(ctx: OpContext): void {
  const arr = arraysOf(ctx).get(ctx.names('X')[0] ?? '') ?? [];
  if (arr.length === 0) ctx.unsupported('the tensor array is empty at conversion time');
  const stack = ctx.bool('use_stack', false);
  const shapes = arr.map((v) => ctx.b.factsOf(v).shape);
  const rank = shapes[0]?.length;
  const axisAttr = ctx.int('axis', 0);
  const outRank = rank === undefined ? undefined : rank + (stack ? 1 : 0);
  if (outRank === undefined && axisAttr < 0) ctx.unsupported('a negative axis over tensors of unknown rank');
  const axis = axisAttr < 0 ? axisAttr + outRank! : axisAttr;
  const parts = stack
    ? arr.map((v) => {
        const u = ctx.b.op('Unsqueeze', [v, ctx.b.int64s([axis])]);
        const s = ctx.b.factsOf(v).shape;
        ctx.setShape(u, s ? [...s.slice(0, axis), 1, ...s.slice(axis)] : undefined);
        return u;
      })
    : arr;
  const out = ctx.output('Out');
  ctx.b.node('Concat', parts, [out], { axis: { kind: 'int', v: axis } });
  const partShapes = parts.map((p) => ctx.b.factsOf(p).shape);
  if (partShapes.every((s) => s !== undefined)) {
    const s0 = [...partShapes[0]!];
    const sum = partShapes.reduce((a, s) => (a < 0 || s![axis] < 0 ? -1 : a + s![axis]), 0);
    s0[axis] = sum;
    ctx.setShape(out, s0);
  }
  if (ctx.hasOutput('OutIndex')) {
    const sizes = partShapes.map((s) => (s ? s[axis] : -1));
    if (sizes.every((d) => d >= 0)) ctx.setConst('OutIndex', { dtype: 'int32', dims: [sizes.length], values: sizes });
    else {
      const dims = parts.map((p) => ctx.b.op('Gather', [ctx.b.op('Shape', [p]), ctx.b.int64s([axis])], { axis: { kind: 'int', v: 0 } }));
      const cat = ctx.b.op('Concat', dims, { axis: { kind: 'int', v: 0 } });
      ctx.b.node('Cast', [cat], [ctx.output('OutIndex')], { to: attrInt(ONNX_ELEM.int32) });
    }
  }
}

registerOps({
  while: whileOp,
  conditional_block: conditionalBlock,
  select_input: selectInput,
  write_to_array: writeToArray,
  read_from_array: readFromArray,
  lod_array_length: lodArrayLength,
  tensor_array_to_tensor: tensorArrayToTensor,
});

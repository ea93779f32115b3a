// Tensor-building and indexing ops of the detector's post-processing and of
// ViT programs: range, meshgrid, stack, reverse, top_k_v2, gather, reduce_*,
// expand_v2 / expand_as_v2, unsqueeze2 / squeeze2, fill_any_like.
//
// Ops whose inputs are all known at conversion time are folded to constants
// (up to PADDLE_CONVERT_LIMITS.maxFoldedElements values): the detector's
// anchor grids (range -> meshgrid -> stack) depend only on the fixed input
// size. Semantics and attribute defaults are Paddle's op makers'
// (paddle/phi/ops/yaml/op_compat.yaml, the phi kernels).
import { PADDLE_CONVERT_LIMITS } from '../../../../limits';
import type { PaddleDType } from '../../program';
import { OpContext } from '../context';
import { ConstValue, ONNX_ELEM, PADDLE_VARTYPE, attrInt, attrInts, numel } from '../graph';
import { registerMissing } from './register-missing';
import { normAxis } from './util';

const INT_TYPES: ReadonlySet<PaddleDType> = new Set(['bool', 'int8', 'uint8', 'int16', 'int32', 'int64']);
const INT64_MIN = -9223372036854775808; // -2^63, exact as a double

const foldable = (dims: number[]): boolean => numel(dims) <= PADDLE_CONVERT_LIMITS.maxFoldedElements;

function castConst(c: ConstValue, dtype: PaddleDType): ConstValue {
  return { dtype, dims: c.dims, values: INT_TYPES.has(dtype) ? c.values.map((v) => Math.trunc(v)) : [...c.values] };
}

/** A 1-element tensor as an ONNX scalar (Range and friends take rank 0). */
function toScalar(ctx: OpContext, v: string): string {
  return ctx.b.op('Reshape', [v, ctx.b.int64s([])]);
}

/** A shape-like input as int64. */
function asInt64(ctx: OpContext, v: string): string {
  return ctx.b.factsOf(v).dtype === 'int64' ? v : ctx.b.op('Cast', [v], { to: attrInt(ONNX_ELEM.int64) });
}

/** Row-major strides. */
function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

// ---- range ----

function range(ctx: OpContext): void {
  const dtype = ctx.outDtype('Out') ?? ctx.dtype('Start') ?? 'float32';
  const [s, e, st] = ['Start', 'End', 'Step'].map((k) => ctx.constant(k));
  if (s && e && st) {
    const [a, b, d] = [s.values[0], e.values[0], st.values[0]];
    if (d === 0) ctx.invalid('step 0');
    const n = Math.max(0, Math.ceil((b - a) / d));
    if (foldable([n])) {
      ctx.setConst('Out', castConst({ dtype, dims: [n], values: Array.from({ length: n }, (_, i) => a + i * d) }, dtype));
      return;
    }
  }
  const out = ctx.output('Out');
  const conv = (slot: string) => {
    const v = toScalar(ctx, ctx.input(slot));
    return ctx.dtype(slot) === dtype ? v : ctx.b.op('Cast', [v], { to: attrInt(ONNX_ELEM[dtype]) });
  };
  ctx.b.node('Range', [conv('Start'), conv('End'), conv('Step')], [out]);
  ctx.setShape(out, [-1]);
}

// ---- meshgrid ('ij' indexing: output i varies along dim i) ----

function meshgrid(ctx: OpContext): void {
  const n = ctx.names('X').length;
  const consts = ctx.names('X').map((_, i) => ctx.constant('X', i));
  const sizes = ctx.names('X').map((_, i) => {
    const s = ctx.shape('X', i);
    return s && s.length <= 1 ? (s.length === 0 ? 1 : s[0]) : ctx.invalid(`input ${i} is not 1-D`);
  });
  if (consts.every((c) => c !== undefined) && foldable(sizes)) {
    const dims = consts.map((c) => c!.values.length);
    const st = strides(dims);
    const total = numel(dims);
    for (let i = 0; i < n; i++) {
      const c = consts[i]!;
      const values = Array.from({ length: total }, (_, f) => c.values[Math.floor(f / st[i]) % dims[i]]);
      ctx.setConst('Out', { dtype: c.dtype, dims, values }, i);
    }
    return;
  }
  const flat = ctx.names('X').map((_, i) => ctx.b.op('Reshape', [ctx.input('X', i), ctx.b.int64s([-1])]));
  const full = ctx.b.op('Concat', flat.map((f) => ctx.b.op('Shape', [f])), { axis: attrInt(0) });
  for (let i = 0; i < n; i++) {
    const shape = Array.from({ length: n }, (_, k) => (k === i ? -1 : 1));
    const out = ctx.output('Out', i);
    ctx.b.node('Expand', [ctx.b.op('Reshape', [flat[i], ctx.b.int64s(shape)]), full], [out]);
    ctx.setShape(out, sizes);
  }
}

// ---- stack ----

function stack(ctx: OpContext): void {
  const n = ctx.names('X').length;
  if (n === 0) ctx.invalid('no inputs');
  const s0 = ctx.shape('X', 0);
  const rank = s0 ? s0.length : ctx.rank('X');
  const axis = normAxis(ctx.int('axis', 0), rank + 1);
  const consts = ctx.names('X').map((_, i) => ctx.constant('X', i));
  if (consts.every((c) => c !== undefined)) {
    const dims = [...consts[0]!.dims];
    const outDims = [...dims.slice(0, axis), n, ...dims.slice(axis)];
    if (foldable(outDims) && consts.every((c) => c!.dims.join() === dims.join())) {
      const outer = numel(dims.slice(0, axis));
      const inner = numel(dims.slice(axis));
      const values: number[] = [];
      for (let o = 0; o < outer; o++) for (const c of consts) values.push(...c!.values.slice(o * inner, (o + 1) * inner));
      ctx.setConst('Y', { dtype: consts[0]!.dtype, dims: outDims, values });
      return;
    }
  }
  const parts = ctx.names('X').map((_, i) => ctx.b.op('Unsqueeze', [ctx.input('X', i), ctx.b.int64s([axis])]));
  const out = ctx.output('Y');
  ctx.b.node('Concat', parts, [out], { axis: attrInt(axis) });
  if (s0) ctx.setShape(out, [...s0.slice(0, axis), n, ...s0.slice(axis)]);
}

// ---- reverse (flip along axes) ----

function reverse(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const axes = ctx.ints('axis', []).map((a) => normAxis(a, rank));
  const c = ctx.constant('X');
  if (c) {
    const st = strides(c.dims);
    const values = c.values.map((_, f) => {
      let src = 0;
      for (let d = 0; d < c.dims.length; d++) {
        const coord = Math.floor(f / st[d]) % c.dims[d];
        src += (axes.includes(d) ? c.dims[d] - 1 - coord : coord) * st[d];
      }
      return c.values[src];
    });
    ctx.setConst('Out', { ...c, values });
    return;
  }
  const out = ctx.output('Out');
  const k = axes.length;
  ctx.b.node('Slice', [
    ctx.input('X'),
    ctx.b.int64s(new Array<number>(k).fill(-1)),
    ctx.b.int64s(new Array<number>(k).fill(INT64_MIN)),
    ctx.b.int64s(axes),
    ctx.b.int64s(new Array<number>(k).fill(-1)),
  ], [out]);
  ctx.setShape(out, ctx.shape('X'));
}

// ---- top_k_v2 ----

function topK(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const axis = normAxis(ctx.int('axis', -1), rank);
  let k: string;
  let kStatic: number | undefined;
  const kc = ctx.constant('K');
  if (ctx.has('K') && !kc) k = ctx.b.op('Reshape', [asInt64(ctx, ctx.input('K')), ctx.b.int64s([1])]);
  else {
    kStatic = kc ? kc.values[0] : ctx.int('k', 1);
    k = ctx.b.int64s([kStatic]);
  }
  const values = ctx.output('Out');
  const indices = ctx.output('Indices');
  ctx.b.node('TopK', [ctx.input('X'), k], [values, indices], {
    axis: attrInt(axis),
    largest: attrInt(ctx.bool('largest', true) ? 1 : 0),
    sorted: attrInt(ctx.bool('sorted', true) ? 1 : 0),
  });
  const s = ctx.shape('X');
  if (s) {
    const o = [...s];
    o[axis] = kStatic ?? -1;
    ctx.setShape(values, o);
    ctx.setShape(indices, o);
  }
  ctx.b.setFacts(indices, { dtype: 'int64' });
}

// ---- gather (index 1-D, or [N, 1]) ----

function gather(ctx: OpContext): void {
  let axis = ctx.int('axis', 0);
  if (ctx.has('Axis')) {
    const a = ctx.constant('Axis');
    if (!a) ctx.unsupported('an Axis known only at run time');
    axis = a.values[0];
  }
  const rank = ctx.rank('X');
  axis = normAxis(axis, rank);
  let index = ctx.input('Index');
  const is = ctx.shape('Index');
  if (is && is.length === 2) {
    if (is[1] !== 1 && is[1] !== -1) ctx.invalid(`index of shape [${is.join(',')}]`);
    index = ctx.b.op('Reshape', [index, ctx.b.int64s([-1])]);
  }
  const out = ctx.output('Out');
  ctx.b.node('Gather', [ctx.input('X'), index], [out], { axis: attrInt(axis) });
  const xs = ctx.shape('X');
  if (xs && is) {
    const o = [...xs];
    o.splice(axis, 1, ...(is.length === 0 ? [] : [is[0]]));
    ctx.setShape(out, o);
  }
}

// ---- reductions ----

function reduce(onnxOp: string) {
  return (ctx: OpContext): void => {
    const rank = ctx.rank('X');
    const dims = ctx.ints('dim', []);
    const all = ctx.bool('reduce_all', false) || dims.length === 0 || dims.length >= rank;
    const axes = all ? Array.from({ length: rank }, (_, i) => i) : [...new Set(dims.map((d) => normAxis(d, rank)))].sort((a, b) => a - b);
    const keep = ctx.bool('keep_dim', false);
    let x = ctx.input('X');
    const outType = ctx.int('out_dtype', -1);
    if (outType >= 0) {
      const t = PADDLE_VARTYPE[outType];
      if (!t) ctx.unsupported(`out_dtype ${outType}`);
      if (t !== ctx.dtype('X')) x = ctx.b.op('Cast', [x], { to: attrInt(ONNX_ELEM[t]) });
    }
    let y = onnxOp === 'ReduceSum'
      ? ctx.b.op('ReduceSum', [x, ctx.b.int64s(axes)], { keepdims: attrInt(keep ? 1 : 0) })
      : ctx.b.op(onnxOp, [x], { axes: attrInts(axes), keepdims: attrInt(keep ? 1 : 0) });
    const s = ctx.shape('X');
    let outShape = s ? s.map((d, i) => (axes.includes(i) ? 1 : d)).filter((_, i) => keep || !axes.includes(i)) : undefined;
    // Programs from Paddle before 0-D tensors declare a full reduction as [1].
    if (!keep && axes.length === rank && ctx.outShape('Out')?.length === 1) {
      y = ctx.b.op('Reshape', [y, ctx.b.int64s([1])]);
      outShape = [1];
    }
    const out = ctx.output('Out');
    ctx.b.node('Identity', [y], [out]);
    ctx.setShape(out, outShape);
  };
}

// ---- expand ----

/** Paddle's -1 ("keep this dim") becomes 1, which ONNX's broadcasting Expand keeps too. */
function expandV2(ctx: OpContext): void {
  let shape: string;
  let known: number[] | undefined;
  const sc = ctx.constant('Shape');
  const listConsts = ctx.names('expand_shapes_tensor').map((_, i) => ctx.constant('expand_shapes_tensor', i));
  if (ctx.has('Shape') && !sc) shape = asInt64(ctx, ctx.input('Shape'));
  else if (ctx.has('expand_shapes_tensor') && listConsts.some((c) => !c)) {
    shape = ctx.b.op('Concat', ctx.inputs('expand_shapes_tensor').map((v) => ctx.b.op('Reshape', [asInt64(ctx, v), ctx.b.int64s([1])])), { axis: attrInt(0) });
  } else {
    known = sc ? sc.values : ctx.has('expand_shapes_tensor') ? listConsts.map((c) => c!.values[0]) : ctx.ints('shape', []);
    shape = ctx.b.int64s(known.map((d) => (d === -1 ? 1 : d)));
  }
  if (!known) {
    const minus1 = ctx.b.op('Equal', [shape, ctx.b.int64s([-1])]);
    shape = ctx.b.op('Where', [minus1, ctx.b.int64s([1]), shape]);
  }
  const out = ctx.output('Out');
  ctx.b.node('Expand', [ctx.input('X'), shape], [out]);
  const xs = ctx.shape('X');
  if (known && xs) {
    const off = known.length - xs.length;
    ctx.setShape(out, known.map((d, i) => (d === -1 ? (i >= off ? xs[i - off] : -1) : d)));
  }
}

function expandAsV2(ctx: OpContext): void {
  const out = ctx.output('Out');
  if (ctx.has('Y')) {
    ctx.b.node('Expand', [ctx.input('X'), ctx.b.op('Shape', [ctx.input('Y')])], [out]);
    ctx.setShape(out, ctx.shape('Y'));
  } else {
    const target = ctx.ints('target_shape', []);
    if (target.length === 0) ctx.invalid('neither Y nor target_shape');
    ctx.b.node('Expand', [ctx.input('X'), ctx.b.int64s(target.map((d) => (d === -1 ? 1 : d)))], [out]);
    ctx.setShape(out, target);
  }
}

// ---- unsqueeze2 / squeeze2 ----

function axesOf(ctx: OpContext): number[] {
  if (ctx.has('AxesTensor')) {
    const c = ctx.constant('AxesTensor');
    if (!c) ctx.unsupported('axes known only at run time');
    return c.values;
  }
  if (ctx.has('AxesTensorList')) {
    return ctx.names('AxesTensorList').map((_, i) => {
      const c = ctx.constant('AxesTensorList', i);
      if (!c) ctx.unsupported('axes known only at run time');
      return c.values[0];
    });
  }
  return ctx.ints('axes', []);
}

/** Paddle's unsqueeze inserts one axis at a time, each relative to the rank so far; the positions the 1s end at. */
export function unsqueezePositions(rank: number, axes: number[]): number[] {
  const marks = new Array<number>(rank + axes.length).fill(0);
  let cur = rank;
  for (const a of axes) {
    const p = a < 0 ? a + cur + 1 : a;
    for (let i = cur; i >= p; i--) {
      if (marks[i] === 1) {
        marks[i + 1] = 1;
        marks[i] = 0;
      }
    }
    marks[p] = 1;
    cur++;
  }
  return marks.flatMap((m, i) => (m === 1 ? [i] : []));
}

function reshapeConstOr(ctx: OpContext, onnxOp: string, axes: number[], outDims: number[] | undefined): void {
  const c = ctx.constant('X');
  if (c && outDims) {
    ctx.setConst('Out', { ...c, dims: outDims });
    return;
  }
  const out = ctx.output('Out');
  ctx.b.node(onnxOp, [ctx.input('X'), ctx.b.int64s(axes)], [out]);
  ctx.setShape(out, outDims);
}

function unsqueeze2(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const pos = unsqueezePositions(rank, axesOf(ctx));
  if (pos.some((p) => p < 0 || p > rank + pos.length - 1)) ctx.invalid(`axes [${axesOf(ctx).join(',')}] out of range for rank ${rank}`);
  const s = ctx.shape('X');
  let outDims: number[] | undefined;
  if (s) {
    outDims = [];
    let k = 0;
    for (let i = 0; i < rank + pos.length; i++) outDims.push(pos.includes(i) ? 1 : s[k++]);
  }
  reshapeConstOr(ctx, 'Unsqueeze', pos, outDims);
}

/** Paddle squeezes only the listed dims that are 1 (all 1s when none are listed); an unknown dim is taken as 1. */
function squeeze2(ctx: OpContext): void {
  const s = ctx.shape('X');
  if (!s) ctx.unsupported('the input rank is unknown');
  const listed = axesOf(ctx).map((a) => normAxis(a, s.length));
  const axes = (listed.length === 0 ? s.map((_, i) => i).filter((i) => s[i] === 1) : listed.filter((i) => s[i] === 1 || s[i] === -1))
    .filter((v, i, arr) => arr.indexOf(v) === i)
    .sort((a, b) => a - b);
  if (axes.length === 0) {
    ctx.bindOutput('Out', ctx.input('X'));
    return;
  }
  reshapeConstOr(ctx, 'Squeeze', axes, s.filter((_, i) => !axes.includes(i)));
}

// ---- fill_any_like ----

function fillAnyLike(ctx: OpContext): void {
  const t = ctx.int('dtype', -1);
  const dtype = t >= 0 ? PADDLE_VARTYPE[t] : ctx.dtype('X');
  if (!dtype) ctx.unsupported(`dtype ${t}`);
  const value = ctx.float('value', 0);
  const out = ctx.output('Out');
  ctx.b.node('Expand', [ctx.b.scalar(value, dtype), ctx.b.op('Shape', [ctx.input('X')])], [out]);
  ctx.setShape(out, ctx.shape('X'));
  ctx.b.setFacts(out, { dtype });
}

registerMissing({
  range,
  meshgrid,
  stack,
  reverse,
  top_k_v2: topK,
  gather,
  reduce_max: reduce('ReduceMax'),
  reduce_min: reduce('ReduceMin'),
  reduce_sum: reduce('ReduceSum'),
  reduce_mean: reduce('ReduceMean'),
  reduce_prod: reduce('ReduceProd'),
  expand_v2: expandV2,
  expand_as_v2: expandAsV2,
  unsqueeze2,
  squeeze2,
  fill_any_like: fillAnyLike,
});

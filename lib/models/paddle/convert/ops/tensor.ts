// Shape and layout ops: reshape2, transpose2, flatten, squeeze2/unsqueeze2,
// concat, split, slice, stack, expand_v2, shape, fill_constant, assign_value,
// cast, assign. Whatever has only constant inputs (shape arithmetic once the
// feed sizes are fixed) is folded into a constant.
//
// Facts from Paddle (phi/infermeta/unary.cc, phi/kernels/funcs/slice_utils.h):
// - reshape: 0 copies the input dim at that index, -1 is inferred (ONNX's
//   Reshape with allowzero = 0 means the same); `ShapeTensor` (a list of
//   1-element tensors) wins over `Shape`, which wins over the `shape` attribute.
// - shape outputs int32; slice clamps starts/ends to [0, dim] after adding dim
//   to negatives, and `decrease_axis` drops those axes (a 0-D result where the
//   output var is 0-D, [1] where the program says [1]).
// - unsqueeze inserts its axes one after the other, each relative to the
//   shape so far (a negative one counts from the end of that shape + 1).
// - squeeze drops only the listed axes that are 1 (others stay, no error);
//   no axes: every 1.
import type { PaddleDType } from '../../program';
import { registerOps, OpContext } from '../context';
import { PADDLE_CONVERT_LIMITS } from '../../../../limits';
import { dtypeOfName, dtypeOfVarType } from '../../dtypes';
import { attrInt, attrInts, numel } from '../graph';
import { emit, normAxis } from './util';

/** A Paddle dtype attribute (a VarType number, or a dtype name as PIR programs write it). */
export function dtypeAttr(ctx: OpContext, name: string, def: PaddleDType): PaddleDType {
  const a = ctx.attr(name);
  if (a === undefined) return def;
  if (typeof a === 'number') {
    if (a === -1) return def;
    const t = dtypeOfVarType(a);
    if (!t) ctx.unsupported(`${name} = VarType ${a}`);
    return t;
  }
  const named = typeof a === 'string' ? dtypeOfName(a) : undefined;
  if (named) return named;
  return ctx.invalid(`attribute ${name} is not a dtype`);
}

const isIntType = (t: PaddleDType) => t === 'int8' || t === 'uint8' || t === 'int16' || t === 'int32' || t === 'int64' || t === 'bool';

/** Values converted to `dtype` as a cast would (truncation toward zero for integers). */
export function castValues(values: number[], dtype: PaddleDType): number[] {
  if (dtype === 'bool') return values.map((v) => (v !== 0 ? 1 : 0));
  if (isIntType(dtype)) return values.map((v) => Math.trunc(v));
  if (dtype === 'float32') return values.map((v) => Math.fround(v));
  return values;
}

/** An int64 value of the ints that `value` holds (Cast unless constant). */
export function asInt64(ctx: OpContext, value: string): string {
  const f = ctx.b.factsOf(value);
  if (f.value) return ctx.b.constant({ dtype: 'int64', dims: f.value.dims, values: f.value.values.map((v) => Math.trunc(v)) }, 'i64');
  if (f.dtype === 'int64') return value;
  return ctx.b.op('Cast', [value], { to: attrInt(7) });
}

/**
 * An int list given as a list of 1-element tensors (`listSlot`), one tensor
 * (`tensorSlot`), or the attribute: an int64 1-D value name, and the values
 * when known at conversion time.
 */
export function intList(ctx: OpContext, listSlot: string | undefined, tensorSlot: string | undefined, attr: string, def: number[] = []): { name: string; values?: number[] } {
  if (listSlot && ctx.has(listSlot)) {
    const parts = ctx.names(listSlot).map((_, i) => ctx.input(listSlot, i));
    const consts = parts.map((p) => ctx.b.factsOf(p).value);
    if (consts.every((c) => c !== undefined)) {
      const values = consts.flatMap((c) => c!.values.map((v) => Math.trunc(v)));
      return { name: ctx.b.int64s(values), values };
    }
    const flat = parts.map((p) => ctx.b.op('Reshape', [asInt64(ctx, p), ctx.b.int64s([-1])]));
    return { name: ctx.b.op('Concat', flat, { axis: attrInt(0) }) };
  }
  if (tensorSlot && ctx.has(tensorSlot)) {
    const c = ctx.constant(tensorSlot);
    if (c) {
      const values = c.values.map((v) => Math.trunc(v));
      return { name: ctx.b.int64s(values), values };
    }
    return { name: ctx.b.op('Reshape', [asInt64(ctx, ctx.input(tensorSlot)), ctx.b.int64s([-1])]) };
  }
  const values = ctx.ints(attr, def);
  return { name: ctx.b.int64s(values), values };
}

/** Output shape of a Paddle/ONNX reshape (0 = copy, -1 = infer) when derivable. */
function reshapeShape(inShape: number[] | undefined, target: number[]): number[] {
  const out = target.map((d, i) => (d === 0 ? (inShape?.[i] ?? -1) : d));
  const neg = out.indexOf(-1);
  if (neg >= 0 && target[neg] === -1 && inShape && inShape.every((d) => d >= 0)) {
    const rest = out.reduce((a, d, i) => (i === neg ? a : a * d), 1);
    if (rest > 0) out[neg] = numel(inShape) / rest;
  }
  return out;
}

function reshape2(ctx: OpContext): void {
  const target = intList(ctx, 'ShapeTensor', 'Shape', 'shape');
  const s = ctx.shape('X');
  const c = ctx.constant('X');
  if (c && target.values) {
    ctx.setConst('Out', { ...c, dims: reshapeShape(c.dims, target.values) });
    return;
  }
  emit(ctx, 'Out', 'Reshape', [ctx.input('X'), target.name], {}, target.values ? reshapeShape(s, target.values) : ctx.outShape('Out'));
}

function transpose2(ctx: OpContext): void {
  const perm = ctx.ints('axis', []);
  const s = ctx.shape('X');
  emit(ctx, 'Out', 'Transpose', [ctx.input('X')], { perm: attrInts(perm) }, s ? perm.map((p) => s[p]) : undefined);
}

function flattenRange(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const s = ctx.shape('X')!;
  if (rank === 0) {
    emit(ctx, 'Out', 'Reshape', [ctx.input('X'), ctx.b.int64s([1])], {}, [1]);
    return;
  }
  const start = normAxis(ctx.int('start_axis', 1), rank);
  const stop = normAxis(ctx.int('stop_axis', 1), rank);
  if (start > stop) ctx.invalid(`start_axis ${start} after stop_axis ${stop}`);
  const mid = s.slice(start, stop + 1);
  const merged = mid.every((d) => d >= 0) ? numel(mid) : -1;
  const outShape = [...s.slice(0, start), merged, ...s.slice(stop + 1)];
  const after = s.slice(stop + 1);
  let target: string;
  if (after.every((d) => d >= 0)) {
    // 0 copies the leading dims; the merged one is inferred.
    target = ctx.b.int64s([...new Array<number>(start).fill(0), -1, ...after]);
  } else {
    const shp = ctx.b.op('Shape', [ctx.input('X')]);
    const tail = ctx.b.op('Slice', [shp, ctx.b.int64s([stop + 1]), ctx.b.int64s([rank])]);
    target = ctx.b.op('Concat', [ctx.b.int64s([...new Array<number>(start).fill(0), -1]), tail], { axis: attrInt(0) });
  }
  const c = ctx.constant('X');
  if (c) {
    ctx.setConst('Out', { ...c, dims: outShape });
    return;
  }
  emit(ctx, 'Out', 'Reshape', [ctx.input('X'), target], {}, outShape);
}

/** Legacy flatten / flatten2: [prod(dims[:axis]), prod(dims[axis:])]. */
function flatten2(ctx: OpContext): void {
  const axis = ctx.int('axis', 1);
  const s = ctx.shape('X');
  const shape = s && s.every((d) => d >= 0) ? [numel(s.slice(0, axis)), numel(s.slice(axis))] : undefined;
  emit(ctx, 'Out', 'Flatten', [ctx.input('X')], { axis: attrInt(axis) }, shape);
}

function squeeze2(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const s = ctx.shape('X')!;
  let axes = ctx.ints('axes', []).map((a) => normAxis(a, rank));
  if (axes.length === 0) {
    if (s.some((d) => d < 0)) {
      emit(ctx, 'Out', 'Squeeze', [ctx.input('X')], {}, ctx.outShape('Out'));
      return;
    }
    axes = s.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  }
  // Paddle keeps a listed axis that is not 1; an unknown one is taken as 1.
  axes = [...new Set(axes)].filter((a) => s[a] === 1 || s[a] < 0).sort((a, b) => a - b);
  const outShape = s.filter((_, i) => !axes.includes(i));
  const c = ctx.constant('X');
  if (c) {
    ctx.setConst('Out', { ...c, dims: outShape });
    return;
  }
  if (axes.length === 0) {
    emit(ctx, 'Out', 'Identity', [ctx.input('X')], {}, s);
    return;
  }
  emit(ctx, 'Out', 'Squeeze', [ctx.input('X'), ctx.b.int64s(axes)], {}, outShape);
}

function unsqueeze2(ctx: OpContext): void {
  const s = ctx.shape('X')!;
  const given = intList(ctx, 'AxesTensorList', 'AxesTensor', 'axes');
  if (!given.values) ctx.unsupported('axes known only at run time');
  // Insert one after the other, as Paddle does; the markers' final positions are ONNX's axes.
  const marks: (number | null)[] = s.map((d) => d);
  for (const a of given.values) {
    const pos = a < 0 ? a + marks.length + 1 : a;
    if (pos < 0 || pos > marks.length) ctx.invalid(`axis ${a} out of range`);
    marks.splice(pos, 0, null);
  }
  const axes = marks.map((m, i) => (m === null ? i : -1)).filter((i) => i >= 0);
  const outShape = marks.map((m) => (m === null ? 1 : m));
  const c = ctx.constant('X');
  if (c) {
    ctx.setConst('Out', { ...c, dims: outShape });
    return;
  }
  emit(ctx, 'Out', 'Unsqueeze', [ctx.input('X'), ctx.b.int64s(axes)], {}, outShape);
}

function concat(ctx: OpContext): void {
  const rank = ctx.rank('X');
  let axis = ctx.int('axis', 0);
  if (ctx.has('AxisTensor')) {
    const a = ctx.constant('AxisTensor');
    if (!a) ctx.unsupported('AxisTensor known only at run time');
    axis = a.values[0];
  }
  axis = normAxis(axis, rank);
  const n = ctx.names('X').length;
  const consts = Array.from({ length: n }, (_, i) => ctx.constant('X', i));
  if (rank === 1 && consts.every((c) => c !== undefined)) {
    const values = consts.flatMap((c) => c!.values);
    ctx.setConst('Out', { dtype: consts[0]!.dtype, dims: [values.length], values });
    return;
  }
  const shapes = Array.from({ length: n }, (_, i) => ctx.shape('X', i));
  let outShape: number[] | undefined;
  if (shapes.every((x) => x !== undefined)) {
    outShape = [...shapes[0]!];
    outShape[axis] = shapes.some((x) => x![axis] < 0) ? -1 : shapes.reduce((a, x) => a + x![axis], 0);
  }
  emit(ctx, 'Out', 'Concat', ctx.inputs('X'), { axis: attrInt(axis) }, outShape);
}

function split(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const s = ctx.shape('X')!;
  let axis = ctx.int('axis', 0);
  if (ctx.has('AxisTensor')) {
    const a = ctx.constant('AxisTensor');
    if (!a) ctx.unsupported('AxisTensor known only at run time');
    axis = a.values[0];
  }
  axis = normAxis(axis, rank);
  const nOut = ctx.outNames('Out').length;
  let sections = ctx.has('SectionsTensorList') ? intList(ctx, 'SectionsTensorList', undefined, 'sections').values : ctx.ints('sections', []);
  if (!sections) ctx.unsupported('sections known only at run time');
  const num = ctx.int('num', 0);
  const dim = s[axis];
  if (sections.length === 0) {
    if (num !== 0 && num !== nOut) ctx.invalid(`num ${num} for ${nOut} outputs`);
    if (dim > 0) {
      if (dim % nOut !== 0) ctx.invalid(`dim ${dim} does not split into ${nOut} equal parts`);
      sections = new Array<number>(nOut).fill(dim / nOut);
    }
  } else if (sections.includes(-1)) {
    if (dim < 0) ctx.unsupported('a -1 section of a dim unknown at conversion (fix it with inputShapes)');
    const known = sections.reduce((a, v) => (v === -1 ? a : a + v), 0);
    sections = sections.map((v) => (v === -1 ? dim - known : v));
  }
  const outs = Array.from({ length: nOut }, (_, i) => ctx.output('Out', i));
  const inputs = [ctx.input('X')];
  if (sections.length > 0) {
    if (sections.length !== nOut) ctx.invalid(`${sections.length} sections for ${nOut} outputs`);
    inputs.push(ctx.b.int64s(sections));
  }
  ctx.b.node('Split', inputs, outs, { axis: attrInt(axis) });
  outs.forEach((o, i) => {
    const sh = [...s];
    sh[axis] = sections.length > 0 ? sections[i] : -1;
    ctx.setShape(o, sh);
  });
}

function slice(ctx: OpContext): void {
  const rank = ctx.rank('Input');
  const s = ctx.shape('Input')!;
  const axes = ctx.ints('axes', []).map((a) => normAxis(a, rank));
  const starts = intList(ctx, 'StartsTensorList', 'StartsTensor', 'starts');
  const ends = intList(ctx, 'EndsTensorList', 'EndsTensor', 'ends');
  const decrease = ctx.ints('decrease_axis', []).map((a) => normAxis(a, rank));
  // Static result dims where starts, ends and the dim are known.
  const outDims = [...s];
  if (starts.values && ends.values) {
    axes.forEach((a, i) => {
      const d = s[a];
      if (d < 0) {
        outDims[a] = -1;
        return;
      }
      const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      outDims[a] = Math.max(0, clampIdx(ends.values![i]) - clampIdx(starts.values![i]));
    });
  } else {
    for (const a of axes) outDims[a] = -1;
  }
  // The program's output rank says whether a fully decreased result is 0-D or [1].
  const outDesc = ctx.outShape('Out');
  let finalDims = outDims.filter((_, i) => !decrease.includes(i));
  const keepOne = decrease.length > 0 && finalDims.length === 0 && outDesc !== undefined && outDesc.length === 1;
  if (keepOne) finalDims = [1];
  const c = ctx.constant('Input');
  if (c && starts.values && ends.values && rank === 1) {
    const d = c.dims[0];
    const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const i = axes.indexOf(0);
    const values = i < 0 ? c.values : c.values.slice(clampIdx(starts.values[i]), clampIdx(ends.values[i]));
    ctx.setConst('Out', { dtype: c.dtype, dims: finalDims, values });
    return;
  }
  const sliced = ctx.b.op('Slice', [ctx.input('Input'), starts.name, ends.name, ctx.b.int64s(axes)]);
  ctx.setShape(sliced, outDims);
  if (decrease.length === 0) {
    emit(ctx, 'Out', 'Identity', [sliced], {}, outDims);
  } else if (keepOne) {
    emit(ctx, 'Out', 'Reshape', [sliced, ctx.b.int64s([1])], {}, [1]);
  } else {
    emit(ctx, 'Out', 'Squeeze', [sliced, ctx.b.int64s([...decrease].sort((a, b) => a - b))], {}, finalDims);
  }
}

function shape(ctx: OpContext): void {
  const s = ctx.shape('Input');
  const outType = ctx.outDtype('Out') ?? 'int32';
  if (s && s.every((d) => d >= 0)) {
    ctx.setConst('Out', { dtype: outType, dims: [s.length], values: s });
    return;
  }
  const raw = ctx.b.op('Shape', [ctx.input('Input')]);
  if (outType === 'int64') emit(ctx, 'Out', 'Identity', [raw], {}, s ? [s.length] : undefined);
  else emit(ctx, 'Out', 'Cast', [raw], { to: attrInt(onnxElemOf(outType)) }, s ? [s.length] : undefined);
}

function onnxElemOf(t: PaddleDType): number {
  return ({ bool: 9, int8: 3, uint8: 2, int16: 5, int32: 6, int64: 7, float16: 10, bfloat16: 16, float32: 1, float64: 11 } as const)[t];
}


function parseFillValue(ctx: OpContext): number {
  const str = ctx.str('str_value', '');
  if (str !== '') {
    const lower = str.toLowerCase();
    if (lower === 'inf' || lower === '+inf') return Infinity;
    if (lower === '-inf') return -Infinity;
    if (lower === 'nan') return NaN;
    const v = Number(str);
    if (Number.isNaN(v)) ctx.invalid(`str_value ${JSON.stringify(str)}`);
    return v;
  }
  return ctx.float('value', 0);
}

function fillConstant(ctx: OpContext): void {
  const dtype = dtypeAttr(ctx, 'dtype', 'float32');
  const shp = intList(ctx, 'ShapeTensorList', 'ShapeTensor', 'shape');
  if (ctx.has('ValueTensor')) {
    const v = ctx.constant('ValueTensor');
    if (!v) {
      const val = ctx.b.op('Cast', [ctx.input('ValueTensor')], { to: attrInt(onnxElemOf(dtype)) });
      emit(ctx, 'Out', 'Expand', [ctx.b.op('Reshape', [val, ctx.b.int64s([])]), shp.name], {}, shp.values);
      return;
    }
  }
  const value = ctx.has('ValueTensor') ? ctx.constant('ValueTensor')!.values[0] : parseFillValue(ctx);
  const [v] = castValues([value], dtype);
  if (shp.values?.some((d) => !Number.isInteger(d) || d < 0)) ctx.invalid(`shape [${shp.values.join(',')}]`);
  // Small fills are stored (and fold further); large ones are built at run time.
  if (shp.values && numel(shp.values) <= PADDLE_CONVERT_LIMITS.maxFoldedElements) {
    ctx.setConst('Out', { dtype, dims: shp.values, values: new Array<number>(numel(shp.values)).fill(v) });
    return;
  }
  emit(ctx, 'Out', 'Expand', [ctx.b.scalar(v, dtype), shp.name], {}, shp.values);
}

function assignValue(ctx: OpContext): void {
  const dtype = dtypeAttr(ctx, 'dtype', 'float32');
  const dims = ctx.ints('shape', []);
  const pick = (): number[] => {
    for (const k of ['values', 'fp32_values', 'int32_values', 'int64_values', 'fp64_values']) {
      const a = ctx.attr(k);
      if (Array.isArray(a) && a.length > 0) return a.map((x) => (typeof x === 'boolean' ? (x ? 1 : 0) : Number(x)));
    }
    const b = ctx.attr('bool_values');
    if (Array.isArray(b) && b.length > 0) return b.map((x) => (x ? 1 : 0));
    return [];
  };
  const values = pick();
  if (values.length !== numel(dims)) ctx.invalid(`${values.length} values for shape [${dims.join(',')}]`);
  ctx.setConst('Out', { dtype, dims, values: castValues(values, dtype) });
}

function cast(ctx: OpContext): void {
  const to = dtypeAttr(ctx, 'out_dtype', 'float32');
  const c = ctx.constant('X');
  if (c) {
    ctx.setConst('Out', { dtype: to, dims: c.dims, values: castValues(c.values, to) });
    return;
  }
  const out = emit(ctx, 'Out', 'Cast', [ctx.input('X')], { to: attrInt(onnxElemOf(to)) }, ctx.shape('X'));
  ctx.b.setFacts(out, { dtype: to });
}

function assign(ctx: OpContext): void {
  ctx.bindOutput('Out', ctx.input('X'));
}

function stack(ctx: OpContext): void {
  const n = ctx.names('X').length;
  const rank = ctx.rank('X');
  const axis = normAxis(ctx.int('axis', 0), rank + 1);
  const consts = Array.from({ length: n }, (_, i) => ctx.constant('X', i));
  if (rank === 0 && consts.every((c) => c !== undefined)) {
    ctx.setConst('Y', { dtype: consts[0]!.dtype, dims: [n], values: consts.map((c) => c!.values[0]) });
    return;
  }
  const axesT = ctx.b.int64s([axis]);
  const parts = ctx.inputs('X').map((x) => ctx.b.op('Unsqueeze', [x, axesT]));
  const s = ctx.shape('X');
  const outShape = s ? [...s.slice(0, axis), n, ...s.slice(axis)] : undefined;
  emit(ctx, 'Y', 'Concat', parts, { axis: attrInt(axis) }, outShape);
}

function expandV2(ctx: OpContext): void {
  const target = intList(ctx, 'expand_shapes_tensor', 'Shape', 'shape');
  const s = ctx.shape('X');
  // Paddle's -1 keeps the input dim; ONNX's Expand keeps it for 1.
  let shapeT: string;
  let outShape: number[] | undefined;
  if (target.values) {
    const t = target.values;
    shapeT = ctx.b.int64s(t.map((d) => (d === -1 ? 1 : d)));
    outShape = t.map((d, i) => (d === -1 ? (s?.[i - (t.length - (s?.length ?? 0))] ?? -1) : d));
  } else {
    shapeT = ctx.b.op('Max', [target.name, ctx.b.int64s([1])]);
  }
  emit(ctx, 'Out', 'Expand', [ctx.input('X'), shapeT], {}, outShape);
}

registerOps({
  reshape2,
  reshape: reshape2,
  transpose2,
  transpose: transpose2,
  flatten_contiguous_range: flattenRange,
  flatten2,
  flatten: flatten2,
  squeeze2,
  squeeze: squeeze2,
  unsqueeze2,
  unsqueeze: unsqueeze2,
  concat,
  split,
  slice,
  shape,
  fill_constant: fillConstant,
  assign_value: assignValue,
  cast,
  assign,
  stack,
  expand_v2: expandV2,
});

// Shape arithmetic that is constant at the model's fixed input size: Shape of a
// tensor whose shape is known (a graph input with every dimension fixed, an
// initializer, or an elementwise op of one), and the integer ops that follow it
// (Gather, Slice, Concat, Unsqueeze, Squeeze, Cast, Add, Sub, Mul, Div), are
// evaluated here and replaced by initializers. Old exports compute Reshape
// targets this way; ONNX Runtime folds them too, but only with its shape
// inference at every load, and not when an input dimension is symbolic.
// Only int32/int64 results up to MAX_FOLDED elements are folded.
import { ONNX_DTYPE } from '../onnx-proto';
import { attr, GraphIndex, isDefaultDomain, OnnxGraph, OnnxNode, OnnxTensor, tensorValues, toNumber } from './model';
import { count, GraphPassReport } from './report';

const MAX_FOLDED = 64;

/** Ops whose output has their first input's shape. */
const SAME_SHAPE = new Set(['Relu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Clip', 'Cast', 'Identity', 'Neg', 'Abs', 'Exp', 'Sqrt', 'Softmax']);

interface Value { dims: number[]; values: number[]; dtype: number }

function fixedShape(dims: { dimValue?: unknown; dimParam?: string }[] | undefined): number[] | undefined {
  if (!dims) return undefined;
  const out = dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue as number) : -1));
  return out.every((d) => d > 0) ? out : undefined;
}

function intTensor(name: string, v: Value): OnnxTensor {
  const t: OnnxTensor = { name, dims: v.dims, dataType: v.dtype, floatData: [], int32Data: [], int64Data: [], doubleData: [], externalData: [] };
  if (v.dtype === ONNX_DTYPE.INT64) t.int64Data = v.values;
  else t.int32Data = v.values;
  return t;
}

const isInt = (dt: number) => dt === ONNX_DTYPE.INT64 || dt === ONNX_DTYPE.INT32;

/** One node's integer output from constant inputs, or undefined when not folded here. */
function evaluate(n: OnnxNode, inputs: (Value | undefined)[], shapes: Map<string, number[]>, opset: number): Value | undefined {
  const op = n.opType;
  const a = inputs[0];
  if (op === 'Shape') {
    const s = shapes.get(n.input[0] ?? '');
    if (!s || attr(n, 'start') || attr(n, 'end')) return undefined;
    return { dims: [s.length], values: s, dtype: ONNX_DTYPE.INT64 };
  }
  if (!a || !isInt(a.dtype) || inputs.some((x, i) => n.input[i] && !x)) return undefined;
  switch (op) {
    case 'Gather': {
      const idx = inputs[1];
      const axis = toNumber(attr(n, 'axis')?.i);
      if (!idx || a.dims.length !== 1 || axis !== 0) return undefined;
      const len = a.values.length;
      const picked = idx.values.map((i) => a.values[i < 0 ? i + len : i]);
      if (picked.some((v) => v === undefined)) return undefined;
      return { dims: idx.dims, values: picked, dtype: a.dtype };
    }
    case 'Unsqueeze': {
      const axes = opset >= 13 ? inputs[1]?.values : attr(n, 'axes')?.ints.map(toNumber);
      if (!axes || a.dims.length !== 0 || axes.length !== 1 || (axes[0] !== 0 && axes[0] !== -1)) return undefined;
      return { dims: [1], values: a.values, dtype: a.dtype };
    }
    case 'Squeeze':
      return a.dims.length === 1 && a.dims[0] === 1 ? { dims: [], values: a.values, dtype: a.dtype } : undefined;
    case 'Concat': {
      if (inputs.some((x) => !x || x.dims.length !== 1 || x.dtype !== a.dtype)) return undefined;
      const values = inputs.flatMap((x) => (x ? x.values : []));
      return { dims: [values.length], values, dtype: a.dtype };
    }
    case 'Cast': {
      const to = toNumber(attr(n, 'to')?.i);
      return isInt(to) ? { dims: a.dims, values: a.values, dtype: to } : undefined;
    }
    case 'Slice': {
      if (opset < 10 || a.dims.length !== 1) return undefined;
      const [starts, ends, axes, steps] = [inputs[1], inputs[2], inputs[3], inputs[4]];
      if (!starts || !ends || starts.values.length !== 1 || (axes && axes.values[0] !== 0 && axes.values[0] !== -1)) return undefined;
      const step = steps ? steps.values[0] : 1;
      if (step !== 1) return undefined;
      const len = a.values.length;
      const clamp = (v: number) => Math.min(len, Math.max(0, v < 0 ? v + len : v));
      const values = a.values.slice(clamp(starts.values[0]), clamp(ends.values[0]));
      return { dims: [values.length], values, dtype: a.dtype };
    }
    case 'Add': case 'Sub': case 'Mul': case 'Div': {
      const b = inputs[1];
      if (!b || b.dtype !== a.dtype) return undefined;
      const [big, small] = a.values.length >= b.values.length ? [a, b] : [b, a];
      if (small.values.length !== 1 && small.values.length !== big.values.length) return undefined;
      if (small.dims.length > big.dims.length) return undefined;
      const f = { Add: (x: number, y: number) => x + y, Sub: (x: number, y: number) => x - y, Mul: (x: number, y: number) => x * y, Div: (x: number, y: number) => (y === 0 ? NaN : Math.trunc(x / y)) }[op];
      const at = (v: Value, i: number) => v.values[v.values.length === 1 ? 0 : i];
      const values = big.values.map((_, i) => f(at(a, i), at(b, i)));
      return values.every(Number.isSafeInteger) ? { dims: big.dims, values, dtype: a.dtype } : undefined;
    }
    default:
      return undefined;
  }
}

export function foldShapes(g: OnnxGraph, opset: number, r: GraphPassReport): void {
  const ix = new GraphIndex(g);
  const shapes = new Map<string, number[]>();
  for (const i of g.input) {
    const s = fixedShape(i.type?.tensorType?.shape?.dim);
    if (i.name && s) shapes.set(i.name, s);
  }
  for (const t of g.initializer) if (t.name && !ix.graphInputs.has(t.name)) shapes.set(t.name, t.dims.map(toNumber));
  const consts = new Map<string, Value>();
  const constOf = (name: string): Value | undefined => {
    const known = consts.get(name);
    if (known) return known;
    const t = ix.constantTensor(name);
    if (!t || !isInt(t.dataType ?? 0)) return undefined;
    const values = tensorValues(t, MAX_FOLDED);
    return values ? { dims: t.dims.map(toNumber), values, dtype: t.dataType ?? 0 } : undefined;
  };
  const folded = new Set<OnnxNode>();
  for (const n of g.node) {
    if (!isDefaultDomain(n)) continue;
    const out = n.output[0];
    if (out && SAME_SHAPE.has(n.opType ?? '') && n.input[0] && shapes.has(n.input[0])) shapes.set(out, shapes.get(n.input[0]) as number[]);
    if (!out || n.output.length !== 1 || n.opType === 'Constant' || ix.graphOutputs.has(out)) continue;
    const v = evaluate(n, n.input.map((i) => (i ? constOf(i) : undefined)), shapes, opset);
    if (!v || v.values.length > MAX_FOLDED) continue;
    consts.set(out, v);
    folded.add(n);
  }
  if (!folded.size) return;
  // Each folded output becomes an initializer; nodes left unread are removed by prune.
  const readByLive = new Set<string>();
  for (const n of g.node) if (!folded.has(n)) for (const i of n.input) readByLive.add(i);
  for (const o of g.output) if (o.name) readByLive.add(o.name);
  g.node = g.node.filter((n) => !folded.has(n));
  for (const n of folded) {
    const out = n.output[0];
    if (out && readByLive.has(out)) g.initializer.push(intTensor(out, consts.get(out) as Value));
  }
  count(r, 'fold-shapes', folded.size);
}

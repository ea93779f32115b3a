// Helpers shared by the op families: constants in an input's element type,
// numpy broadcasting of static shapes and of folded constants.
import type { PaddleDType } from '../../program';
import type { OpContext } from '../context';
import { ConstValue, OnnxAttr, numel } from '../graph';

/** Writes output `slot` as one ONNX node and records its static shape; returns the value name. */
export function emit(ctx: OpContext, slot: string, opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, shape?: number[]): string {
  const out = ctx.output(slot);
  ctx.b.node(opType, inputs, [out], attrs);
  ctx.setShape(out, shape);
  return out;
}

/** The float type an op computes in: the input's when floating, else float32. */
export function floatTypeOf(ctx: OpContext, slot: string): PaddleDType {
  const t = ctx.dtype(slot);
  return t === 'float64' ? 'float64' : 'float32';
}

/** A scalar constant in the element type of input `slot` (float32 when unknown). */
export function scalarLike(ctx: OpContext, slot: string, v: number): string {
  const t = ctx.dtype(slot) ?? 'float32';
  return ctx.b.scalar(v, t === 'float16' || t === 'bfloat16' ? 'float32' : t);
}

/** numpy broadcast of two static shapes (-1 stays unknown); undefined when a rank is unknown. */
export function broadcastShape(a: number[] | undefined, b: number[] | undefined): number[] | undefined {
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : y === 1 ? x : x === -1 ? y : x);
  }
  return out;
}

/** Strides of a row-major shape. */
function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** f applied elementwise with numpy broadcasting to two known constants. */
export function foldBinary(a: ConstValue, b: ConstValue, f: (x: number, y: number) => number, dtype: PaddleDType = a.dtype): ConstValue {
  const dims = broadcastShape(a.dims, b.dims)!;
  const n = numel(dims);
  const st = strides(dims);
  const index = (c: ConstValue, flat: number): number => {
    const cs = strides(c.dims);
    let off = 0;
    for (let i = 0; i < dims.length; i++) {
      const k = i - (dims.length - c.dims.length);
      if (k < 0) continue;
      const coord = Math.floor(flat / st[i]) % dims[i];
      off += (c.dims[k] === 1 ? 0 : coord) * cs[k];
    }
    return c.values[off];
  };
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(f(index(a, i), index(b, i)));
  const isInt = dtype !== 'float32' && dtype !== 'float64' && dtype !== 'float16' && dtype !== 'bfloat16';
  return { dtype, dims, values: isInt ? values.map((v) => Math.trunc(v)) : values };
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

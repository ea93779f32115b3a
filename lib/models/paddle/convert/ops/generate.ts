// Tensors built from sizes and values: range, meshgrid, fill_any_like,
// expand_as_v2. The detector's anchor centres are range -> meshgrid on sizes
// that are static once the input size is fixed, so with known inputs they fold
// to constants (up to PADDLE_CONVERT_LIMITS.maxFoldedElements values).
// Semantics and attribute defaults are Paddle's op makers' (phi/ops/yaml).
import { PADDLE_CONVERT_LIMITS } from '../../../../limits';
import type { PaddleDType } from '../../program';
import { OpContext, registerOps } from '../context';
import { ConstValue, ONNX_ELEM, attrInt, numel } from '../graph';
import { dtypeAttr } from './tensor';

const INT_TYPES: ReadonlySet<PaddleDType> = new Set(['bool', 'int8', 'uint8', 'int16', 'int32', 'int64']);

const foldable = (dims: number[]): boolean => numel(dims) <= PADDLE_CONVERT_LIMITS.maxFoldedElements;

function castConst(c: ConstValue, dtype: PaddleDType): ConstValue {
  return { dtype, dims: c.dims, values: INT_TYPES.has(dtype) ? c.values.map((v) => Math.trunc(v)) : [...c.values] };
}

/** A 1-element tensor as an ONNX scalar (Range and friends take rank 0). */
function toScalar(ctx: OpContext, v: string): string {
  return ctx.b.op('Reshape', [v, ctx.b.int64s([])]);
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

// ---- expand_as_v2 (Paddle's -1 keeps a dim; ONNX's broadcasting Expand keeps it for 1) ----

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

// ---- fill_any_like ----

function fillAnyLike(ctx: OpContext): void {
  const dtype = dtypeAttr(ctx, 'dtype', ctx.dtype('X') ?? 'float32');
  const value = ctx.float('value', 0);
  const out = ctx.output('Out');
  ctx.b.node('Expand', [ctx.b.scalar(value, dtype), ctx.b.op('Shape', [ctx.input('X')])], [out]);
  ctx.setShape(out, ctx.shape('X'));
  ctx.b.setFacts(out, { dtype });
}

registerOps({
  range,
  meshgrid,
  fill_any_like: fillAnyLike,
  expand_as_v2: expandAsV2,
});

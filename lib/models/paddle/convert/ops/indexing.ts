// Selecting elements: gather (index [N] or [N, 1]), top_k_v2, reverse.
// The detector keeps each level's 1000 best anchors with top_k_v2 + gather.
// Semantics and attribute defaults are Paddle's op makers' (phi/ops/yaml).
import { OpContext, registerOps } from '../context';
import { ONNX_ELEM, attrInt } from '../graph';
import { normAxis } from './util';

const INT64_MIN = -9223372036854775808; // -2^63, exact as a double

/** Row-major strides. */
function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** A shape-like input as int64. */
function asInt64(ctx: OpContext, v: string): string {
  return ctx.b.factsOf(v).dtype === 'int64' ? v : ctx.b.op('Cast', [v], { to: attrInt(ONNX_ELEM.int64) });
}

// ---- reverse (flip along axes) ----

function reverse(ctx: OpContext): void {
  const rank = ctx.rank('X');
  const axes = ctx.ints('axis', []).map((a) => normAxis(a, rank));
  if (axes.some((a) => a < 0 || a >= rank)) ctx.invalid(`axis [${ctx.ints('axis', []).join(',')}] out of range for rank ${rank}`);
  if (axes.length === 0) {
    ctx.bindOutput('Out', ctx.input('X'));
    return;
  }
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

registerOps({
  reverse,
  top_k_v2: topK,
  gather,
});

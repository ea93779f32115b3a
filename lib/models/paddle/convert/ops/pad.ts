// pad, pad2d, pad3d -> ONNX Pad (constant, reflect, edge).
//
// Paddle's orders (fluid/operators/pad*_op.cc makers): pad `paddings` is
// [before0, after0, before1, after1, ...] over every dim; pad2d is
// [top, bottom, left, right]; pad3d is [left, right, top, bottom, front,
// back], i.e. W first. ONNX wants all begins, then all ends. Paddle's
// 'replicate' is ONNX's 'edge'; 'circular' (ONNX 'wrap', opset 19) is refused.
import { registerOps, OpContext } from '../context';
import { attrStr } from '../graph';
import { scalarLike } from './util';

const MODES: Record<string, string> = { constant: 'constant', reflect: 'reflect', replicate: 'edge', edge: 'edge' };

/** Pads `slot` X with per-dim [begin, end] pairs (dim order of X). */
function emitPad(ctx: OpContext, pairs: [number, number][], mode: string, value: number): void {
  const onnxMode = MODES[mode];
  if (!onnxMode) ctx.unsupported(`mode ${mode}`);
  const s = ctx.shape('X');
  const pads = ctx.b.int64s([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])]);
  const inputs = [ctx.input('X'), pads, ...(onnxMode === 'constant' ? [scalarLike(ctx, 'X', value)] : [])];
  const out = ctx.output('Out');
  ctx.b.node('Pad', inputs, [out], { mode: attrStr(onnxMode) });
  ctx.setShape(out, s?.map((d, i) => (d < 0 ? -1 : d + pairs[i][0] + pairs[i][1])));
}

/** Spatial [begin, end] pairs placed into a rank-`rank` list for channels-first or channels-last data. */
function spatial(rank: number, channelsLast: boolean, sp: [number, number][]): [number, number][] {
  const pairs: [number, number][] = Array.from({ length: rank }, () => [0, 0]);
  const first = channelsLast ? 1 : 2;
  sp.forEach((p, i) => { pairs[first + i] = p; });
  return pairs;
}

function pad(ctx: OpContext): void {
  const p = ctx.ints('paddings', []);
  const rank = ctx.rank('X');
  if (p.length !== 2 * rank) ctx.invalid(`${p.length} paddings for rank ${rank}`);
  emitPad(ctx, Array.from({ length: rank }, (_, i) => [p[2 * i], p[2 * i + 1]]), 'constant', ctx.float('pad_value', 0));
}

function pad2d(ctx: OpContext): void {
  if (ctx.has('Paddings') && !ctx.constant('Paddings')) ctx.unsupported('Paddings known only at run time');
  const p = ctx.has('Paddings') ? ctx.constant('Paddings')!.values : ctx.ints('paddings', [0, 0, 0, 0]);
  if (p.length !== 4 || ctx.rank('X') !== 4) ctx.invalid('pad2d needs 4 paddings and a 4-D input');
  const last = ctx.str('data_format', 'NCHW') === 'NHWC';
  emitPad(ctx, spatial(4, last, [[p[0], p[1]], [p[2], p[3]]]), ctx.str('mode', 'constant'), ctx.float('pad_value', 0));
}

function pad3d(ctx: OpContext): void {
  if (ctx.has('Paddings') && !ctx.constant('Paddings')) ctx.unsupported('Paddings known only at run time');
  const p = ctx.has('Paddings') ? ctx.constant('Paddings')!.values : ctx.ints('paddings', [0, 0, 0, 0, 0, 0]);
  if (p.length !== 6 || ctx.rank('X') !== 5) ctx.invalid('pad3d needs 6 paddings and a 5-D input');
  const last = ctx.str('data_format', 'NCDHW') === 'NDHWC';
  // [left, right, top, bottom, front, back] -> D, H, W pairs.
  emitPad(ctx, spatial(5, last, [[p[4], p[5]], [p[2], p[3]], [p[0], p[1]]]), ctx.str('mode', 'constant'), ctx.float('value', 0));
}

registerOps({ pad, pad2d, pad3d });

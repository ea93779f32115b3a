// bilinear_interp(_v2) and nearest_interp(_v2) -> ONNX Resize.
//
// Facts from Paddle (phi/kernels/cpu/interpolate_kernel.cc, the v1 kernels in
// fluid/operators/interpolate_op.h):
// - v2 output size: `SizeTensor` (list) wins; else `Scale` tensor or the
//   `scale` attribute give out = int(in * scale), and `OutSize` overrides that
//   size; else out_h/out_w. The source ratio is 1/scale when a scale was
//   given (even if OutSize then set the size), else in/out; with
//   align_corners, (in - 1)/(out - 1). v1: OutSize, else scale > 0, else
//   out_h/out_w; the ratio is always in/out.
// - bilinear source x: align_corners: x * ratio; align_mode 0 (and not
//   align_corners): (x + 0.5) * ratio - 0.5 clamped at 0 ('half_pixel', which
//   ONNX Runtime clamps the same way); align_mode 1: x * ratio ('asymmetric').
// - nearest source x: align_corners: int(x * ratio + 0.5) (ONNX 'align_corners'
//   with round_prefer_ceil); otherwise int(x * ratio) ('asymmetric', floor);
//   align_mode plays no part.
// ONNX's Resize takes scales (ratio 1/scale, size floor(in*scale)) or sizes
// (ratio in/out): the form Paddle's ratio corresponds to is the one passed.
import { registerOps, OpContext } from '../context';
import { attrInt, attrInts, attrStr } from '../graph';
import { asInt64, intList } from './tensor';

function interp(mode: 'linear' | 'nearest', v2: boolean) {
  return (ctx: OpContext): void => {
    const layout = ctx.str('data_layout', 'NCHW');
    const nhwc = layout === 'NHWC';
    if (!nhwc && layout !== 'NCHW' && layout !== 'AnyLayout') ctx.unsupported(`data_layout ${layout}`);
    if (ctx.rank('X') !== 4) ctx.unsupported('only 4-D inputs are converted');
    const alignCorners = ctx.bool('align_corners', true);
    const alignMode = ctx.int('align_mode', 1);
    let x = ctx.input('X');
    const s0 = ctx.shape('X')!;
    const s = nhwc ? [s0[0], s0[3], s0[1], s0[2]] : s0;
    if (nhwc) x = ctx.b.op('Transpose', [x], { perm: attrInts([0, 3, 1, 2]) });

    // Which size form applies (see the opening comment), in Paddle's order.
    let sizes: { name: string; values?: number[] } | undefined;
    let scales: number[] | undefined;
    let scaleTensor: string | undefined;
    if (v2 && ctx.has('SizeTensor')) {
      sizes = intList(ctx, 'SizeTensor', undefined, 'unused');
    } else {
      if (v2 && ctx.has('Scale')) {
        const c = ctx.constant('Scale');
        if (c) scales = c.values.length > 1 ? [c.values[0], c.values[1]] : [c.values[0], c.values[0]];
        else scaleTensor = ctx.input('Scale');
      } else if (v2) {
        const sc = ctx.floats('scale', []);
        if (sc.length > 0 && sc.every((v) => v > 0)) scales = sc.length > 1 ? [sc[0], sc[1]] : [sc[0], sc[0]];
      } else {
        const sc = ctx.float('scale', 0);
        if (sc > 0) scales = [sc, sc];
      }
      if (ctx.has('OutSize')) {
        const c = ctx.constant('OutSize');
        sizes = c ? { name: ctx.b.int64s(c.values.map(Math.trunc)), values: c.values.map(Math.trunc) } : { name: asInt64(ctx, ctx.input('OutSize')) };
        // v1 takes its ratio from the sizes; v2 keeps 1/scale when a scale was given.
        if (!v2) scales = undefined;
      } else if (!scales && !scaleTensor) {
        const hw = [ctx.int('out_h', -1), ctx.int('out_w', -1)];
        if (hw.some((d) => d <= 0)) ctx.invalid('no output size: out_h/out_w, scale, OutSize and SizeTensor all absent');
        sizes = { name: ctx.b.int64s(hw), values: hw };
      } else if (!v2) {
        // v1 with a scale: size int(in * scale), ratio in/out.
        if (s[2] < 0 || s[3] < 0) ctx.unsupported('v1 interpolation by scale of an unknown size (fix it with inputShapes)');
        const hw = [Math.trunc(s[2] * scales![0]), Math.trunc(s[3] * scales![1])];
        sizes = { name: ctx.b.int64s(hw), values: hw };
        scales = undefined;
      }
    }
    if (sizes && scales && !alignCorners) {
      // v2: OutSize set the size but Paddle's ratio stays 1/scale; ONNX can only take one of them.
      const hw = sizes.values;
      if (!hw || s[2] < 0 || s[3] < 0 || Math.abs(s[2] / hw[0] - 1 / scales[0]) > 1e-6 || Math.abs(s[3] / hw[1] - 1 / scales[1]) > 1e-6) {
        ctx.unsupported('OutSize together with a scale whose ratio differs from in/out');
      }
    }
    const coord = alignCorners ? 'align_corners' : mode === 'nearest' || alignMode === 1 ? 'asymmetric' : 'half_pixel';
    const attrs = {
      mode: attrStr(mode),
      coordinate_transformation_mode: attrStr(coord),
      ...(mode === 'nearest' ? { nearest_mode: attrStr(alignCorners ? 'round_prefer_ceil' : 'floor') } : {}),
    };
    let outHW: number[] = [-1, -1];
    let inputs: string[];
    if (sizes) {
      let full: string;
      if (sizes.values && s[0] >= 0 && s[1] >= 0) full = ctx.b.int64s([s[0], s[1], ...sizes.values]);
      else {
        const nc = ctx.b.op('Slice', [ctx.b.op('Shape', [x]), ctx.b.int64s([0]), ctx.b.int64s([2])]);
        full = ctx.b.op('Concat', [nc, sizes.name], { axis: attrInt(0) });
      }
      inputs = [x, '', '', full];
      if (sizes.values) outHW = sizes.values;
    } else if (scales) {
      inputs = [x, '', ctx.b.constant({ dtype: 'float32', dims: [4], values: [1, 1, scales[0], scales[1]] }, 'resize_scales')];
      outHW = [0, 1].map((i) => (s[2 + i] < 0 ? -1 : Math.floor(s[2 + i] * scales![i])));
    } else {
      const sc = ctx.b.op('Cast', [ctx.b.op('Reshape', [scaleTensor!, ctx.b.int64s([-1])])], { to: attrInt(1) });
      const two = ctx.b.op('Expand', [sc, ctx.b.int64s([2])]);
      const hw = ctx.b.op('Slice', [two, ctx.b.int64s([0]), ctx.b.int64s([2])]);
      inputs = [x, '', ctx.b.op('Concat', [ctx.b.constant({ dtype: 'float32', dims: [2], values: [1, 1] }), hw], { axis: attrInt(0) })];
    }
    const outShape = [s[0], s[1], ...outHW];
    const out = ctx.output('Out');
    if (!nhwc) {
      ctx.b.node('Resize', inputs, [out], attrs);
      ctx.setShape(out, outShape);
    } else {
      const y = ctx.b.op('Resize', inputs, attrs);
      ctx.b.node('Transpose', [y], [out], { perm: attrInts([0, 2, 3, 1]) });
      ctx.setShape(out, [outShape[0], outShape[2], outShape[3], outShape[1]]);
    }
  };
}

registerOps({
  bilinear_interp_v2: interp('linear', true),
  nearest_interp_v2: interp('nearest', true),
  bilinear_interp: interp('linear', false),
  nearest_interp: interp('nearest', false),
});

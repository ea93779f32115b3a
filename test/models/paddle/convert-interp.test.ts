// bilinear_interp_v2 / nearest_interp_v2 (and v1) against a direct transcription
// of Paddle's CPU kernels (interpolate_kernel.cc): every align_corners /
// align_mode combination, sizes from out_h/out_w, the scale attribute, an
// OutSize tensor known only at run time, and NHWC.
import t from 'tap';
import { ProgramMaker, convertAndRun, maxAbsDiff, ramp } from '../../helpers/paddle-program';

const TOL = 1e-5;

/** Paddle's ratio for one dim. */
function ratio(inN: number, outN: number, alignCorners: boolean, scale?: number): number {
  if (outN <= 1) return 0;
  if (alignCorners) return (inN - 1) / (outN - 1);
  return scale && scale > 0 ? 1 / scale : inN / outN;
}

function refBilinear(x: number[], [n, c, h, w]: number[], oh: number, ow: number, ac: boolean, mode: number, scale?: number): number[] {
  const rh = ratio(h, oh, ac, scale);
  const rw = ratio(w, ow, ac, scale);
  const flag = mode === 0 && !ac;
  const src = (k: number, r: number, len: number) => {
    let lo = flag ? Math.trunc(r * (k + 0.5) - 0.5) : Math.trunc(r * k);
    lo = lo > 0 ? lo : 0;
    const hi = lo + 1 < len - 1 ? lo + 1 : len - 1;
    let idx = r * (k + 0.5) - 0.5;
    idx = idx > 0 ? idx : 0;
    const d = flag ? idx - lo : r * k - lo;
    return { lo, hi, d };
  };
  const out: number[] = [];
  for (let b = 0; b < n * c; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const Y = src(i, rh, h);
    const X = src(j, rw, w);
    const at = (yy: number, xx: number) => x[(b * h + yy) * w + xx];
    out.push(
      at(Y.lo, X.lo) * (1 - Y.d) * (1 - X.d) + at(Y.hi, X.lo) * Y.d * (1 - X.d) +
      at(Y.lo, X.hi) * (1 - Y.d) * X.d + at(Y.hi, X.hi) * Y.d * X.d,
    );
  }
  return out;
}

function refNearest(x: number[], [n, c, h, w]: number[], oh: number, ow: number, ac: boolean, scale?: number): number[] {
  const rh = ratio(h, oh, ac, scale);
  const rw = ratio(w, ow, ac, scale);
  const out: number[] = [];
  for (let b = 0; b < n * c; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const yy = ac ? Math.trunc(rh * i + 0.5) : Math.trunc(rh * i);
    const xx = ac ? Math.trunc(rw * j + 0.5) : Math.trunc(rw * j);
    out.push(x[(b * h + yy) * w + xx]);
  }
  return out;
}

const XS = [1, 2, 4, 3];
const X = ramp(24, 0.5, -3).map((v, i) => (i % 5 === 0 ? v * v : v));

for (const [ac, mode] of [[true, 1], [false, 0], [false, 1]] as const) {
  t.test(`bilinear_interp_v2 align_corners=${ac} align_mode=${mode}, out_h/out_w 7x5`, async (t) => {
    const m = new ProgramMaker();
    m.feed('x', XS);
    m.v('y', [1, 2, 7, 5]);
    m.op('bilinear_interp_v2', { X: 'x' }, { Out: 'y' }, { out_h: 7, out_w: 5, align_corners: ac, align_mode: mode, interp_method: 'bilinear' });
    m.fetch('y');
    const [y] = await convertAndRun(m, { x: { dims: XS, data: X } });
    t.same(y.dims, [1, 2, 7, 5]);
    t.ok(maxAbsDiff(y.data, refBilinear(X, XS, 7, 5, ac, mode)) < TOL, `diff ${maxAbsDiff(y.data, refBilinear(X, XS, 7, 5, ac, mode))}`);
  });
}

t.test('bilinear_interp_v2 by scale 1.5 (ratio 1/scale, size int(in*scale)), half_pixel', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', XS);
  m.v('y', [1, 2, 6, 4]);
  m.op('bilinear_interp_v2', { X: 'x' }, { Out: 'y' }, { scale: [1.5, 1.5], out_h: -1, out_w: -1, align_corners: false, align_mode: 0 });
  m.fetch('y');
  const [y] = await convertAndRun(m, { x: { dims: XS, data: X } });
  t.same(y.dims, [1, 2, 6, 4]);
  t.ok(maxAbsDiff(y.data, refBilinear(X, XS, 6, 4, false, 0, 1.5)) < TOL);
});

t.test('bilinear_interp_v2 with an OutSize tensor known only at run time', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', XS);
  m.feed('size', [2], 'int32');
  m.v('y', [1, 2, -1, -1]);
  m.op('bilinear_interp_v2', { X: 'x', OutSize: 'size' }, { Out: 'y' }, { out_h: 3, out_w: 3, align_corners: false, align_mode: 0 });
  m.fetch('y');
  const [y] = await convertAndRun(m, { x: { dims: XS, data: X }, size: { dims: [2], data: [9, 2], dtype: 'int32' } });
  t.same(y.dims, [1, 2, 9, 2]);
  t.ok(maxAbsDiff(y.data, refBilinear(X, XS, 9, 2, false, 0)) < TOL);
});

for (const ac of [false, true]) {
  t.test(`nearest_interp_v2 align_corners=${ac}, 7x5 and 3x2`, async (t) => {
    for (const [oh, ow] of [[7, 5], [3, 2]]) {
      const m = new ProgramMaker();
      m.feed('x', XS);
      m.v('y', [1, 2, oh, ow]);
      m.op('nearest_interp_v2', { X: 'x' }, { Out: 'y' }, { out_h: oh, out_w: ow, align_corners: ac, align_mode: 0, interp_method: 'nearest' });
      m.fetch('y');
      const [y] = await convertAndRun(m, { x: { dims: XS, data: X } });
      t.same(y.data, refNearest(X, XS, oh, ow, ac), `${oh}x${ow}`);
    }
  });
}

t.test('nearest_interp_v2 scale 2 (the detector neck\'s upsampling), NHWC', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1, 4, 3, 2]);
  m.v('y', [1, 8, 6, 2]);
  m.op('nearest_interp_v2', { X: 'x' }, { Out: 'y' }, { scale: [2, 2], align_corners: false, align_mode: 1, data_layout: 'NHWC' });
  m.fetch('y');
  const [y] = await convertAndRun(m, { x: { dims: [1, 4, 3, 2], data: X } });
  const want: number[] = [];
  for (let i = 0; i < 8; i++) for (let j = 0; j < 6; j++) for (let c = 0; c < 2; c++) want.push(X[(Math.floor(i / 2) * 3 + Math.floor(j / 2)) * 2 + c]);
  t.same(y.dims, [1, 8, 6, 2]);
  t.same(y.data, want);
});

t.test('bilinear_interp (v1) by scale: size int(in*scale), ratio in/out', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', XS);
  m.v('y', [1, 2, 10, 7]);
  m.op('bilinear_interp', { X: 'x' }, { Out: 'y' }, { scale: 2.5, align_corners: false, align_mode: 1 });
  m.fetch('y');
  const [y] = await convertAndRun(m, { x: { dims: XS, data: X } });
  t.same(y.dims, [1, 2, 10, 7]);
  t.ok(maxAbsDiff(y.data, refBilinear(X, XS, 10, 7, false, 1)) < TOL);
});

t.test('bilinear_interp_v2 with a SizeTensor list (wins over out_h/out_w and scale)', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', XS);
  m.feed('h', [1], 'int32');
  m.feed('w', [1], 'int32');
  m.v('y', [1, 2, -1, -1]);
  m.op('bilinear_interp_v2', { X: 'x', SizeTensor: ['h', 'w'] }, { Out: 'y' }, { out_h: 3, out_w: 3, scale: [4, 4], align_corners: true, align_mode: 1 });
  m.fetch('y');
  const [y] = await convertAndRun(m, {
    x: { dims: XS, data: X }, h: { dims: [1], data: [5], dtype: 'int32' }, w: { dims: [1], data: [7], dtype: 'int32' },
  });
  t.same(y.dims, [1, 2, 5, 7]);
  t.ok(maxAbsDiff(y.data, refBilinear(X, XS, 5, 7, true, 1)) < TOL);
});

t.test('nearest_interp_v2 with a Scale tensor known only at run time (wins over out_h/out_w)', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', XS);
  m.feed('s', [1]);
  m.v('y', [1, 2, -1, -1]);
  m.op('nearest_interp_v2', { X: 'x', Scale: 's' }, { Out: 'y' }, { out_h: 3, out_w: 3, align_corners: false });
  m.fetch('y');
  const [y] = await convertAndRun(m, { x: { dims: XS, data: X }, s: { dims: [1], data: [2] } });
  t.same(y.dims, [1, 2, 8, 6]);
  t.same(y.data, refNearest(X, XS, 8, 6, false, 2));
});

// The real PP-ShiTuV2 main-body detector program (shared/models/
// pp-shituv2-programs, 47 op kinds incl. while / conditional_block /
// multiclass_nms3) with seeded random weights: it converts at a fixed
// 1x3x640x640 input, runs in onnxruntime on a shared photo with the package's
// `nms` detector contract, its rows equal the PicoDet post-processing + NMS
// written in JS from the converted head's own raw outputs, the native detector
// takes it unchanged, and with the class biases pushed down it gives the
// contract's empty case.
//
// The random weights come from paddle-read's seededParams; the box-distribution
// projection is set to PicoDet's 0..7 (as trained models have it) so that boxes
// have real sizes and NMS has overlaps to suppress. Random weights give
// scores within 1e-3 of each other, so equal float32 scores occur; the JS
// reference reads the very scores the graph computed, and both sides break
// such ties by index as Paddle's stable sort does (ONNX TopK's rule; ORT's
// NonMaxSuppression orders equal scores by box index), so the comparison does
// not rest on an unspecified tie-break.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../../../lib/errors';
import { native } from '../../../lib/native/loader';
import { convertProgram, missingOps } from '../../../lib/models/paddle/convert/convert';
import type { PaddleProgram } from '../../../lib/models/paddle/program';
import { readPaddleModelDir } from '../../../lib/models/paddle/read-program';
import { readPdmodel } from '../../../lib/models/paddle/read-pdmodel';
import { seededParams, writeParams } from '../../../lib/models/paddle/write-params';
import { MODELS, img } from '../../helpers/shared';
import { ort, tmpDir } from '../../helpers/paddle-program';
import { HeadLevel, picodetPostprocess } from '../../helpers/picodet-reference';

const SRC = path.join(MODELS, 'pp-shituv2-programs', 'picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer');
const SIZE = 640;
const INPUT_SHAPES = { image: [1, 3, SIZE, SIZE], im_shape: [1, 2], scale_factor: [1, 2] };
const PROJECTION = 'dygraph_tmp_4';
const PHOTO = img('drink_test_images', '100.jpeg');
/** The head's per-level outputs in block 0: class scores after sigmoid, box distributions, by stride. */
const HEAD = [
  { stride: 8, scores: 'sigmoid_0.tmp_0', reg: 'transpose_1.tmp_0' },
  { stride: 16, scores: 'sigmoid_1.tmp_0', reg: 'transpose_3.tmp_0' },
  { stride: 32, scores: 'sigmoid_2.tmp_0', reg: 'transpose_5.tmp_0' },
  { stride: 64, scores: 'sigmoid_3.tmp_0', reg: 'transpose_7.tmp_0' },
];

const work = tmpDir();
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

/** A model dir with the program and seeded weights, some tensors overridden. */
async function modelDir(name: string, program: PaddleProgram, overrides: Map<string, number[]>): Promise<string> {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(SRC, 'inference.pdmodel'), path.join(dir, 'inference.pdmodel'));
  const tensors = [...seededParams(program, 7)].map((p) => {
    const v = overrides.get(p.name);
    if (!v) return p;
    const data = Buffer.alloc(v.length * 4);
    v.forEach((x, i) => data.writeFloatLE(x, i * 4));
    return { ...p, data };
  });
  await writeParams(path.join(dir, 'inference.pdiparams'), tensors);
  return dir;
}

async function convertDir(dir: string, file: string, extraFetches: string[] = []): Promise<Awaited<ReturnType<typeof convertProgram>>> {
  const m = await readPaddleModelDir(dir);
  try {
    const program = { ...m.program, fetches: [...m.program.fetches, ...extraFetches] };
    return await convertProgram(program, m.params, { output: path.join(work, file), inputShapes: INPUT_SHAPES });
  } finally {
    await m.params.close();
  }
}

/** The photo as the model's input: nearest-neighbour resize to 640x640, RGB, ImageNet mean/std (infer_cfg.yml). */
async function photoInput(): Promise<{ image: Float32Array; w: number; h: number }> {
  const im = await native.decodeImage(PHOTO);
  const { width: w, height: h, data } = im;
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const image = new Float32Array(3 * SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / SIZE));
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / SIZE));
      for (let c = 0; c < 3; c++) image[c * SIZE * SIZE + y * SIZE + x] = (data[(sy * w + sx) * 3 + (2 - c)] / 255 - mean[c]) / std[c];
    }
  }
  return { image, w, h };
}

interface Run {
  outputs: Record<string, { dims: number[]; data: Float32Array | Int32Array; type: string }>;
  w: number;
  h: number;
}

async function runOnPhoto(file: string): Promise<Run> {
  const o = ort();
  const { image, w, h } = await photoInput();
  const s = await o.InferenceSession.create(file);
  try {
    const r = await s.run({
      image: new o.Tensor('float32', image, [1, 3, SIZE, SIZE]),
      im_shape: new o.Tensor('float32', Float32Array.from([SIZE, SIZE]), [1, 2]),
      scale_factor: new o.Tensor('float32', Float32Array.from([SIZE / h, SIZE / w]), [1, 2]),
    });
    const outputs: Run['outputs'] = {};
    for (const [k, v] of Object.entries(r)) outputs[k] = { dims: [...v.dims], data: v.data as Float32Array | Int32Array, type: v.type };
    return { outputs, w, h };
  } finally {
    await s.release();
  }
}

t.test('the detector program', async (t) => {
  const program = await readPdmodel(path.join(SRC, 'inference.pdmodel'));
  const kinds = new Set(program.blocks.flatMap((b) => b.ops.map((o) => o.type)));
  t.equal(kinds.size, 47, '47 op kinds');
  t.same([...missingOps(program)], [], 'every kind has a converter');
  const nms = program.blocks[0].ops.find((o) => o.type === 'multiclass_nms3')!;
  const proj = program.blocks.flatMap((b) => [...b.vars.values()]).find((v) => v.name === PROJECTION);
  t.same(proj?.shape, [8], 'the projection of the 8-bin box distribution');

  // The class-logit bias of each level: the elementwise_add whose output the head splits [1 class, 32 box].
  const block0 = program.blocks[0].ops;
  const classBiases = block0
    .filter((o) => o.type === 'split' && JSON.stringify(o.attrs.sections) === '[1,32]')
    .map((s) => block0.find((o) => o.type === 'elementwise_add' && o.outputs.Out[0] === s.inputs.X[0])!.inputs.Y[0]);
  t.equal(classBiases.length, 4, 'four levels');

  const dir = await modelDir('random', program, new Map([[PROJECTION, [0, 1, 2, 3, 4, 5, 6, 7]]]));
  const conv = await convertDir(dir, 'det.onnx');
  const detFile = path.join(work, 'det.onnx');

  t.test('a symbolic batch is refused: the post-processing loops over it', async (t) => {
    const m = await readPaddleModelDir(dir);
    t.teardown(() => m.params.close());
    const err = await convertProgram(m.program, m.params, { output: path.join(work, 'dyn.onnx') }).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof ShituError && err.code === 'ERR_MODEL_UNSUPPORTED', String(err));
    t.match((err as ShituError).message, /while.*fixed sizes/);
    t.notOk(fs.existsSync(path.join(work, 'dyn.onnx')));
  });

  t.test('declared inputs and outputs: the nms contract', async (t) => {
    t.same(conv.inputs.map((i) => [i.name, i.dims]).sort(), [['im_shape', [1, 2]], ['image', [1, 3, 640, 640]], ['scale_factor', [1, 2]]]);
    t.equal(conv.outputs.length, 2);
    t.equal(conv.outputs[0].dtype, 'float32');
    t.equal(conv.outputs[0].dims.length, 2);
    t.equal(conv.outputs[0].dims[1], 6);
    t.equal(conv.outputs[1].dtype, 'int32');
    t.same(conv.outputs[1].dims, [1]);
  });

  t.test('onnxruntime on a photo: rows [class, score, x1, y1, x2, y2] in original pixels', async (t) => {
    const run = await runOnPhoto(detFile);
    const boxes = run.outputs[conv.outputs[0].name];
    const count = run.outputs[conv.outputs[1].name];
    t.equal(count.type, 'int32');
    t.same(count.dims, [1]);
    const n = count.data[0];
    t.ok(n > 0 && n <= (nms.attrs.keep_top_k as number), `${n} boxes, at most keep_top_k`);
    t.same(boxes.dims, [n, 6]);
    const rows = Array.from({ length: n }, (_, i) => Array.from(boxes.data.slice(i * 6, i * 6 + 6)));
    t.ok(rows.every((r) => r.every(Number.isFinite)), 'no NaN or infinity');
    t.ok(rows.every((r) => r[0] === 0), 'one class');
    t.ok(rows.every((r) => r[1] > (nms.attrs.score_threshold as number) && r[1] < 1), 'scores above score_threshold');
    t.ok(rows.every((r, i) => i === 0 || rows[i - 1][1] >= r[1]), 'best first');
    t.ok(rows.every((r) => r[2] >= 0 && r[2] <= r[4] && r[4] <= run.w + 1e-3 && r[3] >= 0 && r[3] <= r[5] && r[5] <= run.h + 1e-3), 'inside the photo');
    t.ok(rows.some((r) => r[4] - r[2] > 50), 'boxes have sizes (the projection is 0..7)');
  });

  t.test("the converted post-processing equals PicoDet's decoding + multiclass_nms3 in JS on the head's raw outputs", async (t) => {
    const conv2 = await convertDir(dir, 'det-head.onnx', HEAD.flatMap((l) => [l.scores, l.reg]));
    const run = await runOnPhoto(path.join(work, 'det-head.onnx'));
    const out = (i: number) => run.outputs[conv2.outputs[i].name];
    const levels: HeadLevel[] = HEAD.map((l, i) => {
      const s = out(2 + 2 * i);
      const r = out(3 + 2 * i);
      t.same(s.dims, [1, SIZE / l.stride, SIZE / l.stride, 1]);
      t.same(r.dims, [1, SIZE / l.stride, SIZE / l.stride, 32]);
      return { stride: l.stride, h: SIZE / l.stride, w: SIZE / l.stride, scores: s.data, reg: r.data };
    });
    const want = picodetPostprocess(levels, [0, 1, 2, 3, 4, 5, 6, 7], [SIZE, SIZE], [SIZE / run.h, SIZE / run.w], 1000, {
      scoreThreshold: nms.attrs.score_threshold as number,
      nmsTopK: nms.attrs.nms_top_k as number,
      keepTopK: nms.attrs.keep_top_k as number,
      nmsThreshold: nms.attrs.nms_threshold as number,
      normalized: nms.attrs.normalized as boolean,
      backgroundLabel: nms.attrs.background_label as number,
    });
    const boxes = out(0);
    t.same(Array.from(out(1).data), want.counts, `counts ${want.counts}`);
    t.equal(boxes.dims[0], want.rows.length);
    let maxDiff = 0;
    want.rows.forEach((r, i) => r.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - boxes.data[i * 6 + j])))));
    t.ok(maxDiff < 1e-3, `rows equal: max diff ${maxDiff} px`);
    // The same model without the extra outputs gives the same rows.
    const plain = await runOnPhoto(detFile);
    t.same(Array.from(plain.outputs[conv.outputs[0].name].data), Array.from(boxes.data), 'extra fetches change nothing');
  });

  t.test('the native detector takes the converted model as it is', async (t) => {
    const m = await native.loadModel(detFile, {});
    const det = native.createDetector(m, {
      preprocess: { width: SIZE, height: SIZE, interpolation: 'cubic', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'rgb' },
      threshold: 0.3,
    });
    const r = det.resolved();
    t.equal(r.contract, 'nms');
    t.equal(r.scaleFactorInput, 'scale_factor');
    t.equal(r.imShapeInput, 'im_shape');
    const res = await det.detect(PHOTO, {});
    const { width, height } = await native.decodeImage(PHOTO);
    t.ok(res.boxes.length > 0, `${res.boxes.length} boxes`);
    const boxes = res.boxes as { score: number; coordinate: number[] }[];
    t.ok(boxes.every((b) => b.score >= 0.3 && b.score < 1), 'scores above the threshold');
    const outside = boxes.filter(({ coordinate: [x1, y1, x2, y2] }) => !(x1 >= 0 && y1 >= 0 && x2 <= width && y2 <= height && x1 <= x2 && y1 <= y2));
    t.same(outside, [], `every box inside ${width}x${height}`);
  });

  t.test("class biases at -30: nothing passes score_threshold, the contract's empty case", async (t) => {
    const overrides = new Map<string, number[]>([[PROJECTION, [0, 1, 2, 3, 4, 5, 6, 7]]]);
    for (const b of classBiases) {
      const v = new Array<number>(33).fill(0);
      v[0] = -30;
      overrides.set(b, v);
    }
    const emptyDir = await modelDir('empty', program, overrides);
    const c = await convertDir(emptyDir, 'det-empty.onnx');
    const run = await runOnPhoto(path.join(work, 'det-empty.onnx'));
    t.same(run.outputs[c.outputs[0].name].dims, [1, 6]);
    t.same(Array.from(run.outputs[c.outputs[0].name].data), [-1, 0, 0, 0, 0, 0]);
    t.same(Array.from(run.outputs[c.outputs[1].name].data), [0]);
    const m = await native.loadModel(path.join(work, 'det-empty.onnx'), {});
    const det = native.createDetector(m, { preprocess: { width: SIZE, height: SIZE, scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'rgb' } });
    const { width, height } = await native.decodeImage(PHOTO);
    t.same((await det.detect(PHOTO, {})).boxes, [{ classId: 0, score: 0, coordinate: [0, 0, width, height] }], 'the native side: the whole image');
  });
});

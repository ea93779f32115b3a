// Real Paddle models converted and run in ONNX Runtime:
// - the two legacy pairs of shared/models/paddle-pairs against the ONNX file
//   paddle2onnx made of the same weights, on the shared image (tolerance
//   1e-4 absolute on the probabilities / maps; the measured diff is printed);
// - the PIR text-line classifier (no ONNX twin exists): a probability pair;
// - the PP-ShiTuV2 feature program with seeded random weights: [N,512], finite,
//   and loaded unchanged by the package's native feature extractor;
// - a 128 MiB model converted in its own process with a peak RSS growth under
//   a quarter of the model's size (weights copied through one small buffer).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { readPaddleModelDir } from '../../../lib/models/paddle/read-program';
import { convertProgram } from '../../../lib/models/paddle/convert/convert';
import { writeParams, seededParams } from '../../../lib/models/paddle/write-params';
import { readPdmodel } from '../../../lib/models/paddle/read-pdmodel';
import { ATTR_TYPE, VAR_TYPE } from '../../../lib/models/paddle/framework-proto';
import { encodeProgram } from '../../helpers/paddle-programs';
import { maxAbsDiff, ort, tmpDir } from '../../helpers/paddle-program';
import { img } from '../../helpers/shared';
import { native } from '../../../lib/native/loader';

const SHARED = process.env.SHITU_SHARED_DIR ?? '/work/shared';
const PAIRS = path.join(SHARED, 'models', 'paddle-pairs');
const PROGRAMS = path.join(SHARED, 'models', 'pp-shituv2-programs');
const IMAGE = path.join(PAIRS, 'images', 'ocr_sample.jpg');
/** Agreement asked of a conversion with paddle2onnx's file of the same weights. */
const PAIR_TOL = 1e-4;

const tmp = tmpDir();
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

type OrtTensor = InstanceType<ReturnType<typeof ort>['Tensor']>;

/** The shared image resized (no aspect kept) to w x h, RGB, (v/255 - mean)/std, NCHW. */
async function imageTensor(w: number, h: number, mean: number[], std: number[]): Promise<OrtTensor> {
  const { data } = await sharp(IMAGE).removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let i = 0; i < w * h; i++) out[c * w * h + i] = (data[i * 3 + c] / 255 - mean[c]) / std[c];
  return new (ort().Tensor)('float32', out, [1, 3, h, w]);
}

async function runOnnx(file: string, x: OrtTensor): Promise<OrtTensor> {
  const s = await ort().InferenceSession.create(file);
  try {
    const r = await s.run({ [s.inputNames[0]]: x });
    return r[s.outputNames[0]];
  } finally {
    await s.release();
  }
}

async function convertDir(dir: string, name: string, inputShapes?: Record<string, number[]>) {
  const m = await readPaddleModelDir(dir);
  try {
    const output = path.join(tmp, `${name}.onnx`);
    const r = await convertProgram(m.program, m.params, { output, ...(inputShapes ? { inputShapes } : {}) });
    return r;
  } finally {
    await m.params.close();
  }
}

const HALF = [0.5, 0.5, 0.5];

t.test('PaddleOCR direction classifier (legacy) = paddle2onnx twin on the shared image', async (t) => {
  // The program declares x [-1,3,32,100]; PaddleOCR feeds 48 x W (Paddle does not enforce feed shapes).
  const r = await convertDir(path.join(PAIRS, 'ch_ppocr_mobile_v2.0_cls', 'paddle'), 'cls', { x: [-1, 3, 48, -1] });
  t.same(r.inputs[0].dims, ['batch', 3, 48, 'x_dim3']);
  const x = await imageTensor(192, 48, HALF, HALF);
  const ours = await runOnnx(r.file, x);
  const twin = await runOnnx(path.join(PAIRS, 'ch_ppocr_mobile_v2.0_cls', 'onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), x);
  t.same(ours.dims, [1, 2]);
  const diff = maxAbsDiff(ours.data as Float32Array, twin.data as Float32Array);
  t.comment(`cls: ours ${Array.from(ours.data as Float32Array).map((v) => v.toFixed(4))}, max abs diff to paddle2onnx ${diff}`);
  t.ok(diff <= PAIR_TOL, `max abs diff ${diff} <= ${PAIR_TOL}`);
  t.ok(Math.abs((ours.data as Float32Array)[0] - 0.7166) < 1e-3, 'about [0.7166, 0.2834] as the pair README says');
});

t.test('PP-HumanSegV1-Lite (legacy; channel shuffle, bilinear upsampling) = paddle2onnx twin', async (t) => {
  const r = await convertDir(path.join(PAIRS, 'portrait_pp_humansegv1_lite_398x224', 'paddle'), 'seg');
  const x = await imageTensor(398, 224, HALF, HALF);
  const ours = await runOnnx(r.file, x);
  const twin = await runOnnx(path.join(PAIRS, 'portrait_pp_humansegv1_lite_398x224', 'onnx', 'model.onnx'), x);
  t.same(ours.dims, [1, 2, 224, 398]);
  const diff = maxAbsDiff(ours.data as Float32Array, twin.data as Float32Array);
  t.comment(`humanseg: max abs diff to paddle2onnx over ${ours.data.length} values ${diff}`);
  t.ok(diff <= PAIR_TOL, `max abs diff ${diff} <= ${PAIR_TOL}`);
  // Fixed input size: the shape arithmetic of the channel shuffles folds away.
  const fixed = await convertDir(path.join(PAIRS, 'portrait_pp_humansegv1_lite_398x224', 'paddle'), 'seg-fixed', { x: [1, 3, 224, 398] });
  t.ok(fixed.nodes < r.nodes, `fewer nodes with the size fixed (${fixed.nodes} < ${r.nodes})`);
  const folded = await runOnnx(fixed.file, x);
  t.ok(maxAbsDiff(folded.data as Float32Array, twin.data as Float32Array) <= PAIR_TOL);
});

t.test('PP-LCNet text-line orientation (PIR program): a probability pair, batch 2', async (t) => {
  const r = await convertDir(path.join(PAIRS, 'PP-LCNet_x0_25_textline_ori_pir'), 'pir');
  const one = await imageTensor(160, 80, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
  const two = new (ort().Tensor)('float32', Float32Array.from([...(one.data as Float32Array), ...(one.data as Float32Array)]), [2, 3, 80, 160]);
  const y = await runOnnx(r.file, two);
  const p = Array.from(y.data as Float32Array);
  t.comment(`PIR textline: ${p.slice(0, 2).map((v) => v.toFixed(4))}`);
  t.same(y.dims, [2, 2]);
  t.ok(p.every((v) => v >= 0 && v <= 1), 'probabilities');
  t.ok(Math.abs(p[0] + p[1] - 1) < 1e-5 && Math.abs(p[2] + p[3] - 1) < 1e-5, 'each pair sums to 1');
  t.ok(maxAbsDiff(p.slice(0, 2), p.slice(2)) < 1e-6, 'the two equal images agree');
});

function childConvert(dir: string, output: string, shapes = ''): Promise<{ ms: number; baseRssMiB: number; peakRssMiB: number; bytes: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(__dirname, '..', '..', 'helpers', 'paddle-convert-child.js'), dir, output, shapes], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('error', reject);
    c.on('close', () => {
      try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`child said ${out}`)); }
    });
  });
}

t.test('PP-ShiTuV2 feature program with seeded weights: [N,512], finite; conversion time and peak RSS', async (t) => {
  const dir = path.join(tmp, 'feature');
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(PROGRAMS, 'general_PPLCNetV2_base_pretrained_v1.0_infer', 'inference.pdmodel'), path.join(dir, 'inference.pdmodel'));
  const program = await readPdmodel(path.join(dir, 'inference.pdmodel'));
  await writeParams(path.join(dir, 'inference.pdiparams'), seededParams(program, 11));
  const output = path.join(tmp, 'feature.onnx');
  const r = await childConvert(dir, output);
  t.notOk(r.error, r.error ?? 'converted');
  t.comment(`feature program: ${r.ms.toFixed(0)} ms, peak RSS ${r.peakRssMiB.toFixed(0)} MiB (${r.baseRssMiB.toFixed(0)} MiB before), ONNX ${(r.bytes / 1e6).toFixed(2)} MB`);
  const x = new Float32Array(2 * 3 * 224 * 224);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.001);
  const y = await runOnnx(output, new (ort().Tensor)('float32', x, [2, 3, 224, 224]));
  t.same(y.dims, [2, 512]);
  const v = y.data as Float32Array;
  t.ok(v.every((e) => Number.isFinite(e)), 'no NaN or infinity');
  // Random weights without trained statistics wash the input out (the two rows
  // agree to ~1e-6), so only the features' spread is asserted, not their dependence on the image.
  t.ok(Math.max(...v) - Math.min(...v) > 1e-3, 'the 512 features are not one constant');
  // The package's own feature extractor takes the file as it is.
  const m = await native.loadModel(output, {});
  const ex = native.createFeatureExtractor(m, { preprocess: { width: 224, height: 224 }, maxBatch: 2 });
  t.equal(ex.dim, 512);
  t.same(ex.resolved().inputName, 'x');
  const r2 = await ex.embed([img('misc', 'dog.jpg'), img('misc', 'bus.jpg')], {});
  t.equal(r2.features.length, 2 * 512);
  for (let i = 0; i < 2; i++) {
    const row = r2.features.subarray(i * 512, (i + 1) * 512);
    t.ok(Math.abs(Math.hypot(...row) - 1) < 1e-4, `native row ${i}: unit norm`);
  }
});

t.test('a 128 MiB model converts with a peak RSS growth under a quarter of its size', async (t) => {
  // x [1,N] plus 16 weights of N floats (8 MiB each), summed.
  const N = 2 * 1024 * 1024;
  const K = 16;
  const col = { name: 'col', type: ATTR_TYPE.INT, i: 0 };
  const axis = { name: 'axis', type: ATTR_TYPE.INT, i: -1 };
  const vars = [
    { name: 'feed', dims: [], kind: VAR_TYPE.FEED_MINIBATCH, persistable: true },
    { name: 'fetch', dims: [], kind: VAR_TYPE.FETCH_LIST, persistable: true },
    { name: 'x', dims: [1, N] },
    ...Array.from({ length: K }, (_, i) => ({ name: `w${String(i).padStart(2, '0')}`, dims: [N], persistable: true })),
    ...Array.from({ length: K }, (_, i) => ({ name: `s${i}`, dims: [1, N] })),
  ];
  const ops = [
    { type: 'feed', inputs: { X: ['feed'] }, outputs: { Out: ['x'] }, attrs: [col] },
    ...Array.from({ length: K }, (_, i) => ({
      type: 'elementwise_add',
      inputs: { X: [i === 0 ? 'x' : `s${i - 1}`], Y: [`w${String(i).padStart(2, '0')}`] },
      outputs: { Out: [`s${i}`] },
      attrs: [axis],
    })),
    { type: 'fetch', inputs: { X: [`s${K - 1}`] }, outputs: { Out: ['fetch'] }, attrs: [col] },
  ];
  const dir = path.join(tmp, 'big');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'model.pdmodel'), encodeProgram([{ vars, ops }]));
  const program = await readPdmodel(path.join(dir, 'model.pdmodel'));
  // Weight i holds i + 1 everywhere: the sum is x + K(K+1)/2.
  await writeParams(path.join(dir, 'model.pdiparams'), program.paramNames.map((name, i) => {
    const data = Buffer.alloc(N * 4);
    for (let j = 0; j < N; j++) data.writeFloatLE(i + 1, j * 4);
    return { name, dtype: 'float32' as const, dims: [N], data };
  }));
  const modelMiB = (K * N * 4) / (1024 * 1024);
  const output = path.join(tmp, 'big.onnx');
  const r = await childConvert(dir, output);
  t.notOk(r.error, r.error ?? 'converted');
  const growth = r.peakRssMiB - r.baseRssMiB;
  t.comment(`${modelMiB} MiB model: ${r.ms.toFixed(0)} ms, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, growth ${growth.toFixed(0)} MiB`);
  t.ok(growth < modelMiB / 4, `peak RSS growth ${growth.toFixed(0)} MiB < ${modelMiB / 4} MiB`);
  t.ok(fs.statSync(output).size > K * N * 4, 'every weight is in the file');
  t.same(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  const x = new Float32Array(N).map((_, i) => i % 7);
  const y = await runOnnx(output, new (ort().Tensor)('float32', x, [1, N]));
  const sum = (K * (K + 1)) / 2;
  t.same([0, 1, 6, N - 1].map((i) => (y.data as Float32Array)[i]), [0, 1, 6, (N - 1) % 7].map((v) => v + sum));
});

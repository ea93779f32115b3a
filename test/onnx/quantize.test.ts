// `shitu models quantize` on a real FP32 feature model: the MobileNetV2
// stand-in's INT8 weights turned back into floats (test/helpers/int8-to-fp32.ts),
// quantized again on the shared photos. Checked: the figures and the files
// written, the QDQ layout (int8 per-channel weights, int32 bias with scale =
// input scale x weight scale) and that ONNX Runtime fuses every convolution
// into a QLinearConv; the refusal below the thresholds; bad inputs.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { quantizeFeatureModel } from '../../lib/onnx/quantize';
import { decodeModel, GraphIndex, OnnxModel, tensorValues, toNumber } from '../../lib/onnx/graph-pass/model';
import { ONNX_DTYPE } from '../../lib/onnx/onnx-proto';
import { QUANTIZE } from '../../lib/limits';
import { IMAGES, MODELS } from '../helpers/shared';
import { writeFp32FeatureModel } from '../helpers/int8-to-fp32';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-quantize-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const INT8_STANDIN = path.join(MODELS, 'mobilenetv2', 'mobilenetv2-12-int8-feat.onnx');
const CARD = path.resolve(__dirname, '..', '..', 'models', 'mobilenetv2_feat.yaml');
const FP32_DIR = path.join(tmp, 'fp32');
writeFp32FeatureModel(INT8_STANDIN, FP32_DIR, CARD);
const CLI = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');

const ops = (m: OnnxModel) => {
  const c: Record<string, number> = {};
  for (const n of m.graph?.node ?? []) c[n.opType ?? ''] = (c[n.opType ?? ''] ?? 0) + 1;
  return c;
};

t.test('quantized on the shared photos: figures, files, QDQ layout, fused by ONNX Runtime', async (t) => {
  const out = path.join(tmp, 'int8');
  const r = await quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: IMAGES, outDir: out });
  t.equal(r.images, 17, 'every shared photo checked');
  t.equal(r.calibrationImages, 17);
  t.ok(r.top1Agreement >= QUANTIZE.minTop1Agreement, `top-1 retrieval agreement ${r.top1Agreement}`);
  t.ok(r.meanCosine >= QUANTIZE.minMeanCosine && r.meanCosine < 1, `mean cosine ${r.meanCosine.toFixed(4)}`);
  t.equal(r.quantizedConvs, 52, 'all 52 convolutions');
  t.same(fs.readdirSync(out).sort(), ['card.yaml', 'mobilenetv2-fp32-feat.onnx'], 'the card and the model, under the FP32 file name');

  const m = decodeModel(fs.readFileSync(r.modelFile));
  const c = ops(m);
  t.equal(c.Conv, 52, 'the float convolutions stay, between DequantizeLinear and QuantizeLinear');
  t.ok(c.QuantizeLinear >= 52 && c.DequantizeLinear >= 52 + 52 * 2, `${c.QuantizeLinear} QuantizeLinear, ${c.DequantizeLinear} DequantizeLinear`);
  t.ok(toNumber(m.opsetImport.find((o) => !o.domain)?.version) >= 13, 'opset 13 or more (per-axis DequantizeLinear)');
  // One convolution checked value by value: weights int8 per output channel, bias int32 at input x weight scale.
  const g = m.graph;
  if (!g) return;
  const ix = new GraphIndex(g);
  const conv = g.node.find((n) => n.opType === 'Conv' && n.input[2]);
  if (!conv) return t.fail('no Conv with bias');
  const [xDq, wDq, bDq] = conv.input.map((i) => ix.producer.get(i));
  const xQ = ix.producer.get(xDq?.input[0] ?? '');
  t.equal(xQ?.opType, 'QuantizeLinear', 'the input goes through QuantizeLinear -> DequantizeLinear');
  t.equal(ix.initializers.get(xDq?.input[2] ?? '')?.dataType, ONNX_DTYPE.UINT8, 'uint8 activations');
  const w = ix.initializers.get(wDq?.input[0] ?? '');
  const ws = tensorValues(ix.initializers.get(wDq?.input[1] ?? '') as never, 1 << 20) ?? [];
  t.equal(w?.dataType, ONNX_DTYPE.INT8, 'int8 weights');
  t.equal(ws.length, toNumber(w?.dims[0]), 'one weight scale per output channel');
  t.same([...new Set(tensorValues(ix.initializers.get(wDq?.input[2] ?? '') as never, 1 << 20))], [0], 'symmetric: zero points 0');
  const b = ix.initializers.get(bDq?.input[0] ?? '');
  const bs = tensorValues(ix.initializers.get(bDq?.input[1] ?? '') as never, 1 << 20) ?? [];
  const sx = tensorValues(ix.initializers.get(xDq?.input[1] ?? '') as never, 1)?.[0] ?? NaN;
  t.equal(b?.dataType, ONNX_DTYPE.INT32, 'int32 bias');
  t.ok(bs.length === ws.length && bs.every((s, i) => Math.abs(s - sx * ws[i]) <= 1e-6 * Math.abs(s)), 'bias scale = input scale x weight scale');

  // What ONNX Runtime makes of it (its optimized graph at the level that fuses QDQ).
  const saved = path.join(tmp, 'ort-extended.onnx');
  const s = await ort.InferenceSession.create(r.modelFile, { graphOptimizationLevel: 'extended', logSeverityLevel: 3, optimizedModelFilePath: saved });
  await s.release();
  const fused = ops(decodeModel(fs.readFileSync(saved)));
  t.equal(fused.QLinearConv, 52, 'every convolution fused into a QLinearConv');
  t.equal(fused.Conv ?? 0, 0, 'no float convolution left');
});

t.test('below the thresholds: nothing written, ERR_QUANTIZE_ACCURACY with the figures', async (t) => {
  const out = path.join(tmp, 'refused');
  await t.rejects(quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: IMAGES, outDir: out, minMeanCosine: 0.9999 }), {
    code: 'ERR_QUANTIZE_ACCURACY',
    message: /mean embedding cosine 0\.9\d+ \(at least 0\.9999 needed\)/,
    details: { images: 17, minMeanCosine: 0.9999, minTop1Agreement: QUANTIZE.minTop1Agreement },
  });
  t.notOk(fs.existsSync(out), 'no output directory');
});

t.test('bad inputs end in coded errors', async (t) => {
  await t.rejects(quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: path.join(tmp, 'nope'), outDir: path.join(tmp, 'x1') }), { code: 'ERR_GALLERY' });
  const one = path.join(tmp, 'one-image');
  fs.mkdirSync(one);
  fs.copyFileSync(path.join(IMAGES, 'misc', 'dog.jpg'), path.join(one, 'dog.jpg'));
  await t.rejects(quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: one, outDir: path.join(tmp, 'x2') }), { code: 'ERR_GALLERY', message: /at least 2/ });
  const busy = path.join(tmp, 'busy');
  fs.mkdirSync(busy);
  fs.writeFileSync(path.join(busy, 'keep'), '');
  await t.rejects(quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: IMAGES, outDir: busy }), { code: 'ERR_INPUT', message: /not empty/ });
  await t.rejects(quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: IMAGES, outDir: FP32_DIR }), { code: 'ERR_INPUT' });
  // The INT8 stand-in itself (with its card): nothing float to quantize.
  const int8Dir = path.join(tmp, 'zoo-int8');
  fs.mkdirSync(int8Dir);
  fs.copyFileSync(INT8_STANDIN, path.join(int8Dir, path.basename(INT8_STANDIN)));
  fs.copyFileSync(CARD, path.join(int8Dir, 'card.yaml'));
  await t.rejects(quantizeFeatureModel({ modelDir: int8Dir, galleryDir: IMAGES, outDir: path.join(tmp, 'x3') }), { code: 'ERR_MODEL_UNSUPPORTED', message: /no float convolution/ });
  await t.rejects(quantizeFeatureModel({ modelDir: path.join(MODELS, 'picodet_s_coco', 'picodet_s_416_coco.onnx'), galleryDir: IMAGES, outDir: path.join(tmp, 'x4') }), { code: 'ERR_MODEL_CONTRACT' });
});

t.test('shitu models quantize', async (t) => {
  const out = path.join(tmp, 'cli-int8');
  const r = spawnSync(process.execPath, [CLI, 'models', 'quantize', FP32_DIR, '--calibrate', path.join(IMAGES, 'drink_test_images'), '--out', out], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.match(report, { images: 4, outDir: out, quantizedConvs: 52 });
  t.ok(fs.existsSync(path.join(out, 'mobilenetv2-fp32-feat.onnx')));
  const missing = spawnSync(process.execPath, [CLI, 'models', 'quantize', FP32_DIR], { encoding: 'utf8' });
  t.equal(missing.status, 2, '--calibrate is required: usage error');
});

// The graph pass on the real stand-in models: what it rewrites (node counts)
// and that ONNX Runtime gives the same outputs for the model as given and as
// rewritten, on real photos. "The same" is float rounding: HardSwish computed
// as x * clip(x/6 + 1/2, 0, 1) instead of x * clip(x + 3, 0, 6) / 6 rounds
// differently in the last bit, and that moves through the later layers.
// Measured here: at most 2e-5 on PicoDet's box logits (which reach ~11) and
// 2e-6 on its class scores; OUTPUT_TOLERANCE leaves a margin for other CPUs.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { runGraphPass } from '../../lib/onnx/graph-pass';
import { decodeModel, OnnxGraph } from '../../lib/onnx/graph-pass/model';
import { img, MODELS } from '../helpers/shared';
import { imageTensor, TensorSpec } from '../helpers/image-tensor';

/** Largest |a - b| allowed, relative to max(1, largest |a|) of the output. */
const OUTPUT_TOLERANCE = 1e-4;

const PICODET = (size: number): TensorSpec => ({ width: size, height: size, order: 'bgr', mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395] });
const IMAGENET: TensorSpec = { width: 224, height: 224, order: 'rgb', mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] };
const HALF = (width: number, height: number): TensorSpec => ({ width, height, order: 'rgb', mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });

interface Case {
  file: string;
  spec: TensorSpec;
  images: string[];
  /** Node counts of the rewritten graph by op type (only the ops named). */
  after: Record<string, number>;
  applied: string[];
}

const CASES: Case[] = [
  ...[416, 320].map((size) => ({
    file: path.join(MODELS, 'picodet_s_coco', `picodet_s_${size}_coco.onnx`),
    spec: PICODET(size),
    images: [img('misc', 'bus.jpg'), img('misc', 'dog.jpg'), img('misc', 'coco_000000570688.jpg')],
    // 87 HardSwish spelled Add/Clip/Mul/Div become HardSwish; the SE blocks' 13 HardSigmoid stay,
    // each multiplying the block's input (13 Mul), and one residual Add.
    after: { HardSwish: 87, Clip: 0, Div: 0, Add: 1, Mul: 13, HardSigmoid: 13 },
    applied: ['strip-initializer-inputs', 'fuse-hard-swish', 'opset-upgrade'],
  })),
  ...['mobilenetv2-12-int8.onnx', 'mobilenetv2-12-int8-feat.onnx'].map((f) => ({
    file: path.join(MODELS, 'mobilenetv2', f),
    spec: IMAGENET,
    images: [img('drink_test_images', '100.jpeg'), img('misc', 'dog.jpg')],
    after: { QLinearConv: 52 },
    applied: [],
  })),
  {
    file: path.join(MODELS, 'paddle-pairs', 'ch_ppocr_mobile_v2.0_cls', 'onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    spec: HALF(192, 48),
    images: [path.join(MODELS, 'paddle-pairs', 'images', 'ocr_sample.jpg')],
    after: { HardSwish: 18, HardSigmoid: 9 },
    applied: ['fold-shapes'],
  },
  {
    file: path.join(MODELS, 'paddle-pairs', 'portrait_pp_humansegv1_lite_398x224', 'onnx', 'model.onnx'),
    spec: HALF(398, 224),
    images: [img('misc', 'bus.jpg')],
    after: { Identity: 0 },
    applied: ['remove-identity', 'fold-shapes'],
  },
];

function opCounts(g: OnnxGraph): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of g.node) c[n.opType ?? ''] = (c[n.opType ?? ''] ?? 0) + 1;
  return c;
}

/** Add -> Clip -> Mul -> Div chains left (a decomposed HardSwish), whatever the operand order. */
function decomposedHardSwish(g: OnnxGraph): number {
  const producer = new Map(g.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  return g.node.filter((n) => {
    if (n.opType !== 'Div' && n.opType !== 'Mul') return false;
    const mul = n.input.map((i) => producer.get(i)).find((p) => p?.opType === 'Mul');
    const clip = mul?.input.map((i) => producer.get(i)).find((p) => p?.opType === 'Clip');
    return !!clip && producer.get(clip.input[0])?.opType === 'Add';
  }).length;
}

const session = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 });

for (const c of CASES) {
  t.test(path.basename(c.file), async (t) => {
    const given = fs.readFileSync(c.file);
    const r = runGraphPass(given, c.file);
    if (!t.ok(r, 'the pass rewrites it') || !r) return;
    t.same(Object.keys(r.report.applied).filter((k) => !k.startsWith('prune')).sort(), [...c.applied].sort(), `rewrites applied: ${JSON.stringify(r.report.applied)}`);
    t.same(r.report.skipped, [], 'nothing skipped');
    const before = decodeModel(given).graph as OnnxGraph;
    const after = decodeModel(r.bytes).graph as OnnxGraph;
    const counts = opCounts(after);
    for (const [op, n] of Object.entries(c.after)) t.equal(counts[op] ?? 0, n, `${op} nodes after the pass`);
    t.equal(decomposedHardSwish(after), 0, 'no decomposed HardSwish left');
    if (c.applied.includes('fuse-hard-swish')) t.equal(decomposedHardSwish(before), 87, 'the model as given has 87');
    t.equal(after.input.length, 1, 'only the image is a graph input');
    t.same(after.output.map((o) => o.name), before.output.map((o) => o.name), 'same outputs, same order');

    const [a, b] = [await session(given), await session(r.bytes)];
    for (const image of c.images) {
      const x = await imageTensor(image, c.spec);
      const [ra, rb] = [await a.run({ [a.inputNames[0]]: x }), await b.run({ [b.inputNames[0]]: x })];
      for (const name of a.outputNames) {
        const da = ra[name].data as Float32Array, db = rb[name].data as Float32Array;
        t.same(rb[name].dims, ra[name].dims, `${path.basename(image)} ${name}: same dims`);
        let diff = 0, scale = 1;
        for (let i = 0; i < da.length; i++) {
          diff = Math.max(diff, Math.abs(da[i] - db[i]));
          scale = Math.max(scale, Math.abs(da[i]));
        }
        t.ok(diff <= OUTPUT_TOLERANCE * scale, `${path.basename(image)} ${name}: largest difference ${diff.toExponential(2)} (values up to ${scale.toFixed(2)})`);
      }
    }
    await Promise.all([a.release(), b.release()]);
  });
}

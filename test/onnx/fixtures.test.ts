// Self-test of the generated ONNX fixtures (structure only; that they load and
// compute the documented values in ONNX Runtime was checked with a C++ harness,
// and the model tests exercise them through the addon).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { onnx } from 'onnx-proto';
import {
  DET_BOXES_OUTPUT,
  DET_COUNT_OUTPUT,
  REC_OUTPUT,
  recFeatureReference,
  writeNotAnOnnxModel,
  writePpShituDetModel,
  writePpShituRecModel,
} from '../helpers/onnx-fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-onnx-fixtures-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

function load(file: string) {
  return onnx.ModelProto.decode(fs.readFileSync(file));
}
function sig(list: onnx.IValueInfoProto[] | null | undefined) {
  return (list ?? []).map((v) => [
    v.name,
    (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue))),
  ]);
}

t.test('detector signature', async (t) => {
  const file = writePpShituDetModel(path.join(tmp, 'det'));
  t.equal(file, path.join(tmp, 'det', 'model.onnx'));
  t.strictSame(fs.readdirSync(path.join(tmp, 'det')), ['model.onnx']);
  const m = load(file);
  t.equal(Number(m.irVersion), 7);
  t.strictSame(sig(m.graph?.input), [
    ['image', ['N', 3, 640, 640]],
    ['scale_factor', ['N', 2]],
  ]);
  t.strictSame(sig(m.graph?.output), [
    [DET_BOXES_OUTPUT, ['M', 6]],
    [DET_COUNT_OUTPUT, ['N']],
  ]);
  const withIm = load(writePpShituDetModel(path.join(tmp, 'det-im'), { withImShape: true, batch: 1 }));
  t.strictSame(sig(withIm.graph?.input).map((x) => x[0]), ['image', 'im_shape', 'scale_factor']);
  const paddle = load(writePpShituDetModel(path.join(tmp, 'det-paddle'), { initializersAsInputs: true }));
  t.equal(paddle.graph?.input?.length, 2 + (paddle.graph?.initializer?.length ?? 0));
});

t.test('feature model signature and reference', async (t) => {
  const m = load(writePpShituRecModel(path.join(tmp, 'rec')));
  t.strictSame(sig(m.graph?.input), [['x', ['N', 3, 224, 224]]]);
  t.strictSame(sig(m.graph?.output), [[REC_OUTPUT, ['N', 512]]]);
  const plane = 3 * 224 * 224;
  const x = new Float32Array(2 * plane);
  for (let i = 0; i < plane; ++i) x[plane + i] = Math.sin(i * 0.01);
  const f = recFeatureReference(x, 2);
  t.equal(f.length, 1024);
  t.not(f[0], f[512], 'different images give different features');
  t.ok(recFeatureReference(x, 2, { zero: true }).every((v) => v === 0));
});

t.test('not a model', async (t) => {
  const file = writeNotAnOnnxModel(path.join(tmp, 'junk'));
  t.equal(fs.statSync(file).size, 4096);
});

// shitu-node and onnxruntime-node (another ONNX Runtime version) in one
// process, loaded in either order: each must keep its own library.
import t from 'tap';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MODELS, img } from '../helpers/shared';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const script = (oursFirst: boolean) => `
const ours = () => require(${JSON.stringify(path.join(root, 'dist', 'lib', 'native', 'loader.js'))}).native;
const theirs = () => require('onnxruntime-node');
(async () => {
  const feat = ${JSON.stringify(path.join(MODELS, 'mobilenetv2', 'mobilenetv2-12-int8-feat.onnx'))};
  const useOurs = async () => {
    const m = await ours().loadModel(${JSON.stringify(path.join(MODELS, 'picodet_s_coco', 'picodet_s_416_coco.onnx'))}, {});
    const det = ours().createDetector(m, { preprocess: { scale: 1, mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395], channelOrder: 'bgr' } });
    return (await det.detect(${JSON.stringify(img('misc', 'bus.jpg'))}, {})).boxes.length;
  };
  const useTheirs = async () => {
    const ort = theirs();
    const s = await ort.InferenceSession.create(feat);
    const out = await s.run({ input: new ort.Tensor('float32', new Float32Array(3 * 224 * 224), [1, 3, 224, 224]) });
    return out.feat1280.dims.join('x');
  };
  const a = ${oursFirst} ? await useOurs() : await useTheirs();
  const b = ${oursFirst} ? await useTheirs() : await useOurs();
  console.log(JSON.stringify(${oursFirst} ? { ours: a, theirs: b } : { ours: b, theirs: a }));
})().catch((e) => { console.error(e.message); process.exit(1); });`;

for (const oursFirst of [true, false]) {
  t.test(`${oursFirst ? 'shitu-node' : 'onnxruntime-node'} loaded first`, async (t) => {
    const { stdout } = await run(process.execPath, ['-e', script(oursFirst)], { cwd: root });
    const r = JSON.parse(stdout);
    t.ok(r.ours >= 4, 'shitu-node detects the bus and people');
    t.equal(r.theirs, '1x1280', 'onnxruntime-node runs its model');
  });
}

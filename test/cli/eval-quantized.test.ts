// shitu eval --compare-quantized from a shell (dist/, built by tsc): the FP32
// feature model (the stand-in's weights as floats, test/helpers/int8-to-fp32.ts)
// and its INT8 copy (`<dir>-int8`, quantizeFeatureModel) on the same queries,
// Recall@1 and mAP side by side on stdout and in compare-quantized.json.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { quantizeFeatureModel } from '../../lib/onnx/quantize';
import { writeFp32FeatureModel } from '../helpers/int8-to-fp32';
import { IMAGES, MODELS } from '../helpers/shared';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-eval-quantized-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const LABELS = path.resolve(__dirname, '..', '..', 'examples', 'gallery_labels.txt');
const FP32_DIR = path.join(tmp, 'feat-fp32');
writeFp32FeatureModel(path.join(MODELS, 'mobilenetv2', 'mobilenetv2-12-int8-feat.onnx'), FP32_DIR, path.resolve(__dirname, '..', '..', 'models', 'mobilenetv2_feat.yaml'));
const CONFIG = path.join(tmp, 'pipeline.yaml');
fs.writeFileSync(CONFIG, `pipeline_name: PP-ShiTuV2
rec_threshold: 0.5
SubModules:
  Detection: {module_name: object_detection, model_name: picodet_s_416_coco, model_dir: ${JSON.stringify(path.join(MODELS, 'picodet_s_coco'))}}
  Recognition: {module_name: image_feature, model_name: mobilenetv2_feat, model_dir: ${JSON.stringify(FP32_DIR)}}
`);
const fail = (args: string[]) => run(process.execPath, [CLI, ...args]).then(() => { throw new Error('expected a failure'); }, (e) => e);
const evalArgs = (out: string) => ['eval', '--config', CONFIG, '--gallery', IMAGES, '--labels', LABELS, '--leave-one-out', '--out', out];

t.test('no INT8 copy yet: exit 1 naming the directory and the command', async (t) => {
  const e = await fail([...evalArgs(path.join(tmp, 'none')), '--compare-quantized']);
  t.equal(e.code, 1);
  t.match(e.stderr, `error ERR_MODEL_NOT_FOUND: the INT8 copy of feature model 'mobilenetv2_feat' is not there: ${FP32_DIR}-int8 does not exist; make it with: shitu models quantize ${FP32_DIR}`);
});

t.test('FP32 and INT8 side by side', async (t) => {
  await quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: IMAGES });
  const out = path.join(tmp, 'cmp');
  const { stdout } = await run(process.execPath, [CLI, ...evalArgs(out), '--compare-quantized']);
  t.match(stdout, /queries 11 \(6 known, 5 unknown\)/, 'the FP32 report as without the flag');
  t.match(stdout, /FP32 against the INT8 copy of the feature model \(same queries\):\n\s+FP32\s+INT8\n/);
  for (const row of ['per image: Recall@1', 'per image: mAP@5', 'per box: Recall@1', 'per box: mAP@5'])
    t.match(stdout, new RegExp(`${row.replace(/[@:]/g, '.')}\\s+\\d+\\.\\d %\\s+\\d+\\.\\d %\\n`), `${row}: both columns`);
  const c = JSON.parse(fs.readFileSync(path.join(out, 'compare-quantized.json'), 'utf8'));
  const r = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  t.match(c, { kind: 'shitu-eval-compare-quantized', version: 1, topk: 5, queries: 11 });
  t.same(c.fp32.image, { recall1: r.image.recall1, recall5: r.image.recall5, mAP: r.image.mAP }, 'the FP32 column is report.json\'s run');
  for (const m of ['fp32', 'int8'] as const)
    for (const k of ['recall1', 'recall5', 'mAP']) t.ok(c[m].image[k] >= 0 && c[m].image[k] <= 1, `${m} ${k} ${c[m].image[k]}`);
});

t.test('usage errors: with --index, with --quantized', async (t) => {
  let e = await fail(['eval', '--config', CONFIG, '--index', tmp, '--leave-one-out', '--compare-quantized', '--out', tmp]);
  t.equal(e.code, 2);
  t.match(e.stderr, /--compare-quantized needs --gallery/);
  e = await fail([...evalArgs(tmp), '--compare-quantized', '--quantized']);
  t.equal(e.code, 2);
  t.match(e.stderr, /leave out --quantized/);
});

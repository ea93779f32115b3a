// Paddle model directory -> ONNX model directory, through the package's own
// loading: the real PP-ShiTuV2 feature program (seeded random weights, as the
// real ones cannot be downloaded here) is fetched from a real HTTP server on
// 127.0.0.1 as a tar, unpacked, converted in this process, installed under
// SHITU_MODEL_HOME and used by createPipeline; conversions that fail leave
// nothing behind.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as http from 'http';
import { execFile, execFileSync } from 'child_process';
import { promisify } from 'util';
import type { AddressInfo } from 'net';
import t from 'tap';
import YAML from 'yaml';
import { IMAGES, STANDIN_CONFIG, img } from '../../helpers/shared';
import { createPipeline } from '../../../lib';
import { convertPaddleModel } from '../../../lib/models/paddle/convert-dir';
import { fetchModel } from '../../../lib/models/fetch';
import { readPdmodel } from '../../../lib/models/paddle/read-pdmodel';
import { writeParams, seededParams } from '../../../lib/models/paddle/write-params';
import { encodeProgram, tinyGlobal } from '../../helpers/paddle-programs';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '..', '..', '..', 'dist', 'lib', 'cli', 'main.js');
const SHARED_PROGRAMS = path.join(path.dirname(path.dirname(IMAGES)), 'models', 'pp-shituv2-programs');
const REC = path.join(SHARED_PROGRAMS, 'general_PPLCNetV2_base_pretrained_v1.0_infer');
const DET = path.join(SHARED_PROGRAMS, 'picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer');
const PHOTOS = [img('misc', 'dog.jpg'), img('misc', 'bus.jpg'), img('misc', 'anmuxi.jpg'), img('misc', 'wangzai.jpg')];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-paddle-convert-dir-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A Paddle model directory: a shared program with seeded weights, as the v1.0 archive lays it out. */
async function paddleDir(name: string, programDir: string, seed: number): Promise<string> {
  const dir = path.join(tmp, 'src', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(programDir, 'inference.pdmodel'), path.join(dir, 'inference.pdmodel'));
  for (const f of ['infer_cfg.yml', 'inference.pdiparams.info']) {
    if (fs.existsSync(path.join(programDir, f))) fs.copyFileSync(path.join(programDir, f), path.join(dir, f));
  }
  const program = await readPdmodel(path.join(dir, 'inference.pdmodel'));
  await writeParams(path.join(dir, 'inference.pdiparams'), seededParams(program, seed));
  return dir;
}

async function serveFile(file: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/model.tar') {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/model.tar`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const home = path.join(tmp, 'home');
const savedHome = process.env.SHITU_MODEL_HOME;
process.env.SHITU_MODEL_HOME = home;
t.teardown(() => { if (savedHome === undefined) delete process.env.SHITU_MODEL_HOME; else process.env.SHITU_MODEL_HOME = savedHome; });

t.test('fetch: the v1.0 feature archive from a local server, converted in-process', async (t) => {
  const src = await paddleDir('general_PPLCNetV2_base_pretrained_v1.0_infer', REC, 11);
  const tarFile = path.join(tmp, 'rec.tar');
  execFileSync('tar', ['-cf', tarFile, '-C', path.dirname(src), path.basename(src)]);
  const server = await serveFile(tarFile);
  t.teardown(server.close);
  const lines: string[] = [];
  const dir = await fetchModel('PP-ShiTuV2_rec', (l) => lines.push(l), { url: server.url });
  t.equal(dir, path.join(home, 'PP-ShiTuV2_rec'));
  t.strictSame(fs.readdirSync(dir), ['inference.onnx'], 'no config in the v1.0 feature archive: the project card applies');
  const umask = process.umask(0o022);
  process.umask(umask);
  t.equal(fs.statSync(dir).mode & 0o777, 0o777 & ~umask, 'the installed directory has the usual mode, not a temp dir\'s 0700');
  t.strictSame(fs.readdirSync(home), ['PP-ShiTuV2_rec'], 'no staging directory left');
  t.ok(lines.some((l) => /^downloading http:\/\/127\.0\.0\.1:\d+\/model\.tar$/.test(l)));
  t.ok(lines.some((l) => /legacy program, 157 ops in 1 block\(s\), 171 weights \(18\.3 MB\), a feature model/.test(l)), 'progress names the program');
});

t.test('convert: the detector program (10 blocks, NMS inside) with its infer_cfg.yml, checked on a photo', async (t) => {
  const src = await paddleDir('picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer', DET, 12);
  const out = path.join(home, 'PP-ShiTuV2_det');
  const lines: string[] = [];
  const r = await convertPaddleModel(src, out, { check: PHOTOS[1], onProgress: (l) => lines.push(l) });
  t.equal(r.task, 'detection');
  t.strictSame(fs.readdirSync(out).sort(), ['inference.onnx', 'inference.yml']);
  t.equal(fs.readFileSync(path.join(out, 'inference.yml'), 'utf8'), fs.readFileSync(path.join(DET, 'infer_cfg.yml'), 'utf8'), 'infer_cfg.yml installed as inference.yml');
  t.strictSame(r.inputs.map((i) => [i.name, i.dims]).sort(), [['im_shape', [1, 2]], ['image', [1, 3, 640, 640]], ['scale_factor', [1, 2]]], 'batch fixed at 1');
  t.ok(lines.includes('feed sizes: im_shape [1, 2], image [1, 3, 640, 640], scale_factor [1, 2]'));
  t.equal(r.outputs.length, 2);
  t.equal(r.check?.length, 2);
  t.equal(r.check?.[0].dims[1], 6, 'boxes [M, 6]');
  t.strictSame(r.check?.[1].dims, [1], 'count [1]');
  t.ok(r.check?.every((c) => c.finite));
});

t.test('createPipeline on both converted models (SHITU_MODEL_HOME): 512-d embeddings, finite scores', async (t) => {
  const config = path.join(tmp, 'pp-shituv2.yaml');
  const doc = YAML.parse(fs.readFileSync(STANDIN_CONFIG, 'utf8'));
  doc.SubModules.Detection = { module_name: 'object_detection', model_name: 'PP-ShiTuV2_det', batch_size: 1 };
  doc.SubModules.Recognition = { module_name: 'image_feature', model_name: 'PP-ShiTuV2_rec', batch_size: 4 };
  fs.writeFileSync(config, YAML.stringify(doc));
  const pipeline = await createPipeline(config, { threads: 1, warmup: false });
  t.teardown(() => pipeline.close());
  t.equal(pipeline.featureDim, 512);
  const index = await pipeline.buildIndex({ galleryImgs: PHOTOS, galleryLabel: PHOTOS.map((p) => path.basename(p)), indexType: 'Flat', metricType: 'IP' });
  t.equal(index.dim, 512);
  t.equal(index.count, PHOTOS.length, '[N,512] embeddings indexed');
  for (const photo of PHOTOS.slice(0, 2)) {
    const result = await pipeline.recognize(photo, { index });
    const boxes = result.json.res.boxes;
    t.ok(boxes.length > 0, `${path.basename(photo)}: ${boxes.length} box(es)`);
    const scores = boxes.flatMap((b) => b.rec_scores).filter((s): s is number => s !== null);
    t.ok(scores.length > 0 && scores.every((s) => Number.isFinite(s) && s <= 1.0001 && s >= -1.0001), `finite cosine scores: ${scores.map((s) => s.toFixed(4)).join(', ')}`);
    t.ok(boxes.every((b) => b.coordinate.every(Number.isFinite) && Number.isFinite(b.det_score)), 'finite boxes');
  }
});

t.test('fetch: a PaddleX 3 archive (PIR inference.json, inference.yml)', async (t) => {
  const pir = path.join(path.dirname(path.dirname(IMAGES)), 'models', 'paddle-pairs', 'PP-LCNet_x0_25_textline_ori_pir');
  const tarFile = path.join(tmp, 'pir.tar');
  const stage = path.join(tmp, 'pir-stage', 'PP-ShiTuV2_rec_CLIP_vit_base_infer');
  fs.mkdirSync(stage, { recursive: true });
  for (const f of fs.readdirSync(pir)) fs.copyFileSync(path.join(pir, f), path.join(stage, f));
  execFileSync('tar', ['-cf', tarFile, '-C', path.dirname(stage), path.basename(stage)]);
  const server = await serveFile(tarFile);
  t.teardown(server.close);
  const lines: string[] = [];
  const dir = await fetchModel('PP-ShiTuV2_rec_CLIP_vit_base', (l) => lines.push(l), { url: server.url });
  t.strictSame(fs.readdirSync(dir).sort(), ['inference.onnx', 'inference.yml']);
  t.equal(fs.readFileSync(path.join(dir, 'inference.yml'), 'utf8'), fs.readFileSync(path.join(pir, 'inference.yml'), 'utf8'));
  const unpacked = lines.find((l) => l.startsWith('unpacked '));
  t.strictSame(unpacked?.slice('unpacked '.length).split(', ').sort(), ['inference.json', 'inference.pdiparams', 'inference.yml']);
  t.ok(lines.some((l) => /pir program/.test(l)));
});

t.test('an abort before the work: ERR_ABORTED, nothing written', async (t) => {
  const src = path.join(tmp, 'src', 'general_PPLCNetV2_base_pretrained_v1.0_infer');
  const out = path.join(tmp, 'aborted-out');
  await t.rejects(convertPaddleModel(src, out, { signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
  t.notOk(fs.existsSync(out));
  t.strictSame(fs.readdirSync(tmp).filter((f) => f.startsWith('.aborted-out')), []);
});

t.test('an unsupported op: ERR_MODEL_UNSUPPORTED, nothing written, a model installed before untouched', async (t) => {
  const src = path.join(tmp, 'src', 'odd');
  fs.mkdirSync(src, { recursive: true });
  const bytes = encodeProgram([tinyGlobal({ ops: [{ type: 'fancy_op', inputs: { X: ['y'] }, outputs: { Out: ['y'] } }] })]);
  fs.writeFileSync(path.join(src, 'inference.pdmodel'), bytes);
  await writeParams(path.join(src, 'inference.pdiparams'), seededParams(await readPdmodel(path.join(src, 'inference.pdmodel')), 1));
  const out = path.join(tmp, 'odd-out');
  await t.rejects(convertPaddleModel(src, out), { code: 'ERR_MODEL_UNSUPPORTED', message: /fancy_op \(x1\)/ });
  t.notOk(fs.existsSync(out));
  // over an installed model (fetch's case): the old one stays
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'inference.onnx'), 'the model installed before');
  await t.rejects(convertPaddleModel(src, out, { replace: true }), { code: 'ERR_MODEL_UNSUPPORTED' });
  t.strictSame(fs.readdirSync(out), ['inference.onnx']);
  t.equal(fs.readFileSync(path.join(out, 'inference.onnx'), 'utf8'), 'the model installed before');
  t.strictSame(fs.readdirSync(tmp).filter((f) => f.startsWith('.odd-out')), [], 'no staging left');
  // without replace, a non-empty directory is refused before any work
  await t.rejects(convertPaddleModel(src, out), { code: 'ERR_CONFIG', message: /not an empty directory/ });
});

t.test('a broken pre-processing config fails the conversion before any ONNX is written', async (t) => {
  const src = path.join(tmp, 'src', 'bad-config');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'inference.pdmodel'), encodeProgram());
  await writeParams(path.join(src, 'inference.pdiparams'), seededParams(await readPdmodel(path.join(src, 'inference.pdmodel')), 1));
  fs.writeFileSync(path.join(src, 'inference.yml'), 'PreProcess:\n  transform_ops:\n  - ResizeImage: {size: [abc, 80]}\n');
  const lines: string[] = [];
  await t.rejects(convertPaddleModel(src, path.join(tmp, 'bad-config-out'), { onProgress: (l) => lines.push(l) }), { code: 'ERR_MODEL_CARD' });
  t.notOk(fs.existsSync(path.join(tmp, 'bad-config-out')));
  t.notOk(lines.includes('converting to ONNX'), 'refused before converting');
  // the same model with a sound config converts
  fs.writeFileSync(path.join(src, 'inference.yml'), 'PreProcess:\n  transform_ops:\n  - ResizeImage: {size: [4, 1]}\n');
  const r = await convertPaddleModel(src, path.join(tmp, 'bad-config-out'));
  t.equal(r.task, 'feature');
  t.strictSame(fs.readdirSync(r.outDir).sort(), ['inference.onnx', 'inference.yml']);
});

t.test('fetch failures: unreachable archive, broken archive -> nothing installed', async (t) => {
  const failHome = path.join(tmp, 'home-fail');
  process.env.SHITU_MODEL_HOME = failHome;
  t.teardown(() => { process.env.SHITU_MODEL_HOME = home; });
  const notTar = path.join(tmp, 'not-a.tar');
  fs.writeFileSync(notTar, Buffer.alloc(4096, 7));
  const server = await serveFile(notTar);
  t.teardown(server.close);
  await t.rejects(fetchModel('PP-ShiTuV2_rec', () => {}, { url: server.url.replace('model.tar', 'missing.tar') }), { code: 'ERR_FETCH', message: /HTTP 404[\s\S]*shitu models convert/ });
  await t.rejects(fetchModel('PP-ShiTuV2_rec', () => {}, { url: server.url }), { code: 'ERR_MODEL_INVALID', message: /not a usable tar archive/ });
  t.strictSame(fs.readdirSync(failHome), [], 'nothing left in the model home');
  await t.rejects(fetchModel('resnet', () => {}), { code: 'ERR_MODEL_NOT_FOUND', message: /known: PP-ShiTuV2_det/ });
});

t.test('fetch: an archive with an op the converter lacks -> the next archive is tried', async (t) => {
  const fallbackHome = path.join(tmp, 'home-fallback');
  process.env.SHITU_MODEL_HOME = fallbackHome;
  t.teardown(() => { process.env.SHITU_MODEL_HOME = home; });
  const odd = path.join(tmp, 'odd-archive', 'PP-ShiTuV2_rec_infer');
  fs.mkdirSync(odd, { recursive: true });
  fs.writeFileSync(path.join(odd, 'inference.pdmodel'), encodeProgram([tinyGlobal({ ops: [{ type: 'fancy_op', inputs: { X: ['y'] }, outputs: { Out: ['y'] } }] })]));
  await writeParams(path.join(odd, 'inference.pdiparams'), seededParams(await readPdmodel(path.join(odd, 'inference.pdmodel')), 1));
  const oddTar = path.join(tmp, 'odd.tar');
  execFileSync('tar', ['-cf', oddTar, '-C', path.dirname(odd), path.basename(odd)]);
  const first = await serveFile(oddTar);
  t.teardown(first.close);
  const second = await serveFile(path.join(tmp, 'rec.tar'));
  t.teardown(second.close);
  const lines: string[] = [];
  const dir = await fetchModel('PP-ShiTuV2_rec', (l) => lines.push(l), { urls: [first.url, second.url] });
  t.strictSame(fs.readdirSync(dir), ['inference.onnx']);
  t.ok(lines.some((l) => /fancy_op \(x1\).*; trying the next archive$/.test(l)), 'the unsupported op is named');
  t.equal(lines.filter((l) => l.startsWith('downloading ')).length, 2);
  t.strictSame(fs.readdirSync(fallbackHome), ['PP-ShiTuV2_rec']);
  // both unreachable: ERR_FETCH naming both failures and what to do by hand
  await t.rejects(fetchModel('PP-ShiTuV2_rec', () => {}, { urls: [first.url + '.gone', second.url + '.gone'] }), {
    code: 'ERR_FETCH', message: /HTTP 404; .*HTTP 404[\s\S]*shitu models convert <unpacked dir> --out/,
  });
});

t.test('CLI: shitu models convert --check prints shapes; a missing model dir says what was looked for', async (t) => {
  const src = path.join(tmp, 'src', 'general_PPLCNetV2_base_pretrained_v1.0_infer');
  const out = path.join(tmp, 'cli-out');
  const r = await run(process.execPath, [CLI, 'models', 'convert', src, '--out', out, '--check', PHOTOS[0]]);
  t.match(r.stdout, /input {3}x float32 \[batch, 3, 224, 224\]/);
  t.match(r.stdout, /checked batch_norm_25\.tmp_2 \[1, 512\]\n/);
  t.match(r.stderr, /converting to ONNX/);
  t.ok(fs.existsSync(path.join(out, 'inference.onnx')));
  const fail = await run(process.execPath, [CLI, 'models', 'convert', path.join(tmp, 'src'), '--out', path.join(tmp, 'cli-none')]).then(
    () => undefined,
    (e: { stderr: string; code: number }) => e,
  );
  t.ok(fail, 'fails');
  t.match(fail?.stderr ?? '', /ERR_MODEL_NOT_FOUND|no Paddle inference model/);
  t.match(fail?.stderr ?? '', /inference\.pdmodel, model\.pdmodel, inference\.json/);
  t.notOk(fs.existsSync(path.join(tmp, 'cli-none')));
});

t.test('CLI: the PIR model (inference.json) with --input-shape, checked on its sample image', async (t) => {
  const pairs = path.join(path.dirname(path.dirname(IMAGES)), 'models', 'paddle-pairs');
  const out = path.join(tmp, 'cli-pir');
  const r = await run(process.execPath, [
    CLI, 'models', 'convert', path.join(pairs, 'PP-LCNet_x0_25_textline_ori_pir'), '--out', out,
    '--input-shape', 'x=2,3,80,160', '--check', path.join(pairs, 'images', 'ocr_sample.jpg'),
  ]);
  t.match(r.stdout, /input {3}x float32 \[2, 3, 80, 160\]/);
  t.match(r.stdout, /output {2}fetch_name_0 float32 \[2, 2\]/);
  t.match(r.stdout, /checked fetch_name_0 \[2, 2\]\n/);
  t.match(r.stderr, /pir program, \d+ ops in 1 block\(s\), 145 weights/);
  t.match(r.stderr, /pre-processing from inference\.yml: 160x80/);
  t.strictSame(fs.readdirSync(out).sort(), ['inference.onnx', 'inference.yml']);
  const usage = await run(process.execPath, [CLI, 'models', 'convert', out, '--out', path.join(tmp, 'x'), '--input-shape', 'x=a,b']).then(
    () => undefined,
    (e: { stderr: string; code: number }) => e,
  );
  t.equal(usage?.code, 2, 'a bad --input-shape is a usage error');
});

// The native core on the real stand-in models and shared photos.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import { MODELS, img } from '../helpers/shared';
import { writeNotAnOnnxModel, writePpShituDetModel, writePpShituRecModel, DEFAULT_DET_BOXES } from '../helpers/onnx-fixtures';

const PICODET = path.join(MODELS, 'picodet_s_coco', 'picodet_s_416_coco.onnx');
const MOBILENET = path.join(MODELS, 'mobilenetv2', 'mobilenetv2-12-int8-feat.onnx');
const COCO = fs.readFileSync(path.join(MODELS, 'picodet_s_coco', 'coco.names'), 'utf8').trim().split('\n');
const PICODET_PRE = { scale: 1, mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395], channelOrder: 'bgr' };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-core-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function expectCode(t: Tap.Test, p: Promise<unknown>, code: string) {
  await t.rejects(p, { code }, `rejects with ${code}`);
}

t.test('images decode by content, with raw pixels and EXIF', async (t) => {
  const bus = await native.decodeImage(img('misc', 'bus.jpg'));
  t.same([bus.width, bus.height, bus.channels], [810, 1080, 3]);
  // A PNG named .jpg, RGBA: decoded by content, alpha dropped.
  const wz = await native.decodeImage(img('misc', 'wangzai.jpg'));
  t.same([wz.width, wz.height, wz.channels], [1596, 1204, 3]);
  const fromBuffer = await native.decodeImage(fs.readFileSync(img('misc', 'dog.jpg')));
  t.same([fromBuffer.width, fromBuffer.height], [768, 576]);
  // Re-encoded as PNG / BMP / WebP / TIFF, each decodes to the same size.
  for (const ext of ['.png', '.bmp', '.webp', '.tiff']) {
    const enc = await native.encodeImage(fromBuffer, ext);
    const dec = await native.decodeImage(enc);
    t.same([dec.width, dec.height], [768, 576], `${ext} round trip`);
  }
  // Grayscale PNG becomes 3 channels.
  const gray = { data: new Uint8Array(20 * 10).fill(77), width: 20, height: 10, channels: 1 };
  const grayPng = await native.encodeImage(gray, '.png');
  const g = await native.decodeImage(grayPng);
  t.same([g.width, g.height, g.channels, g.data[0], g.data[1], g.data[2]], [20, 10, 3, 77, 77, 77]);
  // Raw RGB in -> BGR out.
  const rgb = { data: Uint8Array.from([255, 0, 0, 0, 255, 0]), width: 2, height: 1, channels: 3 };
  const r = await native.decodeImage(rgb);
  t.same(Array.from(r.data), [0, 0, 255, 0, 255, 0]);
  // EXIF orientation 6 (rotate 90° clockwise): a 40x20 JPEG is shown as 20x40.
  const jpeg: Buffer = await native.encodeImage({ data: new Uint8Array(40 * 20 * 3).fill(100), width: 40, height: 20, channels: 3 }, '.jpg');
  const exif = Buffer.from([
    0xff, 0xe1, 0x00, 0x22, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00, // APP1, length 34, "Exif\0\0"
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, // TIFF header, big endian, IFD at 8
    0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, // 1 entry: Orientation = 6
    0x00, 0x00, 0x00, 0x00, // next IFD
  ]);
  const rotated = Buffer.concat([jpeg.subarray(0, 2), exif, jpeg.subarray(2)]);
  const rd = await native.decodeImage(rotated);
  t.same([rd.width, rd.height], [20, 40], 'EXIF orientation applied');
});

t.test('bad images give codes and leave the process healthy', async (t) => {
  const bus = fs.readFileSync(img('misc', 'bus.jpg'));
  await expectCode(t, native.decodeImage(bus.subarray(0, 200)), 'ERR_IMAGE_DECODE');
  await expectCode(t, native.decodeImage(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))), 'ERR_IMAGE_DECODE');
  await expectCode(t, native.decodeImage(Buffer.alloc(0)), 'ERR_IMAGE_DECODE');
  await expectCode(t, native.decodeImage(path.join(tmp, 'missing.jpg')), 'ERR_IMAGE_MISSING');
  t.throws(() => native.decodeImage(42), TypeError);
  const again = await native.decodeImage(img('misc', 'dog.jpg'));
  t.equal(again.width, 768, 'still works after errors');
});

t.test('model sessions: contract, options, errors', async (t) => {
  const m = await native.loadModel(PICODET, { intraOpThreads: 1, graphOptimization: 'all' });
  t.same(m.inputs(), [{ name: 'image', type: 'float32', shape: [1, 3, 416, 416] }]);
  t.equal(m.outputs().length, 8);
  t.equal(m.strippedInputs, 279, 'Paddle export: initializers taken out of the graph inputs');
  await expectCode(t, native.loadModel(writeNotAnOnnxModel(path.join(tmp, 'junk')), {}), 'ERR_MODEL_LOAD');
  await expectCode(t, native.loadModel(path.join(tmp, 'nope.onnx'), {}), 'ERR_MODEL_LOAD');
  await expectCode(t, native.loadModel(img('misc', 'dog.jpg'), {}), 'ERR_MODEL_LOAD');
  // A GPU without provider libraries is a clear ERR_DEVICE, never a silent CPU run.
  await t.rejects(native.loadModel(MOBILENET, { device: 'gpu:0' }), { code: 'ERR_DEVICE', message: /libonnxruntime_providers_cuda\.so/ },
    'names the missing provider library');
  await t.rejects(native.loadModel(MOBILENET, { device: 'tpu' }), { code: 'ERR_DEVICE', message: /unknown device/ });
  // Raw Run for benchmarks.
  const out = await m.run({ image: { data: new Float32Array(3 * 416 * 416), dims: [1, 3, 416, 416] } });
  t.equal(Object.keys(out).length, 8);
  // A feature model is not a detector.
  const fm = await native.loadModel(MOBILENET, {});
  t.throws(() => native.createDetector(fm, { preprocess: {} }), { code: 'ERR_MODEL_CONTRACT' });
});

t.test('raw PicoDet heads: bus, people, dog, in original pixels', async (t) => {
  const m = await native.loadModel(PICODET, { intraOpThreads: 2 });
  const det = native.createDetector(m, { preprocess: PICODET_PRE, threshold: 0.5 });
  t.equal(det.resolved().contract, 'gfl');
  const bus = await det.detect(img('misc', 'bus.jpg'), {});
  t.same([bus.width, bus.height], [810, 1080]);
  const names = bus.boxes.map((b: any) => COCO[b.classId]);
  t.ok(names.includes('bus'), 'a bus');
  t.ok(names.filter((n: string) => n === 'person').length >= 3, 'three or more people');
  const busBox = bus.boxes.find((b: any) => COCO[b.classId] === 'bus');
  // The bus spans almost the whole width of the 810-px photo: original pixels, not 416-px model space.
  t.ok(busBox.coordinate[2] - busBox.coordinate[0] > 700, `bus width ${busBox.coordinate[2] - busBox.coordinate[0]}`);
  for (const b of bus.boxes) {
    const [x1, y1, x2, y2] = b.coordinate;
    t.ok(x1 >= 0 && y1 >= 0 && x2 <= 810 && y2 <= 1080 && x2 > x1 && y2 > y1, 'clipped, non-empty');
    t.ok(b.score > 0.5);
  }
  for (let i = 1; i < bus.boxes.length; i++) t.ok(bus.boxes[i - 1].score >= bus.boxes[i].score, 'best first');
  const dog = await det.detect(img('misc', 'dog.jpg'), {});
  t.ok(dog.boxes.some((b: any) => COCO[b.classId] === 'dog'), 'a dog');
  // Nothing above the threshold: the whole image with score 0.
  const none = await det.detect(img('misc', 'dog.jpg'), { threshold: 0.999 });
  t.same(none.boxes, [{ classId: 0, score: 0, coordinate: [0, 0, 768, 576] }]);
});

t.test('PP-ShiTuV2 detector signature (NMS inside): image + scale_factor -> [M,6] + count', async (t) => {
  const file = writePpShituDetModel(path.join(tmp, 'ppdet'));
  const m = await native.loadModel(file, {});
  const det = native.createDetector(m, { preprocess: { width: 640, height: 640, interpolation: 'cubic' }, threshold: 0.5 });
  const r = det.resolved();
  t.equal(r.contract, 'nms');
  t.equal(r.scaleFactorInput, 'scale_factor');
  // bus.jpg is 810x1080: scale_factor = [640/1080, 640/810]; the model divides by it.
  const out = await det.detect(img('misc', 'bus.jpg'), {});
  const sy = 640 / 1080, sx = 640 / 810;
  const expected = DEFAULT_DET_BOXES.filter((b) => b[1] > 0.5)
    .map((b) => [b[2] / sx, b[3] / sy, Math.min(810, b[4] / sx), Math.min(1080, b[5] / sy)]);
  t.equal(out.boxes.length, expected.length, 'score 0.3 box dropped by the threshold');
  out.boxes.forEach((b: any, i: number) => {
    b.coordinate.forEach((v: number, j: number) => t.ok(Math.abs(v - expected[i][j]) < 0.5, `box ${i} coord ${j}: ${v} vs ${expected[i][j]}`));
  });
  // With im_shape too.
  const m2 = await native.loadModel(writePpShituDetModel(path.join(tmp, 'ppdet2'), { withImShape: true }), {});
  const det2 = native.createDetector(m2, { preprocess: {}, threshold: 0.5 });
  t.equal(det2.resolved().imShapeInput, 'im_shape');
  t.equal((await det2.detect(img('misc', 'bus.jpg'), {})).boxes.length, 2);
  // "No box" rows (class -1, count 0) -> the whole image.
  const m3 = await native.loadModel(writePpShituDetModel(path.join(tmp, 'ppdet3'), { empty: true }), {});
  const det3 = native.createDetector(m3, { preprocess: {} });
  t.same((await det3.detect(img('misc', 'dog.jpg'), {})).boxes, [{ classId: 0, score: 0, coordinate: [0, 0, 768, 576] }]);
});

t.test('PP-ShiTuV2 feature signature: x -> [N,512], batched, L2-normalised, zero guard', async (t) => {
  const m = await native.loadModel(writePpShituRecModel(path.join(tmp, 'pprec')), {});
  const ex = native.createFeatureExtractor(m, { preprocess: { width: 224, height: 224 }, maxBatch: 4 });
  t.equal(ex.dim, 512);
  const srcs = [img('misc', 'dog.jpg'), img('misc', 'bus.jpg'), img('misc', 'anmuxi.jpg'), img('drink_test_images', '100.jpeg'), img('misc', 'dog.jpg')];
  const r = await ex.embed(srcs, {});
  t.equal(r.features.length, 5 * 512, 'batches of 4 then 1');
  for (let i = 0; i < 5; i++) {
    let sq = 0;
    for (let j = 0; j < 512; j++) sq += r.features[i * 512 + j] ** 2;
    t.ok(Math.abs(Math.sqrt(sq) - 1) < 1e-4, `row ${i} has unit norm`);
  }
  t.same(Array.from(r.features.subarray(0, 512)), Array.from(r.features.subarray(4 * 512)), 'same image, same feature');
  // Boxes crop before embedding.
  const cropped = await ex.embed([img('misc', 'dog.jpg')], { boxes: [[100, 200, 300, 500]] });
  t.notSame(Array.from(cropped.features), Array.from(r.features.subarray(0, 512)));
  // All-zero features stay zero (the reference divides by 0 -> NaN).
  const zm = await native.loadModel(writePpShituRecModel(path.join(tmp, 'pprec0'), { zero: true }), {});
  const zex = native.createFeatureExtractor(zm, { preprocess: {} });
  const z = await zex.embed([img('misc', 'dog.jpg')], {});
  t.ok(Array.from(z.features).every((v) => v === 0), 'no NaN');
  // One bad image among several: reported by position, the others still embedded.
  const mixed = await ex.embed([img('misc', 'dog.jpg'), Buffer.from('nope'), path.join(tmp, 'missing.jpg')], { collectErrors: true });
  t.same(mixed.errors.map((e: any) => [e.index, e.code]), [[1, 'ERR_IMAGE_DECODE'], [2, 'ERR_IMAGE_MISSING']]);
  t.same(Array.from(mixed.features.subarray(0, 512)), Array.from(r.features.subarray(0, 512)));
  await t.rejects(ex.embed([Buffer.from('nope')], {}), { code: 'ERR_IMAGE_DECODE' });
});

t.test('one native call: detect -> crop -> embed -> search', async (t) => {
  const dm = await native.loadModel(PICODET, { intraOpThreads: 2 });
  const det = native.createDetector(dm, { preprocess: PICODET_PRE, threshold: 0.5 });
  const fm = await native.loadModel(MOBILENET, { intraOpThreads: 2 });
  const ex = native.createFeatureExtractor(fm, { preprocess: {}, outputName: 'feat1280' });
  const index = new native.VectorIndex(1280, 'Flat', 'IP');
  const gallery = [img('misc', 'dog.jpg'), img('misc', 'bus.jpg'), img('drink_test_images', '100.jpeg')];
  const g = await ex.embed(gallery, {});
  await index.add(g.features, BigInt64Array.from([0n, 1n, 2n]));
  const r = await native.recognize(det, ex, index, img('misc', 'dog.jpg'), { topk: 3 });
  t.same([r.width, r.height], [768, 576]);
  t.ok(r.boxes.length >= 1);
  for (const b of r.boxes) {
    t.equal(b.ids.length, 3, 'top-3, id 0 included');
    t.ok(b.ids.includes(0), 'id 0 is a real id');
    for (let i = 1; i < b.scores.length; i++) t.ok(b.scores[i - 1] >= b.scores[i], 'best first');
  }
  for (const k of ['decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'search', 'total'])
    t.type(r.timings[k], 'number', `timing ${k}`);
  t.ok(r.timings.detInference > 0 && r.timings.recInference > 0);
  // Without an index: boxes, no ids.
  const noIndex = await native.recognize(det, ex, null, img('misc', 'dog.jpg'), {});
  t.ok(noIndex.boxes.every((b: any) => b.ids.length === 0));
  // A wrong-dimension index is refused before any work.
  t.throws(() => native.recognize(det, ex, new native.VectorIndex(512, 'Flat', 'IP'), img('misc', 'dog.jpg'), {}), { code: 'ERR_INDEX_DIM' });
  await t.rejects(native.recognize(det, ex, index, Buffer.from('garbage'), {}), { code: 'ERR_IMAGE_DECODE' });
});

t.test('the event loop keeps turning during a recognition', async (t) => {
  const dm = await native.loadModel(PICODET, { intraOpThreads: 1 });
  const det = native.createDetector(dm, { preprocess: PICODET_PRE });
  const fm = await native.loadModel(MOBILENET, { intraOpThreads: 1 });
  const ex = native.createFeatureExtractor(fm, { preprocess: {}, outputName: 'feat1280' });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const runs = [];
  for (let i = 0; i < 4; i++) runs.push(native.recognize(det, ex, null, img('misc', 'wangzai.jpg'), {}));
  await Promise.all(runs);
  clearInterval(timer);
  t.ok(ticks >= 5, `timer fired ${ticks} times while 4 recognitions ran`);
});

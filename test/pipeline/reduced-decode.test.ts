// createPipeline's reducedDecode (JPEG decoded at 1/2, 1/4, 1/8 scale when the
// reduced picture still covers the detector's input) and the settings the
// default options choose. Speed is measured in bench/ (section 9), not here:
// these tests check that results stay right.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import sharp from 'sharp';
import { createPipeline, IndexData, Pipeline } from '../../lib/index';
import { STANDIN_CONFIG, img } from '../helpers/shared';
import { expectLabel, expectSameRecognition, iou, REDUCED_SCORE_TOLERANCE } from '../helpers/recognition';
import { CASES, GALLERIES } from '../helpers/recognition-cases';

type Box = { labels: Array<string | null>; rec_scores: Array<number | null>; coordinate: number[] };

let pipeline: Pipeline;
let index: IndexData;
t.before(async () => {
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 2 });
  index = await pipeline.buildIndex({ galleryImgs: GALLERIES.five.map(([p]) => img(p)), galleryLabel: GALLERIES.five.map(([, l]) => l), indexType: 'Flat', metricType: 'IP' });
});
t.teardown(() => pipeline?.close());

const boxesOf = async (input: string | Buffer, reducedDecode: boolean, keepImage = false): Promise<Box[]> =>
  (await pipeline.recognize(input, { index, reducedDecode, keepImage })).json.res.boxes as Box[];

t.test('default options: cores shared out as recognitions in flight x 1 thread, full decode', async (t) => {
  const cores = Math.max(1, os.availableParallelism());
  const p = await createPipeline(STANDIN_CONFIG, { warmup: false });
  t.teardown(() => p.close());
  t.same(p.settings, { concurrency: Math.min(4, cores), threads: Math.max(1, Math.floor(cores / Math.min(4, cores))), threadPool: 'session', reducedDecode: false, batching: null, maxQueue: Infinity, closeTimeoutMs: 5000, quantized: false });
  const q = await createPipeline(STANDIN_CONFIG, { warmup: false, threads: 3, concurrency: 1, reducedDecode: true });
  t.teardown(() => q.close());
  t.same(q.settings, { concurrency: 1, threads: 3, threadPool: 'session', reducedDecode: true, batching: null, maxQueue: Infinity, closeTimeoutMs: 5000, quantized: false });
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, threadPool: 'global' as any }), RangeError);
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, threadPool: 'shared', threads: 2 }), RangeError);
});

/** The query that the tests expect to be recognised, reduced. */
const expectReducedQuery = async (t: Test) =>
  expectLabel(t, (await boxesOf(img(CASES.reducedYoujia.image), true))[0], CASES.reducedYoujia.expected, CASES.reducedYoujia.id);

t.test('large JPEGs: same boxes (IoU >= 0.95) and labels (scores within tolerance), in full-picture pixels', async (t) => {
  // 790x790 and 900x1200 and 1000x1000: decoded at 1/2 (395, 450, 500 px >= 374 = 0.9 x 416).
  for (const [file, w, h] of [['product_demo/query/anmuxi.jpg', 790, 790], ['drink_test_images/youjia.jpeg', 900, 1200], ['drink_test_images/mosilian.jpeg', 1000, 1000]] as const) {
    const full = await boxesOf(img(...file.split('/')), false);
    const red = await boxesOf(img(...file.split('/')), true);
    // Another picture (half the pixels): scores move more than between threads or batching.
    expectSameRecognition(t, red, full, file, { scoreTolerance: REDUCED_SCORE_TOLERANCE });
    const [x1, y1, x2, y2] = red.map((b) => b.coordinate).reduce((a, c) => [Math.min(a[0], c[0]), Math.min(a[1], c[1]), Math.max(a[2], c[2]), Math.max(a[3], c[3])]);
    t.ok(x1 >= 0 && y1 >= 0 && x2 <= w && y2 <= h, `${file}: boxes inside ${w}x${h}`);
    // Boxes in full-picture pixels: the reduced picture is only about half as wide and high.
    t.ok(x2 > 0.75 * w || y2 > 0.75 * h, `${file}: boxes reach past the reduced picture's size`);
    t.notSame(red.map((b) => b.coordinate), full.map((b) => b.coordinate), `${file}: the reduced picture was used (pixels differ)`);
  }
  await expectReducedQuery(t);
});

t.test('small JPEGs, PNGs and keepImage decode in full: results identical', async (t) => {
  for (const file of ['misc/dog.jpg', 'misc/wangzai.jpg', 'product_demo/gallery/anmuxi/004.jpg']) {
    t.same(await boxesOf(img(...file.split('/')), true), await boxesOf(img(...file.split('/')), false), file);
  }
  // Drawing wants the full picture: keepImage turns the reduced decode off.
  t.same(await boxesOf(img('product_demo', 'query', 'anmuxi.jpg'), true, true), await boxesOf(img('product_demo', 'query', 'anmuxi.jpg'), false, true));
});

t.test('threadPool "shared": both models on the process-wide pool give the same results', async (t) => {
  const shared = await createPipeline(STANDIN_CONFIG, { threadPool: 'shared', concurrency: 2 });
  t.teardown(() => shared.close());
  t.same(shared.settings, { concurrency: 2, threads: Math.max(1, os.availableParallelism()), threadPool: 'shared', reducedDecode: false, batching: null, maxQueue: Infinity, closeTimeoutMs: 5000, quantized: false });
  for (const file of ['misc/bus.jpg', 'product_demo/query/anmuxi.jpg', 'drink_test_images/100.jpeg']) {
    const a = (await shared.recognize(img(...file.split('/')), { index })).json.res.boxes as Box[];
    const b = await boxesOf(img(...file.split('/')), false);
    expectSameRecognition(t, a, b, `${file}, shared pool against per-session pools`, { minIou: 0.999 });
  }
  // Two recognitions at once on the one pool.
  const both = await Promise.all([shared.recognize(img('misc', 'bus.jpg'), { index }), shared.recognize(img('misc', 'bus.jpg'), { index })]);
  t.same(both[0].json.res.boxes, both[1].json.res.boxes);
});

t.test('EXIF orientation: a rotated JPEG gives the same boxes reduced or not', async (t) => {
  // youjia.jpeg (900x1200) stored as is, tagged "rotate 90° clockwise" (6): shown 1200x900.
  const rotated = await sharp(fs.readFileSync(img('drink_test_images', 'youjia.jpeg'))).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  const full = await boxesOf(rotated, false);
  const red = await boxesOf(rotated, true);
  t.ok(full.length >= 1);
  t.equal(red.length, full.length);
  full.forEach((b, i) => t.ok(iou(b.coordinate, red[i].coordinate) >= 0.95, `box ${i}: IoU ${iou(b.coordinate, red[i].coordinate).toFixed(3)}`));
  for (const b of red) t.ok(b.coordinate[2] <= 1200 && b.coordinate[3] <= 900, 'inside the oriented 1200x900 picture');
});

t.test('bad input with reducedDecode: coded errors, the pipeline keeps working', async (t) => {
  await t.rejects(createPipeline(STANDIN_CONFIG, { reducedDecode: 'yes' as any, warmup: false }), TypeError);
  await t.rejects(pipeline.recognize(img('misc', 'dog.jpg'), { reducedDecode: 1 as any }), TypeError);
  const jpeg = fs.readFileSync(img('drink_test_images', 'youjia.jpeg'));
  await t.rejects(pipeline.recognize(jpeg.subarray(0, 600), { reducedDecode: true }), { code: 'ERR_IMAGE_DECODE' });
  await t.rejects(pipeline.recognize(jpeg, { reducedDecode: true, limitInputPixels: 1000 }), { code: 'ERR_IMAGE_TOO_LARGE' });
  await expectReducedQuery(t);
});

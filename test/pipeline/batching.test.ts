// Dynamic batching (createPipeline's `batching`, native/feature_batcher.cc):
// crops of concurrent recognitions go through the feature model in shared
// Runs. These tests check that results stay those of unbatched recognition,
// that batches really form and respect their bound, that one bad image fails
// only itself, and the option checks. Speed is measured in bench/ (§4b).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createPipeline, IndexData, Pipeline } from '../../lib/index';
import { createServer } from '../../lib/server/app';
import { STANDIN_CONFIG, img, IMAGES } from '../helpers/shared';
import { expectSameRecognition } from '../helpers/recognition';
import { GALLERIES } from '../helpers/recognition-cases';

const PHOTOS = [
  ...fs.readdirSync(path.join(IMAGES, 'drink_test_images')).map((f) => img('drink_test_images', f)),
  ...fs.readdirSync(path.join(IMAGES, 'misc')).map((f) => img('misc', f)),
  ...fs.readdirSync(path.join(IMAGES, 'product_demo', 'query')).map((f) => img('product_demo', 'query', f)),
].filter((p) => /\.(jpe?g|png)$/i.test(p)).sort();

type Box = { labels: Array<string | null>; rec_scores: Array<number | null>; det_score: number; coordinate: number[] };

let plain: Pipeline;
let batched: Pipeline;
let index: IndexData;
t.before(async () => {
  plain = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 4 });
  // A long wait bound so that batches surely form while four recognitions run at once.
  batched = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 4, batching: { maxBatch: 6, maxWaitMs: 50 } });
  index = await plain.buildIndex({ galleryImgs: GALLERIES.five.map(([p]) => img(p)), galleryLabel: GALLERIES.five.map(([, l]) => l), indexType: 'Flat', metricType: 'IP' });
});
t.teardown(async () => {
  await plain?.close();
  await batched?.close();
});

const all = async (p: Pipeline, inputs: Array<string | Buffer>) =>
  Promise.all(inputs.map((i) => p.recognize(i, { index })));

t.test('batched results are the unbatched ones: labels, boxes, scores', async (t) => {
  t.ok(PHOTOS.length >= 8, `${PHOTOS.length} shared photos`);
  const before = batched.batchStats();
  const want: Awaited<ReturnType<Pipeline['recognize']>>[] = [];
  for (const p of PHOTOS) want.push(await plain.recognize(p, { index }));
  const got = await all(batched, [...PHOTOS, ...PHOTOS]);
  let boxes = 0;
  got.forEach((r, i) => {
    const a = r.json.res.boxes as Box[];
    const b = want[i % PHOTOS.length].json.res.boxes as Box[];
    boxes += a.length;
    // Detection does not batch: the very same boxes.
    t.same(a.map((x) => x.coordinate), b.map((x) => x.coordinate), `${path.basename(PHOTOS[i % PHOTOS.length])}: same boxes`);
    expectSameRecognition(t, a, b, `${path.basename(PHOTOS[i % PHOTOS.length])}: batched as unbatched`);
    t.type(r.timings.recBatchWait, 'number');
  });
  t.ok(boxes > PHOTOS.length, `${boxes} boxes compared`);
  const s = batched.batchStats();
  const runs = s.runs - before.runs, requests = s.requests - before.requests;
  t.ok(requests > 0 && requests <= got.length, `${requests} recognitions with crops went through the batcher`);
  t.ok(runs < requests, `batches formed: ${runs} runs for ${requests} recognitions`);
  t.ok(s.rows - before.rows === boxes, 'every crop embedded once');
});

t.test('a batch never exceeds maxBatch crops unless one image alone has more', async (t) => {
  const small = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 4, batching: { maxBatch: 2, maxWaitMs: 50 } });
  t.teardown(() => small.close());
  const rs = await all(small, PHOTOS);
  const most = Math.max(...rs.map((r) => r.json.res.boxes.length));
  const s = small.batchStats();
  t.ok(s.maxRowsInRun <= Math.max(2, most), `largest run ${s.maxRowsInRun} crops (bound 2, largest image ${most})`);
  t.equal(s.rows, rs.reduce((n, r) => n + r.json.res.boxes.length, 0), 'every crop embedded once');
});

t.test('a lone recognition does not wait for a batch', async (t) => {
  const lone = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1, batching: { maxBatch: 16, maxWaitMs: 100 } });
  t.teardown(() => lone.close());
  for (const p of PHOTOS.slice(0, 3)) {
    const r = await lone.recognize(p, { index });
    // Nothing else is before its feature stage, so it runs at once instead of waiting up to 100 ms.
    t.ok(r.timings.recBatchWait < 50, `${path.basename(p)}: waited ${r.timings.recBatchWait.toFixed(3)} ms of the 100 ms bound`);
  }
  t.equal(lone.batchStats().runs, lone.batchStats().requests, 'one run per recognition');
});

t.test('a bad image among batched ones fails alone', async (t) => {
  const blank = await (await import('sharp')).default({ create: { width: 320, height: 240, channels: 3, background: '#808080' } }).png().toBuffer();
  const corrupt = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 7)]);
  const inputs: Array<string | Buffer> = [PHOTOS[0], corrupt, PHOTOS[1], blank, PHOTOS[2], Buffer.from('not an image')];
  const settled = await Promise.allSettled(inputs.map((i) => batched.recognize(i, { index })));
  t.equal(settled[0].status, 'fulfilled');
  t.equal(settled[2].status, 'fulfilled');
  t.equal(settled[4].status, 'fulfilled');
  t.equal(settled[3].status, 'fulfilled', 'a flat grey picture');
  if (settled[3].status === 'fulfilled') t.same(settled[3].value.json.res.boxes, (await plain.recognize(blank, { index })).json.res.boxes, 'as unbatched');
  for (const k of [1, 5]) {
    t.equal(settled[k].status, 'rejected', `input ${k} refused`);
    if (settled[k].status === 'rejected') t.match((settled[k] as PromiseRejectedResult).reason, { code: /^ERR_IMAGE/ });
  }
  const again = await batched.recognize(PHOTOS[0], { index });
  t.same(again.json.res.boxes, (settled[0] as PromiseFulfilledResult<any>).value.json.res.boxes, 'the batcher still works afterwards');
});

t.test('the service with batching answers concurrent requests as without', async (t) => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'shitu-batch-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const app = createServer(Promise.resolve(batched), { indexDir: dir, maxConcurrent: 4, logger: false });
  t.teardown(() => app.close());
  const pairs = ['drink_test_images/mosilian.jpeg', 'drink_test_images/youjia.jpeg'].map((p, i) => ({ image: fs.readFileSync(img(...p.split('/'))).toString('base64'), label: ['mosilian', 'youjia'][i] }));
  const built = await app.inject({ method: 'POST', url: '/shitu-index-build', payload: { imageLabelPairs: pairs } });
  t.equal(built.statusCode, 200, built.body);
  const indexKey = built.json().result.indexKey;
  const ask = (p: string) => app.inject({ method: 'POST', url: '/shitu-infer', payload: { image: fs.readFileSync(p).toString('base64'), indexKey, returnImage: false } });
  const serial: any[] = [];
  for (const p of PHOTOS.slice(0, 6)) serial.push((await ask(p)).json());
  const parallel = (await Promise.all(PHOTOS.slice(0, 6).map(ask))).map((r) => r.json());
  parallel.forEach((r, i) => expectSameRecognition(t, r.result.detectedObjects, serial[i].result.detectedObjects, `${path.basename(PHOTOS[i])}: concurrent and batched as one at a time`));
});

t.test('batching option checks', async (t) => {
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, batching: { maxBatch: 1 } }), RangeError);
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, batching: { maxBatch: 2.5 } }), RangeError);
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, batching: { maxWaitMs: -1 } }), RangeError);
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, batching: { maxWaitMs: 1000 } }), RangeError);
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, batching: { size: 4 } as any }), TypeError);
  await t.rejects(createPipeline(STANDIN_CONFIG, { warmup: false, batching: 'on' as any }), TypeError);
  const p = await createPipeline(STANDIN_CONFIG, { warmup: false, batching: true });
  t.same(p.settings.batching, { maxBatch: 16, maxWaitMs: 2 }, 'true: the defaults');
  await p.close();
  t.equal(plain.settings.batching, null, 'off unless asked');
  t.same(plain.batchStats(), { runs: 0, requests: 0, rows: 0, maxRowsInRun: 0 }, 'an unbatched pipeline never uses the batcher');
});

t.test('shitu serve: batching off unless --batch-max or --batch-wait-ms is given', async (t) => {
  const { serveBatching } = require('../../lib/cli/serve') as typeof import('../../lib/cli/serve');
  t.equal(serveBatching({}), false, 'default: off');
  t.equal(serveBatching({ batchMax: 0 }), false, '--batch-max 0: off');
  t.equal(serveBatching({ batchMax: 0, batchWaitMs: 5 }), false, '--batch-max 0 wins over a wait');
  t.same(serveBatching({ batchMax: 8 }), { maxBatch: 8 });
  t.same(serveBatching({ batchWaitMs: 1 }), { maxWaitMs: 1 }, 'a wait alone turns it on with the default size');
  // A bad flag fails before the server listens (serve validates it first).
  const { resolveBatching } = require('../../lib/pipeline/pipeline') as typeof import('../../lib/pipeline/pipeline');
  t.throws(() => resolveBatching(serveBatching({ batchMax: NaN })), RangeError);
  t.same(resolveBatching(serveBatching({ batchWaitMs: 1 })), { maxBatch: 16, maxWaitMs: 1 });
});

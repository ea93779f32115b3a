// The TypeScript pipeline end to end on the stand-ins and shared photos.
import t from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { createPipeline, getPipelineConfig, IndexData, Pipeline, RecognitionResult, ShituError } from '../../lib/index';
import { native } from '../../lib/native/loader';
import { IMAGES, SHARED, STANDIN_CONFIG, img } from '../helpers/shared';
import { writePpShituDetModel, writePpShituRecModel } from '../helpers/onnx-fixtures';
import { expectLabel, expectNotLabel } from '../helpers/recognition';
import { CASES, GALLERIES } from '../helpers/recognition-cases';

const LABELS = path.resolve(__dirname, '..', '..', 'examples', 'gallery_labels.txt');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-pipe-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const collect = async (it: AsyncIterable<RecognitionResult>) => { const out: RecognitionResult[] = []; for await (const r of it) out.push(r); return out; };
const galleryLines = fs.readFileSync(LABELS, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split('\t'));

let pipeline: Pipeline;
let index: IndexData;
t.before(async () => {
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 2 });
  index = await pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: LABELS, indexType: 'Flat', metricType: 'IP' });
});
t.teardown(() => pipeline?.close());

t.test('config: reference keys and defaults, strict validation', async (t) => {
  const file = path.join(tmp, 'cfg', 'PP-ShiTuV2.yaml');
  const c = getPipelineConfig('PP-ShiTuV2', file);
  const written = YAML.parse(fs.readFileSync(file, 'utf8'));
  t.same(Object.keys(written), ['pipeline_name', 'index', 'det_threshold', 'rec_threshold', 'rec_topk', 'SubModules']);
  t.same([c.det_threshold, c.rec_threshold, c.rec_topk, c.index], [0.5, 0.5, 5, null]);
  t.equal(c.SubModules.Detection.model_name, 'PP-ShiTuV2_det');
  t.equal(c.SubModules.Recognition.model_name, 'PP-ShiTuV2_rec');
  const bad = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(bad, 'pipeline_name: PP-ShiTuV2\nSubModules:\n  Detection:\n    model_nmae: x\n');
  await t.rejects(createPipeline(bad), { code: 'ERR_CONFIG', message: /SubModules\.Detection\.model_nmae/ });
  fs.writeFileSync(bad, 'det_threshold: high\n');
  await t.rejects(createPipeline(bad), { code: 'ERR_CONFIG', message: /det_threshold/ });
  // Named models that are not installed say how to get them.
  process.env.SHITU_MODEL_HOME = path.join(tmp, 'no-models');
  await t.rejects(createPipeline('PP-ShiTuV2'), { code: 'ERR_MODEL_NOT_FOUND', message: /shitu models fetch PP-ShiTuV2_det/ });
});

t.test('build, predict, save, load, predict again: identical', async (t) => {
  t.equal(index.count, galleryLines.length);
  t.same(index.labels.sort(), [...new Set(galleryLines.map((l) => l[1]))].sort());
  t.equal(index.labelOf(0), '安慕希', 'ids start at 0');
  const inputs = [img('product_demo', 'query', 'anmuxi.jpg'), img('drink_test_images', '100.jpeg'), img('misc', 'dog.jpg')];
  const first = await collect(pipeline.predict(inputs, { index }));
  t.same(first.map((r) => r.inputPath), inputs, 'input order');
  const dir = path.join(tmp, 'idx');
  await index.save(dir);
  t.ok(fs.existsSync(path.join(dir, 'vector.index')) && fs.existsSync(path.join(dir, 'id_map.yaml')));
  const meta = YAML.parse(fs.readFileSync(path.join(dir, 'id_map.yaml'), 'utf8'));
  t.same([meta.index_type, meta.metric_type], ['Flat', 'IP']);
  const loaded = await IndexData.load(dir);
  const again = await collect(pipeline.predict(inputs, { index: dir }));
  t.same(again.map((r) => r.json), first.map((r) => r.json), 'same results from the saved index');
  t.equal(loaded.count, index.count);
  // The query photo of the product is recognised as the product.
  expectLabel(t, first[0].json.res.boxes[0], CASES.queryAnmuxi.expected, CASES.queryAnmuxi.id);
});

t.test('result JSON: the reference shape, key for key', async (t) => {
  const [r] = await collect(pipeline.predict(img('misc', 'dog.jpg'), { index }));
  t.same(Object.keys(r.json), ['res']);
  t.same(Object.keys(r.json.res), ['input_path', 'boxes']);
  for (const b of r.json.res.boxes) {
    t.same(Object.keys(b), ['labels', 'rec_scores', 'det_score', 'coordinate']);
    t.equal(b.coordinate.length, 4);
    t.equal(b.labels.length, b.rec_scores.length);
    t.type(b.det_score, 'number');
  }
  // rec_threshold above every score: labels [null], rec_scores [null].
  const [strict] = await collect(pipeline.predict(img('misc', 'dog.jpg'), { index, recThreshold: 0.999999 }));
  for (const b of strict.json.res.boxes) t.same([b.labels, b.rec_scores], [[null], [null]]);
  // recTopk honoured.
  const [top2] = await collect(pipeline.predict(img('misc', 'dog.jpg'), { index, recTopk: 2, recThreshold: 0 }));
  for (const b of top2.json.res.boxes) t.equal(b.labels.length, 2);
  // print / saveToJson with the reference's options.
  const jsonFile = await r.saveToJson(path.join(tmp, 'out') + '/');
  t.equal(path.basename(jsonFile), 'dog.json');
  t.same(JSON.parse(fs.readFileSync(jsonFile, 'utf8')), r.json);
  const ascii = await r.saveToJson(path.join(tmp, 'ascii.json'), { ensureAscii: true, indent: 2 });
  t.notMatch(fs.readFileSync(ascii, 'utf8'), /[^\x00-\x7f]/);
});

t.test('every gallery image finds its own label first', async (t) => {
  // Detection threshold 1: no box, so the whole image is embedded, like the gallery.
  const files = CASES.galleryOwn.map((c) => img(c.image));
  const results = await collect(pipeline.predict(files, { index, detThreshold: 1 }));
  results.forEach((r, i) => {
    const b = r.json.res.boxes[0];
    t.same(b.coordinate.slice(0, 2), [0, 0], 'whole-image box');
    t.equal(b.det_score, 0);
    expectLabel(t, b, CASES.galleryOwn[i].expected, CASES.galleryOwn[i].id);
    t.ok((b.rec_scores[0] as number) > 0.999, 'its own vector, cosine 1');
  });
});

t.test('append then remove changes the answers; ids never reused', async (t) => {
  const idx = await pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: LABELS, indexType: 'Flat' });
  const [kitchenFile, kitchenLabel] = GALLERIES.quickStartKitchen[GALLERIES.quickStartKitchen.length - 1];
  const kitchen = img(kitchenFile);
  const before = (await pipeline.recognize(kitchen, { index: idx, detThreshold: 1 })).json.res.boxes[0];
  expectNotLabel(t, before, kitchenLabel, 'before the append');
  await pipeline.appendIndex({ galleryImgs: [kitchen], galleryLabel: [kitchenLabel], index: idx });
  const newId = idx.nextId - 1;
  t.equal(newId, galleryLines.length, 'appended after the last id');
  const after = (await pipeline.recognize(kitchen, { index: idx, detThreshold: 1 })).json.res.boxes[0];
  expectLabel(t, after, CASES.kitchenAppended.expected, `${CASES.kitchenAppended.id} (a label with a space)`);
  await pipeline.removeIndex({ removeIds: [newId], index: idx });
  const removed = (await pipeline.recognize(kitchen, { index: idx, detThreshold: 1 })).json.res.boxes[0];
  expectNotLabel(t, removed, kitchenLabel, 'after the remove');
  await pipeline.appendIndex({ galleryImgs: [kitchen], galleryLabel: ['kitchen again'], index: idx });
  t.equal(idx.nextId - 1, newId + 1, 'the removed id is not reused');
  // Through a file of ids, and unknown ids reported without removing anything.
  const idsFile = path.join(tmp, 'remove_ids.txt');
  fs.writeFileSync(idsFile, `# ids\n${newId + 1}\n`);
  await pipeline.removeIndex({ removeIds: idsFile, index: idx });
  const count = idx.count;
  await t.rejects(pipeline.removeIndex({ removeIds: [0, 9999], index: idx }), { code: 'ERR_INDEX_ID', message: /9999/ });
  t.equal(idx.count, count, 'nothing removed');
});

t.test('HNSW32 removes (beyond the reference), IVF works for tiny galleries, L2 ranks the right way', async (t) => {
  const three = GALLERIES.drinks.map(([p]) => img(p));
  const labels = GALLERIES.drinks.map(([, l]) => l);
  const hnsw = await pipeline.buildIndex({ galleryImgs: three, galleryLabel: labels, indexType: 'HNSW32' });
  await pipeline.removeIndex({ removeIds: [1], index: hnsw });
  t.equal(hnsw.count, 2);
  const r = await pipeline.recognize(three[1], { index: hnsw, detThreshold: 1, recThreshold: 0 });
  expectNotLabel(t, r.json.res.boxes[0], labels[1], 'removed entry no longer found');
  const dir = path.join(tmp, 'hnsw');
  await hnsw.save(dir);
  const reloaded = await IndexData.load(dir);
  t.equal(reloaded.count, 2, 'compacted on save');
  t.same(reloaded.idMapEntries.map((e) => e[0]), [0, 2], 'ids kept');

  const ivf = await pipeline.buildIndex({ galleryImgs: three, galleryLabel: labels, indexType: 'IVF' });
  const ri = await pipeline.recognize(img(CASES.ivfOwn.image), { index: ivf, detThreshold: 1, nprobe: 4 });
  expectLabel(t, ri.json.res.boxes[0], CASES.ivfOwn.expected, CASES.ivfOwn.id);

  const l2 = await pipeline.buildIndex({ galleryImgs: three, galleryLabel: labels, indexType: 'Flat', metricType: 'L2' });
  const rl = await pipeline.recognize(img(CASES.l2Own.image), { index: l2, detThreshold: 1, recThreshold: 0.5 });
  const b = rl.json.res.boxes[0];
  expectLabel(t, b, CASES.l2Own.expected, `${CASES.l2Own.id}: nearest first`, 'L2');
  t.ok((b.rec_scores[0] as number) < 1e-4, 'squared distance 0 to itself');
  for (let i = 1; i < b.rec_scores.length; i++) t.ok((b.rec_scores[i] as number) >= (b.rec_scores[i - 1] as number), 'distances ascend');
  const far = await pipeline.recognize(three[0], { index: l2, detThreshold: 1, recThreshold: -1 });
  t.same(far.json.res.boxes[0].labels, [null], 'a max distance below every distance matches nothing');
});

t.test('the PaddleClas drink index loads', async (t) => {
  const drink = await IndexData.load(path.join(SHARED, 'data', 'paddleclas_drink_index'));
  t.equal(drink.count, 987);
  t.equal(drink.dim, 512);
  t.equal(drink.labels.length, 196);
  t.same([drink.indexType, drink.metricType], ['HNSW32', 'IP']);
  t.equal(drink.labelOf(0), '脉动');
  // A 1280-d feature model cannot search a 512-d index.
  await t.rejects(collect(pipeline.predict(img('misc', 'dog.jpg'), { index: drink })), { code: 'ERR_INDEX_DIM' });
});

t.test('inputs: Buffer, raw pixels, directory, URL, lists in order', async (t) => {
  const dogBytes = fs.readFileSync(img('misc', 'dog.jpg'));
  const decoded = await native.decodeImage(dogBytes);
  const server = http.createServer((req, res) => {
    if (req.url === '/dog.jpg') { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(dogBytes); }
    else if (req.url === '/redirect') { res.writeHead(302, { location: '/dog.jpg' }); res.end(); }
    else { res.writeHead(404); res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as any).port}`;
  const results = await collect(pipeline.predict([
    img('misc', 'dog.jpg'),
    dogBytes,
    { data: decoded.data, width: decoded.width, height: decoded.height, channels: 3, channelOrder: 'bgr' as const },
    `${base}/redirect`,
    path.join(IMAGES, 'product_demo', 'query'),
  ], { index }));
  t.equal(results.length, 6, 'the directory expands to its 2 images');
  t.same(results.map((r) => r.inputPath), [img('misc', 'dog.jpg'), null, null, `${base}/redirect`,
    img('product_demo', 'query', 'anmuxi.jpg'), img('product_demo', 'query', 'daoxiangcunjinzhubing_6.jpg')]);
  const boxes = results.slice(0, 4).map((r) => JSON.stringify(r.json.res.boxes));
  t.equal(new Set(boxes).size, 1, 'path, Buffer, raw pixels and URL give the same answer');
  await t.rejects(collect(pipeline.predict(`${base}/missing.jpg`, { index })), { code: 'ERR_FETCH', message: /404/ });
});

t.test('saveToImg draws each box; the picture decodes', async (t) => {
  const [r] = await collect(pipeline.predict(img('drink_test_images', '100.jpeg'), { index }));
  const file = await r.saveToImg(path.join(tmp, 'vis'));
  t.equal(path.basename(file), '100_res.jpeg');
  const out = await native.decodeImage(file);
  const input = await native.decodeImage(img('drink_test_images', '100.jpeg'));
  t.same([out.width, out.height], [input.width, input.height]);
  for (const b of r.json.res.boxes) {
    // Along the top edge of each box the outline changes the pixels.
    const [x1, y1, x2] = b.coordinate.map(Math.round);
    let diff = 0;
    for (let x = x1 + 2; x < x2 - 2; x++) {
      const o = (Math.min(y1 + 1, out.height - 1) * out.width + x) * 3;
      diff += Math.abs(out.data[o] - input.data[o]) + Math.abs(out.data[o + 1] - input.data[o + 1]) + Math.abs(out.data[o + 2] - input.data[o + 2]);
    }
    t.ok(diff / Math.max(1, x2 - x1 - 4) > 20, `box at ${x1},${y1} is drawn`);
  }
  // Kept picture (no second decode) and re-decoded input draw the same thing.
  const [kept] = await collect(pipeline.predict(img('drink_test_images', '100.jpeg'), { index, keepImage: true }));
  t.same(await kept.image('.png'), await r.image('.png'), 'keepImage only saves a decode');
  const jpg = await r.img;
  t.equal((await native.decodeImage(jpg)).width, input.width);
});

t.test('bad inputs give clear errors and lose nothing', async (t) => {
  const labels = path.join(tmp, 'bad_labels.txt');
  fs.writeFileSync(labels, 'misc/dog.jpg dog\nmisc/nope.jpg ghost\n\n# comment\nmisc/also-missing.png other\n');
  const gallErr = (await pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: labels }).catch((e) => e)) as ShituError;
  t.equal(gallErr.code, 'ERR_GALLERY');
  t.match(gallErr.message, /nope\.jpg/, 'every missing image is listed');
  t.match(gallErr.message, /also-missing\.png/);
  t.equal((gallErr.details as unknown[]).length, 2);
  fs.writeFileSync(labels, 'misc/dog.jpg\n');
  await t.rejects(pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: labels }), { code: 'ERR_GALLERY', message: /line 1/ });
  await t.rejects(collect(pipeline.predict(path.join(tmp, 'missing.jpg'), { index })), { code: 'ERR_IMAGE_MISSING' });
  await t.rejects(collect(pipeline.predict(Buffer.from('not an image'), { index })), { code: 'ERR_IMAGE_DECODE' });
  await t.rejects(IndexData.load(path.join(tmp, 'no-index')), { code: 'ERR_INDEX_IO' });
  await t.rejects(collect(pipeline.predict(img('misc', 'dog.jpg'), { index, detThreshold: 2 })), RangeError);
  await t.rejects(collect(pipeline.predict(img('misc', 'dog.jpg'), { index, recTopk: 0 })), RangeError);
  await t.rejects(collect(pipeline.predict(img('misc', 'dog.jpg'), { index, efSearch: 0 })), RangeError);
  await t.rejects(collect(pipeline.predict({ data: new Uint8Array(3), width: 2, height: 2, channels: 3 }, { index })), RangeError);
  await t.rejects(pipeline.buildIndex({ galleryImgs: [img('misc', 'dog.jpg')], galleryLabel: ['a', 'b'] }), RangeError);
  await t.rejects(pipeline.buildIndex({ galleryImgs: [img('misc', 'dog.jpg')], galleryLabel: ['a'], indexType: 'LSH' as any }), RangeError);
  // Labels that do not match the vectors.
  const dir = path.join(tmp, 'mismatch');
  await index.save(dir);
  const metaFile = path.join(dir, 'id_map.yaml');
  const meta = YAML.parse(fs.readFileSync(metaFile, 'utf8'));
  delete meta.id_map[0];
  fs.writeFileSync(metaFile, YAML.stringify(meta));
  await t.rejects(IndexData.load(dir), { code: 'ERR_INDEX_CORRUPT' });
  // A save that cannot complete leaves the previous index intact.
  const good = path.join(tmp, 'good');
  await index.save(good);
  const blocker = path.join(tmp, 'blocker');
  fs.writeFileSync(blocker, 'a file, not a directory');
  await t.rejects(index.save(path.join(blocker, 'sub')), { code: 'ERR_INDEX_IO' });
  t.equal((await IndexData.load(good)).count, index.count);
  // Concurrent appends on one index: nothing lost, ids distinct.
  const idx = await pipeline.buildIndex({ galleryImgs: [img('misc', 'dog.jpg')], galleryLabel: ['dog'], indexType: 'Flat' });
  await Promise.all(Array.from({ length: 5 }, (_, i) =>
    pipeline.appendIndex({ galleryImgs: [img('misc', 'bus.jpg')], galleryLabel: [`bus ${i}`], index: idx })));
  t.equal(idx.count, 6);
  t.same(idx.idMapEntries.map((e) => e[0]), [0, 1, 2, 3, 4, 5]);
});

t.test('the PP-ShiTuV2 signatures through the whole pipeline', async (t) => {
  writePpShituDetModel(path.join(tmp, 'PP-ShiTuV2_det'));
  writePpShituRecModel(path.join(tmp, 'PP-ShiTuV2_rec'));
  const cfg = path.join(tmp, 'ppshitu.yaml');
  fs.writeFileSync(cfg, YAML.stringify({
    pipeline_name: 'PP-ShiTuV2',
    SubModules: {
      Detection: { model_name: 'PP-ShiTuV2_det', model_dir: './PP-ShiTuV2_det', batch_size: 1 },
      Recognition: { model_name: 'PP-ShiTuV2_rec', model_dir: './PP-ShiTuV2_rec', batch_size: 1 },
    },
  }));
  const p = await createPipeline(cfg, { threads: 1 });
  t.teardown(() => p.close());
  t.equal(p.featureDim, 512);
  const idx = await p.buildIndex({ galleryImgs: [img('misc', 'dog.jpg'), img('misc', 'bus.jpg')], galleryLabel: ['dog', 'bus'] });
  const r = await p.recognize(img('misc', 'bus.jpg'), { index: idx });
  // The generated detector returns two boxes above 0.5, scaled by scale_factor.
  t.equal(r.json.res.boxes.length, 2);
  t.ok(r.json.res.boxes.every((b) => b.coordinate[2] <= 810 && b.coordinate[3] <= 1080));
});

t.test('CLI: build-index and predict from a shell', async (t) => {
  const cli = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
  const run = promisify(execFile);
  const out = path.join(tmp, 'cli-index');
  await run(process.execPath, [cli, 'build-index', '--config', STANDIN_CONFIG, '--gallery', IMAGES, '--labels', LABELS, '--out', out, '--index-type', 'Flat']);
  t.ok(fs.existsSync(path.join(out, 'vector.index')));
  const { stdout } = await run(process.execPath, [cli, 'predict', '--config', STANDIN_CONFIG, '--index', out, img(CASES.queryAnmuxi.image)]);
  const json = JSON.parse(stdout);
  t.same(Object.keys(json.res), ['input_path', 'boxes']);
  expectLabel(t, json.res.boxes[0], CASES.queryAnmuxi.expected, `CLI: ${CASES.queryAnmuxi.id}`);
  const err = await run(process.execPath, [cli, 'predict', '--config', STANDIN_CONFIG, '--index', out, path.join(tmp, 'missing.jpg')]).catch((e) => e);
  t.equal(err.code, 1, 'non-zero exit');
  t.match(err.stderr, /ERR_IMAGE_MISSING/);
  const help = await run(process.execPath, [cli, 'build-index', '--help']);
  t.match(help.stdout, /--index-type/);
});

t.test('gallery options: progress events, crop by detection, Mat and raw inputs', async (t) => {
  const files = galleryLines.slice(0, 6).map((l) => path.join(IMAGES, l[0]));
  const seen: Array<{ done: number; total: number }> = [];
  const whole = await pipeline.buildIndex({ galleryImgs: files, galleryLabel: files.map(() => 'anmuxi'), indexType: 'Flat', onProgress: (p) => seen.push(p) });
  t.ok(seen.length >= 1);
  t.same(seen[seen.length - 1], { done: 6, total: 6 }, 'progress reaches the total');
  const cropped = await pipeline.buildIndex({ galleryImgs: files, galleryLabel: files.map(() => 'anmuxi'), indexType: 'Flat', cropByDetection: true });
  t.equal(cropped.count, 6);
  // Cropping changes what is embedded: the stored vectors differ.
  const a = whole.native.reconstruct(0), b = cropped.native.reconstruct(0);
  t.notSame(Array.from(a), Array.from(b));
  // An opencv4nodejs-style Mat (BGR rows x cols x channels with getData()).
  const d = await native.decodeImage(img('misc', 'dog.jpg'));
  const mat = { rows: d.height, cols: d.width, channels: 3, getData: () => d.data };
  const [fromMat] = await collect(pipeline.predict(mat, { index }));
  const [fromPath] = await collect(pipeline.predict(img('misc', 'dog.jpg'), { index }));
  t.same(fromMat.json.res.boxes, fromPath.json.res.boxes);
  t.equal(fromMat.json.res.input_path, null);
  const matIndex = await pipeline.buildIndex({ galleryImgs: [mat], galleryLabel: ['dog'], indexType: 'Flat' });
  t.equal(matIndex.count, 1);
});

t.test('a closed pipeline refuses work', async (t) => {
  const p = await createPipeline(STANDIN_CONFIG, { threads: 1, warmup: false });
  await p.close();
  await t.rejects(collect(p.predict(img('misc', 'dog.jpg'))), { code: 'ERR_CLOSED' });
});

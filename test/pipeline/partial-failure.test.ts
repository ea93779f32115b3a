// Partial failure, reported: buildIndex/appendIndex onError 'skip' leave an
// unusable gallery image out and list it ('fail', the default, rejects over
// it); the CLI's --on-error skip warns once per image and exits 0; the
// service's build/add answer lists the skipped images; predict(list,
// { onError: 'yield' }) yields a result carrying the error and goes on.
// A corrupt file written to a temporary directory beside the shared photos.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { AddressInfo } from 'node:net';
import { createPipeline, createServer, IndexData, Pipeline, RecognitionResult, ShituError } from '../../lib/index';
import { IMAGES, STANDIN_CONFIG, img } from '../helpers/shared';
import { expectLabel } from '../helpers/recognition';
import { CASES, GALLERIES } from '../helpers/recognition-cases';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-partial-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const CLI = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');

// A gallery directory: links to the quick start's photos, and one corrupt JPEG among them.
const root = path.join(tmp, 'gallery');
const good = GALLERIES.quickStart;
fs.mkdirSync(root);
good.forEach(([rel], i) => fs.symlinkSync(path.join(IMAGES, rel), path.join(root, `${i}${path.extname(rel)}`)));
const corrupt = path.join(root, 'corrupt.jpg');
fs.writeFileSync(corrupt, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not really a JPEG after its first bytes')]));
const lines = good.map(([rel, label], i) => `${i}${path.extname(rel)}\t${label}`);
lines.splice(3, 0, 'corrupt.jpg\tbroken');
const labelFile = path.join(tmp, 'labels.txt');
fs.writeFileSync(labelFile, lines.join('\n') + '\n');
const files = lines.map((l) => path.join(root, l.split('\t')[0]));
const labels = lines.map((l) => l.split('\t')[1]);

let pipeline: Pipeline;
t.before(async () => {
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 });
});
t.teardown(() => pipeline?.close());

t.test("buildIndex: 'fail' rejects over the corrupt file, 'skip' builds the rest and lists it", async (t) => {
  const e = await pipeline.buildIndex({ galleryImgs: root, galleryLabel: labelFile, indexType: 'Flat' }).catch((x) => x);
  t.ok(e instanceof ShituError);
  t.equal(e.code, 'ERR_GALLERY');
  t.same(e.details.map((d: { image: string }) => d.image), [corrupt]);

  const { index, skipped } = await pipeline.buildIndex({ galleryImgs: root, galleryLabel: labelFile, indexType: 'Flat', onError: 'skip' });
  t.ok(index instanceof IndexData);
  t.equal(index.count, good.length, 'every other image is in');
  t.notOk(index.labels.includes('broken'));
  t.same(index.idMapEntries.map(([, l]) => l), good.map(([, l]) => l), 'labels in gallery order, ids dense');
  t.equal(skipped.length, 1);
  t.equal(skipped[0].path, corrupt);
  t.equal(skipped[0].code, 'ERR_IMAGE_DECODE');
  t.match(skipped[0].message, /decode/);
  const r = await pipeline.recognize(img(CASES.queryAnmuxi.image), { index });
  expectLabel(t, r.boxes[0], CASES.queryAnmuxi.expected, 'the index built from the rest recognises');

  // Images as bytes: the skipped one is named by its place.
  const bytes = files.map((f) => fs.readFileSync(f));
  const fromBytes = await pipeline.buildIndex({ galleryImgs: bytes, galleryLabel: labels, indexType: 'Flat', onError: 'skip' });
  t.same(fromBytes.skipped.map((s) => [s.path, s.code]), [['#3', 'ERR_IMAGE_DECODE']]);
  t.equal(fromBytes.index.count, good.length);
  // A clean gallery skips nothing; 'fail' and no option answer the index itself.
  const clean = await pipeline.buildIndex({ galleryImgs: files.filter((f) => f !== corrupt), galleryLabel: labels.filter((l) => l !== 'broken'), indexType: 'Flat', onError: 'skip' });
  t.same(clean.skipped, []);
  t.ok((await pipeline.buildIndex({ galleryImgs: [files[0]], galleryLabel: ['a'], indexType: 'Flat', onError: 'fail' })) instanceof IndexData);
  await t.rejects(pipeline.buildIndex({ galleryImgs: root, galleryLabel: labelFile, onError: 'ignore' as never }), { name: 'TypeError', message: /^onError must be "fail" or "skip", got "ignore"/ });
});

t.test("appendIndex 'skip': the good images are added to the same index, the bad one listed", async (t) => {
  const index = await pipeline.buildIndex({ galleryImgs: [files[0]], galleryLabel: [labels[0]], indexType: 'Flat' });
  const r = await pipeline.appendIndex({ index, galleryImgs: root, galleryLabel: labelFile, onError: 'skip' });
  t.equal(r.index, index, 'the index given is the one answered');
  t.equal(index.count, 1 + good.length);
  t.same(r.skipped.map((s) => s.path), [corrupt]);
  await t.rejects(pipeline.appendIndex({ index, galleryImgs: root, galleryLabel: labelFile }), { code: 'ERR_GALLERY' });
  t.equal(index.count, 1 + good.length, "'fail' added nothing");
});

t.test("predict onError 'yield': a result with the error for each bad item, the others recognised", async (t) => {
  const missing = path.join(tmp, 'missing.jpg');
  const list = [img(CASES.queryAnmuxi.image), corrupt, missing, fs.readFileSync(corrupt), 42 as never, img('drink_test_images', '100.jpeg')];
  const out: RecognitionResult[] = [];
  for await (const r of pipeline.predict(list, { onError: 'yield' })) out.push(r);
  t.equal(out.length, list.length, 'one result per item, in order');
  t.same(out.map((r) => r.error?.code ?? null), [null, 'ERR_IMAGE_DECODE', 'ERR_IMAGE_MISSING', 'ERR_IMAGE_DECODE', 'ERR_INPUT', null]);
  t.same(out.map((r) => r.error?.input ?? null), [null, corrupt, missing, '#3', '#4', null]);
  t.match(out[4].error!.message, /input #4 must be/);
  for (const i of [1, 2, 3, 4]) t.same(out[i].boxes, [], `item ${i}: no boxes`);
  t.ok(out[0].boxes.length > 0 && out[5].boxes.length > 0, 'the good items are recognised');
  t.equal(out[1].inputPath, corrupt);
  // Default: the iteration ends with the first bad item's error, after the items before it.
  const seen: RecognitionResult[] = [];
  const e = await (async () => { for await (const r of pipeline.predict(list)) seen.push(r); })().catch((x) => x);
  t.equal(seen.length, 1);
  t.equal(e.code, 'ERR_IMAGE_DECODE');
  await t.rejects((async () => { for await (const _ of pipeline.predict(list, { onError: 'skip' as never })) break; })(), { name: 'TypeError', message: /^onError must be "throw" or "yield"/ });
});

t.test('CLI: --on-error skip warns once per skipped image and exits 0', async (t) => {
  const out = path.join(tmp, 'cli-index');
  const base = ['--config', STANDIN_CONFIG, '--gallery', root, '--labels', labelFile];
  const failed = spawnSync(process.execPath, [CLI, 'build-index', ...base, '--out', out, '--index-type', 'Flat'], { encoding: 'utf8' });
  t.not(failed.status, 0, 'fail (default): non-zero exit');
  t.match(failed.stderr, /ERR_GALLERY/);
  t.notOk(fs.existsSync(out), 'nothing written');
  const r = spawnSync(process.execPath, [CLI, 'build-index', ...base, '--out', out, '--index-type', 'Flat', '--on-error', 'skip'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  t.equal(warnings.length, 1);
  t.match(warnings[0], `warning: skipped ${corrupt}: ERR_IMAGE_DECODE: `);
  t.equal((await IndexData.load(out)).count, good.length);
  const a = spawnSync(process.execPath, [CLI, 'append-index', ...base, '--index', out, '--on-error', 'skip'], { encoding: 'utf8' });
  t.equal(a.status, 0, a.stderr);
  t.equal(a.stderr.split('\n').filter((l) => l.startsWith('warning: skipped')).length, 1);
  t.equal((await IndexData.load(out)).count, 2 * good.length);
  const bad = spawnSync(process.execPath, [CLI, 'build-index', ...base, '--out', out, '--on-error', 'maybe'], { encoding: 'utf8' });
  t.equal(bad.status, 2, 'a usage error');
  t.match(bad.stderr, /--on-error/);
});

t.test("service: build and add with onError 'skip' list the skipped images", async (t) => {
  const app = createServer(pipeline, { indexDir: path.join(tmp, 'indexes') });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const post = async (route: string, body: unknown) => {
    const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  const pairs = files.slice(0, 5).map((f, i) => ({ image: fs.readFileSync(f).toString('base64'), label: labels[i] }));
  const refused = await post('/shitu-index-build', { imageLabelPairs: pairs });
  t.equal(refused.status, 400, 'fail (default): as before');
  t.match(refused.body.errorMsg, /imageLabelPairs\[3\]\.image: cannot decode/);
  const built = await post('/shitu-index-build', { imageLabelPairs: pairs, onError: 'skip' });
  t.equal(built.status, 200, built.body.errorMsg);
  t.same(Object.values(built.body.result.idMap), labels.slice(0, 5).filter((l) => l !== 'broken'));
  t.same(built.body.result.skipped.map((s: { image: string; code: string }) => [s.image, s.code]), [['imageLabelPairs[3].image', 'ERR_IMAGE_DECODE']]);
  t.match(built.body.result.skipped[0].message, /^cannot decode image/);
  const added = await post('/shitu-index-add', { indexKey: built.body.result.indexKey, imageLabelPairs: [pairs[3], pairs[4]], onError: 'skip' });
  t.equal(added.status, 200, added.body.errorMsg);
  t.equal(Object.keys(added.body.result.idMap).length, 5);
  t.same(added.body.result.skipped.map((s: { image: string }) => s.image), ['imageLabelPairs[0].image']);
  // Without onError the answer keeps PaddleX's fields only.
  const plain = await post('/shitu-index-add', { indexKey: built.body.result.indexKey, imageLabelPairs: [pairs[4]] });
  t.same(Object.keys(plain.body.result), ['idMap']);
  const invalid = await post('/shitu-index-build', { imageLabelPairs: pairs, onError: 'ignore' });
  t.equal(invalid.status, 422);
  t.match(invalid.body.errorMsg, /onError/);
});

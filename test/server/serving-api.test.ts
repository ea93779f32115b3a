// The HTTP service (lib/server/app.ts) against the PP-ShiTuV2 serving API: the
// reference client's flow (build, add, remove, infer), persistence across a
// restart, every error status, admission control (503 + Retry-After,
// cancellation of queued work, draining on close) and concurrent writes.
// A real server on 127.0.0.1:0 over the stand-in pipeline; Node's fetch is the client.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ServerOptions, ShituServer } from '../../lib/server/app';
import { native } from '../../lib/native/loader';

import { SHARED as shared } from '../helpers/shared';
import { expectLabel, expectSameRecognition } from '../helpers/recognition';
import { CASES, GALLERIES } from '../helpers/recognition-cases';
const img = (rel: string) => path.join(shared, 'data/images', rel);
const b64 = (rel: string) => fs.readFileSync(img(rel)).toString('base64');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function post(base: string, route: string, body: unknown, signal?: AbortSignal): Promise<Reply> {
  const res = await fetch(base + route, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), signal,
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function get(base: string, route: string): Promise<Reply> {
  const res = await fetch(base + route);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** Waits (without a deadline of its own: tap's timeout bounds it) until cond() holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** Holds every slot of the server's limiter until released: deterministic queueing. */
function holdSlots(app: ShituServer): () => void {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  for (let i = 0; i < app.shitu.limiter.maxConcurrent; i++) void app.shitu.limiter.run(() => gate);
  return release;
}

function expectError(t: Test, r: Reply, status: number, pattern: RegExp) {
  t.equal(r.status, status, `HTTP ${status}: ${r.body.errorMsg}`);
  t.equal(r.body.errorCode, status);
  t.match(r.body.logId, UUID);
  t.match(r.body.errorMsg, pattern);
  t.notOk('result' in r.body);
}

let pipeline: Pipeline;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-server-'));
const indexDir = path.join(tmp, 'indexes');

async function start(o: Partial<ServerOptions> = {}): Promise<{ app: ShituServer; base: string }> {
  const app = createServer(pipeline, { indexDir, bodyLimit: 2 * 1024 * 1024, ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

t.before(async () => {
  pipeline = await createPipeline(path.resolve(__dirname, '../../models/standin.yaml'), { threads: 1 });
});
t.teardown(async () => {
  await pipeline?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// GALLERIES.service is what remains after the flow below: these three, plus 002.jpg, less mosilian.
const buildPairs = () => [
  { image: b64('product_demo/gallery/anmuxi/001.jpg'), label: 'anmuxi' },
  { image: b64('drink_test_images/mosilian.jpeg'), label: 'mosilian' },
  { image: b64('drink_test_images/nongfu_spring.jpeg'), label: 'nongfu_spring' },
];

let key = '';
let inferBefore: any;

t.test('the reference client flow: build, add, remove, infer', async (t) => {
  const { app, base } = await start();
  t.teardown(() => app.close());

  const built = await post(base, '/shitu-index-build', { imageLabelPairs: buildPairs() });
  t.equal(built.status, 200);
  t.equal(built.body.errorCode, 0);
  t.equal(built.body.errorMsg, 'Success');
  t.match(built.body.logId, UUID);
  t.match(built.body.result.indexKey, UUID);
  t.same(built.body.result.idMap, { 0: 'anmuxi', 1: 'mosilian', 2: 'nongfu_spring' });
  key = built.body.result.indexKey;
  t.ok(fs.existsSync(path.join(indexDir, key, 'vector.index')), 'saved under indexDir/<indexKey>/');
  t.ok(fs.existsSync(path.join(indexDir, key, 'id_map.yaml')));

  const added = await post(base, '/shitu-index-add', { imageLabelPairs: [{ image: b64('product_demo/gallery/anmuxi/002.jpg'), label: 'anmuxi' }], indexKey: key });
  t.equal(added.status, 200);
  t.equal(added.body.errorCode, 0);
  t.same(added.body.result, { idMap: { 0: 'anmuxi', 1: 'mosilian', 2: 'nongfu_spring', 3: 'anmuxi' } });

  const removed = await post(base, '/shitu-index-remove', { ids: [1], indexKey: key });
  t.equal(removed.status, 200);
  t.same(removed.body.result, { idMap: { 0: 'anmuxi', 2: 'nongfu_spring', 3: 'anmuxi' } });

  const query = fs.readFileSync(img(CASES.serviceAnmuxi.image));
  const inferred = await post(base, '/shitu-infer', { image: query.toString('base64'), indexKey: key });
  t.equal(inferred.status, 200);
  t.equal(inferred.body.errorCode, 0);
  const r = inferred.body.result;
  t.same(Object.keys(r).sort(), ['detectedObjects', 'image']);
  t.ok(r.detectedObjects.length >= 1, 'at least one object');
  for (const o of r.detectedObjects) {
    t.same(Object.keys(o).sort(), ['bbox', 'recResults', 'score']);
    t.equal(o.bbox.length, 4);
    t.ok(o.bbox.every((v: unknown) => typeof v === 'number'));
    t.ok(o.bbox[0] <= o.bbox[2] && o.bbox[1] <= o.bbox[3]);
    t.type(o.score, 'number');
    for (const rr of o.recResults) {
      t.same(Object.keys(rr).sort(), ['label', 'score']);
      t.ok(GALLERIES.service.some(([, l]) => l === rr.label), 'only labels still in the index');
    }
  }
  expectLabel(t, r.detectedObjects[0], CASES.serviceAnmuxi.expected, `${CASES.serviceAnmuxi.id}: the query is recognised`);
  t.ok(r.detectedObjects[0].recResults[0].score >= 0.5);
  // The returned picture: a JPEG of the query's size.
  const pic = Buffer.from(r.image, 'base64');
  t.same([...pic.subarray(0, 2)], [0xff, 0xd8], 'JPEG');
  const decoded = await native.decodeImage(pic);
  const original = await native.decodeImage(query);
  t.same([decoded.width, decoded.height], [original.width, original.height]);
  inferBefore = r.detectedObjects;

  // Same answer as the library.
  const lib = await pipeline.recognize(query, { index: path.join(indexDir, key) });
  t.same(r.detectedObjects.map((o: any) => o.bbox), lib.boxes.map((b) => b.coordinate));
  expectSameRecognition(t, r.detectedObjects, lib.boxes, 'the service against the library', { minIou: 0.999 });

  // topk is honoured (the reference ignores it).
  const top1 = await post(base, '/shitu-infer', { image: query.toString('base64'), indexKey: key, topk: 1, returnImage: false });
  t.equal(top1.status, 200);
  t.equal(top1.body.result.image, null, 'returnImage false: image null');
  for (const o of top1.body.result.detectedObjects) t.ok(o.recResults.length <= 1);
  const top2 = await post(base, '/shitu-infer', { image: query.toString('base64'), indexKey: key, topk: 2, returnImage: false });
  t.equal(top2.body.result.detectedObjects[0].recResults.length, 2);
  const top3 = await post(base, '/shitu-infer', { image: query.toString('base64'), indexKey: key, topk: 3, returnImage: false });
  t.equal(top3.body.result.detectedObjects[0].recResults.length, 3);

  // Nothing passes a high recThreshold: recResults empty (the reference would say "None").
  const none = await post(base, '/shitu-infer', { image: query.toString('base64'), indexKey: key, recThreshold: 0.999, returnImage: false });
  t.equal(none.status, 200);
  t.ok(none.body.result.detectedObjects.length >= 1);
  for (const o of none.body.result.detectedObjects) t.same(o.recResults, []);
});

t.test('indexes survive a restart', async (t) => {
  const { app, base } = await start();
  t.teardown(() => app.close());
  const again = await post(base, '/shitu-infer', { image: b64('product_demo/query/anmuxi.jpg'), indexKey: key });
  t.equal(again.status, 200);
  t.same(again.body.result.detectedObjects, inferBefore, 'same answer after the restart');
  // Ids are never reused: the removed id 1 stays gone, the next id is 4.
  const added = await post(base, '/shitu-index-add', { imageLabelPairs: [{ image: b64('drink_test_images/youjia.jpeg'), label: 'youjia' }], indexKey: key });
  t.equal(added.status, 200);
  t.same(added.body.result.idMap, { 0: 'anmuxi', 2: 'nongfu_spring', 3: 'anmuxi', 4: 'youjia' });
});

t.test('a default index serves requests without indexKey', async (t) => {
  const { app, base } = await start({ defaultIndexKey: key });
  t.teardown(() => app.close());
  const r = await post(base, '/shitu-infer', { image: b64('product_demo/query/anmuxi.jpg'), returnImage: false });
  t.equal(r.status, 200);
  // The same answer as naming the key (which labels win depends on the stand-in features).
  const named = await post(base, '/shitu-infer', { image: b64('product_demo/query/anmuxi.jpg'), indexKey: key, returnImage: false });
  t.ok(r.body.result.detectedObjects.length >= 1);
  t.same(r.body.result.detectedObjects, named.body.result.detectedObjects);
});

t.test('without indexKey or default key, infer uses the pipeline config\'s index', async (t) => {
  const dir = path.join(tmp, 'config-index');
  const idx = await pipeline.buildIndex({ galleryImgs: GALLERIES.configIndex.map(([p]) => img(p)), galleryLabel: GALLERIES.configIndex.map(([, l]) => l), indexType: 'Flat' });
  await idx.save(dir);
  const withIndex = await createPipeline(path.resolve(__dirname, '../../models/standin.yaml'), { threads: 1, warmup: false, config: { index: dir } });
  const app = createServer(withIndex, { indexDir });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => { await app.close(); await withIndex.close(); });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const r = await post(base, '/shitu-infer', { image: b64(CASES.configAnmuxi.image), returnImage: false, recThreshold: CASES.configAnmuxi.recThreshold });
  t.equal(r.status, 200);
  expectLabel(t, r.body.result.detectedObjects[0], CASES.configAnmuxi.expected, CASES.configAnmuxi.id);
  // Adds still need a key: the config's index is read-only here.
  expectError(t, await post(base, '/shitu-index-add', { imageLabelPairs: buildPairs().slice(0, 1) }), 400, /indexKey/);
});

t.test('image URLs are fetched', async (t) => {
  const files = http.createServer((req, res) => {
    if (req.url === '/anmuxi.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(fs.readFileSync(img('product_demo/query/anmuxi.jpg')));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => files.close(() => r())));
  const fport = (files.address() as AddressInfo).port;
  // Loopback is refused by the SSRF guard unless the operator allows it.
  const { app, base } = await start({ fetch: { guard: { allow: ['127.0.0.1'] } } });
  t.teardown(() => app.close());
  const ok = await post(base, '/shitu-infer', { image: `http://127.0.0.1:${fport}/anmuxi.jpg`, indexKey: key, returnImage: false });
  t.equal(ok.status, 200);
  const inline = await post(base, '/shitu-infer', { image: b64('product_demo/query/anmuxi.jpg'), indexKey: key, returnImage: false });
  t.ok(ok.body.result.detectedObjects.length >= 1);
  t.same(ok.body.result.detectedObjects, inline.body.result.detectedObjects, 'the fetched image gives the inline answer');
  const missing = await post(base, '/shitu-index-add', {
    imageLabelPairs: [{ image: b64('drink_test_images/youjia.jpeg'), label: 'x' }, { image: `http://127.0.0.1:${fport}/missing.jpg`, label: 'y' }],
    indexKey: key,
  });
  expectError(t, missing, 400, /^imageLabelPairs\[1\]\.image: .*HTTP 404/);
});

t.test('errors: status codes and envelopes', async (t) => {
  const { app, base } = await start();
  t.teardown(() => app.close());
  const query = b64('product_demo/query/anmuxi.jpg');

  // 422: validation errors name the field.
  expectError(t, await post(base, '/shitu-infer', { indexKey: key }), 422, /^image: is required/);
  expectError(t, await post(base, '/shitu-infer', { image: query, indexKey: key, topk: 0 }), 422, /^topk: /);
  expectError(t, await post(base, '/shitu-infer', { image: query, indexKey: key, detThreshold: 'high' }), 422, /^detThreshold: must be number/);
  expectError(t, await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: query, label: 'a' }, { image: query }] }), 422, /^imageLabelPairs\[1\]\.label: is required/);
  expectError(t, await post(base, '/shitu-index-build', { imageLabelPairs: [] }), 422, /^imageLabelPairs: /);
  expectError(t, await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: query, label: ' ' }] }), 422, /^imageLabelPairs\[0\]\.label: must not be blank/);
  expectError(t, await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: query, label: 'a' }], indexType: 'LSH' }), 422, /^indexType: must be one of/);
  expectError(t, await post(base, '/shitu-index-remove', { ids: [1.5], indexKey: key }), 422, /^ids\[0\]: must be integer/);
  // 422: a malformed key.
  expectError(t, await post(base, '/shitu-infer', { image: query, indexKey: '../../etc' }), 422, /^indexKey: .* is not an index key/);
  // 404: a well-formed key with no index.
  expectError(t, await post(base, '/shitu-infer', { image: query, indexKey: '00000000-0000-4000-8000-000000000000' }), 404, /^indexKey: no index/);
  expectError(t, await post(base, '/shitu-index-remove', { ids: [0], indexKey: '00000000-0000-4000-8000-000000000000' }), 404, /^indexKey: no index/);
  // 400: no key and no default index.
  expectError(t, await post(base, '/shitu-infer', { image: query }), 400, /^indexKey: is required/);
  expectError(t, await post(base, '/shitu-index-add', { imageLabelPairs: [{ image: query, label: 'a' }] }), 400, /^indexKey: is required/);
  // 400: undecodable images, by position.
  const pairs = buildPairs();
  pairs[2].image = Buffer.from('not an image at all').toString('base64');
  expectError(t, await post(base, '/shitu-index-build', { imageLabelPairs: pairs }), 400, /^imageLabelPairs\[2\]\.image: cannot decode/);
  expectError(t, await post(base, '/shitu-index-add', { imageLabelPairs: [{ image: '%%%', label: 'a' }], indexKey: key }), 400, /^imageLabelPairs\[0\]\.image: neither an http\(s\) URL nor Base64/);
  expectError(t, await post(base, '/shitu-infer', { image: Buffer.from('GIF89a-truncated').toString('base64'), indexKey: key }), 400, /^image: cannot decode/);
  // 404: unknown ids, listed; nothing removed.
  const before = await post(base, '/shitu-index-remove', { ids: [], indexKey: key });
  expectError(t, await post(base, '/shitu-index-remove', { ids: [0, 1, 99], indexKey: key }), 404, /^ids: not in index .*nothing removed: 1, 99$/);
  const after = await post(base, '/shitu-index-remove', { ids: [], indexKey: key });
  t.same(after.body.result.idMap, before.body.result.idMap, 'nothing removed');
  t.ok('0' in after.body.result.idMap);
  // 413: a body over the limit (2 MiB here).
  expectError(t, await post(base, '/shitu-infer', { image: 'A'.repeat(3 * 1024 * 1024), indexKey: key }), 413, /larger than the server's limit/);
  // 400: not JSON.
  expectError(t, await post(base, '/shitu-infer', '{"image": '), 400, /JSON/);
  // 404: no such route, same envelope.
  expectError(t, await get(base, '/shitu-nothing'), 404, /no route/);
});

t.test('a full queue answers 503 with Retry-After; queued work of a client that left never starts', async (t) => {
  const { app, base } = await start({ maxConcurrent: 1, maxQueue: 1 });
  t.teardown(() => app.close());
  const body = { image: b64('product_demo/query/anmuxi.jpg'), indexKey: key, returnImage: false };
  const limiter = app.shitu.limiter;

  let release = holdSlots(app);
  const started = limiter.stats.started;
  const replies = Array.from({ length: 5 }, () => post(base, '/shitu-infer', body));
  await until(() => limiter.stats.rejected === 4 && limiter.stats.queued === 1);
  release();
  const all = await Promise.all(replies);
  const ok = all.filter((r) => r.status === 200);
  const busy = all.filter((r) => r.status === 503);
  t.equal(ok.length, 1, 'one queued request is served');
  t.equal(busy.length, 4, 'the rest are refused at once');
  for (const r of busy) {
    t.equal(r.body.errorCode, 503);
    t.match(r.body.errorMsg, /busy/);
    t.ok(Number(r.headers.get('retry-after')) >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
  }
  t.equal(limiter.stats.started, started + 1, 'refused requests never started work');

  // A client that disconnects while queued: its work is dropped.
  release = holdSlots(app);
  const startedBefore = limiter.stats.started;
  const ac = new AbortController();
  const gone = post(base, '/shitu-infer', body, ac.signal).catch((e) => e);
  await until(() => limiter.stats.queued === 1);
  ac.abort();
  t.type(await gone, Error, 'the client gave up');
  await until(() => limiter.stats.queued === 0);
  t.equal(limiter.stats.cancelled, 1, 'cancelled while queued');
  release();
  await limiter.idle();
  t.equal(limiter.stats.started, startedBefore, 'the cancelled request never started (the holder was counted before)');

  // The server still serves afterwards.
  t.equal((await post(base, '/shitu-infer', body)).status, 200);
});

t.test('close() drains running and queued requests', async (t) => {
  const { app, base } = await start({ maxConcurrent: 1, maxQueue: 4 });
  const body = { image: b64('product_demo/query/anmuxi.jpg'), indexKey: key, returnImage: false };
  const release = holdSlots(app);
  const replies = [post(base, '/shitu-infer', body), post(base, '/shitu-infer', body)];
  await until(() => app.shitu.limiter.stats.queued === 2);
  const closed = app.close();
  release();
  const all = await Promise.all(replies);
  t.same(all.map((r) => r.status), [200, 200], 'both finished');
  await closed;
  t.equal(app.shitu.ready, false);
  await t.rejects(fetch(base + '/health'), 'no longer listening');
});

t.test('concurrent adds and infers on one index lose nothing', async (t) => {
  const { app, base } = await start();
  t.teardown(() => app.close());
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: buildPairs().slice(1) });
  const k = built.body.result.indexKey;
  const images = ['drink_test_images/youjia.jpeg', 'drink_test_images/100.jpeg', 'product_demo/gallery/anmuxi/002.jpg',
    'drink_test_images/mosilian.jpeg', 'drink_test_images/nongfu_spring.jpeg', 'product_demo/gallery/anmuxi/002.jpg'];
  const adds = images.map((rel, i) => post(base, '/shitu-index-add', { imageLabelPairs: [{ image: b64(rel), label: `new-${i}` }], indexKey: k }));
  const infers = Array.from({ length: 4 }, () => post(base, '/shitu-infer', { image: b64('product_demo/query/anmuxi.jpg'), indexKey: k, returnImage: false }));
  const [addReplies, inferReplies] = await Promise.all([Promise.all(adds), Promise.all(infers)]);
  t.same(addReplies.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  t.same(inferReplies.map((r) => r.status), [200, 200, 200, 200]);
  const finalMap = (await post(base, '/shitu-index-remove', { ids: [], indexKey: k })).body.result.idMap;
  const newIds = Object.keys(finalMap).filter((id) => finalMap[id].startsWith('new-'));
  t.equal(newIds.length, 6, 'all six added');
  t.same(newIds.map((id) => finalMap[id]).sort(), images.map((_, i) => `new-${i}`).sort(), 'each label once');
  t.same(newIds.map(Number).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7], 'distinct, sequential ids');
  // Each add saw its own image in its answer.
  addReplies.forEach((r, i) => t.ok(Object.values(r.body.result.idMap).includes(`new-${i}`)));
  // And the saved copy holds them all.
  const { IndexData } = require('../../lib/vector-index/index-data') as typeof import('../../lib/vector-index/index-data');
  const saved = await IndexData.load(path.join(indexDir, k));
  t.same(Object.fromEntries(saved.idMapEntries.map(([id, l]) => [String(id), l])), finalMap);
});

t.test('health, readiness and the OpenAPI description', async (t) => {
  const { app, base } = await start();
  t.teardown(() => app.close());
  const health = await get(base, '/health');
  t.equal(health.status, 200);
  t.equal(health.body.errorCode, 0);
  const ready = await get(base, '/ready');
  t.equal(ready.status, 200);
  const spec = await get(base, '/openapi.json');
  t.equal(spec.status, 200);
  t.match(spec.body.openapi, /^3\./);
  for (const p of ['/shitu-index-build', '/shitu-index-add', '/shitu-index-remove', '/shitu-infer']) t.ok(spec.body.paths[p]?.post, `documents ${p}`);
  t.ok(spec.body.paths['/shitu-infer'].post.requestBody.content['application/json'].schema.properties.topk);

  // A pipeline still loading: alive, not ready, operations 503.
  const loading = createServer(new Promise<Pipeline>(() => undefined), { indexDir });
  t.teardown(() => loading.close());
  t.equal((await loading.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  const notReady = await loading.inject({ method: 'GET', url: '/ready' });
  t.equal(notReady.statusCode, 503);
  t.ok(notReady.headers['retry-after']);
  const op = await loading.inject({ method: 'POST', url: '/shitu-infer', payload: { image: 'aGk=', indexKey: key } });
  t.equal(op.statusCode, 503);
  t.equal(op.json().errorCode, 503);
});

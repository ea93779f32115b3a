// Cancellation and deadlines (lib/pipeline/cancel.ts): `signal` and
// `timeoutMs` on recognize, predict, buildIndex, appendIndex and removeIndex.
// A queued job is dropped at once, a running call stops at its next boundary
// (between items, between gallery batches), the call rejects with ShituError
// ERR_ABORTED (cause: the signal's reason) or ERR_TIMEOUT, and an aborted
// append or remove leaves the index exactly as it was. Real pipelines on the
// stand-in models and shared photos.
import t, { Test } from 'tap';
import * as path from 'node:path';
import { createPipeline, IndexData, Pipeline, RecognitionResult, ShituError } from '../../lib/index';
import { IMAGES, STANDIN_CONFIG, img } from '../helpers/shared';
import { GALLERIES } from '../helpers/recognition-cases';

const QUERIES = [
  img('product_demo', 'query', 'anmuxi.jpg'), img('drink_test_images', '100.jpeg'), img('misc', 'dog.jpg'),
  img('drink_test_images', 'youjia.jpeg'), img('drink_test_images', 'mosilian.jpeg'),
];
const gallery = GALLERIES.quickStart.map(([p]) => path.join(IMAGES, p));
const labels = GALLERIES.quickStart.map(([, l]) => l);
/** The gallery eight times over: many batches, so that an abort lands between two. */
const bigGallery = Array.from({ length: 8 }, () => gallery).flat();
const bigLabels = Array.from({ length: 8 }, () => labels).flat();

/** Waits until cond() holds; fails naming what it waited for after 30 s (a loose bound: a hang, not a speed). */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waited 30 s for ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let pipeline: Pipeline;
let index: IndexData;
t.before(async () => {
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1 });
  index = await pipeline.buildIndex({ galleryImgs: gallery, galleryLabel: labels, indexType: 'Flat' });
});
t.teardown(() => pipeline?.close());

/** What an index answers: size, next id, entries, and the recognition of every query against it. */
async function snapshot(ix: IndexData) {
  const recognitions: unknown[] = [];
  for (const q of QUERIES) recognitions.push((await pipeline.recognize(q, { index: ix })).boxes);
  return { count: ix.count, nextId: ix.nextId, entries: ix.idMapEntries, recognitions };
}

function expectAborted(t: Test, e: unknown, reason: unknown) {
  t.ok(e instanceof ShituError, 'a ShituError');
  t.equal((e as ShituError).code, 'ERR_ABORTED');
  t.equal((e as ShituError).cause, reason, 'cause is the signal\'s reason');
}

t.test('a queued job is dropped at once, before the one ahead of it finishes', async (t) => {
  const before = pipeline.stats();
  let firstDone = false;
  const first = pipeline.recognize(QUERIES[0], { index }).then(() => { firstDone = true; });
  const ac = new AbortController();
  const second = pipeline.recognize(QUERIES[1], { index, signal: ac.signal });
  await until(() => pipeline.stats().queued === 1);
  const reason = new Error('the user changed their mind');
  ac.abort(reason);
  const e = await second.catch((x) => x);
  t.notOk(firstDone, 'rejected while the job ahead still ran');
  expectAborted(t, e, reason);
  t.equal(pipeline.stats().queued, 0, 'it left the queue');
  await first;
  const after = pipeline.stats();
  t.equal(after.completed - before.completed, 1, 'the aborted recognition never ran');
  t.equal(after.aborted - before.aborted, 1);

  // Aborted before the call: rejected without running.
  const done = new AbortController();
  done.abort('gone');
  await t.rejects(pipeline.recognize(QUERIES[0], { index, signal: done.signal }), { code: 'ERR_ABORTED', cause: 'gone' });
  t.equal(pipeline.stats().completed, after.completed);
});

t.test('a running predict stops at the next item', async (t) => {
  const before = pipeline.stats();
  const ac = new AbortController();
  const seen: RecognitionResult[] = [];
  const list = Array.from({ length: 4 }, () => QUERIES).flat();
  const e = await (async () => {
    for await (const r of pipeline.predict(list, { index, signal: ac.signal })) {
      seen.push(r);
      ac.abort(new Error('enough'));
    }
  })().catch((x) => x);
  t.equal(seen.length, 1, 'no item after the abort');
  t.match(e, { code: 'ERR_ABORTED', cause: { message: 'enough' } });
  await until(() => pipeline.stats().inFlight === 0);
  const ran = pipeline.stats().completed - before.completed;
  t.ok(ran <= 2, `at most the one admitted ahead ran after the abort (${ran} in all)`);
});

t.test('a running build stops at the next gallery batch', async (t) => {
  const ac = new AbortController();
  const progress: number[] = [];
  const e = await pipeline.buildIndex({
    galleryImgs: bigGallery, galleryLabel: bigLabels, indexType: 'Flat', signal: ac.signal,
    onProgress: ({ done }) => { progress.push(done); ac.abort(new Error('stop')); },
  }).catch((x) => x);
  t.match(e, { code: 'ERR_ABORTED', cause: { message: 'stop' } });
  await until(() => pipeline.stats().inFlight === 0);
  t.ok(progress.length <= 2, `${progress.length} batch(es) finished: the first and at most the one running beside it`);
  t.ok(progress[progress.length - 1] < bigGallery.length, 'the gallery was not embedded to the end');
});

t.test('timeoutMs: ERR_TIMEOUT for a recognition and a build that cannot finish in time', async (t) => {
  const e = await pipeline.recognize(QUERIES[0], { index, timeoutMs: 1 }).catch((x) => x);
  t.ok(e instanceof ShituError);
  t.equal(e.code, 'ERR_TIMEOUT');
  t.match(e.message, /recognize|predict/);
  t.match(e.message, /timeoutMs of 1 ms/);
  await t.rejects(pipeline.buildIndex({ galleryImgs: bigGallery, galleryLabel: bigLabels, indexType: 'Flat', timeoutMs: 40 }), { code: 'ERR_TIMEOUT', message: /buildIndex/ });
  await until(() => pipeline.stats().inFlight === 0);
  // A deadline that is not reached changes nothing.
  const r = await pipeline.recognize(QUERIES[0], { index, timeoutMs: 60_000 });
  t.ok(r.boxes.length > 0);
});

t.test('an aborted append leaves the index exactly as it was', async (t) => {
  const before = await snapshot(index);
  const ac = new AbortController();
  const e = await pipeline.appendIndex({
    index, galleryImgs: bigGallery, galleryLabel: bigLabels, signal: ac.signal,
    onProgress: () => ac.abort(new Error('stop')),
  }).catch((x) => x);
  t.match(e, { code: 'ERR_ABORTED' });
  await until(() => pipeline.stats().inFlight === 0);
  t.same(await snapshot(index), before, 'same ntotal, ids, labels and search results');
  // Timed out the same way.
  await t.rejects(pipeline.appendIndex({ index, galleryImgs: bigGallery, galleryLabel: bigLabels, timeoutMs: 40 }), { code: 'ERR_TIMEOUT' });
  await until(() => pipeline.stats().inFlight === 0);
  t.same(await snapshot(index), before);
});

t.test('an aborted remove leaves the index exactly as it was', async (t) => {
  const before = await snapshot(index);
  // The remove waits behind a recognition (one slot), and is aborted there.
  const running = pipeline.recognize(QUERIES[2], { index });
  await until(() => pipeline.stats().inFlight === 1);
  const ac = new AbortController();
  const removing = pipeline.removeIndex({ index, removeIds: [0, 1, 2], signal: ac.signal });
  await until(() => pipeline.stats().queued === 1);
  ac.abort(new Error('keep them'));
  await t.rejects(removing, { code: 'ERR_ABORTED', cause: { message: 'keep them' } });
  await running;
  t.same(await snapshot(index), before, 'same ntotal, ids, labels and search results');
  // Not aborted, the same call removes.
  await pipeline.removeIndex({ index, removeIds: [0], signal: new AbortController().signal, timeoutMs: 60_000 });
  t.equal(index.count, before.count - 1);
});

t.test('signal and timeoutMs are validated with one sentence each', async (t) => {
  await t.rejects(pipeline.recognize(QUERIES[0], { signal: 'stop' as never }), { name: 'TypeError', message: /^signal must be an AbortSignal/ });
  for (const bad of [0, 1.5, -1, 'soon', Infinity])
    await t.rejects(pipeline.recognize(QUERIES[0], { timeoutMs: bad as never }), { name: 'RangeError', message: /^timeoutMs must be an integer in \[1, 2147483647\]/ }, `timeoutMs ${String(bad)}`);
  await t.rejects(pipeline.buildIndex({ galleryImgs: gallery, galleryLabel: labels, timeoutMs: 0 }), { name: 'RangeError', message: /timeoutMs/ });
  await t.rejects(pipeline.removeIndex({ index, removeIds: [1], signal: {} as never }), { name: 'TypeError', message: /signal/ });
});

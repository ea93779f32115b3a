// Pipeline-wide admission (lib/pipeline/admission.ts): `concurrency` bounds
// the native jobs of every call of a pipeline together, the rest wait in FIFO
// order, maxQueue refuses with ERR_BUSY, close() rejects queued work and waits
// for running work at most closeTimeoutMs. Real pipelines on the stand-in
// models and shared photos; the Admission class itself with jobs the test
// releases by hand, for orders no timing decides.
import t from 'tap';
import * as path from 'node:path';
import { createPipeline, IndexData, Pipeline, ShituError } from '../../lib/index';
import { Admission } from '../../lib/pipeline/admission';
import { Cancellation } from '../../lib/pipeline/cancel';
import { IMAGES, STANDIN_CONFIG, img } from '../helpers/shared';
import { GALLERIES } from '../helpers/recognition-cases';

const QUERIES = [
  img('product_demo', 'query', 'anmuxi.jpg'), img('drink_test_images', '100.jpeg'), img('misc', 'dog.jpg'),
  img('drink_test_images', 'youjia.jpeg'), img('drink_test_images', 'mosilian.jpeg'), img('drink_test_images', 'nongfu_spring.jpeg'),
];
const gallery = GALLERIES.quickStart.map(([p]) => path.join(IMAGES, p));
const labels = GALLERIES.quickStart.map(([, l]) => l);

/** A job the test finishes by hand. */
function gate<T = void>(): { job: () => Promise<T>; release: (v: T) => void; started: () => boolean } {
  let release!: (v: T) => void;
  let started = false;
  const p = new Promise<T>((r) => { release = r; });
  return { job: () => { started = true; return p; }, release, started: () => started };
}
const tick = () => new Promise((r) => setImmediate(r));
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
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 2 });
  index = await pipeline.buildIndex({ galleryImgs: gallery, galleryLabel: labels, indexType: 'Flat' });
});
t.teardown(() => pipeline?.close());

t.test('concurrency holds across the calls of one pipeline', async (t) => {
  const before = pipeline.stats();
  let maxInFlight = 0;
  let maxQueued = 0;
  let sampling = true;
  const sample = () => {
    const s = pipeline.stats();
    maxInFlight = Math.max(maxInFlight, s.inFlight);
    maxQueued = Math.max(maxQueued, s.queued);
  };
  const sampler = (async () => { while (sampling) { sample(); await tick(); } })();
  const collect = async () => { const out = []; for await (const r of pipeline.predict(QUERIES, { index })) out.push(r); return out; };
  const [singles, listed, built] = await Promise.all([
    Promise.all(QUERIES.map((q) => pipeline.recognize(q, { index }))),
    collect(),
    pipeline.buildIndex({ galleryImgs: gallery, galleryLabel: labels, indexType: 'Flat', onProgress: sample }),
    pipeline.appendIndex({ index: IndexData.create(pipeline.featureDim, 'Flat'), galleryImgs: gallery, galleryLabel: labels, onProgress: sample }),
  ]);
  sampling = false;
  await sampler;
  t.equal(singles.length, QUERIES.length);
  t.equal(listed.length, QUERIES.length);
  t.equal(built.count, gallery.length);
  t.equal(maxInFlight, 2, 'the limit is reached and never passed');
  t.ok(maxQueued >= 1, `jobs of different calls waited (at most ${maxQueued} queued)`);
  const after = pipeline.stats();
  t.same([after.inFlight, after.queued], [0, 0]);
  // 12 recognitions; per gallery call its batches (4 images per configured batch_size, at most 16) and one add.
  const batches = Math.ceil(gallery.length / Math.min(16, pipeline.config.SubModules.Recognition.batch_size * 4));
  t.equal(after.completed - before.completed, 12 + 2 * (batches + 1), 'every native job went through the admission');
  t.equal(after.failed, before.failed);
});

t.test('jobs start in arrival order (FIFO), across calls', async (t) => {
  const a = new Admission(1, Infinity);
  const none = () => Cancellation.none('test');
  const gates = [gate(), gate(), gate(), gate()];
  const order: number[] = [];
  const runs = gates.map((g, i) => a.run(() => { order.push(i); return g.job(); }, none()));
  await tick();
  t.same(order, [0], 'one at a time');
  t.same(a.stats(), { inFlight: 1, queued: 3, completed: 0, failed: 0, aborted: 0, rejected: 0 });
  for (let i = 0; i < gates.length; i++) {
    gates[i].release();
    await runs[i];
    await tick();
  }
  t.same(order, [0, 1, 2, 3]);
  t.same(a.stats(), { inFlight: 0, queued: 0, completed: 4, failed: 0, aborted: 0, rejected: 0 });

  // The same on a pipeline with one slot: recognitions resolve in call order.
  const p1 = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1 });
  t.teardown(() => p1.close());
  const done: number[] = [];
  const calls = QUERIES.slice(0, 4).map((q, i) => p1.recognize(q, { index }).then(() => { done.push(i); }));
  await until(() => p1.stats().queued === 3);
  t.equal(p1.stats().inFlight, 1);
  await Promise.all(calls);
  t.same(done, [0, 1, 2, 3]);
});

t.test('maxQueue: a job beyond it is refused at once with ERR_BUSY', async (t) => {
  const p1 = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1, maxQueue: 1 });
  t.teardown(() => p1.close());
  const calls = QUERIES.slice(0, 3).map((q) => p1.recognize(q, { index }));
  const settled = await Promise.allSettled(calls);
  t.same(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected']);
  const err = (settled[2] as PromiseRejectedResult).reason;
  t.ok(err instanceof ShituError);
  t.equal(err.code, 'ERR_BUSY');
  t.match(err.message, /maxQueue 1/);
  t.equal(p1.stats().rejected, 1);
  t.equal(p1.stats().completed, 2);

  const a = new Admission(1, 0);
  const g = gate();
  const first = a.run(g.job, Cancellation.none('x'));
  await t.rejects(a.run(async () => 1, Cancellation.none('x')), { code: 'ERR_BUSY' }, 'maxQueue 0: only what starts at once is taken');
  g.release();
  await first;
  await t.rejects(createPipeline(STANDIN_CONFIG, { maxQueue: -1 }), { name: 'RangeError', message: /maxQueue must be a non-negative integer/ });
  await t.rejects(createPipeline(STANDIN_CONFIG, { closeTimeoutMs: 1.5 }), { name: 'RangeError', message: /closeTimeoutMs must be an integer/ });
});

t.test('close(): queued work rejects with ERR_CLOSED, running work finishes, new work is refused', async (t) => {
  const p1 = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1 });
  const calls = QUERIES.slice(0, 3).map((q) => p1.recognize(q, { index }));
  const outcome = Promise.allSettled(calls);
  await until(() => p1.stats().queued === 2);
  await p1.close();
  const settled = await outcome;
  t.equal(settled[0].status, 'fulfilled', 'the running recognition finished');
  for (const s of settled.slice(1)) t.match((s as PromiseRejectedResult).reason, { code: 'ERR_CLOSED' });
  t.same(p1.stats().inFlight, 0, 'close resolved after the running job');
  await t.rejects(p1.recognize(QUERIES[0], { index }), { code: 'ERR_CLOSED' });
  await t.rejects(p1.buildIndex({ galleryImgs: gallery, galleryLabel: labels }), { code: 'ERR_CLOSED' });

  // A job that never ends holds close() for closeTimeoutMs only.
  const a = new Admission(1, Infinity);
  const stuck = gate();
  void a.run(stuck.job, Cancellation.none('x'));
  await a.close(30);
  t.equal(a.stats().inFlight, 1, 'close resolved while the job still runs');
  await t.rejects(a.run(async () => 1, Cancellation.none('x')), { code: 'ERR_CLOSED' });
  stuck.release();
});

t.test('close() during a build: the build rejects with ERR_CLOSED at its next batch instead of running to the end', async (t) => {
  const p1 = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1 });
  const many = Array.from({ length: 8 }, () => gallery).flat();
  let batches = 0;
  const build = p1.buildIndex({ galleryImgs: many, galleryLabel: Array.from({ length: 8 }, () => labels).flat(), indexType: 'Flat', onProgress: () => { batches++; } })
    .catch((e) => e);
  await until(() => batches >= 1);
  await p1.close();
  const e = await build;
  t.match(e, { code: 'ERR_CLOSED' });
  const perBatch = Math.min(16, p1.config.SubModules.Recognition.batch_size * 4);
  t.ok(batches < Math.ceil(many.length / perBatch), `${batches} batch(es) embedded, not all`);
  t.same([p1.stats().inFlight, p1.stats().queued], [0, 0]);
});

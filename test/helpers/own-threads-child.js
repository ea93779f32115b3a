// The addon's own threads (native/worker_pool.h) and native cancellation
// (native/cancel.h), checked in a child process started by
// test/native/own-threads.test.ts with UV_THREADPOOL_SIZE=1: libuv's single thread is
// all the host's fs calls have, so any native job on it would hold them up.
//
//   node own-threads-child.js <root> <config.yaml> <images dir> <job.json>
//   job.json: {gallery: [[image, label]...], queries: [image...], big: image}
//
// Prints one JSON line of facts for the parent to assert on. Ends by itself
// (no process.exit): an idle pool must not keep the process alive.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const [root, config, imagesDir, jobFile] = isMainThread ? process.argv.slice(2) : workerData.argv;
const shitu = require(root);
const native = require(path.join(root, 'dist', 'lib', 'native', 'loader.js')).loadNative();
const { createCancelFlag, setCancelFlag } = require(path.join(root, 'dist', 'lib', 'native', 'cancel-flag.js'));
const job = JSON.parse(fs.readFileSync(jobFile, 'utf8'));
const img = (rel) => path.join(imagesDir, rel);

const boxesOf = (r) => r.json.res.boxes.map((b) => ({ coordinate: b.coordinate, labels: b.labels, rec_scores: b.rec_scores }));
const settle = (p) => p.then((value) => ({ ok: true, value }), (e) => ({ ok: false, code: e.code, message: e.message, name: e.name }));
const tick = () => new Promise((resolve) => setImmediate(resolve));
async function until(cond, what, ms = 60_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

// ------------------------------------------------------------ a worker_threads Worker
if (!isMainThread) {
  (async () => {
    const pipeline = await shitu.createPipeline(config, { threads: 1, concurrency: 1 });
    const r = await pipeline.recognize(img(job.queries[0]));
    parentPort.postMessage({ boxes: r.json.res.boxes.length, stats: native.workerPoolStats() });
    if (workerData.loop) for (;;) await pipeline.recognize(img(job.big)); // until terminated
    await pipeline.close();
    // Returns with the pool idle: the Worker must then exit on its own.
  })().catch((e) => parentPort.postMessage({ error: `${e.code ?? ''} ${e.stack}` }));
  return;
}

function runWorker(loop) {
  const w = new Worker(__filename, { workerData: { argv: [root, config, imagesDir, jobFile], loop } });
  const exited = new Promise((resolve) => w.once('exit', resolve));
  const first = new Promise((resolve, reject) => {
    w.once('message', (m) => (m && m.error ? reject(new Error(`worker: ${m.error}`)) : resolve(m)));
    w.once('error', reject);
  });
  return { w, exited, first };
}

(async () => {
  const out = { uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE };
  const pipeline = await shitu.createPipeline(config, { threads: 1, concurrency: 2 });
  out.statsAfterCreate = native.workerPoolStats();
  const index = await pipeline.buildIndex({
    galleryImgs: job.gallery.map(([p]) => img(p)), galleryLabel: job.gallery.map(([, l]) => l), indexType: 'Flat',
  });

  // Baseline, one at a time, through the pipeline and through the native call.
  out.sequential = [];
  for (const q of job.queries) out.sequential.push(boxesOf(await pipeline.recognize(img(q), { index })));
  const det = pipeline.detector.native;
  const ex = pipeline.extractor.native;
  const nativeBoxes = (r) => r.boxes.map((b) => ({ coordinate: b.coordinate, labels: b.ids.map((id) => index.labelOf(id) ?? null), rec_scores: b.scores }));
  const recognizeNative = (q) => native.recognize(det, ex, index.native, img(q), { topk: 5 }).then(nativeBoxes);
  out.nativeSequential = [];
  for (const q of job.queries) out.nativeSequential.push(await recognizeNative(q));

  // 16 native recognitions in flight (straight to the addon: the pipeline's own
  // admission would let only `concurrency` through); a 3 KB file read every 20 ms beside them.
  const small = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-own-threads-')), 'small.bin');
  fs.writeFileSync(small, Buffer.alloc(3072, 7));
  const reads = [];
  let loading = true;
  const reader = (async () => {
    while (loading) {
      const t0 = performance.now();
      const b = await fs.promises.readFile(small);
      if (b.length !== 3072) throw new Error('short read');
      reads.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  let maxBusy = 0;
  let maxQueued = 0;
  const sampler = setInterval(() => {
    const s = native.workerPoolStats();
    maxBusy = Math.max(maxBusy, s.busy);
    maxQueued = Math.max(maxQueued, s.queued);
  }, 5);
  const rounds = 3;
  const concurrent = [];
  const t0 = performance.now();
  for (let round = 0; round < rounds; round++) {
    const batch = Array.from({ length: 16 }, (_, i) => job.queries[i % job.queries.length]);
    const rs = await Promise.all(batch.map((q) => recognizeNative(q)));
    rs.forEach((boxes, i) => concurrent.push({ query: job.queries.indexOf(batch[i]), boxes }));
  }
  out.loadMs = performance.now() - t0;
  loading = false;
  await reader;
  clearInterval(sampler);
  fs.rmSync(path.dirname(small), { recursive: true, force: true });
  out.concurrent = concurrent;
  out.reads = reads;
  out.maxBusy = maxBusy;
  out.maxQueued = maxQueued;
  out.statsIdle = native.workerPoolStats();
  // The pool's threads as the kernel lists them (named in worker_pool.cc).
  out.namedThreads = fs.readdirSync('/proc/self/task')
    .filter((tid) => fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'shitu-worker').length;

  // Cancellation on the native calls themselves.
  const set = () => { const f = createCancelFlag(); setCancelFlag(f); return f; };
  const cancel = {};
  cancel.recognizeBefore = await settle(native.recognize(det, ex, index.native, img(job.queries[0]), { cancel: set() }));
  cancel.detectBefore = await settle(det.detect(img(job.queries[0]), { cancel: set() }));
  cancel.embedBefore = await settle(ex.embed([img(job.queries[0])], { cancel: set() }));
  const unset = createCancelFlag();
  cancel.recognizeUnset = await settle(native.recognize(det, ex, index.native, img(job.queries[0]), { cancel: unset, topk: 1 }));
  cancel.plainBuffer = await settle((async () => native.recognize(det, ex, index.native, img(job.queries[0]), { cancel: new Int32Array(1) }))());
  cancel.notInt32 = await settle((async () => det.detect(img(job.queries[0]), { cancel: new Uint8Array(new SharedArrayBuffer(4)) }))());

  // While running: a long embed (one big picture many times) is seen busy, then cancelled.
  const idleBusy = native.workerPoolStats().busy;
  const longFlag = createCancelFlag();
  const longEmbed = settle(ex.embed(Array.from({ length: 48 }, () => img(job.big)), { cancel: longFlag }));
  await until(() => native.workerPoolStats().busy > idleBusy, 'the embed to start');
  setCancelFlag(longFlag);
  cancel.embedRunning = await longEmbed;
  // A recognition of the big picture (decoded in tens of ms), cancelled once running.
  const recFlag = createCancelFlag();
  const rec = settle(native.recognize(det, ex, index.native, img(job.big), { cancel: recFlag }));
  await until(() => native.workerPoolStats().busy > idleBusy, 'the recognition to start');
  setCancelFlag(recFlag);
  cancel.recognizeRunning = await rec;

  // Index add/remove: an aborted change leaves the index as it was.
  const dim = 64;
  const vi = new native.VectorIndex(dim, 'HNSW32', 'IP');
  const rand = (n) => Float32Array.from({ length: n * dim }, () => Math.random() - 0.5);
  const ids = (from, n) => BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
  await vi.add(rand(100), ids(0, 100));
  cancel.ntotalBefore = vi.count();
  cancel.addBefore = await settle(vi.add(rand(10), ids(1000, 10), { cancel: set() }));
  cancel.removeBefore = await settle(vi.remove(ids(0, 10), true, { cancel: set() }));
  cancel.ntotalAfterBefore = vi.count();
  // While running: the cancelled add waits for the index behind a long add, is cancelled there.
  const bulk = 20000;
  const long = settle(vi.add(rand(bulk), ids(10_000, bulk)));
  await until(() => native.workerPoolStats().busy >= idleBusy + 1, 'the long add to start');
  await new Promise((resolve) => setTimeout(resolve, 50)); // it checks its vectors, then holds the index for its whole add
  const waitingFlag = createCancelFlag();
  const waiting = settle(vi.add(rand(10), ids(2000, 10), { cancel: waitingFlag }));
  await until(() => native.workerPoolStats().busy >= idleBusy + 2, 'the second add to start');
  setCancelFlag(waitingFlag);
  cancel.addRunning = await waiting;
  cancel.longAdd = await long;
  cancel.ntotalAfterRunning = vi.count();
  cancel.bulk = bulk;
  cancel.hasAborted2000 = vi.ids().includes(2000n);
  // Through IndexData (the pipeline's index): labels and next id unchanged too.
  const before = { count: index.count, nextId: index.nextId, labels: index.idMapEntries.length };
  cancel.indexDataAdd = await settle(index.add(new Float32Array(index.dim).fill(0.1), ['aborted'], { cancel: set() }));
  cancel.indexDataRemove = await settle(index.remove([0], { cancel: set() }));
  cancel.indexDataBefore = before;
  cancel.indexDataAfter = { count: index.count, nextId: index.nextId, labels: index.idMapEntries.length };
  out.cancel = cancel;

  // reserveWorkers grows (never shrinks), capped; bad arguments throw.
  const grow = {};
  grow.before = native.workerPoolStats().threads;
  grow.reserve6 = native.reserveWorkers(6);
  grow.after6 = native.workerPoolStats().threads;
  grow.reserve1 = native.reserveWorkers(1);
  grow.after1 = native.workerPoolStats().threads;
  grow.reserveHuge = native.reserveWorkers(1000);
  grow.afterHuge = native.workerPoolStats();
  grow.zero = settle((async () => native.reserveWorkers(0))());
  grow.text = settle((async () => native.reserveWorkers('4'))());
  grow.zero = await grow.zero;
  grow.text = await grow.text;
  // The grown pool still answers right.
  grow.recognized = boxesOf(await pipeline.recognize(img(job.queries[0]), { index }));
  out.grow = grow;

  // worker_threads: one Worker ends on its own; another is terminated mid-work.
  const natural = runWorker(false);
  const nm = await natural.first;
  out.workerNatural = { boxes: nm.boxes, stats: nm.stats, exitCode: await natural.exited };
  const busy = runWorker(true);
  const bm = await busy.first;
  await new Promise((resolve) => setTimeout(resolve, 100));
  const exitCode = await busy.w.terminate();
  await busy.exited;
  out.workerTerminated = { boxes: bm.boxes, exitCode };
  out.afterWorkers = boxesOf(await pipeline.recognize(img(job.queries[0]), { index }));

  await pipeline.close();
  out.statsEnd = native.workerPoolStats();
  process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
  process.stdout.write(JSON.stringify({ error: `${e.code ?? ''} ${e.stack}` }) + '\n');
  process.exitCode = 1;
});

'use strict';
// worker_threads check, run as a plain Node script so that the same file tests
// the repository build (test/native/worker-threads.test.ts) and an installed package
// (scripts/chroot-install-test.sh). It exits non-zero, or V8 aborts the
// process, when per-environment state is wrong.
//
//   node workers.cjs <config.yaml> <images dir> <labels file> [package]   (package: default 'shitu-node')
//
// Main thread recognises before, during and after two workers that recognise at
// once; a third worker is terminated in the middle of its work; the main thread
// must still give the same answers afterwards. Prints one JSON line with every
// run's boxes (coordinates, labels, scores): test/native/worker-threads.test.ts compares
// them by IoU and scores within a tolerance (test/helpers/recognition.ts). Here,
// also inside the install chroot, each run must finish with as many boxes per
// image as the first and something recognised.
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

async function recognise(shitu, config, indexDir, images) {
  const pipeline = await shitu.createPipeline(config, { threads: 1, concurrency: 1 });
  try {
    const index = await shitu.IndexData.load(indexDir);
    const out = [];
    for await (const r of pipeline.predict(images, { index })) {
      out.push(r.json.res.boxes.map((b) => ({ coordinate: b.coordinate, labels: b.labels, rec_scores: b.rec_scores })));
    }
    return out;
  } finally {
    await pipeline.close();
  }
}

if (!isMainThread) {
  const { pkg, config, indexDir, images, loop } = workerData;
  const shitu = require(pkg);
  (async () => {
    if (loop) { // keeps native calls in flight until terminated
      parentPort.postMessage('started');
      for (;;) await recognise(shitu, config, indexDir, images);
    }
    parentPort.postMessage(await recognise(shitu, config, indexDir, images));
  })().catch((e) => { parentPort.postMessage({ error: `${e.code ?? ''} ${e.stack}` }); });
} else {
  const [config, imagesDir, labels, pkg = 'shitu-node'] = process.argv.slice(2);
  const shitu = require(pkg);
  const images = fs.readdirSync(imagesDir, { recursive: true })
    .filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, 6).map((f) => path.join(imagesDir, f));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-workers-'));
  const indexDir = path.join(tmp, 'index');
  // Resolves with the worker's first message; `exited` is taken at once, before the worker can exit.
  const run = (loop) => {
    const w = new Worker(__filename, { workerData: { pkg, config, indexDir, images, loop } });
    const exited = new Promise((resolve) => w.once('exit', resolve));
    const first = new Promise((resolve, reject) => {
      w.once('message', (m) => (m && m.error ? reject(new Error(`worker: ${m.error}`)) : resolve(m)));
      w.once('error', reject);
    });
    return { w, exited, first };
  };
  process.exitCode = 1; // unless every step below completes
  (async () => {
    const pipeline = await shitu.createPipeline(config, { threads: 1 });
    const index = await pipeline.buildIndex({ galleryImgs: imagesDir, galleryLabel: labels, indexType: 'Flat', metricType: 'IP' });
    await index.save(indexDir);
    await pipeline.close();
    const before = await recognise(shitu, config, indexDir, images);
    // two workers at once, the main thread recognising meanwhile
    const a = run(false), b = run(false);
    const [ra, rb, during] = await Promise.all([a.first, b.first, recognise(shitu, config, indexDir, images)]);
    await Promise.all([a.exited, b.exited]);
    const after = await recognise(shitu, config, indexDir, images);
    // a worker torn down with native work in flight
    const c = run(true);
    await c.first;
    await new Promise((r) => setTimeout(r, 500));
    await c.w.terminate();
    const afterTerminate = await recognise(shitu, config, indexDir, images);
    const runs = { before, workerA: ra, workerB: rb, during, after, afterTerminate };
    const counts = (r) => JSON.stringify(r.map((boxes) => boxes.length));
    const sameCounts = Object.values(runs).every((r) => counts(r) === counts(before));
    const labelled = before.flat().filter((b) => b.labels[0] !== null).length;
    console.log(JSON.stringify({ sameCounts, images: images.map((f) => path.relative(imagesDir, f)), labelled, runs }));
    fs.rmSync(tmp, { recursive: true, force: true });
    process.exitCode = sameCounts && labelled > 0 ? 0 : 1;
  })().catch((e) => { console.error(e); process.exitCode = 1; });
}

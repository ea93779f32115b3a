'use strict';
// Terminates worker_threads Workers at random points of their native calls, as a
// host that times out a worker does. A Worker terminated while one of the addon's
// functions runs makes every N-API call in it fail; the addon must let that go
// (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS, CMakeLists.txt) instead of throwing a
// C++ exception out of its callback, which aborts the whole process (SIGABRT).
// Two kinds of Worker are terminated: 'calls' spends nearly all its time inside
// synchronous native calls, some of them failing (without the fix the first few
// terminations abort); 'pipeline' recognises with several predictions in flight.
//
//   node terminate-workers.cjs <config.yaml> <images dir> [package] [terminations of each kind]
//
// Exits 0 and prints one JSON line once every Worker was terminated and the main
// thread still recognises.
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');

async function recogniseAll(shitu, config, images, concurrency) {
  const pipeline = await shitu.createPipeline(config, { threads: 1, concurrency });
  try {
    let boxes = 0;
    // several predict loops at once: native calls start and settle all the time
    await Promise.all([0, 1, 2].map(async () => {
      for await (const r of pipeline.predict(images)) boxes += r.json.res.boxes.length;
    }));
    return boxes;
  } finally {
    await pipeline.close();
  }
}

if (!isMainThread) {
  const { pkg, config, images, kind } = workerData;
  if (kind === 'calls') {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    const { native } = require(path.join(dir, 'dist', 'lib', 'native', 'loader.js'));
    const index = new native.VectorIndex(8, 'Flat', 'IP');
    parentPort.postMessage('started');
    for (;;) {
      try { index.reconstruct(12345); } catch { /* no such id: the error path is the point */ }
      index.ids();
      index.count();
    }
  }
  const shitu = require(pkg);
  parentPort.postMessage('started');
  (async () => { for (;;) await recogniseAll(shitu, config, images, 2); })();
} else {
  const [config, imagesDir, pkg = 'shitu-node', n = '40'] = process.argv.slice(2);
  const shitu = require(pkg);
  const images = fs.readdirSync(imagesDir, { recursive: true })
    .filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, 4).map((f) => path.join(imagesDir, f));
  process.exitCode = 1; // unless every step below completes
  (async () => {
    const delays = { calls: [], pipeline: [] };
    for (const [kind, upTo] of [['calls', 50], ['pipeline', 400]]) for (let i = 0; i < Number(n); i++) {
      const w = new Worker(__filename, { workerData: { pkg, config, images, kind } });
      const exited = new Promise((resolve) => w.once('exit', resolve));
      await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
      const delay = Math.round(Math.random() * upTo);
      delays[kind].push(delay);
      await new Promise((r) => setTimeout(r, delay));
      await w.terminate();
      await exited;
    }
    const boxes = await recogniseAll(shitu, config, images, 1);
    console.log(JSON.stringify({ terminated: { calls: delays.calls.length, pipeline: delays.pipeline.length }, delays, boxes }));
    process.exitCode = boxes > 0 ? 0 : 1;
  })().catch((e) => { console.error(e); process.exitCode = 1; });
}

'use strict';
// How fast an installed package recognises one photo, for the install test's
// report (printed, never asserted: under qemu-user it measures the emulator).
// One pipeline at 1 intra-op thread, the photo predicted `runs` times after a
// warm-up; prints one JSON line with the median and the images per second.
//
//   node throughput.cjs <config.yaml> <images dir> <labels file> [runs] [package]
const path = require('node:path');
const [config, imagesDir, labels, runs = '10', pkg = 'shitu-node'] = process.argv.slice(2);
const shitu = require(pkg);
(async () => {
  const pipeline = await shitu.createPipeline(config, { threads: 1, concurrency: 1 });
  const index = await pipeline.buildIndex({ galleryImgs: imagesDir, galleryLabel: labels });
  const photo = path.join(imagesDir, 'drink_test_images', '100.jpeg');
  const once = async () => { for await (const r of pipeline.predict([photo], { index })) void r; };
  await once();
  const ms = [];
  for (let i = 0; i < Number(runs); i++) {
    const t0 = process.hrtime.bigint();
    await once();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await pipeline.close();
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)];
  console.log(JSON.stringify({ arch: process.arch, photo: 'drink_test_images/100.jpeg', threads: 1, runs: ms.length,
    medianMs: Math.round(median * 10) / 10, imagesPerSecond: Math.round(10000 / median) / 10 }));
})().catch((e) => { console.error(`${e.code}: ${e.message}`); process.exitCode = 1; });

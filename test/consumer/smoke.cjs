'use strict';
// A consumer app's first use, through `require`: build an index over the
// stand-in gallery, recognise the query photos. Prints one JSON line; exits 1
// when nothing is recognised.   node smoke.cjs <images dir> [package]
const path = require('node:path');
const [imagesDir, pkg = 'shitu-node'] = process.argv.slice(2);
const shitu = require(pkg);
const pkgRoot = path.dirname(require.resolve(`${pkg}/package.json`));
(async () => {
  const pipeline = await shitu.createPipeline(path.join(pkgRoot, 'models', 'standin.yaml'), { threads: 1 });
  const index = await pipeline.buildIndex({ galleryImgs: imagesDir, galleryLabel: path.join(pkgRoot, 'examples', 'gallery_labels.txt') });
  const queries = ['drink_test_images/100.jpeg', 'misc/wangzai.jpg'].map((f) => path.join(imagesDir, f));
  const labels = [];
  for await (const r of pipeline.predict(queries, { index })) labels.push(r.json.res.boxes.map((b) => b.labels[0]));
  await pipeline.close();
  console.log(JSON.stringify({ via: 'require', galleryImages: index.count ?? null, labels }));
  process.exitCode = labels.flat().filter(Boolean).length > 0 ? 0 : 1;
})().catch((e) => { console.error(`${e.code}: ${e.message}`); process.exitCode = 1; });

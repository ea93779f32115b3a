// The same first use through `import` (the ES module entry).   node smoke.mjs <images dir>
import { createPipeline, ShituError } from 'shitu-node';
import { createRequire } from 'node:module';
import * as path from 'node:path';
const imagesDir = process.argv[2];
const pkgRoot = path.dirname(createRequire(import.meta.url).resolve('shitu-node/package.json'));
const pipeline = await createPipeline(path.join(pkgRoot, 'models', 'standin.yaml'), { threads: 1 });
const index = await pipeline.buildIndex({ galleryImgs: imagesDir, galleryLabel: path.join(pkgRoot, 'examples', 'gallery_labels.txt') });
const labels = [];
for await (const r of pipeline.predict([path.join(imagesDir, 'drink_test_images', '100.jpeg')], { index })) labels.push(r.json.res.boxes.map((b) => b.labels[0]));
await pipeline.close();
console.log(JSON.stringify({ via: 'import', shituError: typeof ShituError === 'function', labels }));
if (!labels.flat().filter(Boolean).length) process.exit(1);

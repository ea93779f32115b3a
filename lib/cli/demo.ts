// The README's main job on the shared stand-ins: build an index from a gallery,
// save and reload it, recognise query images, write JSON and annotated pictures.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../errors';
import { DEFAULT_INDEX_SHAPE, IndexData } from '../vector-index/index-data';
import { createPipeline } from '../pipeline/pipeline';
import { packageRoot } from '../util/package-root';

export async function runDemo(shared: string, out: string): Promise<void> {
  const images = path.join(shared, 'data', 'images');
  if (!fs.existsSync(images)) throw new ShituError('ERR_INPUT', `shared data not found at ${images} (set SHITU_SHARED_DIR or --shared)`);
  process.env.SHITU_SHARED_DIR ??= shared;
  const repo = packageRoot();
  const pipeline = await createPipeline(path.join(repo, 'models', 'standin.yaml'));
  try {
    const t0 = performance.now();
    const built = await pipeline.buildIndex({
      galleryImgs: images,
      galleryLabel: path.join(repo, 'examples', 'gallery_labels.txt'),
      ...DEFAULT_INDEX_SHAPE,
    });
    const indexDir = path.join(out, 'index');
    await built.save(indexDir);
    const index = await IndexData.load(indexDir);
    console.error(`index: ${index.count} images, ${index.labels.length} labels -> ${indexDir} (${(performance.now() - t0).toFixed(0)} ms)`);
    const queries = [
      path.join(images, 'product_demo', 'query'),
      path.join(images, 'drink_test_images', '100.jpeg'),
      path.join(images, 'misc', 'wangzai.jpg'),
      path.join(images, 'misc', 'coco_000000570688.jpg'),
    ];
    for await (const res of pipeline.predict(queries, { index, keepImage: true })) {
      res.print();
      const json = await res.saveToJson(out);
      const img = await res.saveToImg(out);
      const t = res.timings;
      console.error(`${res.inputPath}: ${res.boxes.length} box(es) -> ${json}, ${img}; ${t.wall.toFixed(1)} ms ` +
        `(decode ${t.decode.toFixed(1)}, det ${(t.detPreprocess + t.detInference + t.detPostprocess).toFixed(1)}, ` +
        `rec ${(t.recPreprocess + t.recInference).toFixed(1)}, search ${t.search.toFixed(2)})`);
    }
  } finally {
    await pipeline.close();
  }
}

// Where the benchmark finds its inputs (repository, shared models and photos)
// and the images and gallery every section uses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useSharedDir } from './shared-dir';

/** The repository root: the first folder up with package.json and the stand-in config (dist/bench/lib/ or bench/lib/). */
export const ROOT = ((): string => {
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'models', 'standin.yaml'))) return d;
    if (path.dirname(d) === d) throw new Error(`cannot find the repository root above ${__dirname}`);
  }
})();
export const SHARED = useSharedDir() ?? path.resolve(ROOT, '..', 'shared');
export const BENCH_DIR = path.join(ROOT, 'bench');
/** The committed results folder (written only by run.js --update-report). */
export const COMMITTED_RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const STANDIN_CONFIG = path.join(ROOT, 'models', 'standin.yaml');
export const DET_ONNX = path.join(SHARED, 'models', 'picodet_s_coco', 'picodet_s_416_coco.onnx');
export const FEAT_ONNX = path.join(SHARED, 'models', 'mobilenetv2', 'mobilenetv2-12-int8-feat.onnx');

export const IMAGES = [
  'data/images/misc/bus.jpg',
  'data/images/misc/dog.jpg',
  'data/images/drink_test_images/100.jpeg',
  'data/images/product_demo/query/anmuxi.jpg',
].map((p) => path.join(SHARED, p));

/**
 * Gallery: the product_demo gallery (6 views of one product, label "anmuxi") plus
 * distractor images that are not queries, each labelled by its file name, so that
 * top-1 agreement between two implementations means something.
 */
export function galleryEntries(): Array<{ image: string; label: string }> {
  const g = path.join(SHARED, 'data/images/product_demo/gallery');
  const out: Array<{ image: string; label: string }> = [];
  for (const label of fs.readdirSync(g).sort()) {
    const dir = path.join(g, label);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).sort()) if (/\.(jpe?g|png)$/i.test(f)) out.push({ image: path.join(dir, f), label });
  }
  for (const p of [
    'data/images/product_demo/query/daoxiangcunjinzhubing_6.jpg',
    'data/images/drink_test_images/mosilian.jpeg',
    'data/images/drink_test_images/nongfu_spring.jpeg',
    'data/images/drink_test_images/youjia.jpeg',
    'data/images/misc/coco_000000570688.jpg',
    'data/images/misc/wangzai.jpg',
  ]) {
    const f = path.join(SHARED, p);
    if (fs.existsSync(f)) out.push({ image: f, label: path.basename(f).replace(/\.[^.]+$/, '').replace(/_\d+$/, '') });
  }
  return out;
}


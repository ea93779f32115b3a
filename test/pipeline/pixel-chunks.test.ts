// How a gallery is cut under a pixel budget (lib/pipeline/pixel-chunks.ts):
// sizes read from the headers (nothing decoded), unknown sizes and images over
// the budget alone; and a budgeted build gives the vectors an unbudgeted one gives.
import t from 'tap';
import * as fs from 'node:fs';
import { chunksByPixels, declaredPixels } from '../../lib/pipeline/pixel-chunks';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { pngBomb, pngImage } from '../helpers/bombs';
import { img, STANDIN_CONFIG } from '../helpers/shared';

t.test('declared sizes and chunks', async (t) => {
  const dog = fs.readFileSync(img('misc', 'dog.jpg'));
  t.equal(declaredPixels(dog), 768 * 576, 'from the JPEG header');
  t.equal(declaredPixels(pngBomb(30000, 30000)), 9e8, 'a bomb declares its size without being decoded');
  t.equal(declaredPixels(Buffer.from('not an image')), null);
  t.equal(declaredPixels('/some/path.jpg'), null);
  const raw = (w: number, h: number) => ({ width: w, height: h });
  t.same(chunksByPixels([raw(10, 10), raw(10, 10), raw(10, 10), raw(10, 10)], 16, 250), [[0, 2], [2, 4]]);
  t.same(chunksByPixels([raw(10, 10), raw(100, 100), raw(10, 10)], 16, 250), [[0, 1], [1, 2], [2, 3]], 'one over the budget goes alone');
  t.same(chunksByPixels([raw(1, 1), '/p.jpg', raw(1, 1), raw(1, 1)], 16, 250), [[0, 1], [1, 2], [2, 4]], 'an unknown size goes alone');
  t.same(chunksByPixels(Array.from({ length: 5 }, () => raw(1, 1)), 2, 1e9), [[0, 2], [2, 4], [4, 5]], 'at most maxImages per call');
  t.same(chunksByPixels([], 16, 1), []);
});

t.test('a budgeted build embeds the same vectors', async (t) => {
  const p = await createPipeline(STANDIN_CONFIG, { threads: 1, warmup: false });
  t.teardown(() => p.close());
  const imgs = [fs.readFileSync(img('misc', 'dog.jpg')), pngImage(64, 48), fs.readFileSync(img('product_demo', 'query', 'anmuxi.jpg'))];
  const labels = ['dog', 'gray', 'anmuxi'];
  const a = await p.buildIndex({ galleryImgs: imgs, galleryLabel: labels, indexType: 'Flat' });
  const b = await p.buildIndex({ galleryImgs: imgs, galleryLabel: labels, indexType: 'Flat', maxPixelsInFlight: 1 });
  t.same([...b.idMapEntries], [...a.idMapEntries]);
  for (const probe of imgs) {
    const ra = await p.recognize(probe, { index: a, recTopk: 3 });
    const rb = await p.recognize(probe, { index: b, recTopk: 3 });
    // One image per embed call instead of three: batch size may move scores in the last digits only.
    const sa = ra.boxes.flatMap((x) => x.rec_scores as number[]), sb = rb.boxes.flatMap((x) => x.rec_scores as number[]);
    t.equal(sb.length, sa.length, 'as many results');
    t.ok(sa.every((s, i) => Math.abs(s - sb[i]) < 1e-3), `same scores within 1e-3: ${sa.map((s) => s.toFixed(4))} vs ${sb.map((s) => s.toFixed(4))}`);
  }
  await t.rejects(p.buildIndex({ galleryImgs: imgs, galleryLabel: labels, maxPixelsInFlight: 0 }), /maxPixelsInFlight must be a positive integer/);
});

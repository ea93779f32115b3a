// `npm run test:gpu`, on a machine with an NVIDIA GPU and the providers
// installed (npm run gpu:install): the pipeline on gpu:0 must agree with CPU.
import t from 'tap';
import { createPipeline } from '../../lib/index';
import { IMAGES, STANDIN_CONFIG, img } from '../helpers/shared';

t.test('gpu:0 gives the CPU answers', async (t) => {
  const cpu = await createPipeline(STANDIN_CONFIG, { device: 'cpu' });
  const gpu = await createPipeline(STANDIN_CONFIG, { device: 'gpu:0' });
  t.teardown(async () => { await cpu.close(); await gpu.close(); });
  const labels = `${__dirname}/../../examples/gallery_labels.txt`;
  const index = await cpu.buildIndex({ galleryImgs: IMAGES, galleryLabel: labels, indexType: 'Flat' });
  for (const f of [img('misc', 'bus.jpg'), img('misc', 'dog.jpg'), img('drink_test_images', '100.jpeg')]) {
    const a = (await cpu.recognize(f, { index })).json.res.boxes;
    const b = (await gpu.recognize(f, { index })).json.res.boxes;
    t.equal(b.length, a.length, `${f}: same number of boxes`);
    a.forEach((box, i) => {
      box.coordinate.forEach((v, j) => t.ok(Math.abs(v - b[i].coordinate[j]) <= 1, 'within 1 px'));
      t.equal(b[i].labels[0], box.labels[0], 'same top-1 label');
      if (box.rec_scores[0] !== null) t.ok(Math.abs((box.rec_scores[0] as number) - (b[i].rec_scores[0] as number)) < 1e-3, 'cosine within 1e-3');
    });
  }
});

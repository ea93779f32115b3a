// The graph pass in the pipeline: with it on and off the stand-in pipeline
// finds the same boxes and labels (compared by IoU and score tolerance, never
// by which of two near-equal labels comes first), and its cache: written on
// the first load, read on the next, a corrupt entry ignored and written again,
// no writable directory no failure.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPipeline, Pipeline } from '../../lib/index';
import { cacheEntryName, optimizedModel } from '../../lib/onnx/graph-pass/cache';
import { decodeModel } from '../../lib/onnx/graph-pass/model';
import { IMAGES, MODELS, STANDIN_CONFIG, img } from '../helpers/shared';
import { expectSameRecognition } from '../helpers/recognition';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-graph-pass-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
// The cache goes under the model home: a fresh one, so the first load writes.
const home = path.join(tmp, 'home');
const savedHome = process.env.SHITU_MODEL_HOME;
process.env.SHITU_MODEL_HOME = home;
t.teardown(() => { if (savedHome === undefined) delete process.env.SHITU_MODEL_HOME; else process.env.SHITU_MODEL_HOME = savedHome; });

const LABELS = path.resolve(__dirname, '..', '..', 'examples', 'gallery_labels.txt');
const PICODET = path.join(MODELS, 'picodet_s_coco', 'picodet_s_416_coco.onnx');
const QUERIES = [
  ...fs.readdirSync(img('drink_test_images')).map((f) => img('drink_test_images', f)),
  ...fs.readdirSync(img('product_demo', 'query')).map((f) => img('product_demo', 'query', f)),
  img('misc', 'bus.jpg'), img('misc', 'dog.jpg'), img('misc', 'coco_000000570688.jpg'),
];
/** Detection scores of the same box: the outputs move by at most 2e-6 (graph-pass.test.ts). */
const DET_SCORE_TOLERANCE = 1e-4;

t.test('pipeline: the same boxes and labels with the graph pass on and off', async (t) => {
  const on = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1 });
  const off = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1, optimizeGraph: false });
  t.teardown(async () => { await on.close(); await off.close(); });
  const cached = fs.readdirSync(path.join(home, '.cache', 'graph-pass'));
  t.ok(cached.includes(cacheEntryName(fs.readFileSync(PICODET))), 'the detector went through the pass (its entry is in the model home)');
  const indexOf = (p: Pipeline) => p.buildIndex({ galleryImgs: IMAGES, galleryLabel: LABELS, indexType: 'Flat', metricType: 'IP' });
  const [ion, ioff] = [await indexOf(on), await indexOf(off)];
  let boxes = 0;
  for (const q of QUERIES) {
    const [a, b] = [await on.recognize(q, { index: ion }), await off.recognize(q, { index: ioff })];
    boxes += a.boxes.length;
    expectSameRecognition(t, a.boxes, b.boxes, `${path.basename(q)}: pass on as off`);
    const worst = Math.max(0, ...a.boxes.map((x, i) => Math.abs(x.det_score - (b.boxes[i]?.det_score ?? Infinity))));
    t.ok(worst <= DET_SCORE_TOLERANCE, `${path.basename(q)}: detection scores within ${DET_SCORE_TOLERANCE} (largest difference ${worst.toExponential(2)})`);
  }
  t.ok(boxes >= QUERIES.length, `${boxes} boxes compared`);
  await t.rejects(createPipeline(STANDIN_CONFIG, { optimizeGraph: 'yes' as unknown as boolean }), { name: 'TypeError', message: /optimizeGraph must be a boolean/ });
});

t.test('cache: written, read back, a corrupt entry rewritten, no writable directory', async (t) => {
  const dirs = [path.join(tmp, 'c1'), path.join(tmp, 'c2')];
  const first = optimizedModel(PICODET, dirs);
  t.match(first, { cache: 'written', cacheFile: path.join(dirs[0], cacheEntryName(fs.readFileSync(PICODET))) });
  t.equal(first?.report?.applied['fuse-hard-swish'], 87, 'rewritten now');
  const second = optimizedModel(PICODET, dirs);
  t.equal(second?.cache, 'hit', 'the next load reads it');
  t.ok(second && first && second.bytes.equals(first.bytes), 'the same bytes');
  t.notOk(second?.report, 'and does not rewrite');
  const file = first?.cacheFile as string;

  // Truncated, then one byte flipped: each time ignored, rewritten, and good again.
  for (const [what, damage] of [
    ['truncated', (b: Buffer) => b.subarray(0, b.length >> 1)],
    ['one byte changed', (b: Buffer) => { const c = Buffer.from(b); c[c.length - 100] ^= 0xff; return c; }],
    ['not an entry at all', () => Buffer.from('garbage')],
  ] as const) {
    fs.writeFileSync(file, damage(fs.readFileSync(file)));
    const again = optimizedModel(PICODET, dirs);
    t.equal(again?.cache, 'written', `${what}: rewritten`);
    t.ok(again && first && again.bytes.equals(first.bytes), `${what}: the same rewrite`);
    t.equal(optimizedModel(PICODET, dirs)?.cache, 'hit', `${what}: read back afterwards`);
  }
  t.same(fs.readdirSync(dirs[0]).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');

  // The first directory holds an entry from the second place: read from there.
  fs.mkdirSync(dirs[1], { recursive: true });
  fs.copyFileSync(file, path.join(dirs[1], path.basename(file)));
  fs.rmSync(dirs[0], { recursive: true });
  t.equal(optimizedModel(PICODET, dirs)?.cache, 'hit', 'found in the second directory');

  // Neither can be created (each sits under a regular file): the rewrite is still used.
  const blocker = path.join(tmp, 'a-file');
  fs.writeFileSync(blocker, '');
  const none = optimizedModel(PICODET, [path.join(blocker, 'x'), path.join(blocker, 'y')]);
  t.equal(none?.cache, 'uncached');
  t.equal(decodeModel(none?.bytes ?? Buffer.alloc(0)).graph?.node.length, 401, 'the rewritten model (401 nodes)');
});

t.test('a model file that is no ONNX model: ERR_MODEL_LOAD as without the pass', async (t) => {
  const dir = path.join(tmp, 'junk-model');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'picodet_s_416_coco.onnx'), Buffer.from('\xff\xd8\xff\xe0 a JPEG header, no model', 'latin1'));
  t.equal(optimizedModel(path.join(dir, 'picodet_s_416_coco.onnx'), [path.join(tmp, 'c3')]), null, 'the pass leaves it to ONNX Runtime');
  t.equal(optimizedModel(path.join(dir, 'missing.onnx'), [path.join(tmp, 'c3')]), null, 'a missing file too');
  for (const optimizeGraph of [true, false])
    await t.rejects(
      createPipeline(STANDIN_CONFIG, { optimizeGraph, config: { SubModules: { Detection: { model_dir: dir } } } }),
      { code: 'ERR_MODEL_LOAD' },
      `optimizeGraph ${optimizeGraph}`,
    );
});

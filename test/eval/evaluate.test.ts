// Gallery evaluation: metrics by hand, the threshold sweep, a tiny
// gallery whose outcome is fixed by construction, leave-one-out, cancellation.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPipeline, IndexData, Pipeline } from '../../lib/index';
import { averagePrecision, meanAveragePrecision, recallAtK } from '../../lib/eval/metrics';
import { sweepThresholds } from '../../lib/eval/sweep';
import { IMAGES, STANDIN_CONFIG } from '../helpers/shared';
import { TIE_MARGIN } from '../helpers/recognition';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-eval-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, lines: string[]) => { const f = path.join(tmp, name); fs.writeFileSync(f, lines.join('\n') + '\n'); return f; };
const close = (t: Test, a: number, b: number, what: string) => t.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} = ${b}`);

let pipeline: Pipeline;
t.before(async () => { pipeline = await createPipeline(STANDIN_CONFIG, { threads: 2 }); });
t.teardown(() => pipeline?.close());

t.test('Recall@k and mAP@k as PaddleClas defines them, by hand', async (t) => {
  // Three known queries' ranked entries (true: the query's label).
  const ranked = [[true, false, true], [false, true, false], [false, false, false]];
  t.equal(recallAtK(ranked, 1), 1 / 3);
  t.equal(recallAtK(ranked, 2), 2 / 3);
  // AP: (1/1 + 2/3) / 2; (1/2) / 1; nothing relevant in the list: 0.
  close(t, averagePrecision(ranked[0], 3), (1 + 2 / 3) / 2, 'AP of [1,0,1]');
  close(t, averagePrecision(ranked[1], 3), 0.5, 'AP of [0,1,0]');
  t.equal(averagePrecision(ranked[2], 3), 0);
  close(t, meanAveragePrecision(ranked, 3), ((1 + 2 / 3) / 2 + 0.5 + 0) / 3, 'mAP@3');
  close(t, averagePrecision(ranked[0], 1), 1, 'AP@1 of [1,...]');
  t.ok(Number.isNaN(recallAtK([], 1)), 'no known query: NaN');
});

t.test('threshold sweep by hand', async (t) => {
  // scores 0.9 right, 0.8 wrong, 0.7 right, 0.6 unknown, null known (no answer).
  const items = [
    { score: 0.9, correct: true, known: true }, { score: 0.8, correct: false, known: true },
    { score: 0.7, correct: true, known: true }, { score: 0.6, correct: false, known: false },
    { score: null, correct: false, known: true },
  ];
  const s = sweepThresholds(items, 'IP', 0.6);
  t.same(s.rows.map((r) => r.threshold), [0.9, 0.8, 0.7, 0.6], 'every distinct score, strictest first');
  // t=0.9: P 1, R 1/4, F1 0.4; t=0.8: P 1/2, R 1/4, F1 1/3; t=0.7: P 2/3, R 2/4, F1 4/7; t=0.6: P 2/4, R 2/4, F1 1/2.
  close(t, s.rows[0].f1, 0.4, 'F1 at 0.9');
  close(t, s.rows[2].f1, 4 / 7, 'F1 at 0.7');
  close(t, s.rows[3].unknownRejection, 0, 'the unknown item is accepted at 0.6');
  close(t, s.rows[2].unknownRejection, 1, 'and rejected at 0.7');
  close(t, s.rows[3].acceptRate, 4 / 5, 'accept rate at 0.6');
  t.equal(s.bestF1!.threshold, 0.7, 'best F1 at 0.7');
  close(t, s.suggested!, 0.65, 'suggested: half-way to the next looser score');
  t.equal(s.targetPrecision.row!.threshold, 0.7, 'loosest threshold with precision >= 0.6');
  t.equal(sweepThresholds(items, 'IP', 0.95).targetPrecision.row!.threshold, 0.9);
  // L2: lower is better, the same answers mirrored.
  const l2 = sweepThresholds(items.map((i) => ({ ...i, score: i.score === null ? null : 2 - 2 * i.score })), 'L2', 0.6);
  close(t, l2.bestF1!.threshold, 2 - 2 * 0.7, 'L2 best threshold');
});

t.test('a tiny gallery and query set, computed by hand', async (t) => {
  // Whole pictures (detThreshold 1: no box passes, the picture is one box, as
  // gallery images are embedded): a query that is a gallery photo scores ~1
  // against itself, far above anything else, so every rank below is fixed.
  const gallery = write('tiny-gallery.txt', ['product_demo/gallery/anmuxi/001.jpg anmuxi', 'drink_test_images/mosilian.jpeg mosilian']);
  const queries = write('tiny-queries.txt', [
    'product_demo/gallery/anmuxi/001.jpg anmuxi', // right, AP 1
    'drink_test_images/mosilian.jpeg mosilian', // right, AP 1
    'product_demo/gallery/anmuxi/001.jpg mosilian', // mislabelled query: top-1 wrong, mosilian 2nd: AP 1/2
    'misc/dog.jpg -', // unknown
    'misc/bus.jpg city bus', // unknown: not in the gallery
  ]);
  const r = await pipeline.evaluate({ gallery: { dir: IMAGES, labels: gallery }, queries: IMAGES, queryLabels: queries, detThreshold: 1, targetPrecision: 0.6 });
  const selfScores = r.details.slice(0, 3).map((d) => d.answer!.score);
  const unknownScores = r.details.slice(3).map((d) => d.answer!.score);
  for (const s of selfScores) t.ok(s > 0.99, `a gallery photo finds itself at ${s.toFixed(4)}`);
  for (const s of unknownScores) t.ok(s < Math.min(...selfScores) - 10 * TIE_MARGIN, `an unknown photo stays far below (${s.toFixed(4)})`);
  t.same([r.queries.total, r.queries.known, r.queries.unknown], [5, 3, 2]);
  t.same(r.details.map((d) => d.known), [true, true, true, false, false]);
  close(t, r.image.recall1, 2 / 3, 'Recall@1');
  close(t, r.image.recall5, 1, 'Recall@5');
  close(t, r.image.mAP, (1 + 1 + 0.5) / 3, 'mAP@5');
  // Accepting the three self-matches: precision 2/3, recall 2/3, F1 2/3; one unknown more: P 2/4, F1 4/7; both: P 2/5, F1 1/2.
  close(t, r.image.sweep.bestF1!.f1, 2 / 3, 'best F1');
  t.equal(r.image.sweep.bestF1!.threshold, Math.min(...selfScores), 'at the lowest self-match score');
  close(t, r.image.sweep.bestF1!.unknownRejection, 1, 'every unknown rejected there');
  const suggested = r.image.sweep.suggested!;
  t.ok(suggested > Math.max(...unknownScores) && suggested < Math.min(...selfScores), `suggested ${suggested.toFixed(4)} between unknown and known`);
  t.equal(r.image.sweep.targetPrecision.row!.threshold, Math.min(...selfScores), 'precision 0.6 reached first at the self-matches');
  close(t, r.image.atCurrent.threshold, 0.5, 'the config\'s rec_threshold is the current one');
  t.same(r.image.confused.map((c) => [c.truth, c.predicted, c.count]), [['mosilian', 'anmuxi', 1]], 'the mislabelled query is the confused pair');
  t.same(r.image.perLabel.find((l) => l.label === 'anmuxi'), { label: 'anmuxi', support: 1, recall: 1, precision: 0.5, predicted: 2 });
  t.equal(r.queries.noMainBody, 5, 'detThreshold 1: no main body anywhere');
  t.same([r.run.embedded.gallery, r.run.embedded.queries, r.run.cacheHits], [2, 4, 1], 'anmuxi/001 is embedded once as a query');
  t.equal(r.box.count, 5, 'one box per picture');
  close(t, r.box.recall1, 2 / 3, 'per box the same');

  // Unknown queries are rejected at the suggested threshold by plain recognition too.
  const index = await pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: gallery, indexType: 'Flat' });
  for (const q of ['misc/dog.jpg', 'misc/bus.jpg']) {
    const res = await pipeline.recognize(path.join(IMAGES, q), { index, detThreshold: 1, recThreshold: suggested });
    t.same(res.boxes.map((b) => b.labels[0]), [null], `${q} rejected at ${suggested.toFixed(4)}`);
  }
  const known = await pipeline.recognize(path.join(IMAGES, 'drink_test_images/mosilian.jpeg'), { index, detThreshold: 1, recThreshold: suggested });
  t.equal(known.boxes[0].labels[0], 'mosilian', 'a known photo still accepted');
});

t.test('leave-one-out on product_demo/gallery', async (t) => {
  const files = fs.readdirSync(path.join(IMAGES, 'product_demo/gallery/anmuxi')).sort();
  const labels = write('pd-gallery.txt', files.map((f) => `anmuxi/${f} anmuxi`));
  const r = await pipeline.evaluate({ gallery: { dir: path.join(IMAGES, 'product_demo/gallery'), labels }, leaveOneOut: true });
  t.equal(r.mode, 'leave-one-out');
  t.same([r.queries.total, r.queries.known, r.queries.unknown], [6, 6, 0]);
  // One label: whatever is found is right, and the other five fill the top 5.
  t.equal(r.image.recall1, 1);
  t.equal(r.image.mAP, 1);
  r.details.forEach((d, i) => {
    for (const b of d.boxes) {
      t.notOk(b.hits.some((h) => h.id === i), `${files[i]}: its own vector is left out`);
      t.equal(b.hits.length, 5, `${files[i]}: the five others found`);
    }
  });
});

t.test('leave-one-out on the quick start with a duplicated entry', async (t) => {
  const lines = fs.readFileSync(path.resolve(__dirname, '../../examples/gallery_labels.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  // 001.jpg a second time: its copy must not answer for it.
  const labels = write('qs-dup.txt', [...lines, 'product_demo/gallery/anmuxi/001.jpg\t安慕希']);
  const r = await pipeline.evaluate({ gallery: { dir: IMAGES, labels }, leaveOneOut: true, detThreshold: 1 });
  const dup = lines.length; // the copy's id
  t.equal(r.gallery.entries, 12);
  t.same(r.run.embedded.gallery, 11, 'the copy is embedded once');
  for (const i of [0, dup]) {
    t.notOk(r.details[i].boxes[0].hits.some((h) => h.id === 0 || h.id === dup), `entry ${i}: neither 001.jpg nor its copy is found`);
    t.ok(r.details[i].boxes[0].hits[0].score < 0.99, 'so it does not find itself');
  }
  // Labels with one picture have nothing left to be found by: unknown.
  t.same(r.details.filter((d) => !d.known).map((d) => d.label).sort(), ['city bus', 'dog', '优加', '农夫山泉', '莫斯利安'].sort());
  const correct = r.details.filter((d) => d.known && d.answer?.label === d.label).length;
  close(t, r.image.recall1, correct / 7, 'Recall@1 counts the known answers that are right');
  t.ok(r.image.sweep.rows.length > 0 && r.image.sweep.suggested !== null);
});

t.test('an index as the gallery: its vectors read back, leave-one-out on vectors', async (t) => {
  const gallery = write('idx-gallery.txt', ['product_demo/gallery/anmuxi/001.jpg a', 'product_demo/gallery/anmuxi/002.jpg a', 'drink_test_images/youjia.jpeg y']);
  const index = await pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: gallery, indexType: 'HNSW32' });
  const dir = path.join(tmp, 'idx');
  await index.save(dir);
  const r = await pipeline.evaluate({ index: dir, leaveOneOut: true });
  t.same(r.details.map((d) => d.image), ['#0', '#1', '#2']);
  t.same(r.details.map((d) => d.known), [true, true, false]);
  r.details.forEach((d, i) => t.same(d.boxes[0].hits.map((h) => h.id).sort(), [0, 1, 2].filter((j) => j !== i), `#${i}: the two others, not itself`));
  t.equal(r.queries.noMainBody, 0, 'stored vectors are not detected');
  const q = write('idx-queries.txt', ['product_demo/gallery/anmuxi/001.jpg a']);
  const r2 = await pipeline.evaluate({ index: await IndexData.load(dir), queries: IMAGES, queryLabels: q, detThreshold: 1 });
  t.equal(r2.image.recall1, 1, 'a gallery photo against its HNSW32 index');
  // L2 (squared distances: lower is better): the sweep and the suggestion run the other way.
  const l2 = await pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: gallery, indexType: 'Flat', metricType: 'L2' });
  const q2 = write('idx-queries-l2.txt', ['product_demo/gallery/anmuxi/001.jpg a', 'misc/dog.jpg -']);
  const r3 = await pipeline.evaluate({ index: l2, queries: IMAGES, queryLabels: q2, detThreshold: 1, recThreshold: 1 });
  const [self, dog] = r3.details.map((d) => d.answer!.score);
  t.ok(self < 0.02 && dog > self + 20 * TIE_MARGIN, `L2: itself at ${self.toFixed(4)}, the dog at ${dog.toFixed(4)}`);
  t.same(r3.image.sweep.rows.map((row) => row.threshold), [self, dog], 'strictest (smallest) first');
  t.ok(r3.image.sweep.suggested! > self && r3.image.sweep.suggested! < dog, 'suggested between them');
  t.equal(r3.image.atSuggested!.unknownRejection, 1, 'the dog rejected there');
  t.equal(r3.image.atSuggested!.recall, 1, 'the photo accepted');
});

t.test('bad options and cancellation', async (t) => {
  const gallery = write('bad-gallery.txt', ['product_demo/gallery/anmuxi/001.jpg a']);
  await t.rejects(pipeline.evaluate({ leaveOneOut: true } as any), TypeError);
  await t.rejects(pipeline.evaluate({ index: path.join(tmp, 'idx'), gallery: { dir: IMAGES, labels: gallery }, leaveOneOut: true }), { name: 'TypeError', message: /exactly one of index and gallery/ });
  await t.rejects(pipeline.evaluate({ gallery: { dir: IMAGES, labels: gallery } }), { name: 'TypeError', message: /queries .* or leaveOneOut/ });
  await t.rejects(pipeline.evaluate({ gallery: { dir: IMAGES, labels: gallery }, leaveOneOut: true, targetPrecision: 2 }), { name: 'RangeError', message: /targetPrecision/ });
  await t.rejects(pipeline.evaluate({ gallery: { dir: IMAGES, labels: gallery }, leaveOneOut: true, topk: 0 }), { name: 'RangeError', message: /topk/ });
  await t.rejects(pipeline.evaluate({ gallery: { dir: IMAGES, labels: gallery }, queries: tmp, queryLabels: path.join(tmp, 'none.txt') }), { code: 'ERR_GALLERY' });
  const missing = write('missing.txt', ['nope.jpg a']);
  await t.rejects(pipeline.evaluate({ gallery: { dir: IMAGES, labels: gallery }, queries: tmp, queryLabels: missing }), { code: 'ERR_IMAGE_MISSING' });
  // Cancelled once the first query is done: the rest never start.
  const big = write('cancel-queries.txt', Array.from({ length: 40 }, (_, i) => `${i % 2 ? 'misc/dog.jpg' : 'misc/bus.jpg'} a`));
  const ac = new AbortController();
  let seen = 0;
  await t.rejects(pipeline.evaluate({
    gallery: { dir: IMAGES, labels: gallery }, queries: IMAGES, queryLabels: big, signal: ac.signal,
    onProgress: (p) => { if (p.stage === 'queries') { seen = p.done; ac.abort(); } },
  }), { code: 'ERR_ABORTED' });
  t.ok(seen < 40, `stopped after ${seen} of 40 queries`);
  await t.rejects(pipeline.evaluate({ gallery: { dir: IMAGES, labels: gallery }, leaveOneOut: true, signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
});

// Gallery health: a deliberately mislabelled picture, a duplicated
// entry and a picture without a main body are found; the report is written
// with the pairs drawn side by side.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkGallery, createPipeline, Pipeline, writeCheck } from '../../lib/index';
import { native } from '../../lib/native/loader';
import { IMAGES, STANDIN_CONFIG } from '../helpers/shared';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-gcheck-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const QUICK = fs.readFileSync(path.resolve(__dirname, '../../examples/gallery_labels.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));

let pipeline: Pipeline;
let labels: string;
const COPY = () => path.join(tmp, 'anmuxi-003-reencoded.jpg');
const BLANK = () => path.join(tmp, 'blank.png');
t.before(async () => {
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 2 });
  // The mislabel: anmuxi/003 re-encoded (other bytes, nearly the same picture) filed as 莫斯利安.
  const raw = await native.decodeImage(path.join(IMAGES, 'product_demo/gallery/anmuxi/003.jpg'));
  fs.writeFileSync(COPY(), await native.encodeImage(raw, '.jpg', 70));
  // Nothing in it to detect.
  fs.writeFileSync(BLANK(), await native.encodeImage({ data: new Uint8Array(300 * 200 * 3).fill(200), width: 300, height: 200, channels: 3 }, '.png'));
  labels = path.join(tmp, 'gallery.txt');
  fs.writeFileSync(labels, [...QUICK, `${COPY()}\t莫斯利安`, 'product_demo/gallery/anmuxi/001.jpg\t安慕希', `${BLANK()}\tblank`].join('\n') + '\n');
});
t.teardown(() => pipeline?.close());

t.test('the mislabelled, the duplicated and the empty picture are found', async (t) => {
  const r = await pipeline.checkGallery({ gallery: { dir: IMAGES, labels } });
  const copyId = QUICK.length, dupId = QUICK.length + 1, blankId = QUICK.length + 2;
  t.same([r.entries, r.labels], [QUICK.length + 3, 7]);
  const mis = r.conflicts.filter((c) => c.likelyMislabelled);
  t.same(mis.map((c) => [c.entry.id, c.entry.label, c.suggestedLabel]), [[copyId, '莫斯利安', '安慕希']], 'only the re-encoded copy is flagged as mislabelled');
  t.equal(mis[0].neighbour.image, path.join(IMAGES, 'product_demo/gallery/anmuxi/003.jpg'), 'its neighbour is the picture it was copied from');
  t.ok(mis[0].similarity > 0.9 && mis[0].similarity > (mis[0].ownLabelBest ?? 0) + 0.1, `similarity ${mis[0].similarity.toFixed(3)} against ${mis[0].ownLabelBest?.toFixed(3)} for its own label`);
  t.ok(r.conflicts.some((c) => c.entry.id === 2 && c.neighbour.id === copyId), 'the original sees the copy as a conflict');
  t.same(r.duplicates.filter((d) => d.exact).map((d) => [d.a.id, d.b.id, d.sameLabel]), [[0, dupId, true]], '001.jpg listed twice: one exact duplicate');
  const near = r.duplicates.find((d) => d.b.id === copyId);
  if (near) t.notOk(near.exact || near.sameLabel, 'the re-encoded copy, if near enough, is a near duplicate under another label');
  // (The stand-in detector finds none in anmuxi/003 either: only the blank picture is asserted.)
  t.ok(r.noMainBody!.some((e) => e.id === blankId && e.image === BLANK()), 'the blank picture has no main body');
  t.same(r.thresholds, { conflictSimilarity: 0.5, nearDuplicateSimilarity: 0.98, outlierSimilarity: 0.5 }, 'conflicts from the config\'s rec_threshold');
  const spread = r.spread.find((s) => s.label === '安慕希')!;
  t.equal(spread.entries, 7);
  t.ok(spread.minSimilarity! <= spread.meanSimilarity!, 'farthest pair below the mean');
  for (const o of r.outliers) t.ok(o.meanOwnSimilarity < 0.5 || (o.bestOtherSimilarity !== null && o.meanOwnSimilarity < o.bestOtherSimilarity), `outlier #${o.entry.id}: apart from its label`);

  const out = path.join(tmp, 'out');
  const files = await writeCheck(r, out);
  t.same(files.map((f) => path.basename(f)), ['check.json', 'check.md', 'pairs.jpg']);
  t.same(JSON.parse(fs.readFileSync(path.join(out, 'check.json'), 'utf8')).conflicts.length, r.conflicts.length);
  const md = fs.readFileSync(path.join(out, 'check.md'), 'utf8');
  t.match(md, /yes: looks like 安慕希/);
  t.match(md, /\| #0 安慕希 \(001\.jpg\) \| #12 安慕希 \(001\.jpg\) \| 1\.0000 \| yes \| yes \|/);
  const pic = await native.decodeImage(path.join(out, 'pairs.jpg'));
  t.ok(pic.width > 400 && pic.height > 200, `the pairs picture decodes (${pic.width}x${pic.height})`);
});

t.test('an index checked from its vectors alone, and bad options', async (t) => {
  const index = await pipeline.buildIndex({ galleryImgs: IMAGES, galleryLabel: labels, indexType: 'Flat' });
  const r = await checkGallery(null, { index }, { nearDuplicateSimilarity: 0.999 });
  t.equal(r.noMainBody, null, 'no pictures: not looked for');
  t.same(r.conflicts.filter((c) => c.likelyMislabelled).map((c) => c.entry.id), [QUICK.length], 'the mislabel found from vectors');
  t.equal(r.conflicts[0].entry.image, null);
  t.equal(r.thresholds.conflictSimilarity, 0.5, 'no pipeline: the default');
  await t.rejects(checkGallery(null, { index }, { conflictSimilarity: 2 }), { name: 'RangeError', message: /conflictSimilarity/ });
  await t.rejects(checkGallery(null, { gallery: { dir: IMAGES, labels } }), { name: 'TypeError', message: /needs a pipeline/ });
  await t.rejects(pipeline.checkGallery({ index: path.join(tmp, 'none') }), { code: 'ERR_INDEX_IO' });
  await t.rejects(pipeline.checkGallery({ gallery: { dir: IMAGES, labels } }, { signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
});

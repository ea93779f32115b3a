// createPipeline(..., { quantized: true }) on a real FP32 feature model (the
// MobileNetV2 stand-in's weights turned back into floats, test/helpers/int8-to-fp32.ts)
// and its INT8 copy written by quantizeFeatureModel beside it (`<dir>-int8`):
// the shared photos keep their top-1 labels where the FP32 lead is clear, the
// INT8 copy is what runs (its scores are not the FP32 ones), useHpip on CPU picks
// it when it is there and keeps FP32 when not, and a missing copy is a coded error.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { quantizeFeatureModel } from '../../lib/onnx/quantize';
import { IMAGES, MODELS, STANDIN_CONFIG } from '../helpers/shared';
import { writeFp32FeatureModel } from '../helpers/int8-to-fp32';
import { hitsOf, leadOf, matchBox, SAME_BOX_IOU } from '../helpers/recognition';

/**
 * A top-1 label is compared between FP32 and INT8 only where FP32's best label
 * leads the runner-up by more than this. Measured here (AMD EPYC, AVX-512 VNNI)
 * over every shared photo against the quick-start gallery: the same box's score
 * for one label moved by up to 0.066 between the two models (mosilian.jpeg's
 * first box, whose 0.051 FP32 lead flipped), against 0.004 between thread counts
 * (test/helpers/recognition.ts TIE_MARGIN): 0.1 = 1.5x the largest move.
 */
const QUANTIZED_MARGIN = 0.1;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-quantized-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const FP32_DIR = path.join(tmp, 'mobilenetv2-fp32');
writeFp32FeatureModel(path.join(MODELS, 'mobilenetv2', 'mobilenetv2-12-int8-feat.onnx'), FP32_DIR, path.resolve(__dirname, '..', '..', 'models', 'mobilenetv2_feat.yaml'));
const NO_COPY_DIR = path.join(tmp, 'no-copy');
fs.cpSync(FP32_DIR, NO_COPY_DIR, { recursive: true });
const withRec = (dir: string) => ({ config: { SubModules: { Recognition: { model_dir: dir } } } });

const LABELS = fs.readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'gallery_labels.txt'), 'utf8')
  .split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => /^(\S+)\s+(.+)$/.exec(l.trim())!);
const PHOTOS: string[] = [];
const walk = (d: string) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)))
    if (e.isDirectory()) walk(path.join(d, e.name));
    else if (/\.(jpe?g|png)$/i.test(e.name)) PHOTOS.push(path.join(d, e.name));
};
walk(IMAGES);

async function recogniseAll(p: Pipeline) {
  const index = await p.buildIndex({ galleryImgs: LABELS.map((m) => path.join(IMAGES, m[1])), galleryLabel: LABELS.map((m) => m[2]), indexType: 'Flat', metricType: 'IP' });
  const out = new Map<string, Awaited<ReturnType<Pipeline['recognize']>>>();
  for (const f of PHOTOS) out.set(f, await p.recognize(f, { index }));
  return out;
}

t.before(async () => {
  const r = await quantizeFeatureModel({ modelDir: FP32_DIR, galleryDir: IMAGES });
  if (r.outDir !== `${FP32_DIR}-int8`) throw new Error(`the INT8 copy went to ${r.outDir}`);
});

t.test('quantized: true recognises the shared photos like FP32 where FP32 leads clearly', async (t) => {
  const fp32 = await createPipeline(STANDIN_CONFIG, withRec(FP32_DIR));
  const int8 = await createPipeline(STANDIN_CONFIG, { ...withRec(FP32_DIR), quantized: true });
  t.teardown(() => Promise.all([fp32.close(), int8.close()]));
  const [a, b] = [await recogniseAll(fp32), await recogniseAll(int8)];
  let compared = 0, scoresDiffer = 0;
  for (const f of PHOTOS) {
    const name = path.relative(IMAGES, f);
    const boxesB = b.get(f)!.boxes;
    for (const [i, box] of a.get(f)!.boxes.entries()) {
      const m = matchBox(box, boxesB);
      t.ok(m.box && m.iou >= SAME_BOX_IOU, `${name} box ${i}: the same box (one detector)`);
      const ha = hitsOf(box), hb = m.box ? hitsOf(m.box) : [];
      if (ha[0] && hb[0] && Math.abs(ha[0].score - hb[0].score) > 1e-4) scoresDiffer++;
      // Clear: leads by the margin, and far enough above rec_threshold (0.5) that INT8 keeps an answer.
      if (!ha[0] || leadOf(ha) <= QUANTIZED_MARGIN || ha[0].score < 0.5 + QUANTIZED_MARGIN) continue;
      compared++;
      t.equal(hb[0]?.label, ha[0].label, `${name} box ${i}: ${ha[0].label} (FP32 ${ha[0].score.toFixed(3)}, lead ${leadOf(ha).toFixed(3)}; INT8 ${hb[0]?.score.toFixed(3)})`);
    }
  }
  t.ok(compared >= 10, `${compared} boxes with a clear FP32 lead compared`);
  t.ok(scoresDiffer >= compared, `the INT8 copy ran: ${scoresDiffer} top-1 scores differ from FP32's`);
});

t.test('useHpip on CPU: the INT8 copy when it is there, FP32 when not', async (t) => {
  const img = path.join(IMAGES, 'misc', 'dog.jpg');
  const score = async (o: Parameters<typeof createPipeline>[1]) => {
    const p = await createPipeline(STANDIN_CONFIG, o);
    try {
      const index = await p.buildIndex({ galleryImgs: [img], galleryLabel: ['dog'], indexType: 'Flat', metricType: 'IP' });
      return { quantized: p.settings.quantized, scores: (await p.recognize(path.join(IMAGES, 'misc', 'bus.jpg'), { index })).boxes.map((b) => b.rec_scores[0]) };
    } finally {
      await p.close();
    }
  };
  const [fp32, int8] = [await score(withRec(FP32_DIR)), await score({ ...withRec(FP32_DIR), quantized: true })];
  t.same([fp32.quantized, int8.quantized], [false, true], 'settings.quantized');
  t.notSame(int8.scores, fp32.scores, 'the two models score differently');
  t.same(await score({ ...withRec(FP32_DIR), useHpip: true }), int8, 'useHpip: the INT8 copy and its scores');
  t.same(await score({ ...withRec(FP32_DIR), useHpip: true, quantized: false }), fp32, 'quantized: false wins over useHpip');
  t.same(await score({ ...withRec(NO_COPY_DIR), useHpip: true }), fp32, 'no copy: FP32, no error');
});

t.test('a missing INT8 copy or a bad value: coded errors', async (t) => {
  await t.rejects(createPipeline(STANDIN_CONFIG, { ...withRec(NO_COPY_DIR), quantized: true }), {
    code: 'ERR_MODEL_NOT_FOUND',
    message: `${NO_COPY_DIR}-int8 does not exist; make it with: shitu models quantize ${NO_COPY_DIR} --calibrate <gallery_dir>`,
  });
  const home = path.join(tmp, 'home');
  fs.mkdirSync(path.join(home, 'mobilenetv2_feat'), { recursive: true });
  const saved = process.env.SHITU_MODEL_HOME;
  process.env.SHITU_MODEL_HOME = home;
  t.teardown(() => { if (saved === undefined) delete process.env.SHITU_MODEL_HOME; else process.env.SHITU_MODEL_HOME = saved; });
  await t.rejects(createPipeline(STANDIN_CONFIG, { config: { SubModules: { Recognition: { model_dir: null } } }, quantized: true }), {
    code: 'ERR_MODEL_NOT_FOUND',
    message: new RegExp(`${path.join(home, 'mobilenetv2_feat-int8').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`),
  }, 'a named model: $SHITU_MODEL_HOME/<name>-int8');
  await t.rejects(createPipeline(STANDIN_CONFIG, { quantized: 'yes' as unknown as boolean }), { name: 'TypeError', message: /quantized must be a boolean/ });
});

// Guards the guard: every recognised label the suite expects
// (test/helpers/recognition-cases.ts, the table the tests take their cases from)
// must win on this machine by more than the tie margin — over the runner-up
// label, over the recognition threshold the test uses, and its box must stand
// clear of the detection threshold and of its neighbours in detection order —
// so that another CPU's rounding cannot turn it into a different answer. A case
// that sits inside the margin fails here, named, with its scores: pick a clearer
// case (test/helpers/tie-noise.ts lists the closest races) or expect a tie.
import t from 'tap';
import { createPipeline, IndexData, Pipeline } from '../../lib/index';
import { img, STANDIN_CONFIG } from '../helpers/shared';
import { ALL_CASES, GALLERIES, RecognitionCase } from '../helpers/recognition-cases';
import { hitsOf, leadOver, marginFor, TIE_MARGIN } from '../helpers/recognition';

/** models/standin.yaml's thresholds, what a case gets unless it names its own. */
const CONFIG_DET_THRESHOLD = 0.5;
const CONFIG_REC_THRESHOLD = 0.5;

type Box = { labels: Array<string | null>; rec_scores: Array<number | null>; det_score: number; coordinate: number[] };

let pipeline: Pipeline;
const indexes = new Map<string, Promise<IndexData>>();
t.before(async () => { pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1 }); });
t.teardown(() => pipeline?.close());

function indexFor(c: RecognitionCase): Promise<IndexData> {
  const key = `${c.gallery} ${c.indexType ?? 'Flat'} ${c.metric ?? 'IP'}`;
  if (!indexes.has(key)) {
    const g = GALLERIES[c.gallery];
    indexes.set(key, pipeline.buildIndex({ galleryImgs: g.map(([p]) => img(p)), galleryLabel: g.map(([, l]) => l), indexType: c.indexType ?? 'Flat', metricType: c.metric ?? 'IP' }));
  }
  return indexes.get(key)!;
}

/** Every box of the case's query, with every label of the gallery scored (no threshold, top-k = gallery size). */
async function boxesOf(c: RecognitionCase): Promise<Box[]> {
  const index = await indexFor(c);
  const everything = c.metric === 'L2' ? 1e9 : -1;
  const r = await pipeline.recognize(img(c.image), {
    index, recThreshold: everything, recTopk: Math.min(100, index.count), ...(c.indexType === 'IVF' && { nprobe: 4 }),
    ...(c.detThreshold !== undefined && { detThreshold: c.detThreshold }), ...(c.reducedDecode !== undefined && { reducedDecode: c.reducedDecode }),
  });
  return r.json.res.boxes as Box[];
}

/** Why the case's expectation is not safely outside the tie margin here (none: it is). */
function marginProblems(c: RecognitionCase, boxes: Box[]): string[] {
  const metric = c.metric ?? 'IP';
  const margin = marginFor(metric);
  const at = c.box ?? 0;
  const box = boxes[at];
  if (!box) return [`no box ${at} (${boxes.length} boxes)`];
  const problems: string[] = [];
  const hits = hitsOf(box, metric);
  const shown = hits.slice(0, 3).map((h) => `${h.label} ${h.score.toFixed(4)}`).join(', ');
  const lead = leadOver(hits, c.expected);
  if (lead === undefined) problems.push(`${c.expected} not among the labels (${shown})`);
  else if (lead <= margin) problems.push(`${c.expected} ${lead < 0 ? 'trails' : 'leads'} the runner-up by ${Math.abs(lead).toFixed(4)}, inside the tie margin ${margin} (${shown})`);
  const best = hits.find((h) => h.label === c.expected);
  const recThreshold = c.recThreshold ?? CONFIG_REC_THRESHOLD;
  if (best && recThreshold > 0 && (metric === 'L2' ? recThreshold - best.score : best.score - recThreshold) <= margin)
    problems.push(`score ${best.score.toFixed(4)} within ${margin} of the recognition threshold ${recThreshold}`);
  // A whole-image box (detection threshold 1) has det_score 0 and no neighbours.
  if (c.detThreshold === undefined || c.detThreshold < 1) {
    const detThreshold = c.detThreshold ?? CONFIG_DET_THRESHOLD;
    if (box.det_score - detThreshold <= TIE_MARGIN) problems.push(`detection score ${box.det_score.toFixed(4)} within ${TIE_MARGIN} of the detection threshold ${detThreshold}`);
    for (const n of [at - 1, at + 1]) {
      if (boxes[n] && Math.abs(boxes[n].det_score - box.det_score) <= TIE_MARGIN)
        problems.push(`detection score ${box.det_score.toFixed(4)} within ${TIE_MARGIN} of box ${n}'s ${boxes[n].det_score.toFixed(4)}: the box order may swap`);
    }
  }
  return problems;
}

t.test('every expected label of the suite wins by more than the tie margin here', async (t) => {
  t.ok(ALL_CASES.length >= 10, `${ALL_CASES.length} cases`);
  t.equal(new Set(ALL_CASES.map((c) => c.id)).size, ALL_CASES.length, 'case names are unique');
  for (const c of ALL_CASES) t.same(marginProblems(c, await boxesOf(c)), [], c.id);
});

t.test('the guard flags near-ties', async (t) => {
  // Boxes with scores set here, not recognised: a real near-tie (the first box of
  // drink_test_images/100.jpeg, 安慕希 / 莫斯利安 about 0.001 apart on one CPU)
  // is itself CPU-dependent — on another CPU its two boxes, 0.003 apart in
  // detection score, swap places and the first box is a different drink.
  const near: RecognitionCase = { id: 'near tie', gallery: 'quickStart', image: 'synthetic', expected: '莫斯利安' };
  const box = (det_score: number, hits: Array<[string, number]>, x = 0): Box => ({
    det_score, coordinate: [x, 0, x + 10, 10], labels: hits.map(([l]) => l), rec_scores: hits.map(([, s]) => s),
  });
  const labelTie = [box(0.9, [['安慕希', 0.6653], ['莫斯利安', 0.6642], ['优加', 0.55]])];
  for (const expected of ['莫斯利安', '安慕希']) {
    t.match(marginProblems({ ...near, expected }, labelTie), [/inside the tie margin/], `two labels 0.001 apart: expecting ${expected} is flagged`);
  }
  t.match(marginProblems({ ...near, expected: 'no such label' }, labelTie), [/not among the labels/], 'a label not in the answers is flagged');
  t.same(marginProblems({ ...near, expected: '安慕希' }, [box(0.9, [['安慕希', 0.70], ['莫斯利安', 0.65]])]), [], 'a lead of 0.05 is clear');
  // The same label the same way, once the same label appears twice in the list (a gallery holds it many times).
  t.same(marginProblems({ ...near, expected: '安慕希' }, [box(0.9, [['安慕希', 0.70], ['安慕希', 0.695], ['莫斯利安', 0.60]])]), [], 'a label repeated is one label');
  t.match(marginProblems({ ...near, expected: '安慕希' }, [box(0.9, [['安慕希', 0.51], ['莫斯利安', 0.30]])]), [/within 0.02 of the recognition threshold 0.5/], 'a score at the recognition threshold is flagged');
  const neighbours = [box(0.8658, [['安慕希', 0.70], ['莫斯利安', 0.60]]), box(0.8627, [['莫斯利安', 0.70], ['安慕希', 0.60]], 20)];
  t.match(marginProblems({ ...near, expected: '安慕希' }, neighbours), [/within 0.02 of box 1's 0.8627: the box order may swap/], 'two boxes 0.003 apart in detection score: the order is flagged');
  t.match(marginProblems({ ...near, expected: '安慕希' }, [box(0.51, [['安慕希', 0.70], ['莫斯利安', 0.60]])]), [/within 0.02 of the detection threshold 0.5/], 'a box at the detection threshold is flagged');
  t.same(marginProblems({ ...near, expected: '安慕希', detThreshold: 1 }, [box(0, [['安慕希', 0.70], ['莫斯利安', 0.60]])]), [], 'a whole-image box has no detection score to check');
});

// multiclass_nms3 converted to ONNX and run in onnxruntime: boxes with IoUs
// worked out by hand (thresholds, nms_top_k before NMS, keep_top_k across
// classes, background class, normalized = false, the empty case of the
// package's detector contract), then seeded random batches against Paddle's
// kernel written out in JS (test/helpers/paddle-nms-reference.ts).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../../../lib/errors';
import { convertProgram } from '../../../lib/models/paddle/convert/convert';
import { ProgramMaker, Tensor, convertAndRun, maxAbsDiff, ort, tmpDir } from '../../helpers/paddle-program';
import { NmsAttrs, jaccard, multiclassNms3 } from '../../helpers/paddle-nms-reference';

const ATTRS: NmsAttrs = { scoreThreshold: 0.025, nmsTopK: 1000, keepTopK: 100, nmsThreshold: 0.6, normalized: true, backgroundLabel: -1 };

function nmsProgram(m: number, c: number, a: NmsAttrs, extra: Record<string, number | boolean> = {}): ProgramMaker {
  const p = new ProgramMaker();
  p.feed('boxes', [-1, m, 4]);
  p.feed('scores', [-1, c, m]);
  p.v('out', [-1, 6]);
  p.v('index', [-1, 1], 'int32');
  p.v('num', [-1], 'int32');
  p.op('multiclass_nms3', { BBoxes: 'boxes', Scores: 'scores' }, { Out: 'out', Index: 'index', NmsRoisNum: 'num' }, {
    score_threshold: a.scoreThreshold,
    nms_top_k: a.nmsTopK,
    keep_top_k: a.keepTopK,
    nms_threshold: a.nmsThreshold,
    normalized: a.normalized,
    nms_eta: 1,
    background_label: a.backgroundLabel,
    ...extra,
  });
  p.fetch('out');
  p.fetch('num');
  p.fetch('index');
  return p;
}

async function runNms(boxes: number[][][], scores: number[][][], a: NmsAttrs): Promise<{ out: Tensor; num: Tensor; index: Tensor }> {
  const n = boxes.length;
  const m = boxes[0].length;
  const c = scores[0].length;
  const [out, num, index] = await convertAndRun(nmsProgram(m, c, a), {
    boxes: { dims: [n, m, 4], data: boxes.flat(2) },
    scores: { dims: [n, c, m], data: scores.flat(2) },
  });
  return { out, num, index };
}

const rowsOf = (out: Tensor): number[][] => Array.from({ length: out.dims[0] }, (_, i) => out.data.slice(i * 6, i * 6 + 6));

function sameRows(t: Tap.Test, got: number[][], want: number[][], msg: string): void {
  t.equal(got.length, want.length, `${msg}: ${got.length} rows, want ${want.length}`);
  const flatGot = got.flat();
  const flatWant = want.flat();
  t.ok(maxAbsDiff(flatGot, flatWant) < 1e-5, `${msg}: rows equal (max diff ${maxAbsDiff(flatGot, flatWant)})`);
}

const A = [0, 0, 10, 10];
const B = [1, 1, 11, 11]; // IoU(A, B) = 81 / 119 = 0.68
const Cb = [0, 0, 10, 5]; // IoU(A, C) = 50 / 100 = 0.5
const D = [20, 20, 30, 30];
const E = [50, 50, 60, 60];

t.test('the hand-worked IoUs of the boxes below', async (t) => {
  t.ok(Math.abs(jaccard(A, B, true) - 81 / 119) < 1e-12);
  t.equal(jaccard(A, Cb, true), 0.5);
  t.equal(jaccard(A, D, true), 0);
});

t.test('one class: IoU above nms_threshold suppresses, at or below keeps; score_threshold is strict', async (t) => {
  // E's score equals score_threshold: Paddle keeps only scores above it.
  const { out, num, index } = await runNms([[A, B, Cb, D, E]], [[[0.9, 0.8, 0.7, 0.3, 0.025]]], ATTRS);
  sameRows(t, rowsOf(out), [[0, 0.9, ...A], [0, 0.7, ...Cb], [0, 0.3, ...D]], 'rows');
  t.same(out.dims, [3, 6]);
  t.same(num.data, [3]);
  t.same(index.data, [0, 2, 3], 'Index: box numbers');
  t.same(index.dims, [3, 1]);
});

t.test('nms_threshold 0.5 also keeps C (IoU exactly 0.5 is kept)', async (t) => {
  const { out } = await runNms([[A, B, Cb, D]], [[[0.9, 0.8, 0.7, 0.3]]], { ...ATTRS, nmsThreshold: 0.5 });
  sameRows(t, rowsOf(out), [[0, 0.9, ...A], [0, 0.7, ...Cb], [0, 0.3, ...D]], 'rows');
  const lower = await runNms([[A, B, Cb, D]], [[[0.9, 0.8, 0.7, 0.3]]], { ...ATTRS, nmsThreshold: 0.49 });
  sameRows(t, rowsOf(lower.out), [[0, 0.9, ...A], [0, 0.3, ...D]], 'nms_threshold 0.49 suppresses C');
});

t.test('nms_top_k cuts the candidates before NMS: a suppressed box does not let the next one in', async (t) => {
  // Sorted: A 0.9, B 0.8 (suppressed by A), D 0.3. With nms_top_k 2 only A and B are candidates.
  const { out, num } = await runNms([[A, B, D]], [[[0.9, 0.8, 0.3]]], { ...ATTRS, nmsTopK: 2 });
  sameRows(t, rowsOf(out), [[0, 0.9, ...A]], 'only A');
  t.same(num.data, [1]);
});

const B0 = [0, 0, 10, 10];
const B1 = [20, 20, 30, 30];
const B2 = [40, 40, 50, 50];
const MULTI_SCORES = [[
  [0.99, 0.99, 0.99], // class 0: the background below, never output
  [0.5, 0.9, 0.1],
  [0.8, 0.2, 0.6],
]];

t.test('several classes: background skipped, rows by class then score', async (t) => {
  const a = { ...ATTRS, scoreThreshold: 0.15, backgroundLabel: 0 };
  const { out, num } = await runNms([[B0, B1, B2]], MULTI_SCORES, a);
  sameRows(t, rowsOf(out), [[1, 0.9, ...B1], [1, 0.5, ...B0], [2, 0.8, ...B0], [2, 0.6, ...B2], [2, 0.2, ...B1]], 'rows');
  t.same(num.data, [5]);
});

t.test('keep_top_k keeps the best over all classes, still ordered by class', async (t) => {
  const a = { ...ATTRS, scoreThreshold: 0.15, backgroundLabel: 0, keepTopK: 2 };
  const { out, num, index } = await runNms([[B0, B1, B2]], MULTI_SCORES, a);
  sameRows(t, rowsOf(out), [[1, 0.9, ...B1], [2, 0.8, ...B0]], 'rows');
  t.same(num.data, [2]);
  t.same(index.data, [1, 0]);
});

t.test('background_label -1: every class is a class', async (t) => {
  const { out } = await runNms([[B0, B1, B2]], MULTI_SCORES, { ...ATTRS, scoreThreshold: 0.15, keepTopK: 3 });
  sameRows(t, rowsOf(out), [[0, 0.99, ...B0], [0, 0.99, ...B1], [0, 0.99, ...B2]], 'the three 0.99 of class 0');
});

t.test('normalized = false: IoU with the +1 pixel convention', async (t) => {
  const P = [0, 0, 9, 9]; // 10 x 10 pixels
  const Q = [0, 0, 9, 4]; // 10 x 5 pixels: IoU 0.5 with +1, 36/81 = 0.444 without
  const a = { ...ATTRS, nmsThreshold: 0.45 };
  const pixels = await runNms([[P, Q]], [[[0.9, 0.8]]], { ...a, normalized: false });
  sameRows(t, rowsOf(pixels.out), [[0, 0.9, ...P]], 'Q suppressed (0.5 > 0.45)');
  const plain = await runNms([[P, Q]], [[[0.9, 0.8]]], a);
  sameRows(t, rowsOf(plain.out), [[0, 0.9, ...P], [0, 0.8, ...Q]], 'Q kept (0.444 <= 0.45)');
});

t.test('a batch: rows of each image in turn, counts per image, an image with none', async (t) => {
  const { out, num, index } = await runNms([[A, B, D], [A, B, D], [A, B, D]], [[[0.9, 0.8, 0.3]], [[0.01, 0.02, 0.01]], [[0.2, 0.7, 0.1]]], ATTRS);
  sameRows(t, rowsOf(out), [[0, 0.9, ...A], [0, 0.3, ...D], [0, 0.7, ...B], [0, 0.1, ...D]], 'rows');
  t.same(num.data, [2, 0, 2]);
  t.same(index.data, [0, 2, 7, 8], 'Index counts boxes over the batch (image * M + box)');
});

t.test("nothing above the threshold: the contract's empty case, one dummy row per image and count 0", async (t) => {
  const one = await runNms([[A, D]], [[[0.01, 0.02]]], ATTRS);
  t.same(one.out.dims, [1, 6]);
  t.same(one.out.data, [-1, 0, 0, 0, 0, 0]);
  t.same(one.num.data, [0]);
  const two = await runNms([[A, D], [A, D]], [[[0.01, 0.02]], [[0, 0]]], ATTRS);
  t.same(two.out.dims, [2, 6]);
  t.same(two.out.data, [-1, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0]);
  t.same(two.num.data, [0, 0]);
  t.same(two.index.dims, [0, 1], 'Index stays empty');
});

t.test('the declared outputs: boxes [?, 6] float, count int32', async (t) => {
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await convertProgram(nmsProgram(5, 1, ATTRS).program(), new ProgramMaker().params, { output: path.join(dir, 'm.onnx') });
  t.equal(r.outputs[0].dtype, 'float32');
  t.equal(r.outputs[0].dims.length, 2);
  t.equal(r.outputs[0].dims[1], 6);
  t.equal(r.outputs[1].dtype, 'int32');
  t.equal(r.outputs[1].dims.length, 1);
});

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCase(seed: number, n: number, c: number, m: number): { boxes: number[][][]; scores: number[][][] } {
  const r = rng(seed);
  const boxes = Array.from({ length: n }, () =>
    Array.from({ length: m }, () => {
      // Clustered boxes so that many overlap.
      const x = Math.floor(r() * 4) * 30 + r() * 20;
      const y = Math.floor(r() * 4) * 30 + r() * 20;
      return [x, y, x + 10 + r() * 30, y + 10 + r() * 30];
    }));
  const scores = Array.from({ length: n }, () => Array.from({ length: c }, () => Array.from({ length: m }, () => r())));
  return { boxes, scores };
}

for (const [seed, a] of [
  [1, { ...ATTRS, nmsThreshold: 0.3 }],
  [2, { ...ATTRS, nmsTopK: 20, keepTopK: 15, backgroundLabel: 1, nmsThreshold: 0.45 }],
  [3, { ...ATTRS, scoreThreshold: 0.5, nmsTopK: -1, keepTopK: -1, normalized: false, nmsThreshold: 0.5 }],
  [4, { ...ATTRS, nmsTopK: 10, keepTopK: 7, backgroundLabel: 0, nmsThreshold: 0.2 }],
] as [number, NmsAttrs][]) {
  t.test(`seeded random batch ${seed} equals Paddle's kernel in JS (${JSON.stringify(a)})`, async (t) => {
    const { boxes, scores } = randomCase(seed, 3, 4, 60);
    const want = multiclassNms3(boxes, scores, a);
    t.ok(want.rows.length > 3, `the case keeps boxes (${want.rows.length})`);
    const { out, num } = await runNms(boxes, scores, a);
    t.same(num.data, want.counts, 'counts');
    sameRows(t, rowsOf(out), want.rows, 'rows');
  });
}

t.test('float64 boxes and scores', async (t) => {
  const p = new ProgramMaker();
  p.feed('boxes', [1, 3, 4], 'float64');
  p.feed('scores', [1, 1, 3], 'float64');
  p.v('out', [-1, 6], 'float64');
  p.v('num', [-1], 'int32');
  p.op('multiclass_nms3', { BBoxes: 'boxes', Scores: 'scores' }, { Out: 'out', NmsRoisNum: 'num' }, {
    score_threshold: 0.025, nms_top_k: 1000, keep_top_k: 100, nms_threshold: 0.6, normalized: true, nms_eta: 1, background_label: -1,
  });
  p.fetch('out');
  p.fetch('num');
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'm.onnx');
  await convertProgram(p.program(), p.params, { output: file });
  const o = ort();
  const s = await o.InferenceSession.create(file);
  t.teardown(() => s.release());
  const r = await s.run({
    boxes: new o.Tensor('float64', Float64Array.from([A, B, D].flat()), [1, 3, 4]),
    scores: new o.Tensor('float64', Float64Array.from([0.9, 0.8, 0.3]), [1, 1, 3]),
  });
  const out = r[s.outputNames[0]];
  t.equal(out.type, 'float64');
  t.same(Array.from(out.data as Float64Array), [0, 0.9, ...A, 0, 0.3, ...D]);
});

t.test('refused: adaptive nms_eta above threshold 0.5, LoD RoisNum', async (t) => {
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const eta = nmsProgram(4, 1, ATTRS, { nms_eta: 0.9 });
  const e1 = await convertProgram(eta.program(), eta.params, { output: path.join(dir, 'a.onnx') }).then(() => undefined, (e: unknown) => e);
  t.ok(e1 instanceof ShituError && e1.code === 'ERR_MODEL_UNSUPPORTED' && /nms_eta/.test(e1.message), String(e1));
  const etaLow = nmsProgram(4, 1, { ...ATTRS, nmsThreshold: 0.5 }, { nms_eta: 0.9 });
  await convertProgram(etaLow.program(), etaLow.params, { output: path.join(dir, 'b.onnx') });
  t.ok(fs.existsSync(path.join(dir, 'b.onnx')), 'nms_eta < 1 with nms_threshold 0.5 never adapts: converted');
  const lod = nmsProgram(4, 1, ATTRS);
  lod.feed('rois_num', [-1], 'int32');
  lod.ops[0].inputs.RoisNum = ['rois_num'];
  const e2 = await convertProgram(lod.program(), lod.params, { output: path.join(dir, 'c.onnx') }).then(() => undefined, (e: unknown) => e);
  t.ok(e2 instanceof ShituError && e2.code === 'ERR_MODEL_UNSUPPORTED' && /RoisNum/.test(e2.message), String(e2));
});

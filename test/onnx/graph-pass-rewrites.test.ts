// Each rewrite of the graph pass on small graphs that spell its pattern (and
// near-misses it must leave alone), run through ONNX Runtime as written and as
// rewritten on the same input. Tolerance: 1e-6 absolute on values up to 8
// (HardSwish and HardSigmoid computed in one node round differently in the
// last bit; measured here: at most 4.8e-7).
import t, { Test } from 'tap';
import * as ort from 'onnxruntime-node';
import { runGraphPass } from '../../lib/onnx/graph-pass';
import { attr, decodeModel, defaultOpset, encodeModel, OnnxModel, toNumber } from '../../lib/onnx/graph-pass/model';
import { ShituError } from '../../lib/errors';
import { GraphSpec, spreadInput, writeGraph, X_DIMS } from '../helpers/graph-models';

const TOLERANCE = 1e-6;
const SIXTH = 0.1666666716337204; // 1/6 as float32, as exporters write it

const run = async (bytes: Uint8Array, x: Float32Array, dims = X_DIMS) => {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  const out = await s.run({ x: new ort.Tensor('float32', x, dims) });
  await s.release();
  return out;
};

/** Rewrites `spec`, checks every output against the graph as written, and answers the rewritten model. */
async function rewriteAndCompare(t: Test, spec: GraphSpec, what: string): Promise<{ m: OnnxModel; applied: Record<string, number>; skipped: string[] }> {
  const given = writeGraph(spec);
  const r = runGraphPass(given);
  if (!r) throw new Error('not rewritten');
  const x = spreadInput(spec.input?.dims);
  const [a, b] = [await run(given, x, spec.input?.dims), await run(r.bytes, x, spec.input?.dims)];
  for (const name of spec.outputs) {
    const da = a[name].data as Float32Array, db = b[name].data as Float32Array;
    t.same(b[name].dims, a[name].dims, `${what}: ${name} same dims`);
    let diff = 0;
    for (let i = 0; i < da.length; i++) diff = Math.max(diff, Math.abs(da[i] - db[i]));
    t.ok(diff <= TOLERANCE, `${what}: ${name} within ${TOLERANCE} (largest difference ${diff.toExponential(2)})`);
  }
  return { m: decodeModel(r.bytes), applied: r.report.applied, skipped: r.report.skipped };
}

const ops = (m: OnnxModel) => (m.graph?.node ?? []).map((n) => n.opType);
const bounds = { zero: 0, three: 3, six: 6, sixth: SIXTH, one: 1, half: 0.5 };

t.test('decomposed HardSwish, every spelling, at opset 11 and 14', async (t) => {
  const spellings: Record<string, GraphSpec['nodes']> = {
    'x * clip(x + 3, 0, 6) / 6': [
      { op: 'Add', in: ['x', 'three'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] },
      { op: 'Mul', in: ['x', 'c'], out: ['m'] }, { op: 'Div', in: ['m', 'six'], out: ['y'] },
    ],
    '(clip(3 + x, 0, 6) * x) * (1/6)': [
      { op: 'Add', in: ['three', 'x'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] },
      { op: 'Mul', in: ['c', 'x'], out: ['m'] }, { op: 'Mul', in: ['m', 'sixth'], out: ['y'] },
    ],
    'x * (clip(x + 3, 0, 6) / 6)': [
      { op: 'Add', in: ['x', 'three'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] },
      { op: 'Div', in: ['c', 'six'], out: ['d'] }, { op: 'Mul', in: ['x', 'd'], out: ['y'] },
    ],
    'x * clip(x/6 + 1/2, 0, 1)': [
      { op: 'Mul', in: ['x', 'sixth'], out: ['s'] }, { op: 'Add', in: ['s', 'half'], out: ['a'] },
      { op: 'Clip', in: ['a', 'zero', 'one'], out: ['c'] }, { op: 'Mul', in: ['c', 'x'], out: ['y'] },
    ],
    'x * HardSigmoid(x; 1/6, 1/2)': [
      { op: 'HardSigmoid', in: ['x'], out: ['h'], attrs: { alpha: SIXTH, beta: 0.5 } }, { op: 'Mul', in: ['x', 'h'], out: ['y'] },
    ],
  };
  for (const opset of [11, 14]) {
    for (const [name, nodes] of Object.entries(spellings)) {
      const { m, applied } = await rewriteAndCompare(t, { opset, nodes: [...nodes, { op: 'Relu', in: ['y'], out: ['out'] }], floats: bounds, outputs: ['out'] }, `${name} (opset ${opset})`);
      t.same(ops(m), ['HardSwish', 'Relu'], `${name} (opset ${opset}): one HardSwish`);
      t.equal(defaultOpset(m), 14, 'opset 14');
      t.equal(applied['opset-upgrade'] ?? 0, opset < 14 ? 1 : 0, 'opset raised only when below 14');
      t.same(m.graph?.initializer.map((i) => i.name), [], 'the constants it used are gone');
    }
  }
});

t.test('near misses stay as written', async (t) => {
  const cases: Record<string, GraphSpec> = {
    'clip reads another tensor than the one multiplied': {
      opset: 14, input: { name: 'x', dims: X_DIMS },
      nodes: [
        { op: 'Relu', in: ['x'], out: ['r'] },
        { op: 'Add', in: ['r', 'three'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] },
        { op: 'Mul', in: ['x', 'c'], out: ['m'] }, { op: 'Div', in: ['m', 'six'], out: ['y'] },
      ],
      floats: bounds, outputs: ['y'],
    },
    'an intermediate is read elsewhere too': {
      opset: 14,
      nodes: [
        { op: 'Add', in: ['x', 'three'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] },
        { op: 'Mul', in: ['x', 'c'], out: ['m'] }, { op: 'Div', in: ['m', 'six'], out: ['y'] },
      ],
      floats: bounds, outputs: ['y', 'c'],
    },
    'divided by 5, not 6': {
      opset: 14,
      nodes: [
        { op: 'Add', in: ['x', 'three'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] },
        { op: 'Mul', in: ['x', 'c'], out: ['m'] }, { op: 'Div', in: ['m', 'five'], out: ['y'] },
      ],
      floats: { ...bounds, five: 5 }, outputs: ['y'],
    },
  };
  for (const [name, spec] of Object.entries(cases)) {
    const { m } = await rewriteAndCompare(t, spec, name);
    t.notOk(ops(m).includes('HardSwish'), `${name}: no HardSwish`);
    t.ok(ops(m).includes('Clip'), `${name}: the Clip stays`);
  }
});

t.test('decomposed HardSigmoid (opset unchanged)', async (t) => {
  const spellings: Record<string, { nodes: GraphSpec['nodes']; alpha: number; beta: number }> = {
    'clip(0.2x + 0.5, 0, 1)': {
      nodes: [{ op: 'Mul', in: ['x', 'fifth'], out: ['s'] }, { op: 'Add', in: ['s', 'half'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'one'], out: ['y'] }],
      alpha: 0.2, beta: 0.5,
    },
    'clip(x + 3, 0, 6) / 6': {
      nodes: [{ op: 'Add', in: ['x', 'three'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] }, { op: 'Div', in: ['c', 'six'], out: ['y'] }],
      alpha: 1 / 6, beta: 0.5,
    },
    'clip((x - 1) / 4, 0, 1)': {
      nodes: [{ op: 'Sub', in: ['x', 'one'], out: ['s'] }, { op: 'Div', in: ['s', 'four'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'one'], out: ['y'] }],
      alpha: 0.25, beta: -0.25,
    },
  };
  for (const [name, sp] of Object.entries(spellings)) {
    const { m, applied } = await rewriteAndCompare(t, { opset: 11, nodes: [...sp.nodes, { op: 'Relu', in: ['y'], out: ['out'] }], floats: { ...bounds, fifth: 0.2, four: 4 }, outputs: ['out'] }, name);
    t.same(ops(m), ['HardSigmoid', 'Relu'], `${name}: one HardSigmoid`);
    const h = m.graph?.node[0];
    t.ok(h && Math.abs((attr(h, 'alpha')?.f ?? 0) - sp.alpha) < 1e-6 && Math.abs((attr(h, 'beta')?.f ?? 0) - sp.beta) < 1e-6, `${name}: alpha ${sp.alpha}, beta ${sp.beta}`);
    t.equal(defaultOpset(m), 11, `${name}: opset stays 11`);
    t.equal(applied['fuse-hard-sigmoid'], 1);
  }
});

t.test('opset 11 -> 14: Split and Unsqueeze attributes become inputs; a Softmax over axis 1 blocks it', async (t) => {
  const hardSwish: GraphSpec['nodes'] = [
    { op: 'Add', in: ['x', 'three'], out: ['a'] }, { op: 'Clip', in: ['a', 'zero', 'six'], out: ['c'] },
    { op: 'Mul', in: ['x', 'c'], out: ['m'] }, { op: 'Div', in: ['m', 'six'], out: ['y'] },
  ];
  const ok = await rewriteAndCompare(t, {
    opset: 11,
    nodes: [...hardSwish, { op: 'Split', in: ['y'], out: ['p', 'q'], attrs: { axis: 1, split: [1, 3] } }, { op: 'Unsqueeze', in: ['q'], out: ['u'], attrs: { axes: [0] } }],
    floats: bounds, outputs: ['p', 'u'],
  }, 'Split + Unsqueeze');
  t.same(ops(ok.m), ['HardSwish', 'Split', 'Unsqueeze'], 'fused');
  const split = ok.m.graph?.node[1];
  t.equal(split?.input.length, 2, 'Split reads its sizes from an input');
  t.notOk(split && attr(split, 'split'), 'and no longer from an attribute');

  const blocked = await rewriteAndCompare(t, { opset: 11, nodes: [...hardSwish, { op: 'Softmax', in: ['y'], out: ['s'] }], floats: bounds, outputs: ['s'] }, 'Softmax');
  t.equal(defaultOpset(blocked.m), 11, 'opset stays 11');
  t.notOk(ops(blocked.m).includes('HardSwish'), 'no HardSwish');
  t.match(blocked.skipped, [/fuse-hard-swish \(1 found\): opset 11 not raised to 14: Softmax .* axis 1 \(default\)/], 'the reason is reported');

  const old = await rewriteAndCompare(t, { opset: 10, nodes: [{ op: 'Add', in: ['x', 'three'], out: ['a'] }, { op: 'Clip', in: ['a'], out: ['c'], attrs: { min: 0, max: 6 } }, { op: 'Mul', in: ['x', 'c'], out: ['m'] }, { op: 'Div', in: ['m', 'six'], out: ['y'] }], floats: bounds, outputs: ['y'] }, 'opset 10');
  t.equal(defaultOpset(old.m), 10, 'opset 10 is not converted');
  t.match(old.skipped, [/opset 10 is below 11/]);
});

t.test('Identity and inference Dropout removed; a Dropout whose mask is read stays', async (t) => {
  const { m, applied } = await rewriteAndCompare(t, {
    opset: 11,
    nodes: [
      { op: 'Identity', in: ['x'], out: ['i'] }, { op: 'Relu', in: ['i'], out: ['r'] },
      { op: 'Dropout', in: ['r'], out: ['d'], attrs: { ratio: 0.5 } }, { op: 'Sigmoid', in: ['d'], out: ['s'] },
      { op: 'Identity', in: ['s'], out: ['y'] },
    ],
    outputs: ['y'],
  }, 'Identity/Dropout');
  t.same(ops(m), ['Relu', 'Sigmoid'], 'only the real ops');
  t.equal(m.graph?.node[1].output[0], 'y', 'the graph output keeps its name');
  t.equal(applied['remove-identity'], 3);

  const kept = await rewriteAndCompare(t, {
    opset: 11,
    nodes: [{ op: 'Dropout', in: ['x'], out: ['d', 'mask'] }, { op: 'Cast', in: ['mask'], out: ['mf'], attrs: { to: 1 } }, { op: 'Add', in: ['d', 'mf'], out: ['y'] }],
    outputs: ['y'],
  }, 'Dropout with mask');
  t.ok(ops(kept.m).includes('Dropout'), 'kept');
});

t.test('shape arithmetic at a fixed input size becomes initializers', async (t) => {
  const { m, applied } = await rewriteAndCompare(t, {
    opset: 11,
    nodes: [
      { op: 'Relu', in: ['x'], out: ['r'] },
      { op: 'Shape', in: ['r'], out: ['sh'] }, { op: 'Gather', in: ['sh', 'zero_i'], out: ['n'], attrs: { axis: 0 } },
      { op: 'Unsqueeze', in: ['n'], out: ['n1'], attrs: { axes: [0] } }, { op: 'Concat', in: ['n1', 'minus1'], out: ['target'], attrs: { axis: 0 } },
      { op: 'Reshape', in: ['r', 'target'], out: ['y'] },
    ],
    ints: { minus1: [-1] },
    intScalars: { zero_i: 0 },
    outputs: ['y'],
  }, 'Shape -> Reshape');
  t.same(ops(m), ['Relu', 'Reshape'], 'Shape, Gather, Unsqueeze, Concat folded');
  t.equal(applied['fold-shapes'], 4);
  const target = m.graph?.initializer.find((i) => i.name === m.graph?.node[1].input[1]);
  t.same(target?.int64Data.map(toNumber), [1, -1], 'Reshape target [1, -1]');
});

t.test('weights listed as graph inputs are dropped from the inputs (IR >= 4 only)', async (t) => {
  const nodes: GraphSpec['nodes'] = [{ op: 'Add', in: ['x', 'three'], out: ['y'] }];
  const { m } = await rewriteAndCompare(t, { opset: 11, nodes, floats: { three: 3 }, outputs: ['y'], initializersAsInputs: true }, 'IR 7');
  t.same(m.graph?.input.map((i) => i.name), ['x']);
  const old = runGraphPass(writeGraph({ opset: 8, ir: 3, nodes, floats: { three: 3 }, outputs: ['y'], initializersAsInputs: true }));
  t.same(old && decodeModel(old.bytes).graph?.input.map((i) => i.name), ['x', 'three'], 'IR 3 requires them: kept');
});

t.test('bytes that are no ONNX model: ERR_MODEL_LOAD; external data: left alone', async (t) => {
  try {
    runGraphPass(Buffer.from('\xff\xd8\xff\xe0 not a model', 'latin1'));
    t.fail('no error');
  } catch (e) {
    t.ok(e instanceof ShituError, 'a ShituError');
  }
  t.throws(() => runGraphPass(Buffer.from('\xff\xd8\xff\xe0 not a model', 'latin1'), 'junk.onnx'), { code: 'ERR_MODEL_LOAD', message: /junk\.onnx/ }, 'naming the file');
  t.throws(() => runGraphPass(Buffer.alloc(0)), { code: 'ERR_MODEL_LOAD' });
  const m = decodeModel(writeGraph({ opset: 14, nodes: [{ op: 'Add', in: ['x', 'three'], out: ['y'] }], floats: { three: 3 }, outputs: ['y'] }));
  const t0 = m.graph?.initializer[0];
  if (t0) {
    t0.dataLocation = 1;
    t0.externalData = [{ key: 'location', value: 'weights.bin' }];
  }
  t.equal(runGraphPass(encodeModel(m)), null, 'null: the weights live beside the file');
});

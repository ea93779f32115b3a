// The converter's core on hand-made programs: unsupported ops refused before
// anything is written, activations and elementwise broadcasting (Paddle's
// `axis` rule) checked against values computed here from Paddle's formulas.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../../../lib/errors';
import { convertProgram } from '../../../lib/models/paddle/convert/convert';
import { onnxType } from '../../../lib/onnx/onnx-proto';
import { ProgramMaker, convertAndRun, maxAbsDiff, ramp, tmpDir } from '../../helpers/paddle-program';

const TOL = 1e-5;

t.test('unsupported ops: every missing kind with its count, nothing written', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1, 4]);
  m.v('a', [1, 4]); m.v('b', [1, 4]); m.v('c', [1, 4]); m.v('d', [1, 4]);
  m.op('relu', { X: 'x' }, { Out: 'a' });
  m.op('frobnicate', { X: 'a' }, { Out: 'b' });
  m.op('frobnicate', { X: 'b' }, { Out: 'c' });
  m.op('multiclass_nms9', { X: 'c' }, { Out: 'd' });
  m.fetch('d');
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const err = await convertProgram(m.program(), m.params, { output: path.join(dir, 'm.onnx') }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ShituError);
  t.equal((err as ShituError).code, 'ERR_MODEL_UNSUPPORTED');
  t.match((err as ShituError).message, /frobnicate \(x2\)/);
  t.match((err as ShituError).message, /multiclass_nms9 \(x1\)/);
  t.same((err as ShituError).details, { missingOps: { frobnicate: 2, multiclass_nms9: 1 } });
  t.same(fs.readdirSync(dir), [], 'no file, no temp file');
});

const X = ramp(12, 0.5, -3); // -3 .. 2.5

function act(type: string, attrs: Record<string, number | boolean | string>, f: (x: number) => number) {
  t.test(`${type} ${JSON.stringify(attrs)}`, async (t) => {
    const m = new ProgramMaker();
    m.feed('x', [-1, 12]);
    m.v('y', [-1, 12]);
    m.op(type, { X: 'x' }, { Out: 'y' }, attrs);
    m.fetch('y');
    const [y] = await convertAndRun(m, { x: { dims: [1, 12], data: X } });
    t.same(y.dims, [1, 12]);
    t.ok(maxAbsDiff(y.data, X.map(f)) < TOL, `max abs diff ${maxAbsDiff(y.data, X.map(f))}`);
  });
}
const sig = (x: number) => 1 / (1 + Math.exp(-x));
act('relu', {}, (x) => Math.max(0, x));
act('relu6', {}, (x) => Math.min(6, Math.max(0, x)));
act('relu6', { threshold: 1.5 }, (x) => Math.min(1.5, Math.max(0, x)));
act('sigmoid', {}, sig);
act('leaky_relu', {}, (x) => (x >= 0 ? x : 0.02 * x));
act('leaky_relu', { alpha: 0.1 }, (x) => (x >= 0 ? x : 0.1 * x));
act('hard_sigmoid', {}, (x) => Math.min(1, Math.max(0, 0.2 * x + 0.5)));
act('hard_sigmoid', { slope: 0.1666667, offset: 0.5 }, (x) => Math.min(1, Math.max(0, 0.1666667 * x + 0.5)));
act('hard_swish', {}, (x) => (x * Math.min(6, Math.max(0, x + 3))) / 6);
act('hard_swish', { threshold: 4, scale: 5, offset: 2 }, (x) => (x * Math.min(4, Math.max(0, x + 2))) / 5);
act('swish', { beta: 2 }, (x) => x * sig(2 * x));
act('tanh', {}, Math.tanh);
act('swish', {}, (x) => x * sig(x));
act('silu', {}, (x) => x * sig(x));
act('elu', { alpha: 0.5 }, (x) => (x > 0 ? x : 0.5 * (Math.exp(x) - 1)));
act('softplus', {}, (x) => Math.log1p(Math.exp(x)));
act('pow', { factor: 2 }, (x) => x * x);
act('square', {}, (x) => x * x);
act('abs', {}, Math.abs);
act('exp', {}, Math.exp);
act('gelu', {}, (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)));
act('gelu', { approximate: true }, (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));

// Abramowitz-Stegun 7.1.26 is only 1.5e-7 accurate; a series is exact enough here.
function erf(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

t.test('softmax over axis 1 of [2,3,2]', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [2, 3, 2]);
  m.v('y', [2, 3, 2]);
  m.op('softmax', { X: 'x' }, { Out: 'y' }, { axis: 1 });
  m.fetch('y');
  const x = ramp(12, 0.3, -1);
  const [y] = await convertAndRun(m, { x: { dims: [2, 3, 2], data: x } });
  const want: number[] = new Array(12);
  for (let a = 0; a < 2; a++) for (let c = 0; c < 2; c++) {
    const idx = [0, 1, 2].map((k) => a * 6 + k * 2 + c);
    const s = idx.reduce((acc, i) => acc + Math.exp(x[i]), 0);
    for (const i of idx) want[i] = Math.exp(x[i]) / s;
  }
  t.ok(maxAbsDiff(y.data, want) < TOL);
});

t.test('elementwise: axis = 1 aligns a [C] operand to dim 1 of NCHW', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1, 3, 2, 2]);
  m.param('bias', [3], [10, 20, 30]);
  m.v('y', [1, 3, 2, 2]);
  m.op('elementwise_add', { X: 'x', Y: 'bias' }, { Out: 'y' }, { axis: 1 });
  m.fetch('y');
  const x = ramp(12, 1);
  const [y] = await convertAndRun(m, { x: { dims: [1, 3, 2, 2], data: x } });
  t.same(y.data, x.map((v, i) => v + [10, 20, 30][Math.floor(i / 4)]));
});

t.test('elementwise: axis = -1 is numpy broadcasting; sub, mul, div, max, min, pow', async (t) => {
  const ops: [string, (a: number, b: number) => number][] = [
    ['elementwise_sub', (a, b) => a - b], ['elementwise_mul', (a, b) => a * b], ['elementwise_div', (a, b) => a / b],
    ['elementwise_max', Math.max], ['elementwise_min', Math.min], ['elementwise_pow', (a, b) => a ** b],
  ];
  for (const [type, f] of ops) {
    const m = new ProgramMaker();
    m.feed('x', [2, 3]);
    m.feed('w', [3]);
    m.v('y', [2, 3]);
    m.op(type, { X: 'x', Y: 'w' }, { Out: 'y' }, { axis: -1 });
    m.fetch('y');
    const x = [1, 2, 3, 4, 5, 6];
    const w = [2, 0.5, 3];
    const [y] = await convertAndRun(m, { x: { dims: [2, 3], data: x }, w: { dims: [3], data: w } });
    t.ok(maxAbsDiff(y.data, x.map((v, i) => f(v, w[i % 3]))) < 1e-4, type);
  }
});

t.test('elementwise: axis = 0 with a [N, C] operand against [N, C, H, W]', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [2, 2, 1, 2]);
  m.feed('s', [2, 2]);
  m.v('y', [2, 2, 1, 2]);
  m.op('elementwise_mul', { X: 'x', Y: 's' }, { Out: 'y' }, { axis: 0 });
  m.fetch('y');
  const x = ramp(8, 1, 1);
  const s = [1, 10, 100, 1000];
  const [y] = await convertAndRun(m, { x: { dims: [2, 2, 1, 2], data: x }, s: { dims: [2, 2], data: s } });
  t.same(y.data, x.map((v, i) => v * s[Math.floor(i / 2)]));
});

t.test('prelu: channel mode broadcasts a [C] slope over dim 1', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1, 2, 1, 2]);
  m.param('alpha', [2], [0.1, 0.5]);
  m.v('y', [1, 2, 1, 2]);
  m.op('prelu', { X: 'x', Alpha: 'alpha' }, { Out: 'y' }, { mode: 'channel', data_format: 'NCHW' });
  m.fetch('y');
  const [y] = await convertAndRun(m, { x: { dims: [1, 2, 1, 2], data: [-1, 2, -4, 3] } });
  t.ok(maxAbsDiff(y.data, [-0.1, 2, -2, 3]) < TOL);
});

t.test('the ONNX file: weights are initializers, feeds the only graph inputs, opset 17', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [-1, 3]);
  m.param('w', [3], [1, 2, 3]);
  m.param('unused', [2], [7, 7]);
  m.v('y', [-1, 3]);
  m.op('elementwise_mul', { X: 'x', Y: 'w' }, { Out: 'y' });
  m.fetch('y');
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'm.onnx');
  await convertProgram(m.program(), m.params, { output: file });
  const model = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(fs.readFileSync(file)), { longs: Number, bytes: Buffer }) as {
    opsetImport: { version: number }[]; graph: { input: { name: string; type: { tensorType: { shape: { dim: { dimValue?: number; dimParam?: string }[] } } } }[]; initializer: { name: string; rawData: Buffer; dims: number[] }[]; node: { opType: string }[] };
  };
  t.same(model.opsetImport.map((o) => o.version), [17]);
  t.same(model.graph.input.map((i) => i.name), ['x']);
  t.same(model.graph.input[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 3 }]);
  t.same(model.graph.initializer.map((i) => i.name), ['w'], 'the weight no op reads is left out');
  t.same([...new Float32Array(new Uint8Array(model.graph.initializer[0].rawData).buffer)], [1, 2, 3]);
  t.notOk(model.graph.node.some((n) => n.opType === 'Constant'), 'no Constant nodes');
});

t.test('an output folder that does not exist: a ShituError, nothing left behind', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1]);
  m.v('y', [1]);
  m.op('relu', { X: 'x' }, { Out: 'y' });
  m.fetch('y');
  const dir = tmpDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  await t.rejects(convertProgram(m.program(), m.params, { output: path.join(dir, 'missing', 'm.onnx') }), { code: 'ERR_MODEL_LOAD' });
  t.same(fs.readdirSync(dir), []);
});

t.test('a var read before any op writes it: ERR_MODEL_INVALID', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [1]);
  m.v('ghost', [1]); m.v('y', [1]);
  m.op('elementwise_add', { X: 'x', Y: 'ghost' }, { Out: 'y' });
  m.fetch('y');
  await t.rejects(convertAndRun(m, { x: { dims: [1], data: [1] } }), { code: 'ERR_MODEL_INVALID', message: /ghost/ });
});

t.test('hostile attributes end in ShituErrors at conversion, with no allocation of their size', async (t) => {
  const cases: [string, (m: ProgramMaker) => void][] = [
    ['split num far beyond its outputs', (m) => m.op('split', { X: 'x' }, { Out: ['y'] }, { axis: 1, num: 1_000_000_000 })],
    ['fill_constant with a negative size', (m) => m.op('fill_constant', {}, { Out: 'y' }, { shape: [-5, 2], value: 1, dtype: 5 })],
    ['conv2d with stride 0', (m) => { m.param('w', [1, 4, 1, 1], [1, 1, 1, 1]); m.op('conv2d', { Input: 'x4', Filter: 'w' }, { Output: 'y' }, { strides: [0, 1] }); }],
    ['pool2d with a 0 kernel', (m) => m.op('pool2d', { X: 'x4' }, { Out: 'y' }, { pooling_type: 'max', ksize: [0, 2] })],
    ['elementwise axis out of range', (m) => m.op('elementwise_add', { X: 'x4', Y: 'x' }, { Out: 'y' }, { axis: 7 })],
  ];
  for (const [what, add] of cases) {
    const m = new ProgramMaker();
    m.feed('x', [2, 4]);
    m.feed('x4', [1, 4, 2, 2]);
    m.v('y', [2, 4]);
    add(m);
    m.fetch('y');
    const dir = tmpDir();
    const err = await convertProgram(m.program(), m.params, { output: path.join(dir, 'm.onnx') }).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof ShituError && (err.code === 'ERR_MODEL_INVALID' || err.code === 'ERR_MODEL_UNSUPPORTED'), `${what}: ${(err as Error)?.message}`);
    t.same(fs.readdirSync(dir), [], `${what}: nothing written`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The PIR reader on the real PaddleOCR 3 model of paddle-pairs: every op of it
// read into the legacy vocabulary, and its weights indexed in name order.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { readPir, parsePir } from '../../../lib/models/paddle/read-pir';
import { readPaddleModelDir } from '../../../lib/models/paddle/read-program';
import { ShituError } from '../../../lib/errors';

const SHARED = process.env.SHITU_SHARED_DIR ?? '/work/shared';
const DIR = path.join(SHARED, 'models/paddle-pairs/PP-LCNet_x0_25_textline_ori_pir');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-paddle-pir-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('PIR textline model: normalised to legacy ops, 145 weights', async (t) => {
  const m = await readPaddleModelDir(DIR);
  t.teardown(() => m.params.close());
  const p = m.program;
  t.equal(p.format, 'pir');
  t.equal(m.configFile, path.join(DIR, 'inference.yml'));
  t.strictSame(p.feeds, [{ name: 'x', dtype: 'float32', shape: [-1, 3, 80, 160] }]);
  t.strictSame(p.fetches, ['fetch_name_0']);
  t.strictSame(p.blocks[0].vars.get('fetch_name_0')?.shape, [-1, 2]);
  const kinds: Record<string, number> = {};
  for (const o of p.blocks[0].ops) kinds[o.type] = (kinds[o.type] ?? 0) + 1;
  t.strictSame(kinds, {
    feed: 1, conv2d: 18, batch_norm: 27, hard_swish: 27, depthwise_conv2d: 13, assign_value: 7, pool2d: 3, reshape2: 4,
    elementwise_add: 5, relu: 2, hard_sigmoid: 2, elementwise_mul: 2, flatten_contiguous_range: 1, matmul_v2: 1, softmax: 1, fetch: 1,
  });
  t.equal(p.paramNames.length, 145);
  t.equal(m.params.params.size, 145);
  const ops = p.blocks[0].ops;
  const conv = ops.find((o) => o.type === 'conv2d')!;
  t.strictSame(Object.keys(conv.inputs), ['Input', 'Filter']);
  t.strictSame(conv.inputs.Input, ['x']);
  t.strictSame(Object.keys(conv.outputs), ['Output']);
  t.strictSame(conv.attrs.strides, [1, 2]);
  const bn = ops.find((o) => o.type === 'batch_norm')!;
  t.match(bn.inputs, { Mean: [/w_1/], Variance: [/w_2/], Scale: [/w_0/], Bias: [/b_0/] });
  t.equal(bn.outputs.Y.length, 1);
  t.equal(ops.find((o) => o.type === 'elementwise_add')!.attrs.axis, -1);
  t.strictSame(ops.find((o) => o.type === 'hard_sigmoid')!.attrs, { slope: 0.16666670143604279, offset: 0.5 });
  t.strictSame(ops.find((o) => o.type === 'hard_swish')!.attrs, { threshold: 6, scale: 6, offset: 3 });
  const pool = ops.find((o) => o.type === 'pool2d')!;
  t.strictSame(pool.attrs.ksize, [1, 1], 'kernel size operand becomes the legacy attribute');
  t.equal(pool.attrs.adaptive, true);
  t.strictSame(Object.keys(pool.inputs), ['X']);
  const reshape = ops.find((o) => o.type === 'reshape2')!;
  t.strictSame(reshape.attrs.shape, [1, -1, 1, 1]);
  t.strictSame(Object.keys(reshape.inputs), ['X']);
  const mm = ops.find((o) => o.type === 'matmul_v2')!;
  t.strictSame(mm.attrs, { trans_x: false, trans_y: false });
  t.strictSame(ops.find((o) => o.type === 'flatten_contiguous_range')!.attrs, { start_axis: 1, stop_axis: 3 });
  t.match(ops.find((o) => o.type === 'assign_value')!.attrs, { shape: [2], dtype: 3, int64_values: [1, 1] });
  const softmax = ops.find((o) => o.type === 'softmax')!;
  t.strictSame(softmax.outputs.Out, ['fetch_name_0']);
  t.equal(softmax.attrs.axis, -1);
  // every op input names a declared var
  const declared = new Set([...p.blocks[0].vars.keys(), 'feed']);
  const undeclared = ops.flatMap((o) => Object.values(o.inputs).flat()).filter((n) => !declared.has(n));
  t.strictSame(undeclared, []);
});

function mutate(f: (j: { program: { regions: { blocks: { ops: Record<string, unknown>[] }[] }[] } }) => void): string {
  const j = JSON.parse(fs.readFileSync(path.join(DIR, 'inference.json'), 'utf8'));
  f(j);
  return JSON.stringify(j);
}

t.test('an unknown PIR op passes through under its own name', async (t) => {
  const text = mutate((j) => {
    const op = j.program.regions[0].blocks[0].ops.find((o) => o['#'] === '1.relu')!;
    op['#'] = '1.fancy_new_op';
  });
  const p = parsePir(text, 'x.json');
  const op = p.blocks[0].ops.find((o) => o.type === 'pd_op.fancy_new_op')!;
  t.ok(op, 'kept as pd_op.fancy_new_op');
  t.strictSame(Object.keys(op.inputs), ['in0']);
  t.strictSame(Object.keys(op.outputs), ['out0']);
});

t.test('hostile PIR programs -> ERR_MODEL_INVALID naming the file', async (t) => {
  const cases: [string, string][] = [
    ['not JSON', '{"base_code":'],
    ['wrong magic', JSON.stringify({ base_code: { magic: 'nope', version: 1 }, program: { regions: [] } })],
    ['no regions', JSON.stringify({ base_code: { magic: 'pir', version: 1 }, program: {} })],
    ['use before definition', mutate((j) => {
      const ops = j.program.regions[0].blocks[0].ops;
      (ops.find((o) => o['#'] === '1.relu')!.I as { '%': number }[])[0]['%'] = 999_999;
    })],
    ['unknown element type', mutate((j) => {
      const ops = j.program.regions[0].blocks[0].ops;
      const p = ops.find((o) => o['#'] === 'p')! as { O: { TT: { D: unknown[] } } };
      p.O.TT.D[0] = { '#': '0.t_f1024' };
    })],
    ['absurd shape', mutate((j) => {
      const ops = j.program.regions[0].blocks[0].ops;
      const p = ops.find((o) => o['#'] === 'p')! as { O: { TT: { D: unknown[] } } };
      p.O.TT.D[1] = [1e9, 1e9];
    })],
    ['value defined twice', mutate((j) => {
      const ops = j.program.regions[0].blocks[0].ops;
      const ps = ops.filter((o) => o['#'] === 'p') as { O: { '%': number } }[];
      ps[1].O['%'] = ps[0].O['%'];
    })],
    ['no fetch', mutate((j) => {
      const b = j.program.regions[0].blocks[0];
      b.ops = b.ops.filter((o) => o['#'] !== '1.fetch');
    })],
  ];
  let nested: unknown = { blocks: [{ args: [], ops: [] }] };
  for (let i = 0; i < 200; i++) nested = { blocks: [{ args: [], ops: [{ '#': '2.if', I: [], O: [], A: [], regions: [nested] }] }] };
  cases.push(['regions nested 200 deep', JSON.stringify({ base_code: { magic: 'pir', version: 1 }, program: { regions: [nested] } })]);
  for (const [what, text] of cases) {
    const file = path.join(tmp, 'inference.json');
    fs.writeFileSync(file, text);
    const err = await readPir(file).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof ShituError, what);
    t.equal((err as ShituError).code, 'ERR_MODEL_INVALID', what);
    t.match((err as ShituError).message, file, `${what}: names the file`);
  }
});

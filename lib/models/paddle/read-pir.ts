// PIR Paddle programs (`inference.json`, PaddlePaddle 3) -> PaddleProgram in
// the LEGACY vocabulary, so that the converter has one rule per op family:
// `pd_op.conv2d` becomes `conv2d` with slots Input/Filter -> Output,
// `pd_op.add` becomes `elementwise_add` (axis -1), `batch_norm_` becomes
// `batch_norm`, and so on (PIR_OPS below). PIR passes some legacy attributes
// as tensor inputs made by `full_int_array` / `full` (pool2d's kernel size,
// reshape's shape, scale's factor): when such an input is a constant it
// becomes the legacy attribute again. An op not in the table keeps its PIR
// name (`pd_op.foo`) and positional slots (`in0`, `out0`), so the converter
// reports it as unsupported instead of guessing.
//
// File layout (paddle/fluid/pir/serialize_deserialize, schema.h): {"base_code":
// {"magic":"pir","version":N}, "program":{"regions":[{"blocks":[{"args":[],
// "ops":[...]}]}]}}; an op is {"#": name, "I": operands [{"%": id}], "O":
// results [{"%": id, "TT": type}], "A": attributes [{"N": name, "AT": {"#":
// tag, "D": data}}]}; names are compressed by dialect ("0." builtin, "1."
// pd_op, "2." cf, "3." custom_op, "4." pd_dist) and the parameter op is "p",
// whose result is the weight named by its last "A" entry.
//
// Hostile input: the file is bounded by PADDLE_LIMITS.maxJsonBytes before it is
// parsed, op and value counts and shapes by the other PADDLE_LIMITS, region
// nesting by maxRegionDepth; any shape the code does not expect is
// ERR_MODEL_INVALID naming the file and the op.
import { stat, readFile } from 'node:fs/promises';
import { PADDLE_LIMITS } from '../../limits';
import { ShituError } from '../../errors';
import { dtypeOfPirTag, dtypeOfName, varTypeOfDtype } from './dtypes';
import { invalidModel, checkShape, sortNames } from './model-error';
import type { PaddleProgram, PaddleBlock, PaddleOp, PaddleVar, PaddleAttr, PaddleFeed, PaddleDType } from './program';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObj = { [k: string]: Json };

/** How one PIR op maps to its legacy op: positional operands/results -> slot names. */
interface OpMap {
  type: string;
  /** Operand slots in PIR order; null: an operand that must be a constant (constIn) and has no legacy slot. */
  in: (string | null)[];
  out: string[];
  /** PIR attribute name -> legacy name. */
  rename?: Record<string, string>;
  /** Legacy attributes PIR leaves implicit. */
  set?: Record<string, PaddleAttr>;
  /** Operand position -> legacy attribute, when the operand is a constant (`full_int_array`, `full`). */
  constIn?: Record<number, string>;
}

const unary = (type: string, extra: Partial<OpMap> = {}): OpMap => ({ type, in: ['X'], out: ['Out'], ...extra });
const binary = (type: string): OpMap => ({ type, in: ['X', 'Y'], out: ['Out'], set: { axis: -1 } });
const conv = (type: string): OpMap => ({ type, in: ['Input', 'Filter'], out: ['Output'] });
const bn: OpMap = {
  type: 'batch_norm', in: ['X', 'Mean', 'Variance', 'Scale', 'Bias'],
  out: ['Y', 'MeanOut', 'VarianceOut', 'SavedMean', 'SavedVariance', 'ReserveSpace'],
};
const interp = (type: string): OpMap => ({
  type, in: ['X', 'OutSize', 'SizeTensor', 'Scale'], out: ['Out'], rename: { data_format: 'data_layout' },
});

/** pd_op name (without the dialect) -> legacy op. */
const PIR_OPS: Readonly<Record<string, OpMap>> = {
  conv2d: conv('conv2d'),
  depthwise_conv2d: conv('depthwise_conv2d'),
  conv2d_transpose: { type: 'conv2d_transpose', in: ['Input', 'Filter', null], out: ['Output'], constIn: { 2: 'output_size' } },
  batch_norm: bn,
  batch_norm_: bn,
  layer_norm: { type: 'layer_norm', in: ['X', 'Scale', 'Bias'], out: ['Y', 'Mean', 'Variance'] },
  hardswish: unary('hard_swish', { set: { threshold: 6, scale: 6, offset: 3 } }),
  hardsigmoid: unary('hard_sigmoid'),
  relu: unary('relu'),
  relu_: unary('relu'),
  relu6: unary('relu6', { set: { threshold: 6 } }),
  sigmoid: unary('sigmoid'),
  tanh: unary('tanh'),
  exp: unary('exp'),
  sqrt: unary('sqrt'),
  abs: unary('abs'),
  gelu: unary('gelu'),
  swish: unary('swish'),
  silu: unary('silu'),
  leaky_relu: unary('leaky_relu', { rename: { negative_slope: 'alpha' } }),
  softmax: unary('softmax'),
  shape: { type: 'shape', in: ['Input'], out: ['Out'] },
  shape64: { type: 'shape', in: ['Input'], out: ['Out'] },
  cast: unary('cast', { rename: { dtype: 'out_dtype' } }),
  add: binary('elementwise_add'),
  add_: binary('elementwise_add'),
  subtract: binary('elementwise_sub'),
  multiply: binary('elementwise_mul'),
  divide: binary('elementwise_div'),
  maximum: binary('elementwise_max'),
  minimum: binary('elementwise_min'),
  matmul: { type: 'matmul_v2', in: ['X', 'Y'], out: ['Out'], rename: { transpose_x: 'trans_x', transpose_y: 'trans_y' } },
  flatten: { type: 'flatten_contiguous_range', in: ['X'], out: ['Out', 'XShape'] },
  reshape: { type: 'reshape2', in: ['X', 'Shape'], out: ['Out', 'XShape'], constIn: { 1: 'shape' } },
  transpose: { type: 'transpose2', in: ['X'], out: ['Out', 'XShape'], rename: { perm: 'axis' } },
  squeeze: { type: 'squeeze2', in: ['X', null], out: ['Out', 'XShape'], constIn: { 1: 'axes' } },
  unsqueeze: { type: 'unsqueeze2', in: ['X', null], out: ['Out', 'XShape'], constIn: { 1: 'axes' } },
  pool2d: { type: 'pool2d', in: ['X', null], out: ['Out'], rename: { kernel_size: 'ksize' }, constIn: { 1: 'ksize' } },
  concat: { type: 'concat', in: ['X', null], out: ['Out'], constIn: { 1: 'axis' } },
  scale: { type: 'scale', in: ['X', 'ScaleTensor'], out: ['Out'], constIn: { 1: 'scale' } },
  dropout: {
    type: 'dropout', in: ['X', 'Seed'], out: ['Out', 'Mask'],
    rename: { p: 'dropout_prob', mode: 'dropout_implementation', seed: 'seed' },
  },
  slice: { type: 'slice', in: ['Input', null, null], out: ['Out'], constIn: { 1: 'starts', 2: 'ends' } },
  // IntArray arguments are operands in PIR (a full_int_array), attributes in the legacy ops.
  mean: { type: 'reduce_mean', in: ['X', null], out: ['Out'], rename: { axis: 'dim', keepdim: 'keep_dim' }, constIn: { 1: 'dim' } },
  sum: { type: 'reduce_sum', in: ['X', null], out: ['Out'], rename: { axis: 'dim', keepdim: 'keep_dim' }, constIn: { 1: 'dim' } },
  max: { type: 'reduce_max', in: ['X', null], out: ['Out'], rename: { axis: 'dim', keepdim: 'keep_dim' }, constIn: { 1: 'dim' } },
  min: { type: 'reduce_min', in: ['X', null], out: ['Out'], rename: { axis: 'dim', keepdim: 'keep_dim' }, constIn: { 1: 'dim' } },
  nearest_interp: interp('nearest_interp_v2'),
  bilinear_interp: interp('bilinear_interp_v2'),
  split: { type: 'split', in: ['X', null, null], out: ['Out'], constIn: { 1: 'sections', 2: 'axis' } },
  split_with_num: { type: 'split', in: ['X', null], out: ['Out'], constIn: { 1: 'axis' } },
  stack: { type: 'stack', in: ['X'], out: ['Y'] },
  meshgrid: { type: 'meshgrid', in: ['X'], out: ['Out'] },
  gather: { type: 'gather', in: ['X', 'Index', null], out: ['Out'], constIn: { 2: 'axis' } },
  arange: { type: 'range', in: ['Start', 'End', 'Step'], out: ['Out'] },
  topk: { type: 'top_k_v2', in: ['X', 'K'], out: ['Out', 'Indices'], constIn: { 1: 'k' } },
  expand: { type: 'expand_v2', in: ['X', 'Shape'], out: ['Out'], constIn: { 1: 'shape' } },
  clip: { type: 'clip', in: ['X', 'Min', 'Max'], out: ['Out'], constIn: { 1: 'min', 2: 'max' } },
  full_like: { type: 'fill_any_like', in: ['X', null], out: ['Out'], constIn: { 1: 'value' } },
  assign: unary('assign'),
  where: { type: 'where', in: ['Condition', 'X', 'Y'], out: ['Out'] },
  p_norm: unary('p_norm'),
  greater_than: binary('greater_than'),
  less_than: binary('less_than'),
  greater_equal: binary('greater_equal'),
  less_equal: binary('less_equal'),
  equal: binary('equal'),
  not_equal: binary('not_equal'),
  logical_and: { type: 'logical_and', in: ['X', 'Y'], out: ['Out'] },
  logical_or: { type: 'logical_or', in: ['X', 'Y'], out: ['Out'] },
  logical_not: unary('logical_not'),
  multiclass_nms3: { type: 'multiclass_nms3', in: ['BBoxes', 'Scores', 'RoisNum'], out: ['Out', 'Index', 'NmsRoisNum'] },
};

/** PIR attributes no conversion reads (naming and placement bookkeeping). */
const DROPPED_ATTRS: ReadonlySet<string> = new Set(['struct_name', 'place', 'op_role', 'op_dist_attr', 'stop_gradient', 'persistable']);

const DIALECTS: Readonly<Record<string, string>> = { '0': 'builtin', '1': 'pd_op', '2': 'cf', '3': 'custom_op', '4': 'pd_dist' };

/** A constant made by `full_int_array` or `full`, for operands that are legacy attributes. */
type Const = number[] | number;

class PirReader {
  readonly blocks: PaddleBlock[] = [];
  private readonly names = new Map<number, string>();
  /** Vector values of builtin.combine: id -> element names. */
  private readonly vectors = new Map<number, string[]>();
  private readonly consts = new Map<number, Const>();
  /** Value id -> the op (and result position) that made it, for builtin.split. */
  private readonly producers = new Map<number, { op: PaddleOp; slot: string }>();
  private readonly fetchNames = new Map<number, string>();
  readonly feeds: PaddleFeed[] = [];
  readonly fetches: string[] = [];
  readonly params: string[] = [];
  private nOps = 0;
  private nVars = 0;

  constructor(private readonly file: string) {}

  fail(what: string): ShituError {
    return invalidModel(this.file, what);
  }

  readRegionBlocks(region: Json, parentIdx: number, depth: number): number[] {
    if (depth > PADDLE_LIMITS.maxRegionDepth) throw this.fail(`regions nested deeper than ${PADDLE_LIMITS.maxRegionDepth}`);
    const blocks = obj(region)?.blocks;
    if (!Array.isArray(blocks)) throw this.fail('a region without a "blocks" array');
    return blocks.map((b) => this.readBlock(b, parentIdx, depth));
  }

  private readBlock(b: Json, parentIdx: number, depth: number): number {
    const block = obj(b);
    if (block === undefined || !Array.isArray(block.ops)) throw this.fail('a block without an "ops" array');
    if (this.blocks.length >= PADDLE_LIMITS.maxBlocks) throw this.fail(`more than ${PADDLE_LIMITS.maxBlocks} blocks`);
    const pb: PaddleBlock = { idx: this.blocks.length, parentIdx, vars: new Map(), ops: [] };
    this.blocks.push(pb);
    for (const a of Array.isArray(block.args) ? block.args : []) this.defineResult(pb, a, 'block argument');
    // Fetched values are named after their fetch (the program's output names).
    for (const o of block.ops) {
      const op = obj(o);
      if (op?.['#'] === '1.fetch') {
        const id = valueId(arr(op.I)?.[0]);
        const name = attrsOf(op).get('name');
        if (id !== undefined && typeof name === 'string' && name !== '' && !this.names.has(id)) this.fetchNames.set(id, name);
      }
    }
    for (const o of block.ops) this.readOp(o, pb, depth);
    return pb.idx;
  }

  /** Names a result value and declares its variable in the block. */
  private defineResult(block: PaddleBlock, r: Json, what: string, name?: string, persistable = false): string {
    const v = obj(r);
    const id = valueId(v);
    if (v === undefined || id === undefined) throw this.fail(`a ${what} without a value id`);
    if (this.names.has(id)) throw this.fail(`value %${id} is defined twice`);
    if (++this.nVars > PADDLE_LIMITS.maxVars) throw this.fail(`more than ${PADDLE_LIMITS.maxVars} values`);
    const n = name ?? this.fetchNames.get(id) ?? `pir_${id}`;
    this.names.set(id, n);
    const pv = this.varOf(n, v.TT, persistable);
    if (pv !== undefined) block.vars.set(n, pv);
    return n;
  }

  private varOf(name: string, tt: Json | undefined, persistable: boolean): PaddleVar | undefined {
    const t = obj(tt);
    if (t === undefined || t['#'] === 'NULL') return undefined;
    const tag = typeof t['#'] === 'string' ? t['#'] : '';
    if (tag !== '0.t_dtensor') return { name, kind: tag.replace(/^\d+\.t_/, ''), shape: [], persistable };
    const d = arr(t.D);
    const dtype = dtypeOfPirTag(String(obj(d?.[0])?.['#'] ?? ''));
    if (dtype === undefined) throw this.fail(`value ${JSON.stringify(name)} has unknown element type ${JSON.stringify(d?.[0] ?? null)}`);
    const shape = intList(d?.[1]);
    if (shape === undefined) throw this.fail(`value ${JSON.stringify(name)} has no shape`);
    checkShape(shape, PADDLE_LIMITS, this.file, `value ${JSON.stringify(name)}`);
    return { name, kind: 'tensor', dtype, shape, persistable };
  }

  private operand(o: Json, where: string): string | string[] | undefined {
    const id = valueId(o);
    if (id === undefined) throw this.fail(`${where} has an operand without a value id`);
    if (id === 0) return undefined; // an absent optional operand
    const vec = this.vectors.get(id);
    if (vec !== undefined) return vec;
    const n = this.names.get(id);
    if (n === undefined) throw this.fail(`${where} uses value %${id} before it is defined`);
    return n;
  }

  private readOp(o: Json, block: PaddleBlock, depth: number): void {
    const op = obj(o);
    const tag = op?.['#'];
    if (op === undefined || typeof tag !== 'string') throw this.fail(`op ${block.ops.length} of block ${block.idx} has no name`);
    if (++this.nOps > PADDLE_LIMITS.maxOps) throw this.fail(`more than ${PADDLE_LIMITS.maxOps} ops`);
    const where = `op ${block.ops.length} (${tag}) of block ${block.idx}`;
    if (tag === 'p') return this.readParameter(op, block, where);
    const dot = tag.indexOf('.');
    const dialect = dot < 0 ? '' : (DIALECTS[tag.slice(0, dot)] ?? tag.slice(0, dot));
    const name = dot < 0 ? tag : tag.slice(dot + 1);
    const full = dialect === '' ? name : `${dialect}.${name}`;
    const attrs = attrsOf(op);
    const operandsJson = arr(op.I) ?? [];
    const results = arr(op.O) ?? [];
    const operands = operandsJson.map((x, i) => this.operand(x, `${where} operand ${i}`));

    if (full === 'builtin.combine') {
      const id = valueId(results[0]);
      if (id === undefined || results.length !== 1) throw this.fail(`${where} must have one result`);
      this.vectors.set(id, operands.flatMap((x) => (x === undefined ? [] : x)));
      return;
    }
    if (full === 'builtin.split') {
      const id = valueId(operandsJson[0]);
      const made = id === undefined ? undefined : this.producers.get(id);
      if (made === undefined) throw this.fail(`${where} splits a value no op made`);
      made.op.outputs[made.slot] = results.map((r) => this.defineResult(block, r, `result of ${where}`));
      return;
    }
    if (full === 'pd_op.data') {
      const n = attrs.get('name');
      if (typeof n !== 'string' || n === '' || results.length !== 1) throw this.fail(`${where} needs a name and one result`);
      const out = this.defineResult(block, results[0], `result of ${where}`, n);
      const v = block.vars.get(out);
      if (v?.dtype === undefined) throw this.fail(`input ${JSON.stringify(n)} is not a tensor`);
      if (block.idx === 0) this.feeds.push({ name: out, dtype: v.dtype, shape: v.shape });
      block.ops.push({ type: 'feed', inputs: { X: ['feed'] }, outputs: { Out: [out] }, attrs: { col: this.feeds.length - 1 } });
      return;
    }
    if (full === 'pd_op.fetch') {
      const x = operands[0];
      if (typeof x !== 'string') throw this.fail(`${where} must fetch one tensor`);
      if (block.idx === 0) this.fetches.push(x);
      block.ops.push({ type: 'fetch', inputs: { X: [x] }, outputs: { Out: ['fetch'] }, attrs: { col: this.fetches.length - 1 } });
      return;
    }
    if (full === 'pd_op.full_int_array' || full === 'pd_op.full') return this.readConstant(full, op, attrs, results, block, where);
    if (full === 'pd_op.assign_value_' || full === 'pd_op.assign_value') return this.readAssignValue(attrs, results, block, where);

    const map = dialect === 'pd_op' ? PIR_OPS[name] : undefined;
    const pop: PaddleOp = { type: map?.type ?? full, inputs: {}, outputs: {}, attrs: {} };
    for (const [k, v] of attrs) {
      if (DROPPED_ATTRS.has(k)) continue;
      pop.attrs[map?.rename?.[k] ?? k] = k === 'dtype' && typeof v === 'string' ? legacyDtype(v, this) : v;
    }
    Object.assign(pop.attrs, map?.set ?? {});
    operands.forEach((x, i) => {
      const slot = map === undefined ? `in${i}` : map.in[i];
      const attr = map?.constIn?.[i];
      const id = valueId(operandsJson[i]);
      const c = id === undefined ? undefined : this.consts.get(id);
      if (attr !== undefined && c !== undefined) {
        pop.attrs[attr] = c;
        return;
      }
      if (slot === null || (slot === undefined && x !== undefined)) {
        throw new ShituError('ERR_MODEL_UNSUPPORTED', `${this.file}: ${where}: operand ${i} is computed at run time; only a constant is supported there`);
      }
      if (slot !== undefined) pop.inputs[slot] = x === undefined ? [] : Array.isArray(x) ? x : [x];
    });
    results.forEach((r, i) => {
      const slot = map === undefined ? `out${i}` : (map.out[i] ?? `out${i}`);
      const id = valueId(r);
      const out = this.defineResult(block, r, `result of ${where}`);
      pop.outputs[slot] = [out];
      if (id !== undefined) this.producers.set(id, { op: pop, slot });
    });
    const regions = arr(op.regions);
    if (regions !== undefined && regions.length > 0) {
      pop.attrs.sub_blocks = { blocks: regions.flatMap((r) => this.readRegionBlocks(r, block.idx, depth + 1)) };
    }
    block.ops.push(pop);
  }

  private readParameter(op: JsonObj, block: PaddleBlock, where: string): void {
    const a = arr(op.A) ?? [];
    const name = a[a.length - 1];
    if (typeof name !== 'string' || name === '') throw this.fail(`${where}: a parameter without a name`);
    const r = Array.isArray(op.O) ? op.O[0] : op.O;
    const n = this.defineResult(block, r ?? null, `parameter ${JSON.stringify(name)}`, name, true);
    const v = block.vars.get(n);
    if (v?.dtype === undefined) throw this.fail(`parameter ${JSON.stringify(name)} is not a tensor`);
    if (v.shape.some((d) => d < 0)) throw this.fail(`parameter ${JSON.stringify(name)} has an unknown dimension`);
    this.params.push(n);
  }

  /** assign_value(_) -> assign_value with its values under the legacy key of their type. */
  private readAssignValue(attrs: Map<string, PaddleAttr>, results: Json[], block: PaddleBlock, where: string): void {
    if (results.length !== 1) throw this.fail(`${where} must have one result`);
    const out = this.defineResult(block, results[0], `result of ${where}`);
    const shape = attrs.get('shape');
    const values = attrs.get('values');
    const dtypeName = attrs.get('dtype');
    const dtype = typeof dtypeName === 'string' ? dtypeOfName(dtypeName) : undefined;
    if (!Array.isArray(shape) || !shape.every((x) => typeof x === 'number') || !Array.isArray(values) || dtype === undefined) {
      throw this.fail(`${where} needs "shape", "values" and "dtype"`);
    }
    const n = checkShape(shape as number[], PADDLE_LIMITS, this.file, where);
    if (values.length !== n) throw this.fail(`${where} has ${values.length} values for shape [${shape.join(', ')}]`);
    const key = dtype === 'bool' ? 'bool_values' : dtype === 'int32' ? 'int32_values' : dtype === 'int64' ? 'int64_values' : 'fp32_values';
    block.ops.push({ type: 'assign_value', inputs: {}, outputs: { Out: [out] }, attrs: { shape: shape as number[], dtype: varTypeOfDtype(dtype), [key]: values } });
  }

  /** full_int_array -> assign_value, full -> fill_constant; the value is also kept for constIn operands. */
  private readConstant(full: string, op: JsonObj, attrs: Map<string, PaddleAttr>, results: Json[], block: PaddleBlock, where: string): void {
    if (results.length !== 1) throw this.fail(`${where} must have one result`);
    const id = valueId(results[0]);
    const out = this.defineResult(block, results[0], `result of ${where}`);
    const dtypeName = attrs.get('dtype');
    const dtype: PaddleDType = typeof dtypeName === 'string' ? (dtypeOfName(dtypeName) ?? 'float32') : 'float32';
    if (full === 'pd_op.full_int_array') {
      const value = attrs.get('value');
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'number')) throw this.fail(`${where} has no integer list "value"`);
      const values = value as number[];
      if (id !== undefined) this.consts.set(id, values);
      block.ops.push({
        type: 'assign_value', inputs: {}, outputs: { Out: [out] },
        attrs: { shape: [values.length], dtype: varTypeOfDtype(dtype), [dtype === 'int32' ? 'int32_values' : 'int64_values']: values },
      });
      return;
    }
    const shape = attrs.get('shape');
    const value = attrs.get('value');
    if (!Array.isArray(shape) || !shape.every((x) => typeof x === 'number') || typeof value !== 'number') {
      throw this.fail(`${where} needs an integer list "shape" and a number "value"`);
    }
    checkShape(shape as number[], PADDLE_LIMITS, this.file, where);
    if (id !== undefined && shape.length <= 1) this.consts.set(id, value);
    block.ops.push({ type: 'fill_constant', inputs: {}, outputs: { Out: [out] }, attrs: { shape: shape as number[], value, dtype: varTypeOfDtype(dtype) } });
  }
}

function obj(j: Json | undefined): JsonObj | undefined {
  return j !== null && typeof j === 'object' && !Array.isArray(j) ? j : undefined;
}
function arr(j: Json | undefined): Json[] | undefined {
  return Array.isArray(j) ? j : undefined;
}
function valueId(j: Json | undefined): number | undefined {
  const id = obj(j)?.['%'];
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}
function intList(j: Json | undefined): number[] | undefined {
  return Array.isArray(j) && j.every((x) => typeof x === 'number' && Number.isInteger(x)) ? (j as number[]) : undefined;
}

function legacyDtype(name: string, r: PirReader): number {
  const d = dtypeOfName(name);
  if (d === undefined) throw r.fail(`unknown dtype ${JSON.stringify(name)}`);
  return varTypeOfDtype(d);
}

/** A PIR attribute value ({"#": tag, "D": data}) as a legacy attribute value. */
function attrValue(at: Json | undefined, depth = 0): PaddleAttr {
  const a = obj(at);
  const d = a?.D;
  if (a === undefined || depth > 2) return '';
  if (a['#'] === '0.a_array') {
    const items = (arr(d) ?? []).map((x) => attrValue(x, depth + 1));
    if (items.every((x) => typeof x === 'number')) return items as number[];
    if (items.every((x) => typeof x === 'boolean')) return items as boolean[];
    return items.map(String);
  }
  // Scalars carry their type first ("1.a_scalar": ["float32", 0.2], ["bool", true]); take the value.
  if (Array.isArray(d)) {
    if (a['#'] === '1.a_scalar' && typeof d[0] === 'string' && (typeof d[1] === 'number' || typeof d[1] === 'boolean')) return d[1];
    if (d.length === 2 && typeof d[0] === 'string' && typeof d[1] === 'number') return d[1];
    if (d.every((x) => typeof x === 'number')) return d as number[];
    return d.map((x) => String(x));
  }
  if (typeof d === 'number' || typeof d === 'string' || typeof d === 'boolean') return d;
  return '';
}

function attrsOf(op: JsonObj): Map<string, PaddleAttr> {
  const m = new Map<string, PaddleAttr>();
  for (const a of arr(op.A) ?? []) {
    const e = obj(a);
    if (e === undefined || typeof e.N !== 'string') continue;
    m.set(e.N, attrValue(e.AT));
  }
  return m;
}

/** Reads a PIR `inference.json` file. */
export async function readPir(file: string): Promise<PaddleProgram> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (e) {
    throw new ShituError('ERR_MODEL_NOT_FOUND', `${file}: cannot read the Paddle program (${(e as Error).message})`, { cause: e });
  }
  if (size > PADDLE_LIMITS.maxJsonBytes) throw invalidModel(file, `${size} bytes, over the ${PADDLE_LIMITS.maxJsonBytes}-byte limit for a PIR program`);
  return parsePir(await readFile(file, 'utf8'), file);
}

/** Parses the text of a PIR `inference.json` (file names the source in errors). */
export function parsePir(text: string, file: string): PaddleProgram {
  if (text.length > PADDLE_LIMITS.maxJsonBytes) throw invalidModel(file, `over the ${PADDLE_LIMITS.maxJsonBytes}-byte limit for a PIR program`);
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch (e) {
    throw invalidModel(file, `not JSON (${(e as Error).message})`, e);
  }
  const base = obj(obj(root)?.base_code);
  if (base?.magic !== 'pir') throw invalidModel(file, 'not a PIR program (no base_code.magic "pir")');
  const regions = arr(obj(obj(root)?.program)?.regions);
  if (regions === undefined || regions.length === 0) throw invalidModel(file, 'no program.regions');
  const r = new PirReader(file);
  r.readRegionBlocks(regions[0], -1, 0);
  if (r.blocks.length === 0) throw invalidModel(file, 'no blocks');
  if (r.feeds.length === 0 || r.fetches.length === 0) throw invalidModel(file, 'no data or no fetch op: not an inference program');
  const unique = new Set(r.params);
  if (unique.size !== r.params.length) throw invalidModel(file, 'two parameters have the same name');
  return { format: 'pir', blocks: r.blocks, feeds: r.feeds, fetches: r.fetches, paramNames: sortNames(unique) };
}

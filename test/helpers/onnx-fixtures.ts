// Small, valid ONNX models with the exact input/output signatures of the
// PP-ShiTuV2 exports, generated for tests (the real models cannot be downloaded
// here). Written with onnx-proto (protobufjs); opset 13, IR 7 like paddle2onnx.
//
//   writePpShituDetModel(dir, opts)  image [N,3,640,640] + scale_factor [N,2]
//                                    (+ im_shape [N,2]) -> boxes [M,6], count [N]
//   writePpShituRecModel(dir, opts)  x [N,3,224,224] -> [N,512]
//   writeNotAnOnnxModel(dir)         random bytes named model.onnx
//
// Each writes `model.onnx` (and nothing else) into `dir` (created if missing)
// and returns its path. Callers typically use test/fixtures/generated/<name>/
// (git-ignored).
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export type Dim = number | string;

export interface CommonModelOptions {
  /** List every initializer as a graph input too, as paddle2onnx does (ORT then
   * warns once per initializer unless the loader strips them). Default false. */
  initializersAsInputs?: boolean;
}

export interface PpShituDetModelOptions extends CommonModelOptions {
  /** Rows [class, score, x1, y1, x2, y2] in the model's input space
   * (inputSize x inputSize, i.e. 640x640). Default DEFAULT_DET_BOXES. May be []
   * (then boxes is [0,6] and count 0). */
  boxes?: number[][];
  /** Nothing found: boxes is the single dummy row [-1,0,0,0,0,0] per image and
   * count is 0 (the row does not count). Overrides `boxes`. */
  empty?: boolean;
  /** Also take `im_shape` float32 [N,2] (some exports do). Default false. */
  withImShape?: boolean;
  /** Batch dimension of the inputs: symbolic name or a fixed size. Default "N". */
  batch?: Dim;
  /** Height = width of `image`. Default 640. */
  inputSize?: number;
  /** Output names. Defaults "multiclass_nms3_0.tmp_0" / "multiclass_nms3_0.tmp_2". */
  boxesName?: string;
  countName?: string;
}

export interface PpShituRecModelOptions extends CommonModelOptions {
  /** All-zero features (for the L2-normalisation zero guard). Default false. */
  zero?: boolean;
  /** Feature dimension. Default 512. */
  dim?: number;
  /** Height = width of `x`; must be a multiple of 4. Default 224. */
  inputSize?: number;
  /** Seed of the fixed pseudo-random weights. Default 12345. */
  seed?: number;
  /** Output name. Default "save_infer_model/scale_0.tmp_1". */
  outputName?: string;
}

export const DEFAULT_DET_BOXES: number[][] = [
  [0, 0.9, 64, 64, 320, 320],
  [0, 0.3, 400, 400, 600, 600],
  [0, 0.8, 320, 0, 640, 640],
];
export const DET_BOXES_OUTPUT = 'multiclass_nms3_0.tmp_0';
export const DET_COUNT_OUTPUT = 'multiclass_nms3_0.tmp_2';
export const REC_OUTPUT = 'save_infer_model/scale_0.tmp_1';

// ---------------------------------------------------------------- builders

type TypedData = Float32Array | Int32Array | BigInt64Array;

function tensor(name: string, dims: number[], data: TypedData): onnx.ITensorProto {
  const dataType =
    data instanceof Float32Array ? DT.FLOAT : data instanceof Int32Array ? DT.INT32 : DT.INT64;
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  // raw_data is little-endian; so is every machine Node runs on here.
  const rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { name, dims, dataType, rawData };
}

const f32 = (name: string, dims: number[], values: ArrayLike<number>) =>
  tensor(name, dims, Float32Array.from(values));
const i64 = (name: string, dims: number[], values: number[]) =>
  tensor(name, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
const i32 = (name: string, dims: number[], values: number[]) =>
  tensor(name, dims, Int32Array.from(values));

type AttrValue = number | number[];
function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue | { f: number }> = {},
): onnx.INodeProto {
  const attribute: onnx.IAttributeProto[] = Object.entries(attrs).map(([name, v]) => {
    if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
    if (typeof v === 'number') return { name, type: AT.INT, i: v };
    return { name, type: AT.FLOAT, f: v.f };
  });
  return { opType, input: inputs, output: outputs, name: `${opType}_${outputs[0]}`, attribute };
}

function valueInfo(name: string, elemType: number, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function initializerInputs(inits: onnx.ITensorProto[]): onnx.IValueInfoProto[] {
  return inits.map((t) => valueInfo(t.name as string, t.dataType as number, t.dims as number[]));
}

function writeModel(
  dir: string,
  graphName: string,
  nodes: onnx.INodeProto[],
  inputs: onnx.IValueInfoProto[],
  outputs: onnx.IValueInfoProto[],
  initializers: onnx.ITensorProto[],
  opts: CommonModelOptions,
): string {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'shitu-node test fixtures',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: graphName,
      node: nodes,
      input: opts.initializersAsInputs ? [...inputs, ...initializerInputs(initializers)] : inputs,
      output: outputs,
      initializer: initializers,
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, bytes);
  return file;
}

/** Deterministic PRNG (mulberry32): uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- detector

/**
 * PP-ShiTuV2_det stand-in. Inputs `image` float32 [N,3,S,S] (S = 640),
 * `scale_factor` float32 [N,2] = [[S/H, S/W]] (scale_y, scale_x), optionally
 * `im_shape` float32 [N,2]. Outputs `multiclass_nms3_0.tmp_0` float32 [M,6]
 * (rows [class, score, x1, y1, x2, y2]) and `multiclass_nms3_0.tmp_2` int32 [N].
 *
 * For each image n the same constant rows are returned with x1, x2 divided by
 * scale_factor[n][1] and y1, y2 by scale_factor[n][0], i.e. in original-image
 * pixels as the real export does; class and score pass through exactly. For a
 * batch of N the rows of image 0, then image 1, ... are concatenated
 * (M = N * rows) and count[n] = rows. `image` (and `im_shape`) are consumed as
 * "+ 0 * mean(input)" (a NaN/Inf in the image therefore shows up in the boxes).
 * opts.empty: one row [-1,0,0,0,0,0] per image and count 0.
 */
export function writePpShituDetModel(dir: string, opts: PpShituDetModelOptions = {}): string {
  const size = opts.inputSize ?? 640;
  const batch = opts.batch ?? 'N';
  const rows = opts.empty ? [[-1, 0, 0, 0, 0, 0]] : opts.boxes ?? DEFAULT_DET_BOXES;
  for (const r of rows) if (r.length !== 6) throw new Error('each box row needs 6 values');
  const count = opts.empty ? 0 : rows.length;
  const boxesName = opts.boxesName ?? DET_BOXES_OUTPUT;
  const countName = opts.countName ?? DET_COUNT_OUTPUT;

  const inits = [
    f32('fixture_boxes', [1, rows.length, 6], rows.flat()),
    i64('fixture_xy_index', [4], [1, 0, 1, 0]),
    f32('fixture_zero', [], [0]),
    f32('fixture_one', [], [1]),
    i64('fixture_shape_n16', [3], [-1, 1, 6]),
    i64('fixture_shape_n11', [3], [-1, 1, 1]),
    i64('fixture_shape_rows', [2], [-1, 6]),
    i64('fixture_index0', [1], [0]),
    i32('fixture_count', [1], [count]),
  ];
  const nodes = [
    // divisor per image: [1, 1, sx, sy, sx, sy]
    node('Gather', ['scale_factor', 'fixture_xy_index'], ['sf_xyxy'], { axis: 1 }),
    node('Mul', ['scale_factor', 'fixture_zero'], ['sf_zeros']),
    node('Add', ['sf_zeros', 'fixture_one'], ['sf_ones']),
    node('Concat', ['sf_ones', 'sf_xyxy'], ['divisor'], { axis: 1 }),
    node('Reshape', ['divisor', 'fixture_shape_n16'], ['divisor_n16']),
    node('Div', ['fixture_boxes', 'divisor_n16'], ['boxes_scaled']), // [N, rows, 6]
    // + 0 * mean(image)
    node('ReduceMean', ['image'], ['image_mean'], { axes: [1, 2, 3], keepdims: 1 }),
    node('Reshape', ['image_mean', 'fixture_shape_n11'], ['image_mean_n11']),
    node('Mul', ['image_mean_n11', 'fixture_zero'], ['image_term']),
    node('Add', ['boxes_scaled', 'image_term'], ['boxes_plus_image']),
  ];
  let last = 'boxes_plus_image';
  if (opts.withImShape) {
    nodes.push(
      node('ReduceMean', ['im_shape'], ['im_shape_mean'], { axes: [1], keepdims: 1 }),
      node('Reshape', ['im_shape_mean', 'fixture_shape_n11'], ['im_shape_n11']),
      node('Mul', ['im_shape_n11', 'fixture_zero'], ['im_shape_term']),
      node('Add', [last, 'im_shape_term'], ['boxes_plus_im_shape']),
    );
    last = 'boxes_plus_im_shape';
  }
  nodes.push(
    node('Reshape', [last, 'fixture_shape_rows'], [boxesName]),
    // count: [N] filled with `count`
    node('Shape', ['scale_factor'], ['sf_shape']),
    node('Gather', ['sf_shape', 'fixture_index0'], ['batch_1d'], { axis: 0 }),
    node('Expand', ['fixture_count', 'batch_1d'], [countName]),
  );

  const inputs = [valueInfo('image', DT.FLOAT, [batch, 3, size, size])];
  if (opts.withImShape) inputs.push(valueInfo('im_shape', DT.FLOAT, [batch, 2]));
  inputs.push(valueInfo('scale_factor', DT.FLOAT, [batch, 2]));
  const outputs = [valueInfo(boxesName, DT.FLOAT, ['M', 6]), valueInfo(countName, DT.INT32, [batch])];
  return writeModel(dir, 'pp_shitu_det_fixture', nodes, inputs, outputs, inits, opts);
}

// ---------------------------------------------------------------- features

interface RecWeights {
  dim: number;
  size: number;
  grid: number;
  w1: Float32Array; // [3, dim]
  w2: Float32Array; // [3*grid*grid, dim]
  bias: Float32Array; // [dim]
}

const REC_GRID = 4;

function recWeights(opts: PpShituRecModelOptions): RecWeights {
  const dim = opts.dim ?? 512;
  const size = opts.inputSize ?? 224;
  if (size % REC_GRID !== 0) throw new Error(`inputSize must be a multiple of ${REC_GRID}`);
  const rnd = mulberry32(opts.seed ?? 12345);
  const uni = (scale: number) => (rnd() * 2 - 1) * scale;
  const w1 = Float32Array.from({ length: 3 * dim }, () => uni(1));
  const w2 = Float32Array.from({ length: 3 * REC_GRID * REC_GRID * dim }, () => uni(0.25));
  const bias = Float32Array.from({ length: dim }, () => uni(0.05));
  return { dim, size, grid: REC_GRID, w1, w2, bias };
}

/**
 * PP-ShiTuV2_rec stand-in. Input `x` float32 [N,3,S,S] (S = 224, symbolic batch
 * "N": any batch size), output `save_infer_model/scale_0.tmp_1` float32 [N,512]
 * (not normalised):
 *   feature = mean_c(x) @ W1 + blockmean_4x4(x) @ W2 + b
 * where mean_c is the per-channel mean [N,3], blockmean_4x4 the per-channel
 * means of a 4x4 grid of (S/4)x(S/4) blocks flattened to [N,48] (channel-major),
 * and W1 [3,512], W2 [48,512], b [512] fixed pseudo-random (seeded). Different
 * images give different features; recFeatureReference computes the same in JS.
 * opts.zero: all-zero features (still consumes x).
 */
export function writePpShituRecModel(dir: string, opts: PpShituRecModelOptions = {}): string {
  const w = recWeights(opts);
  const k = w.size / w.grid;
  const cells = 3 * w.grid * w.grid;
  const inits = [
    tensor('fixture_w1', [3, w.dim], w.w1),
    tensor('fixture_w2', [cells, w.dim], w.w2),
    tensor('fixture_bias', [w.dim], w.bias),
  ];
  const outName = opts.outputName ?? REC_OUTPUT;
  const nodes = [
    node('GlobalAveragePool', ['x'], ['x_mean']), // [N,3,1,1]
    node('Flatten', ['x_mean'], ['x_mean_flat'], { axis: 1 }), // [N,3]
    node('MatMul', ['x_mean_flat', 'fixture_w1'], ['f1']),
    node('AveragePool', ['x'], ['x_blocks'], { kernel_shape: [k, k], strides: [k, k] }), // [N,3,4,4]
    node('Flatten', ['x_blocks'], ['x_blocks_flat'], { axis: 1 }), // [N,48]
    node('MatMul', ['x_blocks_flat', 'fixture_w2'], ['f2']),
    node('Add', ['f1', 'f2'], ['f12']),
    node('Add', ['f12', 'fixture_bias'], [opts.zero ? 'features' : outName]),
  ];
  if (opts.zero) {
    inits.push(f32('fixture_zero', [], [0]));
    nodes.push(node('Mul', ['features', 'fixture_zero'], [outName]));
  }
  const inputs = [valueInfo('x', DT.FLOAT, ['N', 3, w.size, w.size])];
  const outputs = [valueInfo(outName, DT.FLOAT, ['N', w.dim])];
  return writeModel(dir, 'pp_shitu_rec_fixture', nodes, inputs, outputs, inits, opts);
}

/**
 * What writePpShituRecModel(dir, opts) outputs for the NCHW float32 batch `x`
 * ([batch,3,S,S] flattened): Float32Array [batch*dim]. Computed in float64, so
 * compare with a tolerance (~1e-4 relative).
 */
export function recFeatureReference(
  x: Float32Array,
  batch: number,
  opts: PpShituRecModelOptions = {},
): Float32Array {
  const w = recWeights(opts);
  const { dim, size, grid } = w;
  const k = size / grid;
  const plane = size * size;
  if (x.length !== batch * 3 * plane) throw new Error(`x has ${x.length} values, expected ${batch * 3 * plane}`);
  const out = new Float32Array(batch * dim);
  if (opts.zero) return out;
  for (let n = 0; n < batch; ++n) {
    const acc = Float64Array.from(w.bias);
    for (let c = 0; c < 3; ++c) {
      const base = (n * 3 + c) * plane;
      const blocks = new Float64Array(grid * grid);
      for (let y = 0; y < size; ++y) {
        const row = base + y * size;
        const by = Math.floor(y / k) * grid;
        for (let xx = 0; xx < size; ++xx) blocks[by + Math.floor(xx / k)] += x[row + xx];
      }
      let total = 0;
      for (let b = 0; b < grid * grid; ++b) {
        total += blocks[b];
        const mean = blocks[b] / (k * k);
        const wrow = (c * grid * grid + b) * dim;
        for (let d = 0; d < dim; ++d) acc[d] += mean * w.w2[wrow + d];
      }
      const cmean = total / plane;
      for (let d = 0; d < dim; ++d) acc[d] += cmean * w.w1[c * dim + d];
    }
    out.set(acc, n * dim);
  }
  return out;
}

// ---------------------------------------------------------------- junk

/** 4096 pseudo-random bytes (fixed seed) named model.onnx: not a parseable model. */
export function writeNotAnOnnxModel(dir: string): string {
  const rnd = mulberry32(0x5eed);
  const bytes = Uint8Array.from({ length: 4096 }, () => Math.floor(rnd() * 256));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, bytes);
  return file;
}

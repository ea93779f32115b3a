// A small ONNX graph builder for the timing models: convolution layers with
// batch norm folded in (what ONNX Runtime runs after its own Conv+BN fusion),
// random weights, and a running count of parameters and multiply-adds so the
// report can set them beside the published model sizes.
import { onnx } from 'onnx-proto';

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export type Dim = number | string;
export type Attr = number | number[] | { f: number } | { s: string };

/** A 4-d feature map [N, c, h, w] (N symbolic). */
export interface Feat {
  name: string;
  c: number;
  h: number;
  w: number;
}

export type Act = 'relu' | 'hardswish' | 'none';

export interface GraphCounts {
  /** Parameters of the ONNX graph as written (batch norm folded into the convolutions). */
  params: number;
  /** Parameters as the Paddle model holds them: each batch norm keeps 4 per channel (scale, bias, mean, variance). */
  paddleParams: number;
  /** Multiply-adds of convolutions and matrix products at batch 1 (Paddle's "FLOPs" convention). */
  macs: number;
}

/** Deterministic PRNG (mulberry32). */
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

export class Graph {
  readonly nodes: onnx.INodeProto[] = [];
  readonly inits: onnx.ITensorProto[] = [];
  readonly counts: GraphCounts = { params: 0, paddleParams: 0, macs: 0 };
  private n = 0;
  private readonly rnd: () => number;

  constructor(seed: number) {
    this.rnd = mulberry32(seed);
  }

  /** Standard normal (Box-Muller). */
  private gauss(): number {
    const u = Math.max(1e-12, this.rnd());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.rnd());
  }

  id(prefix: string): string {
    return `${prefix}_${this.n++}`;
  }

  node(op: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, Attr> = {}): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.id(op.toLowerCase())) : outputs;
    const attribute: onnx.IAttributeProto[] = Object.entries(attrs).map(([name, v]) => {
      if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
      if (typeof v === 'number') return { name, type: AT.INT, i: v };
      if ('f' in v) return { name, type: AT.FLOAT, f: v.f };
      return { name, type: AT.STRING, s: new TextEncoder().encode(v.s) };
    });
    this.nodes.push({ opType: op, input: inputs, output: outs, name: `${op}_${outs[0]}`, attribute });
    return outs;
  }

  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, 1, attrs)[0];
  }

  /** A constant tensor (not counted as a model parameter). */
  constF(dims: number[], values: ArrayLike<number>): string {
    return this.tensor(this.id('const'), dims, Float32Array.from(values));
  }

  constI64(values: number[]): string {
    const name = this.id('const');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.inits.push({ name, dims: [values.length], dataType: DT.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  private tensor(name: string, dims: number[], data: Float32Array): string {
    this.inits.push({ name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** Random weights, normal with standard deviation `std` (Kaiming: sqrt(2 / fan_in)). */
  weight(dims: number[], std: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = this.gauss() * std;
    this.counts.params += count;
    this.counts.paddleParams += count;
    return this.tensor(this.id('w'), dims, data);
  }

  bias(c: number, value = 0): string {
    this.counts.params += c;
    return this.tensor(this.id('b'), [c], new Float32Array(c).fill(value));
  }

  act(x: string, a: Act): string {
    if (a === 'relu') return this.op('Relu', [x]);
    if (a === 'hardswish') return this.op('HardSwish', [x]);
    return x;
  }

  /**
   * Conv2D (padding (k-1)/2) followed by either a batch norm (folded: a bias here,
   * 4 parameters per channel in the Paddle model) or the conv's own bias, then `act`.
   */
  conv(x: Feat, cout: number, k: number, o: { stride?: number; groups?: number; act?: Act; bn?: boolean; convBias?: boolean; biasValue?: number } = {}): Feat {
    const stride = o.stride ?? 1, groups = o.groups ?? 1;
    const fanIn = (x.c / groups) * k * k;
    const w = this.weight([cout, x.c / groups, k, k], Math.sqrt(2 / fanIn));
    const bn = o.bn ?? true;
    const inputs = [x.name, w];
    if (bn || o.convBias) inputs.push(this.bias(cout, o.biasValue ?? 0));
    if (bn) this.counts.paddleParams += 4 * cout;
    else if (o.convBias) this.counts.paddleParams += cout;
    const p = (k - 1) >> 1;
    const h = Math.floor((x.h + 2 * p - k) / stride) + 1, wd = Math.floor((x.w + 2 * p - k) / stride) + 1;
    this.counts.macs += cout * h * wd * (x.c / groups) * k * k;
    const y = this.op('Conv', inputs, { kernel_shape: [k, k], strides: [stride, stride], pads: [p, p, p, p], group: groups });
    return { name: this.act(y, o.act ?? 'none'), c: cout, h, w: wd };
  }

  /** Squeeze-and-excitation: global pool, 1x1 down (reduction 4) + ReLU, 1x1 up + gate, multiply. */
  se(x: Feat, gate: 'hardsigmoid' | 'sigmoid'): Feat {
    const pooled: Feat = { name: this.op('GlobalAveragePool', [x.name]), c: x.c, h: 1, w: 1 };
    const down = this.conv(pooled, x.c / 4, 1, { bn: false, convBias: true, act: 'relu' });
    const up = this.conv(down, x.c, 1, { bn: false, convBias: true });
    const g = gate === 'hardsigmoid' ? this.op('HardSigmoid', [up.name], { alpha: { f: 1 / 6 }, beta: { f: 0.5 } }) : this.op('Sigmoid', [up.name]);
    return { ...x, name: this.op('Mul', [x.name, g]) };
  }

  add(a: Feat, b: Feat): Feat {
    return { ...a, name: this.op('Add', [a.name, b.name]) };
  }

  concat(fs: Feat[]): Feat {
    return { name: this.op('Concat', fs.map((f) => f.name), { axis: 1 }), c: fs.reduce((s, f) => s + f.c, 0), h: fs[0].h, w: fs[0].w };
  }

  upsample2x(x: Feat): Feat {
    const scales = this.constF([4], [1, 1, 2, 2]);
    return { name: this.op('Resize', [x.name, '', scales], { mode: { s: 'nearest' } }), c: x.c, h: x.h * 2, w: x.w * 2 };
  }

  /** Serialized ModelProto (IR 8, opset 14: HardSwish is an operator there). */
  encode(name: string, inputs: Array<{ name: string; elem: 'float' | 'int32'; dims: Dim[] }>, outputs: Array<{ name: string; elem: 'float' | 'int32'; dims: Dim[] }>): Uint8Array {
    const vi = (v: { name: string; elem: 'float' | 'int32'; dims: Dim[] }): onnx.IValueInfoProto => ({
      name: v.name,
      type: { tensorType: { elemType: v.elem === 'float' ? DT.FLOAT : DT.INT32, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'shitu-node bench (PP-ShiTuV2-shaped, random weights: timing only)',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: 14 }],
      graph: { name, node: this.nodes, input: inputs.map(vi), output: outputs.map(vi), initializer: this.inits },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

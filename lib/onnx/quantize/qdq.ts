// Writes the static QDQ INT8 model: for each planned activation tensor a
// QuantizeLinear -> DequantizeLinear pair (uint8, asymmetric, per tensor: x86
// kernels take uint8 activations), for each planned Conv its weights as int8
// symmetric per output channel behind a DequantizeLinear (axis 0, opset 13)
// and its bias as int32 with scale = input scale x weight scale (a float bias
// keeps ONNX Runtime from fusing the QLinearConv). The float model stays
// inside, so the file runs anywhere ONNX runs; ORT fuses the pairs away.
import { ONNX_ATTR, ONNX_DTYPE } from '../onnx-proto';
import { ShituError } from '../../errors';
import { clipBounds } from '../graph-pass/affine';
import { defaultOpset, GraphIndex, makeNode, OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor, tensorValues, toNumber } from '../graph-pass/model';
import { planOpsetUpgrade } from '../graph-pass/opset';
import type { Range } from './calibrate';
import type { QuantPlan } from './plan';

/** Per-axis DequantizeLinear needs opset 13. */
const MIN_OPSET = 13;
const INT32_MAX = 2 ** 31 - 1;

function tensor(name: string, dataType: number, dims: number[], raw: ArrayBufferView): OnnxTensor {
  return { name, dims, dataType, rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), floatData: [], int32Data: [], int64Data: [], doubleData: [], externalData: [] };
}

/** uint8 scale and zero point covering [min(0, lo), max(0, hi)]: 0 stays exact (padding, ReLU). */
export function uint8Params(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, r.min), hi = Math.max(0, r.max);
  let scale = hi - lo > 0 ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  // Rounding the zero point shifts the range by up to half a step: shrink the step so that it
  // stays inside `within` (an activation's bounds) where one is given.
  if (r.within) {
    const [blo, bhi] = r.within;
    if (zeroPoint < 255 && Number.isFinite(bhi)) scale = Math.min(scale, bhi / (255 - zeroPoint));
    if (zeroPoint > 0 && Number.isFinite(blo)) scale = Math.min(scale, -blo / zeroPoint);
  }
  return { scale, zeroPoint };
}

const axisAttr = (axis: number): OnnxAttribute => ({ name: 'axis', type: ONNX_ATTR.INT, i: axis, floats: [], ints: [], graphs: [] });

/**
 * A Relu or Clip between a Conv and its QuantizeLinear (ReLU, ReLU6, or a
 * bound an INT8 export left) is removed, and the quantized range fitted inside
 * its bounds, so that the QuantizeLinear does what it did: the Conv then feeds
 * the QuantizeLinear directly, as ONNX Runtime's QDQ fusion wants. ORT removes
 * such a Clip itself only when the quantized range (after the zero point's
 * rounding) lies inside it; measured with ORT 1.29 and 1.30, a Conv -> Clip ->
 * QuantizeLinear it kept made its QDQ fusion emit two nodes with the Conv's
 * name, and the session refused the model.
 */
function dropCoveredActivations(g: NonNullable<OnnxModel['graph']>, plan: QuantPlan, ranges: Map<string, Range>): void {
  const ix = new GraphIndex(g);
  const opset = 13; // Clip bounds are inputs from opset 11; the model is at 13 or more here.
  const drop = new Set<OnnxNode>();
  for (const t of plan.tensors) {
    const act = ix.producer.get(t);
    const r = ranges.get(t);
    if (!act || !r || (act.opType !== 'Relu' && act.opType !== 'Clip')) continue;
    const u = act.input[0];
    const conv = ix.producer.get(u);
    if (!conv || conv.opType !== 'Conv' || !plan.convs.includes(conv) || !ix.onlyReadBy(u, act)) continue;
    const bounds = act.opType === 'Relu' ? [0, Infinity] : clipBounds(ix, act, opset);
    if (!bounds) continue;
    // The measured range lies inside the bounds (it is the activation's output); the quantized
    // range is fitted inside them too, so that the activation changes nothing once quantized.
    const fitted: Range = { min: Math.max(r.min, bounds[0]), max: Math.min(r.max, bounds[1]), within: [bounds[0], bounds[1]] };
    ranges.set(t, fitted);
    conv.output[0] = t;
    drop.add(act);
  }
  g.node = g.node.filter((n) => !drop.has(n));
}

export function writeQdq(m: OnnxModel, plan: QuantPlan, ranges: Map<string, Range>): void {
  const g = m.graph;
  if (!g) return;
  const opset = defaultOpset(m);
  if (opset < MIN_OPSET) {
    const up = planOpsetUpgrade(m, opset);
    if (!up.ok) throw new ShituError('ERR_MODEL_UNSUPPORTED', `cannot quantize: opset ${opset} must be raised to ${MIN_OPSET} or more and ${up.reason}`);
    up.apply();
  }
  dropCoveredActivations(g, plan, ranges);
  const ix = new GraphIndex(g);
  const scales = new Map<string, number>();
  const front: OnnxNode[] = [];
  const after = new Map<string, OnnxNode[]>();
  const redirect = new Map<string, string>();

  for (const t of plan.tensors) {
    const r = ranges.get(t);
    if (!r || !Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new ShituError('ERR_MODEL_UNSUPPORTED', `cannot quantize: no range measured for tensor '${t}'`);
    const { scale, zeroPoint } = uint8Params(r);
    scales.set(t, scale);
    g.initializer.push(tensor(`${t}_scale`, ONNX_DTYPE.FLOAT, [], Float32Array.of(scale)), tensor(`${t}_zero_point`, ONNX_DTYPE.UINT8, [], Uint8Array.of(zeroPoint)));
    const pair = [
      makeNode('QuantizeLinear', [t, `${t}_scale`, `${t}_zero_point`], [`${t}_quantized`], `${t}_QuantizeLinear`),
      makeNode('DequantizeLinear', [`${t}_quantized`, `${t}_scale`, `${t}_zero_point`], [`${t}_dequantized`], `${t}_DequantizeLinear`),
    ];
    const p = ix.producer.get(t);
    if (p) after.set(t, pair);
    else front.push(...pair);
    redirect.set(t, `${t}_dequantized`);
  }

  for (const conv of plan.convs) {
    const sx = scales.get(conv.input[0]);
    if (sx === undefined) continue;
    const w = ix.initializers.get(conv.input[1]) as OnnxTensor;
    const wv = tensorValues(w, Number.MAX_SAFE_INTEGER);
    const dims = w.dims.map(toNumber);
    if (!wv || w.dataType !== ONNX_DTYPE.FLOAT) throw new ShituError('ERR_MODEL_UNSUPPORTED', `cannot quantize: weights '${w.name}' are not float32 in the file`);
    const channels = dims[0];
    const per = wv.length / channels;
    const ws = new Float32Array(channels);
    const q = new Int8Array(wv.length);
    for (let c = 0; c < channels; c++) {
      let a = 0;
      for (let i = c * per; i < (c + 1) * per; i++) a = Math.max(a, Math.abs(wv[i]));
      ws[c] = a > 0 ? a / 127 : 1;
      for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(wv[i] / ws[c])));
    }
    const wName = `${w.name}_quantized`;
    g.initializer.push(tensor(wName, ONNX_DTYPE.INT8, dims, q), tensor(`${w.name}_scale`, ONNX_DTYPE.FLOAT, [channels], ws), tensor(`${w.name}_zero_point`, ONNX_DTYPE.INT8, [channels], new Int8Array(channels)));
    front.push(makeNode('DequantizeLinear', [wName, `${w.name}_scale`, `${w.name}_zero_point`], [`${w.name}_dequantized`], `${w.name}_DequantizeLinear`, [axisAttr(0)]));
    conv.input[1] = `${w.name}_dequantized`;
    const bName = conv.input[2];
    if (bName) {
      const b = ix.initializers.get(bName) as OnnxTensor;
      const bv = tensorValues(b, Number.MAX_SAFE_INTEGER);
      if (!bv || bv.length !== channels) throw new ShituError('ERR_MODEL_UNSUPPORTED', `cannot quantize: bias '${bName}' is not ${channels} float32 values`);
      const bs = Float32Array.from(ws, (s) => s * sx);
      const bq = Int32Array.from(bv, (v, c) => Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(v / bs[c]))));
      g.initializer.push(tensor(`${bName}_quantized`, ONNX_DTYPE.INT32, [channels], bq), tensor(`${bName}_scale`, ONNX_DTYPE.FLOAT, [channels], bs), tensor(`${bName}_zero_point`, ONNX_DTYPE.INT32, [channels], new Int32Array(channels)));
      front.push(makeNode('DequantizeLinear', [`${bName}_quantized`, `${bName}_scale`, `${bName}_zero_point`], [`${bName}_dequantized`], `${bName}_DequantizeLinear`, [axisAttr(0)]));
      conv.input[2] = `${bName}_dequantized`;
    }
  }

  // Readers of a quantized tensor read its dequantized copy (the QuantizeLinear itself reads the original).
  const nodes: OnnxNode[] = [...front];
  for (const n of g.node) {
    n.input = n.input.map((i) => redirect.get(i) ?? i);
    nodes.push(n);
    for (const o of n.output) nodes.push(...(after.get(o) ?? []));
  }
  g.node = nodes;
  // Weights now stored as int8 are read by nothing else: dropped (a weight shared with a float op stays).
  const read = new Set(g.node.flatMap((n) => n.input));
  g.initializer = g.initializer.filter((t) => !t.name || read.has(t.name) || g.output.some((o) => o.name === t.name));
}

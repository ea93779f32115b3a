// An FP32 feature model to test the INT8 quantizer on, made from the INT8
// stand-in (MobileNetV2, ONNX model zoo): every quantized weight turned back
// into floats ((q - zero point) x scale), QLinearConv / QLinearMatMul /
// QLinearAdd / QLinearGlobalAveragePool into their float ops, each followed by
// a Clip to the range its output quantization could hold (that is where the
// INT8 model's ReLU6 lives), QuantizeLinear / DequantizeLinear of activations
// into Identity. Its outputs are close to the INT8 model's, not equal (no
// rounding to 8 bits in between).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ONNX_DTYPE } from '../../lib/onnx/onnx-proto';
import { decodeModel, encodeModel, GraphIndex, makeNode, OnnxNode, OnnxTensor, tensorValues, toNumber } from '../../lib/onnx/graph-pass/model';

function floatTensor(name: string, dims: number[], values: Float32Array): OnnxTensor {
  return { name, dims, dataType: ONNX_DTYPE.FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength), floatData: [], int32Data: [], int64Data: [], doubleData: [], externalData: [] };
}

export function int8ToFp32(bytes: Uint8Array): Buffer {
  const m = decodeModel(bytes);
  const g = m.graph;
  if (!g) throw new Error('no graph');
  const ix = new GraphIndex(g);
  const values = (name: string) => {
    const t = ix.initializers.get(name);
    const v = t && tensorValues(t, 1 << 24);
    if (!t || !v) throw new Error(`no constant ${name}`);
    return { t, v, dims: t.dims.map(toNumber) };
  };
  const added: OnnxTensor[] = [];
  /** (q - zp) x scale, the scale per element of `axis` when it has several. */
  const dequantize = (q: string, s: string, zp: string, out: string) => {
    const Q = values(q), S = values(s).v, Z = values(zp).v;
    const axis = S.length === 1 ? -1 : Q.dims.findIndex((d) => d === S.length);
    const inner = axis < 0 ? 1 : Q.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const f = new Float32Array(Q.v.length);
    for (let i = 0; i < f.length; i++) {
      const c = axis < 0 ? 0 : Math.floor(i / inner) % S.length;
      f[i] = (Q.v[i] - Z[Z.length === 1 ? 0 : c]) * S[c];
    }
    added.push(floatTensor(out, Q.dims, f));
    return out;
  };
  const scalar = (name: string) => values(name).v[0];
  const range = (s: string, zp: string): [number, number] => {
    const dt = ix.initializers.get(zp)?.dataType;
    const [lo, hi] = dt === ONNX_DTYPE.INT8 ? [-128, 127] : [0, 255];
    return [(lo - scalar(zp)) * scalar(s), (hi - scalar(zp)) * scalar(s)];
  };
  const clipped = (op: OnnxNode, out: string, s: string, zp: string): OnnxNode[] => {
    const [lo, hi] = range(s, zp);
    added.push(floatTensor(`${out}_lo`, [], Float32Array.of(lo)), floatTensor(`${out}_hi`, [], Float32Array.of(hi)));
    op.output = [`${out}_unclipped`];
    return [op, makeNode('Clip', [`${out}_unclipped`, `${out}_lo`, `${out}_hi`], [out], `${out}_clip`)];
  };
  const nodes: OnnxNode[] = [];
  for (const n of g.node) {
    const i = n.input;
    const out = n.output[0];
    switch (n.opType) {
      case 'QuantizeLinear':
        nodes.push(makeNode('Identity', [i[0]], [out], n.name ?? out));
        break;
      case 'DequantizeLinear':
        if (ix.initializers.has(i[0])) dequantize(i[0], i[1], i[2], out);
        else nodes.push(makeNode('Identity', [i[0]], [out], n.name ?? out));
        break;
      case 'QLinearConv': {
        const w = dequantize(i[3], i[4], i[5], `${i[3]}_float`);
        const ins = [i[0], w];
        if (i[8]) {
          const B = values(i[8]).v, xs = scalar(i[1]), ws = values(i[4]).v;
          added.push(floatTensor(`${i[8]}_float`, [B.length], Float32Array.from(B, (b, c) => b * xs * ws[ws.length === 1 ? 0 : c])));
          ins.push(`${i[8]}_float`);
        }
        nodes.push(...clipped(makeNode('Conv', ins, [out], n.name ?? out, n.attribute), out, i[6], i[7]));
        break;
      }
      case 'QLinearMatMul': {
        const b = ix.initializers.has(i[3]) ? dequantize(i[3], i[4], i[5], `${i[3]}_float`) : i[3];
        nodes.push(...clipped(makeNode('MatMul', [i[0], b], [out], n.name ?? out), out, i[6], i[7]));
        break;
      }
      case 'QLinearAdd': {
        const b = ix.initializers.has(i[3]) ? dequantize(i[3], i[4], i[5], `${i[3]}_float`) : i[3];
        nodes.push(...clipped(makeNode('Add', [i[0], b], [out], n.name ?? out), out, i[6], i[7]));
        break;
      }
      case 'QLinearGlobalAveragePool':
        nodes.push(...clipped(makeNode('GlobalAveragePool', [i[0]], [out], n.name ?? out), out, i[3], i[4]));
        break;
      default:
        nodes.push(n);
    }
  }
  // Node names unique again (each QLinear op became two nodes).
  nodes.forEach((n, k) => { n.name = `fp32_node_${k}`; });
  g.node = nodes;
  g.initializer = [...g.initializer.filter((t) => t.dataType === ONNX_DTYPE.INT64), ...added];
  g.valueInfo = [];
  m.opsetImport = m.opsetImport.filter((o) => !o.domain);
  return encodeModel(m);
}

/** A model directory (card + FP32 model) beside `dir`, from the INT8 feature stand-in. */
export function writeFp32FeatureModel(int8File: string, dir: string, cardFile: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mobilenetv2-fp32-feat.onnx');
  fs.writeFileSync(file, int8ToFp32(fs.readFileSync(int8File)));
  const card = fs.readFileSync(cardFile, 'utf8').replace(/^model_file:.*$/m, 'model_file: mobilenetv2-fp32-feat.onnx');
  fs.writeFileSync(path.join(dir, 'card.yaml'), card);
  return file;
}

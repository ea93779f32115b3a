// Small ONNX graphs written for the graph-pass tests: each spells one pattern
// (a decomposed HardSwish, an Identity, shape arithmetic...) around a graph
// input, so that a rewrite can be checked node by node and run through ONNX
// Runtime against the graph as written.
import { ONNX_ATTR, ONNX_DTYPE, onnxType } from '../../lib/onnx/onnx-proto';

export interface N { op: string; in: string[]; out: string[]; attrs?: Record<string, number | number[]> }

export interface GraphSpec {
  opset: number;
  ir?: number;
  nodes: N[];
  /** float32 scalars (rank 0) or int64 vectors, as initializers. */
  floats?: Record<string, number>;
  ints?: Record<string, number[]>;
  /** int64 scalars (rank 0), e.g. a Gather index. */
  intScalars?: Record<string, number>;
  input?: { name: string; dims: number[] };
  outputs: string[];
  /** List the initializers as graph inputs too (paddle2onnx's IR 7 exports do). */
  initializersAsInputs?: boolean;
}

export const X_DIMS = [1, 4, 6, 6];

function attribute(name: string, v: number | number[]) {
  if (Array.isArray(v)) return { name, type: ONNX_ATTR.INTS, ints: v };
  return Number.isInteger(v) && !['alpha', 'beta', 'ratio', 'min', 'max'].includes(name) ? { name, type: ONNX_ATTR.INT, i: v } : { name, type: ONNX_ATTR.FLOAT, f: v };
}

const valueInfo = (name: string, dims: number[], elemType: number = ONNX_DTYPE.FLOAT) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });

export function writeGraph(s: GraphSpec): Buffer {
  const input = s.input ?? { name: 'x', dims: X_DIMS };
  const initializer = [
    ...Object.entries(s.floats ?? {}).map(([name, v]) => ({ name, dims: [], dataType: ONNX_DTYPE.FLOAT, floatData: [v] })),
    ...Object.entries(s.ints ?? {}).map(([name, v]) => ({ name, dims: [v.length], dataType: ONNX_DTYPE.INT64, int64Data: v })),
    ...Object.entries(s.intScalars ?? {}).map(([name, v]) => ({ name, dims: [], dataType: ONNX_DTYPE.INT64, int64Data: [v] })),
  ];
  const model = {
    irVersion: s.ir ?? 7,
    opsetImport: [{ domain: '', version: s.opset }],
    producerName: 'shitu-node graph-pass test',
    graph: {
      name: 'g',
      node: s.nodes.map((n, i) => ({ opType: n.op, input: n.in, output: n.out, name: `${n.op}_${i}`, attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)) })),
      initializer,
      input: [valueInfo(input.name, input.dims), ...(s.initializersAsInputs ? initializer.map((t) => valueInfo(t.name, t.dims, t.dataType)) : [])],
      output: s.outputs.map((o) => ({ name: o, type: { tensorType: { elemType: ONNX_DTYPE.FLOAT } } })),
    },
  };
  const w = onnxType('ModelProto').encode(onnxType('ModelProto').fromObject(model)).finish();
  return Buffer.from(w.buffer, w.byteOffset, w.byteLength);
}

/** Values spread over HardSwish's three pieces (below -3, between, above 3). */
export function spreadInput(dims: number[] = X_DIMS): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => -8 + (16 * i) / (n - 1));
}

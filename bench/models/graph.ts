// Counts of the timing models, for the report's table beside the published
// sizes: parameters exactly as the Paddle program declares its weights, and
// the multiply-adds of the converted ONNX graph's convolutions and matrix
// products at the converted (fixed) input sizes, read from the shapes the
// converter inferred (ONNX Runtime exposes no per-node shapes to count on).
import { GraphBuilder, numel } from '../../lib/models/paddle/convert/graph';
import type { PaddleProgram, PaddleVar } from '../../lib/models/paddle/program';

export interface GraphCounts {
  /** Elements of the weight initializers of the converted graph (batch norms unfolded, as the program). */
  params: number;
  /** Multiply-adds of Conv / MatMul at batch 1 (Paddle's "FLOPs" convention). */
  macs: number;
  /** Conv / MatMul nodes whose output shape the converter did not know (their multiply-adds are missing). */
  uncounted: number;
}

/** Elements of every weight the program saves (its .pdiparams), in total. */
export function programParams(program: PaddleProgram): number {
  const vars = new Map<string, PaddleVar>();
  for (const b of program.blocks) for (const [n, v] of b.vars) if (!vars.has(n)) vars.set(n, v);
  return program.paramNames.reduce((s, n) => s + numel((vars.get(n)?.shape ?? []).map((d) => Math.max(d, 1))), 0);
}

export function graphCounts(b: GraphBuilder): GraphCounts {
  let params = 0;
  for (const p of b.paramInits.values()) params += numel(p.dims);
  let macs = 0;
  let uncounted = 0;
  const known = (s: number[] | undefined): s is number[] => !!s && s.every((d) => d > 0);
  for (const n of b.nodes) {
    if (n.opType !== 'Conv' && n.opType !== 'MatMul') continue;
    const out = b.factsOf(n.outputs[0]).shape;
    const a = b.factsOf(n.inputs[0]).shape;
    const w = b.factsOf(n.inputs[1]).shape ?? [...b.paramInits.values()].find((p) => p.onnxName === n.inputs[1])?.dims;
    if (!known(out) || !known(w) || (n.opType !== 'Conv' && !known(a))) {
      uncounted++;
      continue;
    }
    // Conv: each output element takes (C_in / group) x kH x kW products = the weight's size over C_out.
    // MatMul: each output element takes K products, K = the first operand's last dim.
    macs += numel(out) * (n.opType === 'Conv' ? numel(w) / w[0] : (a as number[])[a!.length - 1]);
  }
  return { params, macs, uncounted };
}

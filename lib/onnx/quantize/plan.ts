// Which tensors of an FP32 model get QuantizeLinear -> DequantizeLinear pairs,
// chosen so that ONNX Runtime's QDQ transformers turn each convolution into a
// QLinearConv on x86: the input of every Conv with constant weights, the
// output of each such Conv (after its Relu or Clip when that is its only
// reader: qdq.ts then fits the quantized range inside the activation's bounds
// and drops it), and the output of an Add or GlobalAveragePool whose inputs
// are all quantized (QLinearAdd, QLinearGlobalAveragePool). Everything else
// (MatMul, Gemm, HardSwish, Sigmoid, Resize...) stays FP32 between a
// DequantizeLinear and the next QuantizeLinear.
import { GraphIndex, isDefaultDomain, OnnxGraph, OnnxNode } from '../graph-pass/model';

export interface QuantPlan {
  /** Activation tensors to quantize (uint8, per tensor), in graph order. */
  tensors: string[];
  /** Convolutions whose weights become int8 per output channel (and bias int32). */
  convs: OnnxNode[];
}

export function planQuantization(g: OnnxGraph): QuantPlan {
  const ix = new GraphIndex(g);
  const chosen = new Set<string>();
  const convs: OnnxNode[] = [];
  const isConst = (name: string | undefined) => !!name && ix.initializers.has(name) && !ix.graphInputs.has(name);
  for (const n of g.node) {
    if (!isDefaultDomain(n)) continue;
    if (n.opType === 'Conv' && n.input[0] && isConst(n.input[1]) && (!n.input[2] || isConst(n.input[2]))) {
      convs.push(n);
      chosen.add(n.input[0]);
      let out = n.output[0];
      const readers = ix.consumers.get(out) ?? [];
      const act = readers[0];
      if (readers.length === 1 && act && isDefaultDomain(act) && (act.opType === 'Relu' || act.opType === 'Clip') && !ix.graphOutputs.has(out)) out = act.output[0];
      chosen.add(out);
    } else if ((n.opType === 'Add' || n.opType === 'GlobalAveragePool') && n.input.every((i) => chosen.has(i))) {
      chosen.add(n.output[0]);
    }
  }
  // Graph order, so that the pairs can be inserted right after each producer.
  const order = new Map<string, number>();
  g.input.forEach((i) => i.name && order.set(i.name, -1));
  g.node.forEach((n, k) => n.output.forEach((o) => order.set(o, k)));
  const tensors = [...chosen].filter((t) => order.has(t)).sort((a, b) => (order.get(a) as number) - (order.get(b) as number));
  return { tensors, convs };
}

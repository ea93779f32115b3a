// Raising the default-domain opset (11, 12 or 13) to 14, which HardSwish needs.
// Only done when every node keeps its meaning: ops whose versions between 11
// and 14 only added types or optional attributes with the old default are
// listed in SAME; the few that moved an attribute into an input are converted
// (Split's split, Squeeze/Unsqueeze's and ReduceSum's axes); Softmax, LogSoftmax
// and Hardmax keep their meaning only for axis -1 (opset 13 stopped
// flattening to 2-D). Anything else (an op not listed, a subgraph, a model
// below opset 11) leaves the opset as it is, and the rewrites that need 14 are
// skipped with the reason reported. Written from onnx/docs/Changelog.md.
import { ONNX_ATTR } from '../onnx-proto';
import { attr, GraphIndex, int64Tensor, isDefaultDomain, OnnxModel, OnnxNode, toNumber } from './model';

export const TARGET_OPSET = 14;
/** Below 11, Clip, Pad, Resize, Slice and more took attributes that later became inputs: not converted. */
export const MIN_SOURCE_OPSET = 11;
/** ONNX 1.9 (IR 7) introduced opset 14. */
const MIN_IR_FOR_TARGET = 7;

const SAME = new Set([
  'Abs', 'Acos', 'Acosh', 'Add', 'And', 'ArgMax', 'ArgMin', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool',
  'BitShift', 'Cast', 'Ceil', 'Celu', 'Clip', 'Compress', 'Concat', 'Constant', 'ConstantOfShape', 'Conv',
  'ConvInteger', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'DequantizeLinear', 'Det', 'Div',
  'DynamicQuantizeLinear', 'Einsum', 'Elu', 'Equal', 'Erf', 'Exp', 'Expand', 'EyeLike', 'Flatten', 'Floor',
  'Gather', 'GatherElements', 'GatherND', 'Gemm', 'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'Greater',
  'GreaterOrEqual', 'GRU', 'HardSigmoid', 'HardSwish', 'Identity', 'InstanceNormalization', 'IsInf', 'IsNaN',
  'LeakyRelu', 'Less', 'LessOrEqual', 'Log', 'LpNormalization', 'LpPool', 'LRN', 'LSTM', 'MatMul', 'MatMulInteger',
  'Max', 'MaxPool', 'MaxRoiPool', 'MaxUnpool', 'Mean', 'MeanVarianceNormalization', 'Min', 'Mod', 'Mul', 'Neg',
  'NonMaxSuppression', 'NonZero', 'Not', 'OneHot', 'Or', 'Pad', 'Pow', 'PRelu', 'QLinearConv', 'QLinearMatMul',
  'QuantizeLinear', 'Range', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax',
  'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'Relu', 'Reshape', 'Resize', 'ReverseSequence',
  'RNN', 'RoiAlign', 'Round', 'ScatterElements', 'ScatterND', 'Selu', 'Shape', 'Shrink', 'Sigmoid', 'Sign', 'Sin',
  'Sinh', 'Size', 'Slice', 'Softplus', 'Softsign', 'SpaceToDepth', 'Sqrt', 'Sub', 'Sum', 'Tan', 'Tanh',
  'ThresholdedRelu', 'Tile', 'TopK', 'Transpose', 'Unique', 'Where', 'Xor',
]);

/** Attribute -> input moves of opset 13; index is the input's position. */
const ATTR_TO_INPUT: Record<string, { attr: string; index: number }> = {
  Split: { attr: 'split', index: 1 },
  Squeeze: { attr: 'axes', index: 1 },
  Unsqueeze: { attr: 'axes', index: 1 },
  ReduceSum: { attr: 'axes', index: 1 },
};

const AXIS_LAST_ONLY = new Set(['Softmax', 'LogSoftmax', 'Hardmax']);

type Plan = { ok: true; apply: () => void } | { ok: false; reason: string };

function nodeLabel(n: OnnxNode): string {
  return `${n.opType}${n.name ? ` '${n.name}'` : ''}`;
}

/** What raising the opset to TARGET_OPSET takes, or why it is refused; nothing changes until apply(). */
export function planOpsetUpgrade(m: OnnxModel, from: number): Plan {
  const g = m.graph;
  if (!g) return { ok: false, reason: 'no graph' };
  if (from >= TARGET_OPSET) return { ok: true, apply: () => undefined };
  if (from < MIN_SOURCE_OPSET) return { ok: false, reason: `opset ${from} is below ${MIN_SOURCE_OPSET}, which the pass does not convert` };
  const converts: (() => void)[] = [];
  const taken = new Set<string>([...new GraphIndex(g).producer.keys(), ...g.initializer.map((t) => t.name ?? '')]);
  for (const n of g.node) {
    if (!isDefaultDomain(n)) continue;
    const op = n.opType ?? '';
    if (n.attribute.some((a) => a.type === ONNX_ATTR.GRAPH || a.type === ONNX_ATTR.GRAPHS))
      return { ok: false, reason: `${nodeLabel(n)} has a subgraph` };
    if (op === 'BatchNormalization') {
      // Opset 14 added training_mode (default 0): the same in inference, where only Y is produced.
      if (n.output.slice(1).some((o) => o)) return { ok: false, reason: `${nodeLabel(n)} has training outputs` };
      continue;
    }
    if (SAME.has(op)) continue;
    if (AXIS_LAST_ONLY.has(op)) {
      const axis = attr(n, 'axis');
      if (from < 13 && (!axis || toNumber(axis.i) !== -1)) return { ok: false, reason: `${nodeLabel(n)} has axis ${axis ? toNumber(axis.i) : '1 (default)'}, whose meaning changed in opset 13` };
      continue;
    }
    const move = ATTR_TO_INPUT[op];
    if (move) {
      const a = attr(n, move.attr);
      if (from >= 13 || !a) continue;
      let name = `${n.name || n.output[0] || op}_${move.attr}`;
      while (taken.has(name)) name += '_';
      taken.add(name);
      const values = a.ints.map(toNumber);
      converts.push(() => {
        g.initializer.push(int64Tensor(name, values));
        n.attribute = n.attribute.filter((x) => x !== a);
        // Before opset 13 these ops have their data input only.
        while (n.input.length <= move.index) n.input.push('');
        n.input[move.index] = name;
      });
      continue;
    }
    return { ok: false, reason: `${nodeLabel(n)} is not known to keep its meaning from opset ${from} to ${TARGET_OPSET}` };
  }
  return {
    ok: true,
    apply: () => {
      for (const c of converts) c();
      for (const o of m.opsetImport) if (!o.domain || o.domain === 'ai.onnx') o.version = TARGET_OPSET;
      if (toNumber(m.irVersion) < MIN_IR_FOR_TARGET) m.irVersion = MIN_IR_FOR_TARGET;
    },
  };
}

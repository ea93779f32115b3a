// Initializers listed as graph inputs (paddle2onnx's IR 7 exports list every
// weight) make ONNX Runtime treat each weight as overridable: one warning per
// weight and no constant folding or pre-packing through them (measured 29 -> 22
// ms on the PicoDet stand-in). Dropping them from the inputs is what
// native/onnx_model_bytes.cc does when the graph pass is off.
import { count, GraphPassReport } from './report';
import { OnnxModel, toNumber } from './model';

/** Before IR 4 the ONNX spec requires every initializer to be a graph input. */
const MIN_IR = 4;

export function stripInitializerInputs(m: OnnxModel, r: GraphPassReport): void {
  const g = m.graph;
  if (!g || toNumber(m.irVersion) < MIN_IR) return;
  const names = new Set<string>();
  for (const t of g.initializer) if (t.name) names.add(t.name);
  for (const s of g.sparseInitializer) if (s.values?.name) names.add(s.values.name);
  const before = g.input.length;
  g.input = g.input.filter((i) => !i.name || !names.has(i.name));
  count(r, 'strip-initializer-inputs', before - g.input.length);
}

// Identity and inference-time Dropout nodes copy their input: each is removed
// and its readers read the input directly. ONNX Runtime drops most of them
// itself, but only after the session is built and for every load again.
import { attr, GraphIndex, isDefaultDomain, OnnxGraph, OnnxNode, toNumber } from './model';
import { count, GraphPassReport } from './report';

/** A Dropout that is a copy at inference: no mask read, and no training_mode input other than a constant false. */
function isInferenceDropout(n: OnnxNode, ix: GraphIndex): boolean {
  const mask = n.output[1];
  if (mask && ((ix.consumers.get(mask)?.length ?? 0) > 0 || ix.graphOutputs.has(mask))) return false;
  const isTest = attr(n, 'is_test'); // opset < 7: is_test 0 means training
  if (isTest && toNumber(isTest.i) === 0) return false;
  const training = n.input[2];
  if (training && ix.scalar(training) !== 0) return false;
  return true;
}

/** Renames every read of `from` to `to` in the graph's own nodes. */
function renameReads(g: OnnxGraph, from: string, to: string): void {
  for (const n of g.node) n.input = n.input.map((i) => (i === from ? to : i));
}

export function removeIdentity(g: OnnxGraph, r: GraphPassReport): void {
  const candidates = g.node.filter((x) => isDefaultDomain(x) && (x.opType === 'Identity' || x.opType === 'Dropout'));
  for (const n of candidates) {
    // Rebuilt per removal: each one renames tensors (a few hundred nodes at most in practice).
    const ix = new GraphIndex(g);
    if (n.opType === 'Dropout' && !isInferenceDropout(n, ix)) continue;
    if (bypass(g, ix, n)) count(r, 'remove-identity');
  }
}

function bypass(g: OnnxGraph, ix: GraphIndex, n: OnnxNode): boolean {
  const x = n.input[0];
  const y = n.output[0];
  if (!x || !y) return false;
  // Readers inside a subgraph see the name through scope: renaming there is not done, so keep the copy.
  if ((ix.consumers.get(y) ?? []).some((c) => !c.input.includes(y))) return false;
  if (!ix.graphOutputs.has(y)) {
    g.node = g.node.filter((k) => k !== n);
    renameReads(g, y, x);
    return true;
  }
  // y is a graph output: the producer of x writes y instead, when x is an inner tensor.
  const p = ix.producer.get(x);
  if (!p || ix.graphOutputs.has(x) || ix.graphInputs.has(x) || ix.initializers.has(x)) return false;
  if ((ix.consumers.get(x) ?? []).some((c) => !c.input.includes(x))) return false;
  g.node = g.node.filter((k) => k !== n);
  p.output = p.output.map((o) => (o === x ? y : o));
  renameReads(g, x, y);
  return true;
}

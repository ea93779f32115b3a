// HardSigmoid spelled as arithmetic (y = clip(a*x + b, 0, 1), or
// clip(x + 3, 0, 6) / 6 as MobileNetV3-style exports write it) -> one
// HardSigmoid node (opset 6, no opset change), which ONNX Runtime evaluates in
// one pass instead of three or four.
import { affineChain, clipBounds, near, splitScalar } from './affine';
import { floatAttr, GraphIndex, isDefaultDomain, makeNode, OnnxGraph, OnnxNode } from './model';
import { count, GraphPassReport } from './report';

export interface Fusion {
  /** Nodes that go away; the new node takes the place of the first (the last of the pattern in graph order). */
  replace: OnnxNode[];
  node: OnnxNode;
}

/** Swaps each fusion's nodes for its new node, keeping the graph in topological order. */
export function applyFusions(g: OnnxGraph, fusions: Fusion[]): void {
  const gone = new Set<OnnxNode>();
  const at = new Map<OnnxNode, OnnxNode>();
  for (const f of fusions) {
    for (const n of f.replace) gone.add(n);
    at.set(f.replace[0], f.node);
  }
  const out: OnnxNode[] = [];
  for (const n of g.node) {
    const repl = at.get(n);
    if (repl) out.push(repl);
    else if (!gone.has(n)) out.push(n);
  }
  g.node = out;
}

function findOne(ix: GraphIndex, clip: OnnxNode, opset: number, used: Set<OnnxNode>): Fusion | undefined {
  const bounds = clipBounds(ix, clip, opset);
  const input = clip.input[0];
  const y = clip.output[0];
  if (!bounds || !input || !y || bounds[0] !== 0 || !ix.onlyReadBy(input, clip)) return undefined;
  const chain = affineChain(ix, input);
  let alpha: number, beta: number, out: string, last: OnnxNode;
  if (near(bounds[1], 1) && chain.nodes.length) {
    // clip(s*x + c, 0, 1)
    [alpha, beta, out, last] = [chain.s, chain.c, y, clip];
  } else {
    // k * clip(s*x + c, 0, m) with k*m = 1, k > 0: clip(k*s*x + k*c, 0, 1)
    const readers = ix.consumers.get(y) ?? [];
    const q = readers[0];
    if (readers.length !== 1 || !q || !isDefaultDomain(q) || ix.graphOutputs.has(y) || !(bounds[1] > 0)) return undefined;
    if (q.opType !== 'Mul' && q.opType !== 'Div') return undefined;
    const op = splitScalar(ix, q);
    if (!op || op.x !== y || (q.opType === 'Div' && op.scalarFirst) || !q.output[0]) return undefined;
    const k = q.opType === 'Mul' ? op.k : 1 / op.k;
    if (!(k > 0) || !near(k * bounds[1], 1)) return undefined;
    [alpha, beta, out, last] = [chain.s * k, chain.c * k, q.output[0], q];
  }
  const replace = last === clip ? [clip, ...chain.nodes] : [last, clip, ...chain.nodes];
  if (replace.some((n) => used.has(n))) return undefined;
  const node = makeNode('HardSigmoid', [chain.x], [out], `${clip.name || out}_hardsigmoid`, [floatAttr('alpha', alpha), floatAttr('beta', beta)]);
  return { replace, node };
}

export function fuseHardSigmoid(g: OnnxGraph, opset: number, r: GraphPassReport): void {
  const ix = new GraphIndex(g);
  const used = new Set<OnnxNode>();
  const fusions: Fusion[] = [];
  for (const n of g.node) {
    if (n.opType !== 'Clip' || !isDefaultDomain(n)) continue;
    const f = findOne(ix, n, opset, used);
    if (!f) continue;
    for (const x of f.replace) used.add(x);
    fusions.push(f);
  }
  applyFusions(g, fusions);
  count(r, 'fuse-hard-sigmoid', fusions.length);
}

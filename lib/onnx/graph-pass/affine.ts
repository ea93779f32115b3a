// Reading the decomposed activations: chains of Add/Sub/Mul/Div by a scalar
// float constant (y = s*x + c) and Clip's bounds, as exporters spell
// HardSigmoid and HardSwish before opset 14.
import { ONNX_DTYPE } from '../onnx-proto';
import { attr, GraphIndex, isDefaultDomain, OnnxNode, toNumber } from './model';

/**
 * A float constant with one element and rank <= 1: broadcasting it never
 * changes the other operand's shape (a [1,1,1,1,1] constant would).
 */
export function scalarOperand(ix: GraphIndex, name: string): number | undefined {
  const t = ix.constantTensor(name);
  if (!t || t.dataType !== ONNX_DTYPE.FLOAT || t.dims.length > 1 || (t.dims.length === 1 && toNumber(t.dims[0]) !== 1)) return undefined;
  return ix.scalar(name);
}

/** The non-constant operand of a binary node with one scalar operand, and that scalar. */
export function splitScalar(ix: GraphIndex, n: OnnxNode): { x: string; k: number; scalarFirst: boolean } | undefined {
  if (n.input.length !== 2 || !n.input[0] || !n.input[1]) return undefined;
  const a = scalarOperand(ix, n.input[1]);
  if (a !== undefined) return { x: n.input[0], k: a, scalarFirst: false };
  const b = scalarOperand(ix, n.input[0]);
  if (b !== undefined) return { x: n.input[1], k: b, scalarFirst: true };
  return undefined;
}

export interface Affine {
  /** The chain's input tensor. */
  x: string;
  s: number;
  c: number;
  /** The chain's nodes, last first. */
  nodes: OnnxNode[];
}

/**
 * Walks back from `name` through Add/Sub/Mul/Div by scalars, each link read
 * only by the next: name = s*x + c. A tensor with no such producer is x itself
 * (s 1, c 0, no nodes).
 */
export function affineChain(ix: GraphIndex, name: string, maxLinks = 4): Affine {
  const nodes: OnnxNode[] = [];
  let s = 1, c = 0, cur = name;
  for (let i = 0; i < maxLinks; i++) {
    const p = ix.producer.get(cur);
    if (!p || !isDefaultDomain(p) || !['Add', 'Sub', 'Mul', 'Div'].includes(p.opType ?? '')) break;
    if (nodes.length && !ix.onlyReadBy(cur, nodes[nodes.length - 1])) break;
    const op = splitScalar(ix, p);
    if (!op) break;
    // cur = f(x') with f the link; compose: s*f(x') + c.
    if (p.opType === 'Add') c += s * op.k;
    else if (p.opType === 'Sub') {
      if (op.scalarFirst) { c += s * op.k; s = -s; } else c -= s * op.k;
    } else if (p.opType === 'Mul') s *= op.k;
    else {
      if (op.scalarFirst || op.k === 0) break; // k / x is not affine
      s /= op.k;
    }
    nodes.push(p);
    cur = op.x;
  }
  return { x: cur, s, c, nodes };
}

/** Clip's [lo, hi] (inputs from opset 11, attributes before), or undefined when a bound is not constant. */
export function clipBounds(ix: GraphIndex, n: OnnxNode, opset: number): [number, number] | undefined {
  if (opset < 11) {
    const lo = attr(n, 'min'), hi = attr(n, 'max');
    return [lo?.f ?? -Infinity, hi?.f ?? Infinity];
  }
  const b = (name: string | undefined, dflt: number): number | undefined => (name ? scalarOperand(ix, name) : dflt);
  const lo = b(n.input[1], -Infinity), hi = b(n.input[2], Infinity);
  return lo === undefined || hi === undefined ? undefined : [lo, hi];
}

/** Constants as exporters write them (1/6 in float32, 0.16666670143604279): relative 1e-5. */
export function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
}

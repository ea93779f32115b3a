// The load-time graph pass: rewrites an ONNX model's graph into spellings ONNX
// Runtime runs faster, before the session is created. Each rewrite is its own
// file; this one runs them in order. Outputs stay the same up to float
// rounding (test/onnx/graph-pass*.test.ts measures it on the stand-in models).
// Why by hand and not onnxruntime's own optimizer: ORT does not fuse these
// spellings (measured), and its saved optimized models are tied to its version
// and execution provider; onnx's Python tools are not available to a Node package.
import { ShituError } from '../../errors';
import { defaultOpset, decodeModel, encodeModel, OnnxModel } from './model';
import { findHardSwish, fuseHardSwish } from './fuse-hard-swish';
import { fuseHardSigmoid } from './fuse-hard-sigmoid';
import { foldShapes } from './fold-shapes';
import { planOpsetUpgrade, TARGET_OPSET } from './opset';
import { prune } from './prune';
import { removeIdentity } from './remove-identity';
import { GraphPassReport } from './report';
import { stripInitializerInputs } from './strip-initializer-inputs';

export type { GraphPassReport } from './report';

/** Part of the cache key: raise it whenever a rewrite's output changes. */
export const GRAPH_PASS_VERSION = 1;

/** Runs every rewrite on a decoded model, in place. */
export function optimizeModel(m: OnnxModel): GraphPassReport {
  const g = m.graph;
  const r: GraphPassReport = { applied: {}, skipped: [], nodesBefore: g?.node.length ?? 0, nodesAfter: 0 };
  if (!g) return r;
  stripInitializerInputs(m, r);
  removeIdentity(g, r);
  const opset = defaultOpset(m);
  foldShapes(g, opset, r);
  fuseHardSigmoid(g, opset, r);
  const hs = findHardSwish(g, opset);
  if (hs.length) {
    const plan = planOpsetUpgrade(m, opset);
    if (plan.ok) {
      plan.apply();
      // Re-found after the upgrade: converting Split/Squeeze inputs renumbers nothing a match holds, but be exact.
      const n = fuseHardSwish(g, findHardSwish(g, Math.max(opset, TARGET_OPSET)));
      r.applied['fuse-hard-swish'] = n;
      if (opset < TARGET_OPSET) r.applied['opset-upgrade'] = 1;
    } else {
      r.skipped.push(`fuse-hard-swish (${hs.length} found): opset ${opset} not raised to ${TARGET_OPSET}: ${plan.reason}`);
    }
  }
  prune(g, r);
  r.nodesAfter = g.node.length;
  return r;
}

/** A model's external data (weights in side files) cannot be found from bytes in memory: such models are left alone. */
function usesExternalData(m: OnnxModel): boolean {
  return !!m.graph?.initializer.some((t) => t.dataLocation === 1 || t.externalData.length > 0);
}

/**
 * The rewritten model's bytes, or null when the model is left as it is
 * (external data). ERR_MODEL_LOAD when the bytes are not an ONNX model.
 */
export function runGraphPass(bytes: Uint8Array, what = 'model'): { bytes: Buffer; report: GraphPassReport } | null {
  let m: OnnxModel;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    throw new ShituError('ERR_MODEL_LOAD', `cannot load ${what}: not a valid ONNX model (${(e as Error).message})`);
  }
  if (!m.graph || !m.graph.node.length) throw new ShituError('ERR_MODEL_LOAD', `cannot load ${what}: not a valid ONNX model (no graph)`);
  if (usesExternalData(m)) return null;
  const report = optimizeModel(m);
  return { bytes: encodeModel(m), report };
}

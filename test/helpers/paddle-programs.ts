// Small Paddle programs built in the test (framework.proto messages encoded with
// the package's own schema), for hostile variants the real files do not show.
import { paddleType, VAR_TYPE, ATTR_TYPE } from '../../lib/models/paddle/framework-proto';

export interface TinyVar { name: string; dims: number[]; dtype?: number; persistable?: boolean; kind?: number }
export interface TinyOp { type: string; inputs?: Record<string, string[]>; outputs?: Record<string, string[]>; attrs?: object[] }
export interface TinyBlock { idx?: number; parent_idx?: number; vars?: TinyVar[]; ops?: TinyOp[] }

const colAttr = (col: number) => ({ name: 'col', type: ATTR_TYPE.INT, i: col });

/** A ProgramDesc's bytes; blocks default to one global block feeding `x` [-1,4] through `scale` to `y`, with weight `w` [4]. */
export function encodeProgram(blocks?: TinyBlock[]): Uint8Array {
  const list = blocks ?? [tinyGlobal()];
  return paddleType('ProgramDesc')
    .encode({
      blocks: list.map((b, i) => ({
        idx: b.idx ?? i,
        parent_idx: b.parent_idx ?? (i === 0 ? -1 : 0),
        vars: (b.vars ?? []).map((v) => ({
          name: v.name,
          persistable: v.persistable ?? false,
          type: {
            type: v.kind ?? VAR_TYPE.LOD_TENSOR,
            ...(v.kind === undefined || v.kind === VAR_TYPE.LOD_TENSOR ? { lod_tensor: { tensor: { data_type: v.dtype ?? VAR_TYPE.FP32, dims: v.dims } } } : {}),
          },
        })),
        ops: (b.ops ?? []).map((o) => ({
          type: o.type,
          inputs: Object.entries(o.inputs ?? {}).map(([parameter, args]) => ({ parameter, arguments: args })),
          outputs: Object.entries(o.outputs ?? {}).map(([parameter, args]) => ({ parameter, arguments: args })),
          attrs: o.attrs ?? [],
        })),
      })),
    })
    .finish();
}

export function tinyGlobal(extra: { vars?: TinyVar[]; ops?: TinyOp[] } = {}): TinyBlock {
  return {
    vars: [
      { name: 'feed', dims: [], kind: VAR_TYPE.FEED_MINIBATCH, persistable: true },
      { name: 'fetch', dims: [], kind: VAR_TYPE.FETCH_LIST, persistable: true },
      { name: 'x', dims: [-1, 4] },
      { name: 'w', dims: [4], persistable: true },
      { name: 'y', dims: [-1, 4] },
      ...(extra.vars ?? []),
    ],
    ops: [
      { type: 'feed', inputs: { X: ['feed'] }, outputs: { Out: ['x'] }, attrs: [colAttr(0)] },
      { type: 'elementwise_mul', inputs: { X: ['x'], Y: ['w'] }, outputs: { Out: ['y'] }, attrs: [{ name: 'axis', type: ATTR_TYPE.INT, i: -1 }] },
      ...(extra.ops ?? []),
      { type: 'fetch', inputs: { X: ['y'] }, outputs: { Out: ['fetch'] }, attrs: [colAttr(0)] },
    ],
  };
}

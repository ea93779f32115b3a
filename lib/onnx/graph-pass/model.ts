// The decoded ONNX model as the graph pass sees it: protobufjs messages typed
// by hand (onnx-proto.ts holds the schema; protobufjs reads it at run time, so
// no generated types exist), and the lookups every rewrite needs.
import type { Long } from 'protobufjs';
import { ONNX_ATTR, ONNX_DTYPE, onnxType } from '../onnx-proto';

/** int64 fields decode as Long (protobufjs with the `long` package), new ones may be numbers. */
export type Int64 = number | Long;

export function toNumber(v: Int64 | null | undefined): number {
  if (v == null) return 0;
  if (typeof v === 'number') return v;
  return (v.unsigned ? v.high >>> 0 : v.high) * 2 ** 32 + (v.low >>> 0);
}

export interface OnnxTensor {
  name?: string;
  dims: Int64[];
  dataType?: number;
  floatData: number[];
  int32Data: number[];
  int64Data: Int64[];
  doubleData: number[];
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData: unknown[];
}

export interface OnnxAttribute {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats: number[];
  ints: Int64[];
  graphs: OnnxGraph[];
}

export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute: OnnxAttribute[];
}

export interface OnnxDim {
  dimValue?: Int64;
  dimParam?: string;
}

export interface OnnxValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim: OnnxDim[] } } };
}

export interface OnnxGraph {
  node: OnnxNode[];
  initializer: OnnxTensor[];
  sparseInitializer: { values?: OnnxTensor }[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion?: Int64;
  opsetImport: { domain?: string; version?: Int64 }[];
  graph?: OnnxGraph;
}

export function decodeModel(bytes: Uint8Array): OnnxModel {
  return onnxType('ModelProto').decode(bytes) as unknown as OnnxModel;
}

export function encodeModel(m: OnnxModel): Buffer {
  const w = onnxType('ModelProto').encode(m as unknown as Record<string, unknown>).finish();
  return Buffer.from(w.buffer, w.byteOffset, w.byteLength);
}

/** The default-domain ("" or "ai.onnx") opset the model imports, 0 when none. */
export function defaultOpset(m: OnnxModel): number {
  const e = m.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return e ? toNumber(e.version) : 0;
}

export function isDefaultDomain(n: OnnxNode): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

export function attr(n: OnnxNode, name: string): OnnxAttribute | undefined {
  return n.attribute.find((a) => a.name === name);
}

export function makeNode(opType: string, input: string[], output: string[], name: string, attribute: OnnxAttribute[] = []): OnnxNode {
  return { opType, input, output, name, attribute };
}

export function floatAttr(name: string, f: number): OnnxAttribute {
  return { name, type: ONNX_ATTR.FLOAT, f, floats: [], ints: [], graphs: [] };
}

export function int64Tensor(name: string, values: number[]): OnnxTensor {
  return { name, dims: [values.length], dataType: ONNX_DTYPE.INT64, int64Data: values, floatData: [], int32Data: [], doubleData: [], externalData: [] };
}

/**
 * The values of a small constant tensor (float or integer types), or undefined
 * when it is not one this pass reads (external data, strings, too large).
 * Int64 values beyond 2^53 lose precision: the pass reads shapes, axes and
 * activation bounds, never such values.
 */
export function tensorValues(t: OnnxTensor, maxElements = 4096): number[] | undefined {
  if (t.dataLocation === 1 || t.externalData.length) return undefined;
  const count = t.dims.reduce<number>((a, d) => a * toNumber(d), 1);
  if (count > maxElements) return undefined;
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const fromRaw = (size: number, read: (dv: DataView, off: number) => number): number[] | undefined => {
    if (!view || view.byteLength !== count * size) return undefined;
    return Array.from({ length: count }, (_, i) => read(view, i * size));
  };
  switch (t.dataType) {
    case ONNX_DTYPE.FLOAT:
      return raw ? fromRaw(4, (dv, o) => dv.getFloat32(o, true)) : t.floatData.length === count ? [...t.floatData] : undefined;
    case ONNX_DTYPE.DOUBLE:
      return raw ? fromRaw(8, (dv, o) => dv.getFloat64(o, true)) : t.doubleData.length === count ? [...t.doubleData] : undefined;
    case ONNX_DTYPE.INT64:
      return raw ? fromRaw(8, (dv, o) => Number(dv.getBigInt64(o, true))) : t.int64Data.length === count ? t.int64Data.map(toNumber) : undefined;
    case ONNX_DTYPE.INT32:
      return raw ? fromRaw(4, (dv, o) => dv.getInt32(o, true)) : t.int32Data.length === count ? [...t.int32Data] : undefined;
    case ONNX_DTYPE.INT8:
      return raw ? fromRaw(1, (dv, o) => dv.getInt8(o)) : t.int32Data.length === count ? [...t.int32Data] : undefined;
    case ONNX_DTYPE.UINT8:
      return raw ? fromRaw(1, (dv, o) => dv.getUint8(o)) : t.int32Data.length === count ? [...t.int32Data] : undefined;
    default:
      return undefined;
  }
}

/**
 * Who produces and who reads each tensor name, which names are constants
 * (initializers, Constant nodes) and which are graph outputs. Built once per
 * rewrite; a rewrite that changes the graph rebuilds it.
 */
export class GraphIndex {
  readonly producer = new Map<string, OnnxNode>();
  readonly consumers = new Map<string, OnnxNode[]>();
  readonly initializers = new Map<string, OnnxTensor>();
  readonly graphOutputs = new Set<string>();
  readonly graphInputs = new Set<string>();

  constructor(readonly graph: OnnxGraph) {
    for (const t of graph.initializer) if (t.name) this.initializers.set(t.name, t);
    for (const o of graph.output) if (o.name) this.graphOutputs.add(o.name);
    for (const i of graph.input) if (i.name) this.graphInputs.add(i.name);
    for (const n of graph.node) {
      for (const o of n.output) if (o) this.producer.set(o, n);
      for (const i of n.input) {
        if (!i) continue;
        const list = this.consumers.get(i);
        if (list) list.push(n);
        else this.consumers.set(i, [n]);
      }
      // Names read inside subgraphs (If/Loop/Scan bodies) count as consumed.
      for (const a of n.attribute) for (const g of [a.g, ...a.graphs]) if (g) this.noteSubgraphReads(g, n);
    }
  }

  private noteSubgraphReads(g: OnnxGraph, owner: OnnxNode): void {
    for (const n of g.node) {
      for (const i of n.input) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), owner]);
      for (const a of n.attribute) for (const s of [a.g, ...a.graphs]) if (s) this.noteSubgraphReads(s, owner);
    }
  }

  /** The tensor behind a constant name: an initializer (not overridable as a graph input) or a Constant node's value. */
  constantTensor(name: string): OnnxTensor | undefined {
    const init = this.initializers.get(name);
    if (init) return this.graphInputs.has(name) ? undefined : init;
    const p = this.producer.get(name);
    if (p && p.opType === 'Constant' && isDefaultDomain(p)) {
      const v = attr(p, 'value');
      if (v?.t) return v.t;
      const f = attr(p, 'value_float');
      if (f && f.f !== undefined) return { dims: [], dataType: ONNX_DTYPE.FLOAT, floatData: [f.f], int32Data: [], int64Data: [], doubleData: [], externalData: [] };
    }
    return undefined;
  }

  /** A constant holding one number (any shape with one element), else undefined. */
  scalar(name: string): number | undefined {
    const t = this.constantTensor(name);
    const v = t && tensorValues(t, 1);
    return v && v.length === 1 ? v[0] : undefined;
  }

  /** Read by exactly this one node and by nothing else (not a graph output either). */
  onlyReadBy(name: string, n: OnnxNode): boolean {
    const c = this.consumers.get(name) ?? [];
    return !this.graphOutputs.has(name) && c.length > 0 && c.every((x) => x === n);
  }
}

// The ONNX graph under construction: nodes in topological order (Paddle's op
// order is one), initializers, graph inputs/outputs, and what is known
// statically about each value (element type, shape, constant contents) so that
// converters can fold shape arithmetic.
//
// Two kinds of initializer: weights (`paramInits`), whose bytes stay in the
// `.pdiparams` file until the writer streams them one at a time, and small
// constants the converters make (`constInits`), held in memory. Neither is ever
// a graph input or a Constant node.
import { ShituError } from '../../../errors';
import { ONNX_DTYPE } from '../../../onnx/onnx-proto';
import type { PaddleDType } from '../program';

/** The one opset the converter targets (17: LayerNormalization; Resize, Pad, Split, Squeeze take tensors). */
export const ONNX_OPSET = 17;
/** IR version matching opset 17 (ONNX 1.12). */
export const ONNX_IR_VERSION = 8;

export type OnnxElemType = (typeof ONNX_DTYPE)[keyof typeof ONNX_DTYPE];

/** ONNX element type of each Paddle dtype. */
export const ONNX_ELEM: Record<PaddleDType, OnnxElemType> = {
  bool: ONNX_DTYPE.BOOL,
  int8: ONNX_DTYPE.INT8,
  uint8: ONNX_DTYPE.UINT8,
  int16: ONNX_DTYPE.INT16,
  int32: ONNX_DTYPE.INT32,
  int64: ONNX_DTYPE.INT64,
  float16: ONNX_DTYPE.FLOAT16,
  bfloat16: ONNX_DTYPE.BFLOAT16,
  float32: ONNX_DTYPE.FLOAT,
  float64: ONNX_DTYPE.DOUBLE,
};

/** A node attribute with its ONNX type made explicit (a JS number cannot say int or float). */
export type OnnxAttr =
  | { kind: 'int'; v: number }
  | { kind: 'float'; v: number }
  | { kind: 'string'; v: string }
  | { kind: 'ints'; v: number[] }
  | { kind: 'floats'; v: number[] };

export const attrInt = (v: number): OnnxAttr => ({ kind: 'int', v: Math.trunc(v) });
export const attrFloat = (v: number): OnnxAttr => ({ kind: 'float', v });
export const attrStr = (v: string): OnnxAttr => ({ kind: 'string', v });
export const attrInts = (v: readonly number[]): OnnxAttr => ({ kind: 'ints', v: v.map((x) => Math.trunc(x)) });
export const attrFloats = (v: readonly number[]): OnnxAttr => ({ kind: 'floats', v: [...v] });

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
  name: string;
}

/** A small tensor whose values are known at conversion time (int64 kept as numbers: shapes and indices). */
export interface ConstValue {
  dtype: PaddleDType;
  dims: number[];
  values: number[];
}

/** A weight initializer: its bytes are read from the ParamTable by the writer. */
export interface ParamInit {
  onnxName: string;
  paramName: string;
  dtype: PaddleDType;
  dims: number[];
  byteLength: number;
}

export interface GraphIO {
  name: string;
  dtype: PaddleDType;
  /** A number is a fixed size; a string a symbolic dimension; undefined when even the rank is unknown. */
  dims?: (number | string)[];
}

/** What is known statically about one ONNX value. */
export interface ValueFacts {
  dtype?: PaddleDType;
  /** -1 for a dimension unknown at conversion time; undefined when even the rank is unknown. */
  shape?: number[];
  value?: ConstValue;
}

/** Numbers of elements of a shape (1 for a scalar). */
export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly paramInits = new Map<string, ParamInit>();
  readonly constInits = new Map<string, ConstValue>();
  readonly inputs: GraphIO[] = [];
  readonly outputs: GraphIO[] = [];
  private readonly facts = new Map<string, ValueFacts>();
  private readonly used = new Set<string>();
  private nodeCount = 0;

  /** A value name not used yet, derived from `base` (Paddle names are kept where free, for readability). */
  fresh(base: string): string {
    const clean = base.length > 0 ? base : 'v';
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}__${i}`;
    this.used.add(name);
    return name;
  }

  /** Reserves an exact name (graph inputs); throws if taken. */
  reserve(name: string): string {
    if (this.used.has(name)) throw new ShituError('ERR_MODEL_INVALID', `Paddle program: value name ${JSON.stringify(name)} defined twice`);
    this.used.add(name);
    return name;
  }

  /** Appends a node; `outputs` are bases made unique (or exact names already reserved with fresh()). Returns the output names. */
  node(opType: string, inputs: string[], outputs: string[] | number, attrs: Record<string, OnnxAttr> = {}): string[] {
    const outs = typeof outputs === 'number'
      ? Array.from({ length: outputs }, (_, i) => this.fresh(`${opType.toLowerCase()}_${this.nodeCount}_${i}`))
      : outputs;
    this.nodes.push({ opType, inputs, outputs: outs, attrs, name: `${opType}_${this.nodeCount++}` });
    return outs;
  }

  /**
   * Makes the last node write `to` instead of `from` (so a converter that built
   * its result under a generated name need not add an Identity). False when
   * `from` is not the last node's output.
   */
  renameLastOutput(from: string, to: string): boolean {
    const last = this.nodes[this.nodes.length - 1];
    const i = last ? last.outputs.indexOf(from) : -1;
    if (i < 0) return false;
    last.outputs[i] = to;
    const f = this.facts.get(from);
    if (f) this.setFacts(to, f);
    return true;
  }

  /** A one-output node with a generated output name; returns it. */
  op(opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}): string {
    return this.node(opType, inputs, 1, attrs)[0];
  }

  /** A constant initializer holding `values`; its value is recorded for folding. */
  constant(value: ConstValue, base = 'const'): string {
    if (numel(value.dims) !== value.values.length) {
      throw new ShituError('ERR_INTERNAL', `constant ${base}: ${value.values.length} values for dims [${value.dims.join(',')}]`);
    }
    const name = this.fresh(base);
    this.constInits.set(name, value);
    this.facts.set(name, { dtype: value.dtype, shape: [...value.dims], value });
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, pads, starts/ends). */
  int64s(values: readonly number[], base = 'const_i64'): string {
    return this.constant({ dtype: 'int64', dims: [values.length], values: [...values] }, base);
  }

  /** A scalar (rank 0) constant of the given type. */
  scalar(v: number, dtype: PaddleDType = 'float32', base = 'const_scalar'): string {
    return this.constant({ dtype, dims: [], values: [v] }, base);
  }

  /** A weight initializer; the writer reads its bytes. Idempotent per name. */
  param(onnxName: string, init: Omit<ParamInit, 'onnxName'>): string {
    if (!this.paramInits.has(onnxName)) {
      this.paramInits.set(onnxName, { onnxName, ...init });
      this.facts.set(onnxName, { dtype: init.dtype, shape: [...init.dims] });
    }
    return onnxName;
  }

  setFacts(name: string, f: ValueFacts): void {
    const old = this.facts.get(name) ?? {};
    this.facts.set(name, { ...old, ...Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) });
  }

  factsOf(name: string): ValueFacts {
    return this.facts.get(name) ?? {};
  }

  /**
   * Drops nodes and initializers that no graph output depends on (the outputs
   * Paddle computes but never fetches: XShape, batch_norm's running stats, folded
   * shape arithmetic).
   */
  prune(): void {
    const live = new Set(this.outputs.map((o) => o.name));
    const keep: boolean[] = new Array(this.nodes.length).fill(false);
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (n.outputs.some((o) => live.has(o))) {
        keep[i] = true;
        for (const x of n.inputs) if (x !== '') live.add(x);
      }
    }
    const kept = this.nodes.filter((_, i) => keep[i]);
    this.nodes.length = 0;
    this.nodes.push(...kept);
    for (const k of [...this.paramInits.keys()]) if (!live.has(k)) this.paramInits.delete(k);
    for (const k of [...this.constInits.keys()]) if (!live.has(k)) this.constInits.delete(k);
  }
}

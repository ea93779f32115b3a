// The op registry and the context every op converter receives.
//
// One converter per Paddle op type (legacy vocabulary: PIR programs are
// normalised by the reader). A converter is a synchronous function
//
//     (ctx: OpContext) => void
//
// registered with `registerOp('conv2d', fn)` (or `registerOps({...})`) in a
// module under ops/ that ops/index.ts imports. It reads the Paddle op through
// the context and appends ONNX nodes to `ctx.b` (the GraphBuilder):
//
//   ctx.op, ctx.block, ctx.program   the Paddle op, the block it is in, the program
//   ctx.has(slot) / ctx.names(slot)  whether an input slot is fed / its Paddle var names
//   ctx.input(slot, i = 0)           the ONNX value name of input var i of `slot`
//                                    (a weight becomes an initializer on first use)
//   ctx.inputs(slot)                 all of them
//   ctx.hasOutput(slot)              whether an output slot names a var
//   ctx.output(slot, i = 0)          a fresh ONNX name bound to output var i of `slot`
//                                    (later ops reading the var get it); write it once
//   ctx.bindOutput(slot, name, i)    binds an existing ONNX value instead (identity ops, folding)
//   ctx.int/float/bool/str/ints/floats(attr, default)
//                                    typed attribute getters; the default is Paddle's
//                                    (the op maker's), used when the attribute is absent
//   ctx.shape(slot, i) / ctx.dtype(slot, i) / ctx.rank(slot, i)
//                                    static shape (-1 = unknown dim), dtype and rank of an
//                                    input, from what earlier converters recorded, else the var desc
//   ctx.outShape(slot, i) / ctx.outDtype(slot, i)   the same for an output var's desc
//                                    (desc sizes read as -1 once inputShapes changed a
//                                    declared feed size: they are stale then)
//   ctx.constant(slot, i)            the input's value when known at conversion time
//                                    (folded shape arithmetic, fill_constant, assign_value)
//   ctx.setConst(slot, value, i)     binds an output to a constant (folds the op away)
//   ctx.setShape(name, shape)        records an inferred static shape for an ONNX value
//   ctx.unsupported(why)             throws ERR_MODEL_UNSUPPORTED naming the op (a valid
//                                    program this converter cannot express)
//   ctx.invalid(why)                 throws ERR_MODEL_INVALID naming the op (a broken program)
//   ctx.convertBlock(idx, bindings)  converts a sub-block's ops into the same builder
//                                    (control-flow converters)
//
// Every ONNX node a converter adds goes through `ctx.b.node/op` (ops/util.ts's
// emit() writes an output slot as one node with its shape); every constant
// through `ctx.b.constant/int64s/scalar` (initializers, never Constant nodes).
// Converters record output shapes (ctx.setShape) where they can: `shape`
// folds from them, and the folding of control flow (paddle-det) rests on it.
import { ShituError } from '../../../errors';
import type { PaddleAttr, PaddleBlock, PaddleDType, PaddleOp, PaddleProgram, ParamTable } from '../program';
import { ConstValue, GraphBuilder } from './graph';

export type OpConverter = (ctx: OpContext) => void;

const REGISTRY = new Map<string, OpConverter>();

/** Registers the converter of one Paddle op type (a second registration of a type is a programming error). */
export function registerOp(type: string, fn: OpConverter): void {
  if (REGISTRY.has(type)) throw new Error(`paddle convert: op ${type} registered twice`);
  REGISTRY.set(type, fn);
}

export function registerOps(table: Record<string, OpConverter>): void {
  for (const [type, fn] of Object.entries(table)) registerOp(type, fn);
}

export function converterOf(type: string): OpConverter | undefined {
  return REGISTRY.get(type);
}

/** Op types handled by convertProgram itself, not by a converter. */
export const STRUCTURAL_OPS: ReadonlySet<string> = new Set(['feed', 'fetch']);

/** The conversion's state shared by every op context: Paddle var -> current ONNX value. */
export class ConvertState {
  /** Paddle var name -> ONNX value name currently holding it. */
  readonly env = new Map<string, string>();
  /**
   * Whether the var descs' sizes hold for this conversion. Paddle never checks
   * a feed against its declared shape, so inputShapes may change a declared
   * size; the descs' sizes downstream are then stale and only their ranks are used.
   */
  descSizesTrusted = true;
  constructor(
    readonly program: PaddleProgram,
    readonly params: ParamTable,
    readonly b: GraphBuilder,
  ) {}

  /** A var desc's shape as far as it can be trusted (see descSizesTrusted). */
  descShape(blockIdx: number, name: string): number[] | undefined {
    const v = this.varDesc(blockIdx, name);
    if (!v) return undefined;
    return this.descSizesTrusted ? [...v.shape] : v.shape.map(() => -1);
  }

  /** The var desc of `name` as seen from block `blockIdx` (walking up to the global block). */
  varDesc(blockIdx: number, name: string) {
    for (let b: PaddleBlock | undefined = this.program.blocks[blockIdx]; b; b = b.parentIdx >= 0 ? this.program.blocks[b.parentIdx] : undefined) {
      const v = b.vars.get(name);
      if (v) return v;
    }
    return undefined;
  }

  /** The ONNX value holding Paddle var `name`; a weight becomes an initializer on first use. */
  valueOf(name: string, op: PaddleOp): string {
    const bound = this.env.get(name);
    if (bound !== undefined) return bound;
    const p = this.params.params.get(name);
    if (p) {
      const onnx = this.b.param(this.b.fresh(name), { paramName: name, dtype: p.dtype, dims: p.dims, byteLength: p.byteLength });
      this.env.set(name, onnx);
      return onnx;
    }
    throw new ShituError('ERR_MODEL_INVALID', `Paddle program: op ${op.type} reads ${JSON.stringify(name)}, which no earlier op writes and the .pdiparams file does not hold`);
  }

  convertOp(op: PaddleOp, block: PaddleBlock): void {
    const fn = REGISTRY.get(op.type);
    if (!fn) throw new ShituError('ERR_MODEL_UNSUPPORTED', `Paddle op ${op.type} has no ONNX converter`);
    fn(new OpContext(this, op, block));
  }
}

export class OpContext {
  readonly b: GraphBuilder;
  readonly program: PaddleProgram;
  constructor(
    readonly state: ConvertState,
    readonly op: PaddleOp,
    readonly block: PaddleBlock,
  ) {
    this.b = state.b;
    this.program = state.program;
  }

  // ---- inputs ----
  names(slot: string): string[] {
    return this.op.inputs[slot] ?? [];
  }
  has(slot: string): boolean {
    return this.names(slot).length > 0;
  }
  private inName(slot: string, i: number): string {
    const n = this.names(slot)[i];
    if (n === undefined) this.invalid(`input ${slot}[${i}] missing`);
    return n;
  }
  input(slot: string, i = 0): string {
    return this.state.valueOf(this.inName(slot, i), this.op);
  }
  inputs(slot: string): string[] {
    return this.names(slot).map((n) => this.state.valueOf(n, this.op));
  }
  shape(slot: string, i = 0): number[] | undefined {
    const onnx = this.input(slot, i);
    const f = this.b.factsOf(onnx).shape;
    if (f) return [...f];
    return this.state.descShape(this.block.idx, this.inName(slot, i));
  }
  /** The input's rank, which Paddle always knows statically. */
  rank(slot: string, i = 0): number {
    const s = this.shape(slot, i);
    if (!s) this.unsupported(`rank of ${slot} unknown`);
    return s.length;
  }
  dtype(slot: string, i = 0): PaddleDType | undefined {
    const onnx = this.input(slot, i);
    return this.b.factsOf(onnx).dtype ?? this.state.varDesc(this.block.idx, this.inName(slot, i))?.dtype;
  }
  constant(slot: string, i = 0): ConstValue | undefined {
    if (!this.has(slot)) return undefined;
    return this.b.factsOf(this.input(slot, i)).value;
  }

  // ---- outputs ----
  outNames(slot: string): string[] {
    return this.op.outputs[slot] ?? [];
  }
  hasOutput(slot: string): boolean {
    return this.outNames(slot).length > 0;
  }
  private outName(slot: string, i: number): string {
    const n = this.outNames(slot)[i];
    if (n === undefined) this.invalid(`output ${slot}[${i}] missing`);
    return n;
  }
  output(slot: string, i = 0): string {
    const paddle = this.outName(slot, i);
    const onnx = this.b.fresh(paddle);
    this.state.env.set(paddle, onnx);
    const desc = this.state.varDesc(this.block.idx, paddle);
    if (desc?.dtype) this.b.setFacts(onnx, { dtype: desc.dtype });
    return onnx;
  }
  bindOutput(slot: string, onnx: string, i = 0): void {
    this.state.env.set(this.outName(slot, i), onnx);
  }
  outShape(slot: string, i = 0): number[] | undefined {
    return this.state.descShape(this.block.idx, this.outName(slot, i));
  }
  outDtype(slot: string, i = 0): PaddleDType | undefined {
    return this.state.varDesc(this.block.idx, this.outName(slot, i))?.dtype;
  }
  setConst(slot: string, value: ConstValue, i = 0): string {
    const name = this.b.constant(value, this.outName(slot, i));
    this.bindOutput(slot, name, i);
    return name;
  }
  setShape(onnx: string, shape: number[] | undefined): void {
    if (shape) this.b.setFacts(onnx, { shape });
  }

  // ---- attributes (the default is Paddle's when the program omits the attribute) ----
  attr(name: string): PaddleAttr | undefined {
    return this.op.attrs[name];
  }
  int(name: string, def: number): number {
    const a = this.op.attrs[name];
    if (a === undefined) return def;
    if (typeof a === 'number') return Math.trunc(a);
    if (typeof a === 'bigint') return Number(a);
    if (typeof a === 'boolean') return a ? 1 : 0;
    return this.badAttr(name, 'an integer');
  }
  float(name: string, def: number): number {
    const a = this.op.attrs[name];
    if (a === undefined) return def;
    if (typeof a === 'number') return a;
    if (typeof a === 'bigint') return Number(a);
    return this.badAttr(name, 'a number');
  }
  bool(name: string, def: boolean): boolean {
    const a = this.op.attrs[name];
    if (a === undefined) return def;
    if (typeof a === 'boolean') return a;
    if (typeof a === 'number') return a !== 0;
    return this.badAttr(name, 'a boolean');
  }
  str(name: string, def: string): string {
    const a = this.op.attrs[name];
    if (a === undefined) return def;
    if (typeof a === 'string') return a;
    return this.badAttr(name, 'a string');
  }
  ints(name: string, def: number[]): number[] {
    const a = this.op.attrs[name];
    if (a === undefined) return [...def];
    if (typeof a === 'number' || typeof a === 'bigint') return [Number(a)];
    if (Array.isArray(a) && a.every((x) => typeof x === 'number')) return (a as number[]).map((x) => Math.trunc(x));
    return this.badAttr(name, 'a list of integers');
  }
  floats(name: string, def: number[]): number[] {
    const a = this.op.attrs[name];
    if (a === undefined) return [...def];
    if (typeof a === 'number') return [a];
    if (Array.isArray(a) && a.every((x) => typeof x === 'number')) return [...(a as number[])];
    return this.badAttr(name, 'a list of numbers');
  }

  // ---- failures ----
  unsupported(why: string): never {
    throw new ShituError('ERR_MODEL_UNSUPPORTED', `Paddle op ${this.op.type}: ${why}`);
  }
  invalid(why: string): never {
    throw new ShituError('ERR_MODEL_INVALID', `Paddle op ${this.op.type}: ${why}`);
  }
  private badAttr(name: string, what: string): never {
    return this.invalid(`attribute ${name} is not ${what}`);
  }

  /** Converts sub-block `idx` into the same graph, with Paddle vars pre-bound to ONNX values. */
  convertBlock(idx: number, bindings: ReadonlyMap<string, string> = new Map()): void {
    const block = this.program.blocks[idx];
    if (!block) this.invalid(`sub-block ${idx} missing`);
    for (const [k, v] of bindings) this.state.env.set(k, v);
    for (const op of block.ops) this.state.convertOp(op, block);
  }
}

// Legacy Paddle inference programs (`inference.pdmodel`, `model.pdmodel`: a
// framework.proto ProgramDesc) -> PaddleProgram.
//
// Everything a hostile file could make us allocate is bounded first by its
// size (PADDLE_LIMITS.maxProgramBytes: protobufjs decodes the whole message)
// and then by the counts and shapes checked below; sub-block references must
// point to a later block, so control flow cannot form a cycle.
import { stat, readFile } from 'node:fs/promises';
import { PADDLE_LIMITS } from '../../limits';
import { ShituError } from '../../errors';
import {
  paddleType, hasField, ATTR_TYPE, VAR_TYPE, SCALAR_TYPE,
  type ProgramDescMsg, type BlockDescMsg, type OpDescMsg, type AttrMsg, type VarDescMsg, type ScalarMsg, type TensorDescMsg, type Int64,
} from './framework-proto';
import { dtypeOfVarType } from './dtypes';
import { invalidModel, exactInt, approxInt, checkShape, sortNames } from './model-error';
import type { PaddleProgram, PaddleBlock, PaddleOp, PaddleVar, PaddleAttr, PaddleFeed } from './program';

/**
 * Attributes Paddle adds to every op for its own bookkeeping (Python call
 * stacks, name scopes, roles): dropped, they are most of a program's bytes and
 * no conversion reads them.
 */
const BOOKKEEPING_ATTRS: ReadonlySet<string> = new Set([
  'op_callstack', 'op_namescope', 'op_role', 'op_role_var', 'op_device', 'with_quant_attr',
]);

/** Variable kinds that are never weights (the save order leaves them out). */
const NOT_SAVED_KINDS: ReadonlySet<number> = new Set([
  VAR_TYPE.FEED_MINIBATCH, VAR_TYPE.FETCH_LIST, VAR_TYPE.RAW, VAR_TYPE.READER,
]);

const KIND_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(VAR_TYPE).map(([name, n]) => [n, name === 'LOD_TENSOR' ? 'tensor' : name.toLowerCase()]),
);

/** Reads a legacy `.pdmodel` file. */
export async function readPdmodel(file: string): Promise<PaddleProgram> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw invalidModel(file, 'not a regular file');
    size = st.size;
  } catch (e) {
    if (e instanceof ShituError) throw e;
    throw new ShituError('ERR_MODEL_NOT_FOUND', `${file}: cannot read the Paddle program (${(e as Error).message})`, { cause: e });
  }
  if (size > PADDLE_LIMITS.maxProgramBytes) {
    throw invalidModel(file, `${size} bytes, over the ${PADDLE_LIMITS.maxProgramBytes}-byte limit for a Paddle program`);
  }
  return parsePdmodel(await readFile(file), file);
}

/** Decodes the bytes of a `.pdmodel` (file names the source in errors). */
export function parsePdmodel(bytes: Uint8Array, file: string): PaddleProgram {
  if (bytes.length > PADDLE_LIMITS.maxProgramBytes) {
    throw invalidModel(file, `${bytes.length} bytes, over the ${PADDLE_LIMITS.maxProgramBytes}-byte limit for a Paddle program`);
  }
  let msg: ProgramDescMsg;
  try {
    msg = paddleType('ProgramDesc').decode(bytes) as unknown as ProgramDescMsg;
  } catch (e) {
    throw invalidModel(file, `not a Paddle ProgramDesc protobuf (${(e as Error).message})`, e);
  }
  const blocksMsg = msg.blocks ?? [];
  if (blocksMsg.length === 0) throw invalidModel(file, 'no blocks: not a Paddle program');
  if (blocksMsg.length > PADDLE_LIMITS.maxBlocks) throw invalidModel(file, `${blocksMsg.length} blocks (at most ${PADDLE_LIMITS.maxBlocks})`);
  let nOps = 0;
  let nVars = 0;
  for (const b of blocksMsg) {
    nOps += b.ops?.length ?? 0;
    nVars += b.vars?.length ?? 0;
  }
  if (nOps > PADDLE_LIMITS.maxOps) throw invalidModel(file, `${nOps} ops (at most ${PADDLE_LIMITS.maxOps})`);
  if (nVars > PADDLE_LIMITS.maxVars) throw invalidModel(file, `${nVars} vars (at most ${PADDLE_LIMITS.maxVars})`);

  const blocks = blocksMsg.map((b, i) => readBlock(b, i, blocksMsg.length, file));
  const saved = new Set<string>();
  for (const b of blocksMsg) {
    for (const v of b.vars ?? []) {
      if (v.persistable && !NOT_SAVED_KINDS.has(v.type?.type ?? -1)) saved.add(v.name ?? '');
    }
  }
  const { feeds, fetches } = feedsAndFetches(blocks[0], file);
  return { format: 'legacy', blocks, feeds, fetches, paramNames: sortNames(saved) };
}

function readBlock(b: BlockDescMsg, position: number, nBlocks: number, file: string): PaddleBlock {
  const idx = b.idx ?? -2;
  const parentIdx = b.parent_idx ?? -2;
  if (idx !== position) throw invalidModel(file, `block ${position} says it is block ${idx}`);
  if (position === 0 ? parentIdx !== -1 : parentIdx < 0 || parentIdx >= position) {
    throw invalidModel(file, `block ${position} has parent ${parentIdx} (a block's parent comes before it; block 0 has none)`);
  }
  const vars = new Map<string, PaddleVar>();
  for (const v of b.vars ?? []) {
    const pv = readVar(v, position, file);
    if (vars.has(pv.name)) throw invalidModel(file, `block ${position} declares variable ${JSON.stringify(pv.name)} twice`);
    vars.set(pv.name, pv);
  }
  const ops = (b.ops ?? []).map((o, k) => readOp(o, position, k, nBlocks, file));
  return { idx, parentIdx, vars, ops };
}

function tensorDescOf(t: VarDescMsg['type']): TensorDescMsg | undefined {
  // protobufjs leaves an absent sub-message as null.
  return t?.lod_tensor?.tensor ?? t?.tensor_array?.tensor ?? t?.selected_rows ?? undefined;
}

function readVar(v: VarDescMsg, block: number, file: string): PaddleVar {
  const name = v.name ?? '';
  if (name === '') throw invalidModel(file, `block ${block} has a variable without a name`);
  const where = `variable ${JSON.stringify(name)} (block ${block})`;
  if (v.type == null || !hasField(v.type, 'type')) throw invalidModel(file, `${where} has no type`);
  const kindNum = v.type.type ?? -1;
  const kind = KIND_NAMES.get(kindNum);
  if (kind === undefined) throw invalidModel(file, `${where} has unknown type ${kindNum}`);
  const desc = tensorDescOf(v.type);
  let dtype;
  let shape: number[] = [];
  if (desc !== undefined) {
    if (!hasField(desc, 'data_type')) throw invalidModel(file, `${where} has no element type`);
    dtype = dtypeOfVarType(desc.data_type);
    if (dtype === undefined) throw invalidModel(file, `${where} has unknown element type ${desc.data_type}`);
    shape = readDims(desc.dims ?? [], file, where);
  }
  const out: PaddleVar = { name, kind, shape, persistable: v.persistable === true };
  if (dtype !== undefined) out.dtype = dtype;
  return out;
}

/** Int64 dims -> numbers, checked against PADDLE_LIMITS (rank, range, element count). */
export function readDims(dims: readonly Int64[], file: string, what: string): number[] {
  if (dims.length > PADDLE_LIMITS.maxRank) throw invalidModel(file, `${what} has ${dims.length} dimensions (at most ${PADDLE_LIMITS.maxRank})`);
  const out = dims.map((d) => exactInt(d) ?? NaN);
  checkShape(out, PADDLE_LIMITS, file, what);
  return out;
}

function readOp(o: OpDescMsg, block: number, k: number, nBlocks: number, file: string): PaddleOp {
  const type = o.type ?? '';
  const where = `op ${k} (${JSON.stringify(type)}) of block ${block}`;
  if (type === '') throw invalidModel(file, `${where} has no type`);
  const slots = (list: OpDescMsg['inputs'], dir: string): Record<string, string[]> => {
    const r: Record<string, string[]> = {};
    for (const s of list ?? []) {
      const p = s.parameter ?? '';
      if (p === '' || Object.prototype.hasOwnProperty.call(r, p)) throw invalidModel(file, `${where} has an unnamed or repeated ${dir} slot ${JSON.stringify(p)}`);
      r[p] = [...(s.arguments ?? [])];
    }
    return r;
  };
  const inputs = slots(o.inputs, 'input');
  const outputs = slots(o.outputs, 'output');
  const attrs: Record<string, PaddleAttr> = {};
  for (const a of o.attrs ?? []) {
    const name = a.name ?? '';
    if (name === '') throw invalidModel(file, `${where} has an attribute without a name`);
    if (BOOKKEEPING_ATTRS.has(name)) continue;
    attrs[name] = readAttr(a, `attribute ${JSON.stringify(name)} of ${where}`, block, nBlocks, file);
  }
  return { type, inputs, outputs, attrs };
}

function scalarValue(s: ScalarMsg, file: string, where: string): number | boolean {
  switch (s.type) {
    case SCALAR_TYPE.BOOLEAN: return s.b === true;
    case SCALAR_TYPE.LONG: return s.i == null ? 0 : approxInt(s.i);
    case SCALAR_TYPE.FLOAT64: return s.r ?? 0;
    default: throw invalidModel(file, `${where} is a scalar of type ${s.type} (bool, int64 and float64 are read)`);
  }
}

function subBlock(idx: number | undefined, block: number, nBlocks: number, file: string, where: string): number {
  // A sub-block is created after the block of the op that runs it: an index at
  // or before the op's own block would be a cycle (or not a sub-block at all).
  if (idx === undefined || !Number.isInteger(idx) || idx <= block || idx >= nBlocks) {
    throw invalidModel(file, `${where} names block ${idx}, which is not a later block of the ${nBlocks} (a cycle or out of range)`);
  }
  return idx;
}

function readAttr(a: AttrMsg, where: string, block: number, nBlocks: number, file: string): PaddleAttr {
  if (!hasField(a, 'type')) throw invalidModel(file, `${where} has no type`);
  switch (a.type) {
    case ATTR_TYPE.INT: return a.i ?? 0;
    case ATTR_TYPE.FLOAT: return a.f ?? 0;
    case ATTR_TYPE.STRING: return a.s ?? '';
    case ATTR_TYPE.INTS: return [...(a.ints ?? [])];
    case ATTR_TYPE.FLOATS: return [...(a.floats ?? [])];
    case ATTR_TYPE.STRINGS: return [...(a.strings ?? [])];
    case ATTR_TYPE.BOOLEAN: return a.b === true;
    case ATTR_TYPE.BOOLEANS: return [...(a.bools ?? [])];
    case ATTR_TYPE.BLOCK: return { block: subBlock(a.block_idx, block, nBlocks, file, where) };
    case ATTR_TYPE.LONG: {
      if (a.l == null) return 0;
      const n = exactInt(a.l);
      return n ?? BigInt(a.l.toString());
    }
    case ATTR_TYPE.BLOCKS: return { blocks: (a.blocks_idx ?? []).map((i) => subBlock(i, block, nBlocks, file, where)) };
    case ATTR_TYPE.LONGS: return (a.longs ?? []).map(approxInt);
    case ATTR_TYPE.FLOAT64S: return [...(a.float64s ?? [])];
    case ATTR_TYPE.VAR: return a.var_name ?? '';
    case ATTR_TYPE.VARS: return [...(a.vars_name ?? [])];
    case ATTR_TYPE.FLOAT64: return a.float64 ?? 0;
    case ATTR_TYPE.SCALAR: return a.scalar == null ? 0 : scalarValue(a.scalar, file, where);
    case ATTR_TYPE.SCALARS: {
      const vals = (a.scalars ?? []).map((s) => scalarValue(s, file, where));
      return vals.every((v) => typeof v === 'boolean') && vals.length > 0 ? (vals as boolean[]) : vals.map(Number);
    }
    default: throw invalidModel(file, `${where} has unknown attribute type ${a.type}`);
  }
}

/** The program's feeds and fetches from block 0's `feed` / `fetch` ops, in `col` order. */
function feedsAndFetches(global: PaddleBlock, file: string): { feeds: PaddleFeed[]; fetches: string[] } {
  const byCol = (type: string, slots: 'outputs' | 'inputs', slot: string): string[] => {
    const ops = global.ops.filter((op) => op.type === type);
    const named: string[] = [];
    for (const op of ops) {
      const col = op.attrs.col;
      const vars = op[slots][slot] ?? [];
      if (typeof col !== 'number' || !Number.isInteger(col) || col < 0 || col >= ops.length || vars.length !== 1) {
        throw invalidModel(file, `a ${type} op has column ${String(col)} and ${vars.length} variables (one variable and a column below ${ops.length} expected)`);
      }
      if (named[col] !== undefined) throw invalidModel(file, `two ${type} ops have column ${col}`);
      named[col] = vars[0];
    }
    for (let i = 0; i < named.length; i++) if (named[i] === undefined) throw invalidModel(file, `no ${type} op has column ${i}`);
    return named;
  };
  const feedNames = byCol('feed', 'outputs', 'Out');
  const fetches = byCol('fetch', 'inputs', 'X');
  if (feedNames.length === 0 || fetches.length === 0) throw invalidModel(file, 'no feed or no fetch op: not an inference program');
  const feeds = feedNames.map((name) => {
    const v = global.vars.get(name);
    if (v?.dtype === undefined) throw invalidModel(file, `feed ${JSON.stringify(name)} is not a declared tensor of block 0`);
    return { name, dtype: v.dtype, shape: v.shape };
  });
  return { feeds, fetches };
}

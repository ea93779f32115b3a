// A minimal, safe Python pickle reader for the two pickles this package meets:
// PaddleClas's `id_map.pkl` (a dict of numpy int64 id -> "path\tlabel") and the
// entries of PaddleX serving's index storage (a tuple of the FAISS index as a
// numpy uint8 array and the index_info dict). Written by hand because no npm
// library reads pickles without executing them: this one executes nothing. The
// only callables it knows are numpy's scalar and array reconstruction and
// dtype, which it decodes itself; anything else is refused.
//
// Bounded and iterative: one loop over the opcodes, no recursion, every object
// is built from bytes already in the buffer, so memory stays proportional to the
// file. Every malformed input is an ERR_INDEX_CORRUPT ShituError.
import { ShituError } from '../../errors';

const MARK = Symbol('mark');
type Global = { kind: 'global'; module: string; name: string };
type Dtype = { kind: 'dtype'; dtype: string };
/** A numpy array: its dtype and raw bytes (C order). */
export type NdArray = { kind: 'ndarray'; dtype: string; shape: number[]; data: Buffer };

function fail(file: string, what: string): never {
  throw new ShituError('ERR_INDEX_CORRUPT', `cannot read pickle ${file}: ${what}`);
}

const isObj = (v: unknown, kind: string): boolean => typeof v === 'object' && v !== null && (v as { kind?: string }).kind === kind;

const NUMPY = new Set(['numpy.core.multiarray', 'numpy._core.multiarray', 'numpy.core.numeric', 'numpy._core.numeric', 'numpy']);

function callGlobal(file: string, fn: unknown, args: unknown): unknown {
  if (!isObj(fn, 'global')) fail(file, 'REDUCE on something that is not a known callable');
  const g = fn as Global;
  if (!Array.isArray(args)) fail(file, 'REDUCE arguments are not a tuple');
  if (!NUMPY.has(g.module)) fail(file, `refusing to call ${g.module}.${g.name}`);
  switch (g.name) {
    case 'dtype':
      if (typeof args[0] !== 'string') fail(file, 'numpy.dtype without a type string');
      return { kind: 'dtype', dtype: args[0] } as Dtype;
    case 'scalar': {
      const dt = args[0] as Dtype;
      const raw = args[1];
      const bytes = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
      if (!isObj(dt, 'dtype') || !Buffer.isBuffer(bytes)) fail(file, 'numpy scalar without a dtype and bytes');
      const need: Record<string, number> = { i8: 8, i4: 4, u8: 8, u4: 4, f8: 8, f4: 4 };
      if (!(dt.dtype in need)) fail(file, `unsupported numpy scalar type ${dt.dtype}`);
      if (bytes.length < need[dt.dtype]) fail(file, `numpy ${dt.dtype} scalar with ${bytes.length} bytes`);
      switch (dt.dtype) {
        case 'i8': return Number(bytes.readBigInt64LE(0));
        case 'i4': return bytes.readInt32LE(0);
        case 'u8': return Number(bytes.readBigUInt64LE(0));
        case 'u4': return bytes.readUInt32LE(0);
        case 'f8': return bytes.readDoubleLE(0);
        default: return bytes.readFloatLE(0);
      }
    }
    case '_reconstruct': // protocol <= 4: an empty array, filled by BUILD
      return { kind: 'ndarray', dtype: 'u1', shape: [0], data: Buffer.alloc(0) } as NdArray;
    case '_frombuffer': { // protocol 5: (buffer, dtype, shape, order)
      const [buf, dt, shape] = args as [unknown, Dtype, unknown];
      if (!Buffer.isBuffer(buf) || !isObj(dt, 'dtype') || !Array.isArray(shape)) fail(file, 'malformed numpy _frombuffer');
      return { kind: 'ndarray', dtype: dt.dtype, shape: shape as number[], data: buf } as NdArray;
    }
    default:
      fail(file, `refusing to call ${g.module}.${g.name}`);
  }
}

// BUILD on an array from _reconstruct: state (version, shape, dtype, is_fortran, raw bytes).
function buildArray(file: string, arr: NdArray, state: unknown): void {
  if (!Array.isArray(state) || state.length < 5) fail(file, 'malformed numpy array state');
  const [, shape, dt, , raw] = state;
  const data = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
  if (!Array.isArray(shape) || !isObj(dt, 'dtype') || !Buffer.isBuffer(data)) fail(file, 'malformed numpy array state');
  arr.shape = shape as number[];
  arr.dtype = (dt as Dtype).dtype;
  arr.data = data;
}

export function readPickle(buf: Buffer, file = 'pickle'): unknown {
  const stack: unknown[] = [];
  const marks: number[] = []; // stack positions of MARKs, so popMark is O(items)
  const memo = new Map<number, unknown>();
  let pos = 0;
  const u8 = () => { if (pos >= buf.length) fail(file, 'truncated'); return buf[pos++]; };
  const take = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > buf.length) fail(file, `truncated (needs ${n} bytes at byte ${pos})`);
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const len8 = () => { const n = take(8).readBigUInt64LE(0); if (n > BigInt(buf.length)) fail(file, 'length beyond the end'); return Number(n); };
  const line = () => { const end = buf.indexOf(0x0a, pos); if (end < 0) fail(file, 'truncated'); const s = buf.toString('latin1', pos, end); pos = end + 1; return s; };
  const pop = () => { if (stack.length - 1 <= (marks.length ? marks[marks.length - 1] : -1)) fail(file, `stack underflow at byte ${pos - 1}`); return stack.pop(); };
  const top = () => { if (stack.length === 0) fail(file, `empty stack at byte ${pos - 1}`); return stack[stack.length - 1]; };
  const popMark = () => {
    const at = marks.pop();
    if (at === undefined) fail(file, 'mark not found');
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  const topMap = () => { const d = top(); if (!(d instanceof Map)) fail(file, 'SETITEM on something that is not a dict'); return d; };
  const topList = () => { const l = top(); if (!Array.isArray(l)) fail(file, 'APPEND on something that is not a list'); return l; };
  const key = (k: unknown) => {
    if (typeof k === 'number' || typeof k === 'string' || typeof k === 'boolean' || k === null) return k;
    fail(file, 'a dict key of an unsupported type');
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: take(8); break; // FRAME
      case 0x2e: { if (stack.length !== 1 || marks.length) fail(file, 'STOP with a malformed stack'); return stack.pop(); } // STOP
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x28: marks.push(stack.length); stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(take(2).readUInt16LE(0)); break; // BININT2
      case 0x4a: stack.push(take(4).readInt32LE(0)); break; // BININT
      case 0x8a: case 0x8b: { // LONG1, LONG4
        const n = op === 0x8a ? u8() : take(4).readUInt32LE(0);
        if (n > 8) fail(file, `integer of ${n} bytes`);
        const b = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        break;
      }
      case 0x47: stack.push(take(8).readDoubleBE(0)); break; // BINFLOAT
      case 0x58: { const n = take(4).readUInt32LE(0); stack.push(take(n).toString('utf8')); break; } // BINUNICODE
      case 0x8d: { const n = len8(); stack.push(take(n).toString('utf8')); break; } // BINUNICODE8
      case 0x8c: { const n = u8(); stack.push(take(n).toString('utf8')); break; } // SHORT_BINUNICODE
      case 0x43: { const n = u8(); stack.push(Buffer.from(take(n))); break; } // SHORT_BINBYTES
      case 0x42: { const n = take(4).readUInt32LE(0); stack.push(take(n)); break; } // BINBYTES (a view: no copy)
      case 0x8e: case 0x96: { const n = len8(); stack.push(take(n)); break; } // BINBYTES8, BYTEARRAY8
      case 0x54: { const n = take(4).readUInt32LE(0); stack.push(take(n).toString('latin1')); break; } // BINSTRING
      case 0x55: { const n = u8(); stack.push(take(n).toString('latin1')); break; } // SHORT_BINSTRING
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(take(4).readUInt32LE(0), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : take(4).readUInt32LE(0);
        if (!memo.has(i)) fail(file, `memo entry ${i} missing`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push({ kind: 'global', module, name } as Global); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') fail(file, 'STACK_GLOBAL without names');
        stack.push({ kind: 'global', module, name } as Global);
        break;
      }
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x52: { const args = pop(); const fn = pop(); stack.push(callGlobal(file, fn, args)); break; } // REDUCE
      case 0x62: { // BUILD: fills a numpy array; dtype state is not needed
        const state = pop();
        const obj = top();
        if (isObj(obj, 'ndarray')) buildArray(file, obj as NdArray, state);
        else if (!isObj(obj, 'dtype')) fail(file, 'BUILD on an unsupported object');
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); topMap().set(key(k), v); break; } // SETITEM
      case 0x75: { const items = popMark(); if (items.length % 2) fail(file, 'SETITEMS with an odd item count'); const d = topMap(); for (let i = 0; i < items.length; i += 2) d.set(key(items[i]), items[i + 1]); break; } // SETITEMS
      case 0x61: { const v = pop(); topList().push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const l = topList(); for (const it of items) l.push(it); break; } // APPENDS (a loop: no argument-count limit)
      default: fail(file, `unsupported opcode 0x${op.toString(16)} at byte ${pos - 1}`);
    }
  }
}

/**
 * PaddleClas's id_map.pkl: {id: "relative/path.jpg\tlabel"}. The label is what
 * follows the first tab (PaddleClas writes path + tab + label, and labels may
 * hold tabs); an entry without a tab is all label.
 */
export function readPaddleClasIdMap(buf: Buffer, file: string): Map<number, string> {
  const m = readPickle(buf, file);
  if (!(m instanceof Map)) fail(file, 'not a dict');
  const idMap = new Map<number, string>();
  for (const [k, v] of m) {
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0) fail(file, `id ${String(k)} is not a safe non-negative integer`);
    if (typeof v !== 'string') fail(file, `the entry of id ${k} is not a string`);
    const tab = v.indexOf('\t');
    idMap.set(k, tab >= 0 ? v.slice(tab + 1) : v);
  }
  return idMap;
}

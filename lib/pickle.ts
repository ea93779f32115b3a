// A minimal, safe Python pickle reader for PaddleClas's `id_map.pkl` (a dict of
// id -> "path\tlabel"). It executes nothing: the only callables it knows are
// numpy's scalar reconstruction (ids are numpy int64 scalars) and dtype, which
// it decodes itself. Anything else is rejected.
import { ShituError } from './errors';

const MARK = Symbol('mark');
type Global = { module: string; name: string };
type Dtype = { dtype: string };

function fail(file: string, what: string): never {
  throw new ShituError('ERR_INDEX_IO', `cannot read pickle ${file}: ${what}`);
}

function callGlobal(file: string, fn: Global, args: unknown[]): unknown {
  const full = `${fn.module}.${fn.name}`;
  if (full === 'numpy.dtype') return { dtype: String(args[0]) } as Dtype;
  if (full === 'numpy.core.multiarray.scalar' || full === 'numpy._core.multiarray.scalar') {
    const dt = args[0] as Dtype;
    const raw = args[1];
    const bytes = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : (raw as Buffer);
    if (!Buffer.isBuffer(bytes)) fail(file, 'numpy scalar without bytes');
    switch (dt?.dtype) {
      case 'i8': return Number(bytes.readBigInt64LE(0));
      case 'i4': return bytes.readInt32LE(0);
      case 'u8': return Number(bytes.readBigUInt64LE(0));
      case 'f8': return bytes.readDoubleLE(0);
      case 'f4': return bytes.readFloatLE(0);
      default: fail(file, `unsupported numpy scalar type ${dt?.dtype}`);
    }
  }
  fail(file, `refusing to call ${full}`);
}

export function readPickle(buf: Buffer, file = 'pickle'): unknown {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const u8 = () => { if (pos >= buf.length) fail(file, 'truncated'); return buf[pos++]; };
  const take = (n: number) => { if (pos + n > buf.length) fail(file, 'truncated'); const b = buf.subarray(pos, pos + n); pos += n; return b; };
  const line = () => { const end = buf.indexOf(0x0a, pos); if (end < 0) fail(file, 'truncated'); const s = buf.toString('latin1', pos, end); pos = end + 1; return s; };
  const popMark = () => {
    for (let i = stack.length - 1; i >= 0; i--) if (stack[i] === MARK) { const items = stack.splice(i); items.shift(); return items; }
    fail(file, 'mark not found');
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: take(8); break; // FRAME
      case 0x2e: return stack.pop(); // STOP
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x28: stack.push(MARK); break; // MARK
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(take(2).readUInt16LE(0)); break; // BININT2
      case 0x4a: stack.push(take(4).readInt32LE(0)); break; // BININT
      case 0x8a: { const n = u8(); const b = take(n); let v = 0n; for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]); if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n); stack.push(Number(v)); break; } // LONG1
      case 0x47: stack.push(take(8).readDoubleBE(0)); break; // BINFLOAT
      case 0x58: { const n = take(4).readUInt32LE(0); stack.push(take(n).toString('utf8')); break; } // BINUNICODE
      case 0x8c: { const n = u8(); stack.push(take(n).toString('utf8')); break; } // SHORT_BINUNICODE
      case 0x43: { const n = u8(); stack.push(Buffer.from(take(n))); break; } // SHORT_BINBYTES
      case 0x42: { const n = take(4).readUInt32LE(0); stack.push(Buffer.from(take(n))); break; } // BINBYTES
      case 0x54: { const n = take(4).readUInt32LE(0); stack.push(take(n).toString('latin1')); break; } // BINSTRING
      case 0x55: { const n = u8(); stack.push(take(n).toString('latin1')); break; } // SHORT_BINSTRING
      case 0x71: memo.set(u8(), stack[stack.length - 1]); break; // BINPUT
      case 0x72: memo.set(take(4).readUInt32LE(0), stack[stack.length - 1]); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack[stack.length - 1]); break; // MEMOIZE
      case 0x68: stack.push(memo.get(u8())); break; // BINGET
      case 0x6a: stack.push(memo.get(take(4).readUInt32LE(0))); break; // LONG_BINGET
      case 0x63: { const module = line(); const name = line(); stack.push({ module, name } as Global); break; } // GLOBAL
      case 0x93: { const name = stack.pop() as string; const module = stack.pop() as string; stack.push({ module, name } as Global); break; } // STACK_GLOBAL
      case 0x85: stack.push([stack.pop()]); break; // TUPLE1
      case 0x86: { const b = stack.pop(); const a = stack.pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = stack.pop(); const b = stack.pop(); const a = stack.pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x52: { const args = stack.pop() as unknown[]; const fn = stack.pop() as Global; stack.push(callGlobal(file, fn, args)); break; } // REDUCE
      case 0x62: stack.pop(); break; // BUILD: dtype state, not needed
      case 0x73: { const v = stack.pop(); const k = stack.pop(); (stack[stack.length - 1] as Map<unknown, unknown>).set(k, v); break; } // SETITEM
      case 0x75: { const items = popMark(); const d = stack[stack.length - 1] as Map<unknown, unknown>; for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]); break; } // SETITEMS
      case 0x61: { const v = stack.pop(); (stack[stack.length - 1] as unknown[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); (stack[stack.length - 1] as unknown[]).push(...items); break; } // APPENDS
      default: fail(file, `unsupported opcode 0x${op.toString(16)} at byte ${pos - 1}`);
    }
  }
}

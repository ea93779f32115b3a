// Writes `.pdiparams` files (the record layout of params.ts): for tests and
// benchmarks that need a complete Paddle model where only the program is
// published (the PP-ShiTuV2 programs in shared/ come without their weights),
// and for building hostile variants of real files.
import { open } from 'node:fs/promises';
import { paddleType } from './framework-proto';
import { varTypeOfDtype, DTYPE_BYTES } from './dtypes';
import type { PaddleDType, PaddleProgram, PaddleVar } from './program';

export interface ParamTensor {
  dtype: PaddleDType;
  dims: number[];
  /** Raw little-endian data, dims' product x element size bytes. */
  data: Uint8Array;
}

/** One record's header: everything before the data. */
export function paramRecordHeader(dtype: PaddleDType, dims: readonly number[]): Buffer {
  const desc = paddleType('VarType.TensorDesc').encode({ data_type: varTypeOfDtype(dtype), dims }).finish();
  const h = Buffer.alloc(4 + 8 + 4 + 4);
  h.writeUInt32LE(0, 0); // version
  h.writeBigUInt64LE(0n, 4); // LoD levels: weights have none
  h.writeUInt32LE(0, 12); // tensor version
  h.writeInt32LE(desc.length, 16);
  return Buffer.concat([h, desc]);
}

/** Writes the tensors as a `.pdiparams` file, in the order given (a program's paramNames order). */
export async function writeParams(file: string, tensors: Iterable<ParamTensor>): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (const t of tensors) {
      const n = t.dims.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
      if (t.data.length !== n) throw new RangeError(`tensor [${t.dims.join(', ')}] ${t.dtype} needs ${n} bytes, got ${t.data.length}`);
      await fh.write(paramRecordHeader(t.dtype, t.dims));
      await fh.write(t.data);
    }
  } finally {
    await fh.close();
  }
}

/** Deterministic PRNG (mulberry32): uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Batch-norm inputs by role, found from the ops that read each weight. */
function weightRoles(program: PaddleProgram): Map<string, string> {
  const roles = new Map<string, string>();
  for (const b of program.blocks) {
    for (const op of b.ops) {
      for (const [slot, names] of Object.entries(op.inputs)) for (const n of names) if (!roles.has(n)) roles.set(n, `${op.type}.${slot}`);
    }
  }
  return roles;
}

/**
 * Seeded random weights for every tensor of a program, in its save order.
 * Values keep a network numerically tame whatever its depth: batch-norm
 * variances in [0.5, 1.5] and scales near 1 (a negative or zero variance
 * would make NaN), biases and means near 0, other float weights uniform with
 * a variance of 1/fan-in (He-like), integer weights small.
 */
export function* seededParams(program: PaddleProgram, seed: number): Generator<ParamTensor & { name: string }> {
  const rnd = mulberry32(seed);
  const roles = weightRoles(program);
  const vars = new Map<string, PaddleVar>();
  for (const b of program.blocks) for (const [n, v] of b.vars) if (!vars.has(n)) vars.set(n, v);
  for (const name of program.paramNames) {
    const v = vars.get(name);
    if (v?.dtype === undefined) throw new RangeError(`weight ${name} has no element type`);
    const dims = v.shape.map((d) => Math.max(d, 1));
    const count = dims.reduce((a, d) => a * d, 1);
    const role = roles.get(name) ?? '';
    const fanIn = dims.length > 1 ? count / dims[0] : 1;
    let value: () => number;
    if (/\.(Variance)$/.test(role)) value = () => 0.5 + rnd();
    else if (/\.(Scale)$/.test(role)) value = () => 0.8 + 0.4 * rnd();
    else if (/\.(Mean|Bias)$/.test(role) || dims.length <= 1) value = () => 0.2 * (rnd() - 0.5);
    else {
      const a = Math.sqrt(3 / fanIn);
      value = () => a * (2 * rnd() - 1);
    }
    const data = Buffer.alloc(count * DTYPE_BYTES[v.dtype]);
    for (let i = 0; i < count; i++) {
      switch (v.dtype) {
        case 'float32': data.writeFloatLE(value(), i * 4); break;
        case 'float64': data.writeDoubleLE(value(), i * 8); break;
        case 'int32': data.writeInt32LE(Math.floor(rnd() * 4), i * 4); break;
        case 'int64': data.writeBigInt64LE(BigInt(Math.floor(rnd() * 4)), i * 8); break;
        default: data[i * DTYPE_BYTES[v.dtype]] = Math.floor(rnd() * 2); break;
      }
    }
    yield { name, dtype: v.dtype, dims, data };
  }
}

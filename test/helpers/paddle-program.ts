// Small hand-made Paddle programs for the converter's op tests, and a run of the
// converted ONNX file in onnxruntime-node. The weights of a hand-made program
// live in memory (MemoryParams, the ParamTable interface over Buffers): the
// file readers are tested on their own; here the subject is the converter.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PaddleAttr, PaddleDType, PaddleOp, PaddleProgram, PaddleVar, ParamInfo, ParamTable } from '../../lib/models/paddle/program';
import { ConvertOptions, convertProgram } from '../../lib/models/paddle/convert/convert';

type Ort = typeof import('onnxruntime-node');
export const ort = (): Ort => require('onnxruntime-node') as Ort;

export class MemoryParams implements ParamTable {
  readonly file = '<memory>';
  readonly params = new Map<string, ParamInfo>();
  private readonly data = new Map<string, Buffer>();
  add(name: string, dtype: PaddleDType, dims: number[], bytes: Buffer): void {
    this.params.set(name, { name, dtype, dims, offset: 0, byteLength: bytes.length });
    this.data.set(name, bytes);
  }
  async read(name: string): Promise<Buffer> {
    const b = this.data.get(name);
    if (!b) throw new Error(`no param ${name}`);
    return Buffer.from(b);
  }
  async close(): Promise<void> {}
}

export interface Tensor {
  dims: number[];
  data: number[];
}

/** Builds one global-block program op by op. */
export class ProgramMaker {
  readonly vars = new Map<string, PaddleVar>();
  readonly ops: PaddleOp[] = [];
  readonly feeds: { name: string; dtype: PaddleDType; shape: number[] }[] = [];
  readonly fetches: string[] = [];
  readonly params = new MemoryParams();

  v(name: string, shape: number[], dtype: PaddleDType = 'float32', persistable = false): string {
    this.vars.set(name, { name, kind: 'tensor', dtype, shape, persistable });
    return name;
  }
  feed(name: string, shape: number[], dtype: PaddleDType = 'float32'): string {
    this.feeds.push({ name, dtype, shape });
    return this.v(name, shape, dtype);
  }
  param(name: string, dims: number[], values: number[], dtype: PaddleDType = 'float32'): string {
    const buf = Buffer.alloc(values.length * (dtype === 'int64' || dtype === 'float64' ? 8 : 4));
    values.forEach((x, i) => {
      if (dtype === 'float32') buf.writeFloatLE(x, i * 4);
      else if (dtype === 'int32') buf.writeInt32LE(x, i * 4);
      else if (dtype === 'int64') buf.writeBigInt64LE(BigInt(x), i * 8);
      else buf.writeDoubleLE(x, i * 8);
    });
    this.params.add(name, dtype, dims, buf);
    return this.v(name, dims, dtype, true);
  }
  op(type: string, inputs: Record<string, string[] | string>, outputs: Record<string, string[] | string>, attrs: Record<string, PaddleAttr> = {}): void {
    const norm = (r: Record<string, string[] | string>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
    this.ops.push({ type, inputs: norm(inputs), outputs: norm(outputs), attrs });
  }
  fetch(name: string): void {
    this.fetches.push(name);
  }
  program(): PaddleProgram {
    return {
      format: 'legacy',
      blocks: [{ idx: 0, parentIdx: -1, vars: this.vars, ops: this.ops }],
      feeds: this.feeds,
      fetches: this.fetches,
      paramNames: [...this.params.params.keys()].sort(),
    };
  }
}

export const tmpDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-paddle-convert-'));

/** Converts `m` into a temp file and runs it once on `feeds`; returns the outputs by fetch order. */
export async function convertAndRun(
  m: ProgramMaker,
  feeds: Record<string, Tensor & { dtype?: 'float32' | 'int64' | 'int32' }>,
  options: Omit<ConvertOptions, 'output'> = {},
): Promise<Tensor[]> {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'm.onnx');
    const r = await convertProgram(m.program(), m.params, { ...options, output: file });
    const o = ort();
    const s = await o.InferenceSession.create(file);
    const feedsOrt: Record<string, InstanceType<Ort['Tensor']>> = {};
    for (const [k, v] of Object.entries(feeds)) {
      feedsOrt[k] = v.dtype === 'int64'
        ? new o.Tensor('int64', BigInt64Array.from(v.data.map((x) => BigInt(x))), v.dims)
        : v.dtype === 'int32'
          ? new o.Tensor('int32', Int32Array.from(v.data), v.dims)
          : new o.Tensor('float32', Float32Array.from(v.data), v.dims);
    }
    const res = await s.run(feedsOrt);
    await s.release();
    return r.outputs.map((out) => {
      const t = res[out.name];
      return { dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x)) };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Largest absolute difference of two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** 0, 1, 2, ... n-1 scaled and shifted: deterministic test data with negatives. */
export function ramp(n: number, scale = 0.1, shift = 0): number[] {
  return Array.from({ length: n }, (_, i) => i * scale + shift);
}

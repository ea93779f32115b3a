// The `.pdiparams` weights file of a Paddle inference model, indexed without
// reading its data: one record per tensor, in the program's save order
// (PaddleProgram.paramNames), each
//
//   uint32 version (0) | uint64 lod_level | lod_level x (uint64 nbytes, bytes)
//   | uint32 tensor version (0) | int32 desc size | VarType.TensorDesc | raw data
//
// (Paddle: lod_tensor_serialize.cc / tensor_util.cc; all little-endian). Each
// header is read with small positioned reads and the data skipped, so a file of
// hundreds of MB is indexed with memory in the size of its headers; every
// record is checked against the program's variable (element type, shape), the
// record count and the file size, so a truncated or mismatched file is
// refused before any conversion starts.
import { open, type FileHandle } from 'node:fs/promises';
import { PADDLE_LIMITS } from '../../limits';
import { ShituError } from '../../errors';
import { paddleType, hasField, type TensorDescMsg } from './framework-proto';
import { dtypeOfVarType, DTYPE_BYTES } from './dtypes';
import { invalidModel } from './model-error';
import { readDims } from './read-pdmodel';
import type { PaddleProgram, PaddleVar, ParamInfo, ParamTable } from './program';

/** Opens and indexes `file` as the weights of `program`. */
export async function openParams(file: string, program: PaddleProgram): Promise<ParamTable> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new ShituError('ERR_MODEL_NOT_FOUND', `${file}: cannot open the Paddle weights (${(e as Error).message})`, { cause: e });
  }
  try {
    const params = await indexParams(fh, file, program);
    return new FileParamTable(file, fh, params);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

class FileParamTable implements ParamTable {
  constructor(readonly file: string, private readonly fh: FileHandle, readonly params: ReadonlyMap<string, ParamInfo>) {}

  async read(name: string): Promise<Buffer> {
    const info = this.params.get(name);
    if (info === undefined) throw invalidModel(this.file, `no tensor named ${JSON.stringify(name)}`);
    const buf = Buffer.alloc(info.byteLength);
    await readFully(this.fh, buf, info.offset, this.file, `tensor ${JSON.stringify(name)}`);
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

async function readFully(fh: FileHandle, buf: Buffer, position: number, file: string, what: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw invalidModel(file, `truncated: ${what} ends past the end of the file`);
    done += bytesRead;
  }
}

/** Every var of the program by name (weights live in block 0, but a sub-block may declare one). */
function varsByName(program: PaddleProgram): Map<string, PaddleVar> {
  const m = new Map<string, PaddleVar>();
  for (const b of program.blocks) for (const [n, v] of b.vars) if (!m.has(n)) m.set(n, v);
  return m;
}

async function indexParams(fh: FileHandle, file: string, program: PaddleProgram): Promise<Map<string, ParamInfo>> {
  const size = (await fh.stat()).size;
  const names = program.paramNames;
  if (names.length > PADDLE_LIMITS.maxParams) throw invalidModel(file, `the program names ${names.length} weights (at most ${PADDLE_LIMITS.maxParams})`);
  const vars = varsByName(program);
  const params = new Map<string, ParamInfo>();
  const small = Buffer.alloc(12);
  let pos = 0;
  const at = async (len: number, what: string): Promise<Buffer> => {
    const b = len <= small.length ? small.subarray(0, len) : Buffer.alloc(len);
    if (pos + len > size) throw invalidModel(file, `truncated at byte ${pos}: ${what} (tensor ${params.size + 1} of ${names.length}) needs ${len} bytes, the file has ${size - pos} left`);
    await readFully(fh, b, pos, file, what);
    pos += len;
    return b;
  };
  for (const name of names) {
    const where = `tensor ${params.size + 1} of ${names.length} (${JSON.stringify(name)})`;
    let h = await at(12, 'a record header');
    const version = h.readUInt32LE(0);
    if (version !== 0) throw invalidModel(file, `${where} at byte ${pos - 12} has version ${version} (0 expected): not a .pdiparams file or not this program's`);
    const lodLevel = h.readBigUInt64LE(4);
    if (lodLevel > BigInt(PADDLE_LIMITS.maxLodLevel)) throw invalidModel(file, `${where} has ${lodLevel} LoD levels (at most ${PADDLE_LIMITS.maxLodLevel})`);
    for (let l = 0; l < Number(lodLevel); l++) {
      h = await at(8, 'a LoD level size');
      const n = h.readBigUInt64LE(0);
      if (n > BigInt(size - pos)) throw invalidModel(file, `truncated: ${where}'s LoD level ${l} has ${n} bytes, the file has ${size - pos} left`);
      pos += Number(n);
    }
    h = await at(8, 'a tensor header');
    const tensorVersion = h.readUInt32LE(0);
    if (tensorVersion !== 0) throw invalidModel(file, `${where} has tensor version ${tensorVersion} (0 expected)`);
    const descSize = h.readInt32LE(4);
    if (descSize < 0 || descSize > PADDLE_LIMITS.maxTensorDescBytes) throw invalidModel(file, `${where} has a ${descSize}-byte tensor description (0..${PADDLE_LIMITS.maxTensorDescBytes} expected)`);
    const descBytes = Buffer.from(await at(descSize, 'a tensor description'));
    let desc: TensorDescMsg;
    try {
      desc = paddleType('VarType.TensorDesc').decode(descBytes) as unknown as TensorDescMsg;
    } catch (e) {
      throw invalidModel(file, `${where} has an unreadable tensor description (${(e as Error).message})`, e);
    }
    if (!hasField(desc, 'data_type')) throw invalidModel(file, `${where} has no element type`);
    const dtype = dtypeOfVarType(desc.data_type);
    if (dtype === undefined) throw invalidModel(file, `${where} has unknown element type ${desc.data_type}`);
    const dims = readDims(desc.dims ?? [], file, where);
    if (dims.some((d) => d < 0)) throw invalidModel(file, `${where} has an unknown dimension (shape [${dims.join(', ')}])`);
    const v = vars.get(name);
    if (v === undefined) throw invalidModel(file, `${where} is not a variable of the program`);
    if (v.dtype !== dtype) throw invalidModel(file, `${where} is ${dtype}, the program declares ${v.dtype ?? 'no element type'}`);
    const sameShape = v.shape.length === dims.length && v.shape.every((d, i) => d === -1 || d === dims[i]);
    if (!sameShape) throw invalidModel(file, `${where} has shape [${dims.join(', ')}], the program declares [${v.shape.join(', ')}]`);
    const byteLength = dims.reduce((a, d) => a * d, 1) * DTYPE_BYTES[dtype];
    if (byteLength > size - pos) throw invalidModel(file, `truncated: ${where} needs ${byteLength} bytes of data, the file has ${size - pos} left`);
    params.set(name, { name, dtype, dims, offset: pos, byteLength });
    pos += byteLength;
  }
  if (pos !== size) {
    throw invalidModel(file, `${size - pos} bytes after the last of the ${names.length} tensors the program names: these weights belong to another program`);
  }
  return params;
}

// Writes a converted graph as an ONNX ModelProto file, with memory bounded by
// the largest single weight rather than the model: protobufjs encodes
// everything except the weights (nodes, inputs, outputs, small constants), and
// each weight's TensorProto is appended by hand as a length-delimited
// `initializer` field of the GraphProto, its bytes read from the ParamTable one
// tensor at a time. Protobuf allows a message's fields in any order and
// repeated fields spread out, so appending initializers after the encoded graph
// yields the same message; the lengths are computed from the ParamInfo headers
// before any byte is written (the graph is a nested message: its length comes
// first). The file is written to a temporary name beside the target and renamed
// into place, so a failed conversion leaves no partial model.
//
// A weight is copied from the `.pdiparams` file (ParamTable.file at
// ParamInfo.offset) through one reused 1 MiB buffer rather than with
// ParamTable.read(), whose fresh Buffer per tensor V8 frees only at its next
// collection: measured on a 128 MiB model of 8 MiB tensors, read() grew the
// peak RSS by 52 MiB, the copy by a few. Tables not backed by a file use read().
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../../../errors';
import { ONNX_ATTR, onnxType } from '../../../onnx/onnx-proto';
import type { ParamTable } from '../program';
import { DTYPE_BYTES } from '../dtypes';
import { ConstValue, GraphBuilder, GraphIO, ONNX_ELEM, ONNX_IR_VERSION, ONNX_OPSET, OnnxAttr, numel } from './graph';

/** Bytes copied per read when streaming a weight from the `.pdiparams` file. */
const COPY_CHUNK = 1024 * 1024;

/** protobuf field numbers used by the hand-written part (onnx.proto). */
const MODEL_GRAPH_FIELD = 7;
const GRAPH_INITIALIZER_FIELD = 5;
const TENSOR_RAW_DATA_FIELD = 9;
const WIRE_LEN = 2;
/** protobuf's message size limit, which ONNX Runtime applies to a single-file model. */
const ONNX_MAX_FILE_BYTES = 2 ** 31 - 1;

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

function tag(field: number): Buffer {
  return varint(field * 8 + WIRE_LEN);
}

/** Raw little-endian bytes of a constant. */
export function constBytes(c: ConstValue): Buffer {
  const n = c.values.length;
  const buf = Buffer.alloc(n * DTYPE_BYTES[c.dtype]);
  for (let i = 0; i < n; i++) {
    const v = c.values[i];
    switch (c.dtype) {
      case 'float32': buf.writeFloatLE(v, i * 4); break;
      case 'float64': buf.writeDoubleLE(v, i * 8); break;
      case 'int64': buf.writeBigInt64LE(BigInt(Math.trunc(v)), i * 8); break;
      case 'int32': buf.writeInt32LE(Math.trunc(v), i * 4); break;
      case 'int16': buf.writeInt16LE(Math.trunc(v), i * 2); break;
      case 'int8': buf.writeInt8(Math.trunc(v), i); break;
      case 'uint8': buf.writeUInt8(Math.trunc(v), i); break;
      case 'bool': buf.writeUInt8(v ? 1 : 0, i); break;
      default: throw new ShituError('ERR_MODEL_UNSUPPORTED', `constant of type ${c.dtype} cannot be written`);
    }
  }
  return buf;
}

function attrProto(name: string, a: OnnxAttr): Record<string, unknown> {
  switch (a.kind) {
    case 'int': return { name, type: ONNX_ATTR.INT, i: a.v };
    case 'float': return { name, type: ONNX_ATTR.FLOAT, f: a.v };
    case 'string': return { name, type: ONNX_ATTR.STRING, s: Buffer.from(a.v, 'utf8') };
    case 'ints': return { name, type: ONNX_ATTR.INTS, ints: a.v };
    case 'floats': return { name, type: ONNX_ATTR.FLOATS, floats: a.v };
  }
}

function valueInfo(io: GraphIO): Record<string, unknown> {
  return {
    name: io.name,
    type: {
      tensorType: {
        elemType: ONNX_ELEM[io.dtype],
        ...(io.dims ? { shape: { dim: io.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}),
      },
    },
  };
}

/** Everything of the model but the weights, as protobufjs encodes it. */
function encodeParts(b: GraphBuilder, producer: string): { head: Buffer; graph: Buffer } {
  const graph = {
    name: 'paddle',
    node: b.nodes.map((n) => ({
      input: n.inputs,
      output: n.outputs,
      name: n.name,
      opType: n.opType,
      attribute: Object.entries(n.attrs).map(([k, v]) => attrProto(k, v)),
    })),
    initializer: [...b.constInits].map(([name, c]) => ({
      name, dims: c.dims, dataType: ONNX_ELEM[c.dtype], rawData: constBytes(c),
    })),
    input: b.inputs.map(valueInfo),
    output: b.outputs.map(valueInfo),
  };
  const GraphProto = onnxType('GraphProto');
  const ModelProto = onnxType('ModelProto');
  const graphBytes = Buffer.from(GraphProto.encode(GraphProto.fromObject(graph)).finish());
  const head = Buffer.from(ModelProto.encode(ModelProto.fromObject({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: producer,
  })).finish());
  return { head, graph: graphBytes };
}

/** The weights file opened for reading, when the table is backed by a regular file. */
async function openSource(file: string): Promise<fs.promises.FileHandle | undefined> {
  try {
    const st = await fs.promises.stat(file);
    return st.isFile() ? await fs.promises.open(file, 'r') : undefined;
  } catch {
    return undefined;
  }
}

export interface WriteResult {
  bytes: number;
  nodes: number;
  weights: number;
}

/** Writes the model to `file` (via a temporary file in the same folder, renamed at the end). */
export async function writeOnnx(b: GraphBuilder, params: ParamTable, file: string, producer = 'shitu-node paddle converter'): Promise<WriteResult> {
  const TensorProto = onnxType('TensorProto');
  const { head, graph } = encodeParts(b, producer);
  // Each weight: [tag 5][len][TensorProto header][tag 9][len][raw bytes]; lengths from the headers.
  const inits = [...b.paramInits.values()].map((p) => {
    const expect = numel(p.dims) * DTYPE_BYTES[p.dtype];
    if (expect !== p.byteLength) {
      throw new ShituError('ERR_MODEL_INVALID', `weight ${p.paramName}: ${p.byteLength} bytes for ${p.dtype} [${p.dims.join(',')}] (${expect} expected)`);
    }
    const header = Buffer.from(TensorProto.encode(TensorProto.fromObject({ name: p.onnxName, dims: p.dims, dataType: ONNX_ELEM[p.dtype] })).finish());
    const rawPrefix = Buffer.concat([tag(TENSOR_RAW_DATA_FIELD), varint(p.byteLength)]);
    const tensorLen = header.length + rawPrefix.length + p.byteLength;
    const prefix = Buffer.concat([tag(GRAPH_INITIALIZER_FIELD), varint(tensorLen), header, rawPrefix]);
    return { p, prefix, total: prefix.length + p.byteLength };
  });
  const graphLen = graph.length + inits.reduce((a, x) => a + x.total, 0);
  if (graphLen + head.length + 16 > ONNX_MAX_FILE_BYTES) {
    throw new ShituError('ERR_MODEL_UNSUPPORTED', `the converted model would be ${graphLen + head.length} bytes: ONNX Runtime cannot load a single-file model of 2 GiB or more (protobuf's limit)`);
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fh: fs.promises.FileHandle | undefined;
  let src: fs.promises.FileHandle | undefined;
  let written = 0;
  try {
    fh = await fs.promises.open(tmp, 'wx');
    const out = fh;
    const put = async (buf: Buffer, n = buf.length) => {
      await out.write(buf, 0, n);
      written += n;
    };
    await put(Buffer.concat([head, tag(MODEL_GRAPH_FIELD), varint(graphLen), graph]));
    src = inits.length > 0 ? await openSource(params.file) : undefined;
    const chunk = src ? Buffer.allocUnsafe(COPY_CHUNK) : undefined;
    for (const x of inits) {
      await put(x.prefix);
      const info = params.params.get(x.p.paramName);
      if (src && chunk && info) {
        for (let done = 0; done < info.byteLength;) {
          const want = Math.min(chunk.length, info.byteLength - done);
          const { bytesRead } = await src.read(chunk, 0, want, info.offset + done);
          if (bytesRead === 0) throw new ShituError('ERR_MODEL_INVALID', `${params.file}: truncated: weight ${x.p.paramName} ends past the end of the file`);
          await put(chunk, bytesRead);
          done += bytesRead;
        }
        continue;
      }
      const data = await params.read(x.p.paramName);
      if (data.length !== x.p.byteLength) {
        throw new ShituError('ERR_MODEL_INVALID', `weight ${x.p.paramName}: read ${data.length} bytes, ${x.p.byteLength} expected`);
      }
      await put(data);
    }
    await src?.close();
    src = undefined;
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await src?.close().catch(() => undefined);
    await fh?.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    if (e instanceof ShituError) throw e;
    throw new ShituError('ERR_MODEL_LOAD', `writing ${file}: ${(e as Error).message}`, { cause: e });
  }
  return { bytes: written, nodes: b.nodes.length, weights: inits.length };
}

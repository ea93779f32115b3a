// The one in-memory shape of a Paddle inference program, whatever file it came
// from: the legacy ProgramDesc protobuf (`inference.pdmodel`, `model.pdmodel`)
// and the PIR JSON program (`inference.json`) are both read into it
// (read-program.ts), and the ONNX converter (convert/) reads only this.
//
// PIR programs are normalised to the legacy vocabulary by the reader: op types
// (`pd_op.conv2d` -> `conv2d`, `pd_op.add` -> `elementwise_add`, ...), slot
// names (`Input`, `Filter`, `X`, `Y`, `Out`, ...) and attribute names, so that
// each op family has one converter.
//
// Weights are not in here: a ParamTable indexes the `.pdiparams` stream (one
// header read per tensor, the data left on disk) and reads one tensor at a time.

/** Paddle's VarType element types the converter knows (framework.proto VarType.Type). */
export type PaddleDType =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64';

/** One attribute value: scalars, lists, or a sub-block index (while, conditional_block). */
export type PaddleAttr =
  | number
  | bigint
  | string
  | boolean
  | number[]
  | string[]
  | boolean[]
  | { block: number }
  | { blocks: number[] };

export interface PaddleVar {
  name: string;
  /** 'tensor' for LoDTensor / DenseTensor; other kinds (tensor arrays, feed/fetch lists, ...) by Paddle's name in lower case. */
  kind: string;
  /** Element type; undefined for kinds without one (feed_minibatch, fetch_list, ...). */
  dtype?: PaddleDType;
  /** -1 for a dimension unknown until run time. */
  shape: number[];
  persistable: boolean;
}

export interface PaddleOp {
  /** Legacy op type, e.g. 'conv2d', 'elementwise_add', 'multiclass_nms3'. */
  type: string;
  /** Slot name -> variable names, in Paddle's order (e.g. { Input: ['x'], Filter: ['conv1_weights'] }). */
  inputs: Record<string, string[]>;
  outputs: Record<string, string[]>;
  attrs: Record<string, PaddleAttr>;
}

export interface PaddleBlock {
  idx: number;
  /** -1 for the global block. */
  parentIdx: number;
  vars: Map<string, PaddleVar>;
  ops: PaddleOp[];
}

export interface PaddleFeed {
  name: string;
  dtype: PaddleDType;
  shape: number[];
}

export interface PaddleProgram {
  format: 'legacy' | 'pir';
  /** blocks[0] is the global block. */
  blocks: PaddleBlock[];
  /** The program's inputs in feed order (the `feed` ops' `col`). */
  feeds: PaddleFeed[];
  /** The program's outputs in fetch order (the `fetch` ops' `col`). */
  fetches: string[];
  /** Names of the weights the `.pdiparams` file holds, in its order (persistable vars sorted by name). */
  paramNames: string[];
}

/** Where one tensor of a `.pdiparams` file is, found without reading its data. */
export interface ParamInfo {
  name: string;
  dtype: PaddleDType;
  dims: number[];
  /** Byte offset of the raw little-endian data in the file. */
  offset: number;
  byteLength: number;
}

/** An index over a `.pdiparams` file; read() loads one tensor's bytes at a time. */
export interface ParamTable {
  readonly file: string;
  readonly params: ReadonlyMap<string, ParamInfo>;
  /** The tensor's raw little-endian bytes (a fresh Buffer of byteLength bytes). */
  read(name: string): Promise<Buffer>;
  close(): Promise<void>;
}

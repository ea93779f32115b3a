// Paddle's ProgramDesc protobuf (paddle/fluid/framework/framework.proto, the
// subset an inference `.pdmodel` and a `.pdiparams` tensor header use), read
// with protobufjs from the schema text below.
//
// Why a schema text and not a generated module: as for ONNX (lib/onnx/onnx-proto.ts),
// protobufjs parses it once at first use, the field numbers can be checked
// against framework.proto by eye, and no code generator joins the build.
// Field numbers are Paddle's (2.x, with the float64/scalar attributes of 2.4+);
// OpVersionMap / OpCompatibleMap (fields 3 and 5 of ProgramDesc) are left out:
// protobufjs skips unknown fields, and the reader does not need them.
import * as protobuf from 'protobufjs';

const FRAMEWORK_PROTO = `
syntax = "proto2";
package paddle.framework.proto;
message Version { optional int64 version = 1 [default = 0]; }
enum AttrType {
  INT = 0; FLOAT = 1; STRING = 2; INTS = 3; FLOATS = 4; STRINGS = 5; BOOLEAN = 6; BOOLEANS = 7;
  BLOCK = 8; LONG = 9; BLOCKS = 10; LONGS = 11; FLOAT64S = 12; VAR = 13; VARS = 14; FLOAT64 = 15;
  SCALAR = 16; SCALARS = 17;
}
message Complex { optional double r = 1; optional double i = 2; }
message Scalar {
  enum Type { BOOLEAN = 1; LONG = 2; FLOAT64 = 3; COMPLEX128 = 4; }
  optional int32 type = 1;
  optional bool b = 2;
  optional int64 i = 3;
  optional double r = 4;
  optional Complex c = 5;
}
message OpDesc {
  message Attr {
    optional string name = 1;
    optional int32 type = 2;
    optional int32 i = 3;
    optional float f = 4;
    optional string s = 5;
    repeated int32 ints = 6;
    repeated float floats = 7;
    repeated string strings = 8;
    optional bool b = 10;
    repeated bool bools = 11;
    optional int32 block_idx = 12;
    optional int64 l = 13;
    repeated int32 blocks_idx = 14;
    repeated int64 longs = 15;
    repeated double float64s = 16;
    optional string var_name = 17;
    repeated string vars_name = 18;
    optional double float64 = 19;
    optional Scalar scalar = 20;
    repeated Scalar scalars = 21;
  }
  message Var {
    optional string parameter = 1;
    repeated string arguments = 2;
  }
  optional string type = 3;
  repeated Var inputs = 1;
  repeated Var outputs = 2;
  repeated Attr attrs = 4;
  optional bool is_target = 5 [default = false];
}
message VarType {
  enum Type {
    BOOL = 0; INT16 = 1; INT32 = 2; INT64 = 3; FP16 = 4; FP32 = 5; FP64 = 6;
    LOD_TENSOR = 7; SELECTED_ROWS = 8; FEED_MINIBATCH = 9; FETCH_LIST = 10; STEP_SCOPES = 11;
    LOD_RANK_TABLE = 12; LOD_TENSOR_ARRAY = 13; PLACE_LIST = 14; READER = 15; RAW = 17; TUPLE = 18;
    SIZE_T = 19; UINT8 = 20; INT8 = 21; BF16 = 22; COMPLEX64 = 23; COMPLEX128 = 24;
    STRING = 25; STRINGS = 26; VOCAB = 27; FEED_LIST = 28; PSTRING = 29; SPARSE_COO = 30; SPARSE_CSR = 31;
  }
  optional int32 type = 1;
  message TensorDesc {
    optional int32 data_type = 1;
    repeated int64 dims = 2;
  }
  optional TensorDesc selected_rows = 2;
  message LoDTensorDesc {
    optional TensorDesc tensor = 1;
    optional int32 lod_level = 2 [default = 0];
  }
  optional LoDTensorDesc lod_tensor = 3;
  message LoDTensorArrayDesc {
    optional TensorDesc tensor = 1;
    optional int32 lod_level = 2 [default = 0];
  }
  optional LoDTensorArrayDesc tensor_array = 4;
}
message VarDesc {
  optional string name = 1;
  optional VarType type = 2;
  optional bool persistable = 3 [default = false];
  optional bool need_check_feed = 4 [default = false];
  optional bool is_parameter = 5 [default = false];
  optional bool stop_gradient = 6 [default = false];
}
message BlockDesc {
  optional int32 idx = 1;
  optional int32 parent_idx = 2;
  repeated VarDesc vars = 3;
  repeated OpDesc ops = 4;
  optional int32 forward_block_idx = 5 [default = -1];
}
message ProgramDesc {
  repeated BlockDesc blocks = 1;
  optional Version version = 4;
}
`;
// Paddle marks most fields 'required'; they are 'optional' here so that a
// missing one is reported by the reader with the file and the field named,
// instead of protobufjs's generic "missing required" error. The enum-typed
// fields (VarType.type, TensorDesc.data_type, Attr.type, Scalar.type) are
// declared int32 (the same varint on the wire) because protobufjs drops an
// enum value it does not know, which would read as the enum's first value
// (BOOL, INT) instead of being refused; the AttrType / VarType.Type enums stay
// in the schema as the reference, with their numbers in ATTR_TYPE / VAR_TYPE.

let root: protobuf.Root | undefined;

/** Whether a decoded message carries the field (protobufjs puts defaults on the prototype). */
export function hasField(msg: object, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(msg, field);
}

function frameworkRoot(): protobuf.Root {
  root ??= protobuf.parse(FRAMEWORK_PROTO, { keepCase: true }).root;
  return root;
}

/** One message type of the schema (field names as in framework.proto: `block_idx`, `data_type`, ...). */
export function paddleType(name: 'ProgramDesc' | 'BlockDesc' | 'OpDesc' | 'VarDesc' | 'VarType' | 'VarType.TensorDesc'): protobuf.Type {
  return frameworkRoot().lookupType(`paddle.framework.proto.${name}`);
}

/** framework.proto VarType.Type numbers (element types and variable kinds share the enum). */
export const VAR_TYPE = {
  BOOL: 0, INT16: 1, INT32: 2, INT64: 3, FP16: 4, FP32: 5, FP64: 6,
  LOD_TENSOR: 7, SELECTED_ROWS: 8, FEED_MINIBATCH: 9, FETCH_LIST: 10, STEP_SCOPES: 11,
  LOD_RANK_TABLE: 12, LOD_TENSOR_ARRAY: 13, PLACE_LIST: 14, READER: 15, RAW: 17, TUPLE: 18,
  SIZE_T: 19, UINT8: 20, INT8: 21, BF16: 22, COMPLEX64: 23, COMPLEX128: 24,
  STRING: 25, STRINGS: 26, VOCAB: 27, FEED_LIST: 28, PSTRING: 29, SPARSE_COO: 30, SPARSE_CSR: 31,
} as const;

/** framework.proto AttrType numbers. */
export const ATTR_TYPE = {
  INT: 0, FLOAT: 1, STRING: 2, INTS: 3, FLOATS: 4, STRINGS: 5, BOOLEAN: 6, BOOLEANS: 7,
  BLOCK: 8, LONG: 9, BLOCKS: 10, LONGS: 11, FLOAT64S: 12, VAR: 13, VARS: 14, FLOAT64: 15,
  SCALAR: 16, SCALARS: 17,
} as const;

/** Scalar.Type numbers. */
export const SCALAR_TYPE = { BOOLEAN: 1, LONG: 2, FLOAT64: 3, COMPLEX128: 4 } as const;

// The decoded messages' shapes, as protobufjs builds them with keepCase (int64
// fields arrive as Long objects, or numbers when small enough to be sent as such).
// The Long type is described by what the readers use of it, not imported: `long`
// is protobufjs's dependency, not this package's.
export type Int64 = number | { toNumber(): number; toString(): string };

export interface ScalarMsg { type?: number; b?: boolean; i?: Int64; r?: number; c?: { r?: number; i?: number } }
export interface AttrMsg {
  name?: string; type?: number; i?: number; f?: number; s?: string; ints?: number[]; floats?: number[];
  strings?: string[]; b?: boolean; bools?: boolean[]; block_idx?: number; l?: Int64; blocks_idx?: number[];
  longs?: Int64[]; float64s?: number[]; var_name?: string; vars_name?: string[]; float64?: number;
  scalar?: ScalarMsg; scalars?: ScalarMsg[];
}
export interface OpVarMsg { parameter?: string; arguments?: string[] }
export interface OpDescMsg { type?: string; inputs?: OpVarMsg[]; outputs?: OpVarMsg[]; attrs?: AttrMsg[] }
export interface TensorDescMsg { data_type?: number; dims?: Int64[] }
export interface VarTypeMsg {
  type?: number; selected_rows?: TensorDescMsg; lod_tensor?: { tensor?: TensorDescMsg; lod_level?: number };
  tensor_array?: { tensor?: TensorDescMsg; lod_level?: number };
}
export interface VarDescMsg { name?: string; type?: VarTypeMsg; persistable?: boolean }
export interface BlockDescMsg { idx?: number; parent_idx?: number; vars?: VarDescMsg[]; ops?: OpDescMsg[] }
export interface ProgramDescMsg { blocks?: BlockDescMsg[]; version?: { version?: Int64 } }

// Paddle's element types in the three spellings the readers meet: the
// framework.proto VarType.Type number (`.pdmodel`, `.pdiparams` headers, and
// the legacy `dtype` attributes), the PIR JSON type tag (`0.t_f32`) and the
// PIR attribute string (`float32`), each mapped to the one PaddleDType name.
import type { PaddleDType } from './program';
import { VAR_TYPE } from './framework-proto';

const BY_VAR_TYPE: ReadonlyMap<number, PaddleDType> = new Map<number, PaddleDType>([
  [VAR_TYPE.BOOL, 'bool'], [VAR_TYPE.INT16, 'int16'], [VAR_TYPE.INT32, 'int32'], [VAR_TYPE.INT64, 'int64'],
  [VAR_TYPE.FP16, 'float16'], [VAR_TYPE.FP32, 'float32'], [VAR_TYPE.FP64, 'float64'],
  [VAR_TYPE.UINT8, 'uint8'], [VAR_TYPE.INT8, 'int8'], [VAR_TYPE.BF16, 'bfloat16'],
]);

const VAR_TYPE_OF: Readonly<Record<PaddleDType, number>> = {
  bool: VAR_TYPE.BOOL, int16: VAR_TYPE.INT16, int32: VAR_TYPE.INT32, int64: VAR_TYPE.INT64,
  float16: VAR_TYPE.FP16, float32: VAR_TYPE.FP32, float64: VAR_TYPE.FP64,
  uint8: VAR_TYPE.UINT8, int8: VAR_TYPE.INT8, bfloat16: VAR_TYPE.BF16,
};

/** Bytes per element. */
export const DTYPE_BYTES: Readonly<Record<PaddleDType, number>> = {
  bool: 1, int8: 1, uint8: 1, int16: 2, int32: 4, int64: 8, float16: 2, bfloat16: 2, float32: 4, float64: 8,
};

/** The PaddleDType of a VarType.Type number, or undefined for kinds that are not element types. */
export function dtypeOfVarType(t: number | undefined): PaddleDType | undefined {
  return t === undefined ? undefined : BY_VAR_TYPE.get(t);
}

/** The VarType.Type number of a PaddleDType (what legacy `dtype` attributes hold). */
export function varTypeOfDtype(d: PaddleDType): number {
  return VAR_TYPE_OF[d];
}

// PIR: type tags of `0.t_dtensor` element types and the `1.a_dtype` attribute strings.
const BY_PIR_TAG: ReadonlyMap<string, PaddleDType> = new Map<string, PaddleDType>([
  ['0.t_bool', 'bool'], ['0.t_i8', 'int8'], ['0.t_ui8', 'uint8'], ['0.t_i16', 'int16'], ['0.t_i32', 'int32'],
  ['0.t_i64', 'int64'], ['0.t_f16', 'float16'], ['0.t_bf16', 'bfloat16'], ['0.t_f32', 'float32'], ['0.t_f64', 'float64'],
]);
const DTYPE_NAMES: ReadonlySet<string> = new Set(Object.keys(DTYPE_BYTES));

/** The PaddleDType of a PIR element type tag (`0.t_f32`). */
export function dtypeOfPirTag(tag: string): PaddleDType | undefined {
  return BY_PIR_TAG.get(tag);
}

/** The PaddleDType of a PIR `a_dtype` attribute string (`float32`, `int64`, ...). */
export function dtypeOfName(name: string): PaddleDType | undefined {
  return DTYPE_NAMES.has(name) ? (name as PaddleDType) : undefined;
}

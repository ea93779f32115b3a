// Where a feature model's INT8 copy lives, and finding it. `shitu models
// quantize <model_dir>` writes it beside the FP32 directory, as `<model_dir>-int8`
// (the same file names, so its card finds the model as in the FP32 one); a
// named model of the model home has it at `$SHITU_MODEL_HOME/<name>-int8`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../errors';
import { modelHome, ModelRef, resolveModel, ResolvedModel } from './resolve';

/** The suffix of an INT8 copy's directory (quantizeFeatureModel's default output). */
export const INT8_DIR_SUFFIX = '-int8';

/** The FP32 model's directory as resolveModel finds it, and the .onnx file named in model_dir if any. */
function fp32Location(ref: ModelRef): { dir: string; file?: string } {
  const dir = ref.modelDir ? path.resolve(ref.modelDir) : path.join(modelHome(), ref.modelName);
  return dir.endsWith('.onnx') ? { dir: path.dirname(dir), file: path.basename(dir) } : { dir };
}

/** The INT8 copy's directory for a feature model reference (exists or not). */
export function int8DirOf(ref: ModelRef): string {
  return fp32Location(ref).dir + INT8_DIR_SUFFIX;
}

/**
 * The INT8 copy of a feature model. `required`: a missing copy is
 * ERR_MODEL_NOT_FOUND naming the directory and the command that makes it;
 * otherwise a missing copy gives undefined (the caller keeps FP32).
 */
export function resolveQuantized(ref: ModelRef, required: true): ResolvedModel;
export function resolveQuantized(ref: ModelRef, required: boolean): ResolvedModel | undefined;
export function resolveQuantized(ref: ModelRef, required: boolean): ResolvedModel | undefined {
  const { dir, file } = fp32Location(ref);
  const int8 = dir + INT8_DIR_SUFFIX;
  if (!fs.existsSync(int8) || !fs.statSync(int8).isDirectory()) {
    if (!required) return undefined;
    throw new ShituError(
      'ERR_MODEL_NOT_FOUND',
      `the INT8 copy of feature model '${ref.modelName}' is not there: ${int8} does not exist; make it with: shitu models quantize ${dir} --calibrate <gallery_dir>`,
      { details: { modelName: ref.modelName, dir: int8 } },
    );
  }
  return resolveModel({ ...ref, modelDir: file ? path.join(int8, file) : int8 });
}

/**
 * The feature model a pipeline loads. `quantized: true`: the INT8 copy, which
 * must exist; `false`: FP32. Not given: `useHpip` on CPU (PaddleX's
 * high-performance flag, TensorRT on GPU) takes the INT8 copy when there is one
 * and FP32 otherwise, as PaddleX's CPU backends do when no faster one applies.
 */
export function featureModelFor(ref: ModelRef, o: { quantized?: boolean; useHpip?: boolean; device: string }): { model: ResolvedModel; quantized: boolean } {
  const want = o.quantized ?? (o.useHpip && o.device === 'cpu' ? undefined : false);
  if (want === false) return { model: resolveModel(ref), quantized: false };
  const int8 = resolveQuantized(ref, want === true);
  return int8 ? { model: int8, quantized: true } : { model: resolveModel(ref), quantized: false };
}

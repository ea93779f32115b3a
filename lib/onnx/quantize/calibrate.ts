// Activation ranges for static quantization, measured by running the FP32 model
// on calibration images through the addon's own feature extractor (so the
// images get exactly the pre-processing the pipeline gives them): the model is
// extended with one extra output holding, per image, the minimum and maximum
// of every tensor to quantize ([N, 2 x tensors]), read with normalize off.
import { ONNX_DTYPE } from '../onnx-proto';
import { callNative, callNativeSync, ShituError } from '../../errors';
import type { NativeSessionOptions, NativePreprocessSpec } from '../../native/binding';
import { native } from '../../native/loader';
import { decodeModel, defaultOpset, encodeModel, int64Tensor, makeNode, OnnxAttribute } from '../graph-pass/model';
import { ONNX_ATTR } from '../onnx-proto';

export interface Range {
  min: number;
  max: number;
  /** Bounds the quantized range must stay inside (an activation removed in its favour: qdq.ts). */
  within?: [number, number];
}

const OUTPUT = '__shitu_calibration';
/** Crops per Run: the extractor's batches. */
const BATCH = 8;

const intsAttr = (name: string, ints: number[]): OnnxAttribute => ({ name, type: ONNX_ATTR.INTS, ints, floats: [], graphs: [] });
const intAttr = (name: string, i: number): OnnxAttribute => ({ name, type: ONNX_ATTR.INT, i, floats: [], ints: [], graphs: [] });

/** The model with OUTPUT added: [min(t0), max(t0), min(t1), ...] per image. */
export function calibrationModel(bytes: Uint8Array, tensors: string[]): Buffer {
  const m = decodeModel(bytes);
  const g = m.graph;
  if (!g) throw new ShituError('ERR_MODEL_LOAD', 'not a valid ONNX model (no graph)');
  // ReduceMin/Max take their axes as an input from opset 18.
  const axesAsInput = defaultOpset(m) >= 18;
  if (axesAsInput) g.initializer.push(int64Tensor('__shitu_axis1', [1]));
  const parts: string[] = [];
  tensors.forEach((t, k) => {
    const flat = `__shitu_flat_${k}`;
    g.node.push(makeNode('Flatten', [t], [flat], flat, [intAttr('axis', 1)]));
    for (const op of ['ReduceMin', 'ReduceMax']) {
      const out = `__shitu_${op}_${k}`;
      g.node.push(axesAsInput
        ? makeNode(op, [flat, '__shitu_axis1'], [out], out, [intAttr('keepdims', 1)])
        : makeNode(op, [flat], [out], out, [intsAttr('axes', [1]), intAttr('keepdims', 1)]));
      parts.push(out);
    }
  });
  g.node.push(makeNode('Concat', parts, [OUTPUT], OUTPUT, [intAttr('axis', 1)]));
  g.output.push({ name: OUTPUT, type: { tensorType: { elemType: ONNX_DTYPE.FLOAT } } });
  return encodeModel(m);
}

export interface CalibrationInput {
  modelFile: string;
  bytes: Uint8Array;
  tensors: string[];
  preprocess: NativePreprocessSpec;
  inputName?: string;
  images: string[];
  session: NativeSessionOptions;
  onProgress?: (p: { done: number; total: number }) => void;
}

/** Ranges over every image that decodes; ERR_GALLERY when none does. */
export async function calibrate(c: CalibrationInput): Promise<{ ranges: Map<string, Range>; used: number }> {
  const model = await callNative(() => native.loadModel(c.modelFile, { ...c.session, stripInitializerInputs: false }, Buffer.from(calibrationModel(c.bytes, c.tensors))));
  const ex = callNativeSync(() => native.createFeatureExtractor(model, { preprocess: c.preprocess, inputName: c.inputName, outputName: OUTPUT, maxBatch: BATCH, normalize: false }));
  const min = new Float64Array(c.tensors.length).fill(Infinity);
  const max = new Float64Array(c.tensors.length).fill(-Infinity);
  let used = 0;
  for (let i = 0; i < c.images.length; i += BATCH) {
    const batch = c.images.slice(i, i + BATCH);
    const r = await callNative(() => ex.embed(batch, { collectErrors: true }));
    const failed = new Set(r.errors.map((e) => e.index));
    for (let b = 0; b < r.count; b++) {
      if (failed.has(b)) continue;
      used++;
      for (let k = 0; k < c.tensors.length; k++) {
        min[k] = Math.min(min[k], r.features[b * r.dim + 2 * k]);
        max[k] = Math.max(max[k], r.features[b * r.dim + 2 * k + 1]);
      }
    }
    c.onProgress?.({ done: Math.min(i + BATCH, c.images.length), total: c.images.length });
  }
  if (!used) throw new ShituError('ERR_GALLERY', `none of the ${c.images.length} calibration images could be read`);
  return { ranges: new Map(c.tensors.map((t, k) => [t, { min: min[k], max: max[k] }])), used };
}

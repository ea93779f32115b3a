// `shitu models quantize`: a static INT8 (QDQ) copy of an FP32 feature model,
// calibrated on a gallery's images and written only when it retrieves like the
// FP32 model on that gallery (thresholds: QUANTIZE in lib/limits.ts).
//   1. the graph pass (lib/onnx/graph-pass/) on the FP32 model;
//   2. plan.ts picks the tensors and convolutions to quantize;
//   3. calibrate.ts measures their ranges on the gallery images;
//   4. qdq.ts writes the QDQ model;
//   5. check.ts compares FP32 and INT8 embeddings on the same images.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { callNative, ShituError } from '../../errors';
import { QUANTIZE } from '../../limits';
import { resolveModel } from '../../models/resolve';
import { native } from '../../native/loader';
import { decodeModel, encodeModel } from '../graph-pass/model';
import { optimizeModel } from '../graph-pass';
import { calibrate } from './calibrate';
import { AgreementFigures, compareModels } from './check';
import { planQuantization } from './plan';
import { writeQdq } from './qdq';

export type { AgreementFigures } from './check';

export interface QuantizeOptions {
  /** The FP32 feature model's directory (or .onnx file in it), with its card. */
  modelDir: string;
  /** Calibration and check images: every picture under it; an image's label is its folder (relative to galleryDir), or its name at the top level. */
  galleryDir: string;
  /** Where the INT8 model directory goes (default: `<modelDir>-int8`); must not exist yet or be empty. */
  outDir?: string;
  /** ONNX Runtime intra-op threads (default 1). */
  threads?: number;
  minTop1Agreement?: number;
  minMeanCosine?: number;
  onProgress?: (stage: 'calibrate' | 'check', p: { done: number; total: number }) => void;
}

export interface QuantizeReport extends AgreementFigures {
  outDir: string;
  modelFile: string;
  quantizedTensors: number;
  quantizedConvs: number;
  calibrationImages: number;
}

const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

/** Pictures under `dir` in path order, with their labels. */
export function galleryPictures(dir: string, max: number = QUANTIZE.maxImages): { images: string[]; labels: string[] } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ShituError('ERR_GALLERY', `calibration gallery not found: ${dir}`);
  const images: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (images.length >= max) return;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && IMAGE_EXT.test(e.name)) images.push(p);
    }
  };
  walk(dir);
  if (images.length < 2) throw new ShituError('ERR_GALLERY', `calibration gallery ${dir} holds ${images.length} picture(s); at least 2 are needed`);
  const labels = images.map((p) => {
    const rel = path.relative(dir, path.dirname(p));
    return rel || path.basename(p, path.extname(p));
  });
  return { images, labels };
}

export async function quantizeFeatureModel(o: QuantizeOptions): Promise<QuantizeReport> {
  const model = resolveModel({ modelName: path.basename(o.modelDir.replace(/\.onnx$/, '')), modelDir: o.modelDir, task: 'feature' });
  if (model.card.task !== 'feature') throw new ShituError('ERR_MODEL_CONTRACT', `model '${model.name}' is a ${model.card.task} model; only feature models are quantized`);
  const outDir = path.resolve(o.outDir ?? `${model.dir}-int8`);
  if (outDir === model.dir) throw new ShituError('ERR_INPUT', 'the output directory must differ from the model directory');
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length) throw new ShituError('ERR_INPUT', `output directory ${outDir} exists and is not empty`);
  const minTop1 = o.minTop1Agreement ?? QUANTIZE.minTop1Agreement;
  const minCos = o.minMeanCosine ?? QUANTIZE.minMeanCosine;
  const { images, labels } = galleryPictures(o.galleryDir);
  const session = { intraOpThreads: o.threads ?? 1, graphOptimization: 'all' };
  const f = model.card.feature ?? {};
  const spec = { preprocess: { ...model.card.preprocess }, inputName: f.input, outputName: f.output };

  // 1-2: the graph pass, then the plan, on the same decoded model.
  const m = decodeModel(fs.readFileSync(model.onnxFile));
  optimizeModel(m);
  const fp32Bytes = encodeModel(m);
  if (!m.graph) throw new ShituError('ERR_MODEL_LOAD', `cannot load model '${model.onnxFile}': no graph`);
  const plan = planQuantization(m.graph);
  if (!plan.convs.length) throw new ShituError('ERR_MODEL_UNSUPPORTED', `cannot quantize '${model.onnxFile}': it has no float convolution with constant weights (already quantized?)`);
  // 3: ranges.
  const cal = await calibrate({ modelFile: model.onnxFile, bytes: fp32Bytes, tensors: plan.tensors, preprocess: spec.preprocess, inputName: spec.inputName, images, session, onProgress: (p) => o.onProgress?.('calibrate', p) });
  // 4: the QDQ model.
  writeQdq(m, plan, cal.ranges);
  const int8Bytes = encodeModel(m);
  // 5: the check, then the files.
  const fp32 = await callNative(() => native.loadModel(model.onnxFile, { ...session, stripInitializerInputs: false }, fp32Bytes));
  const int8 = await callNative(() => native.loadModel(model.onnxFile, { ...session, stripInitializerInputs: false }, int8Bytes));
  const figures = await compareModels(fp32, int8, spec, images, labels);
  o.onProgress?.('check', { done: images.length, total: images.length });
  const shown = `top-1 retrieval agreement ${(100 * figures.top1Agreement).toFixed(1)} % (at least ${(100 * minTop1).toFixed(1)} % needed), mean embedding cosine ${figures.meanCosine.toFixed(4)} (at least ${minCos} needed), on ${figures.images} images of ${o.galleryDir}`;
  if (figures.top1Agreement < minTop1 || figures.meanCosine < minCos)
    throw new ShituError('ERR_QUANTIZE_ACCURACY', `the INT8 model was not written: ${shown}`, { details: { ...figures, minTop1Agreement: minTop1, minMeanCosine: minCos } });
  fs.mkdirSync(outDir, { recursive: true });
  // The same file names as the FP32 directory, so the card (or inference.yml) finds the model as before.
  for (const e of fs.readdirSync(model.dir, { withFileTypes: true }))
    if (e.isFile() && !e.name.endsWith('.onnx')) fs.copyFileSync(path.join(model.dir, e.name), path.join(outDir, e.name));
  const modelFile = path.join(outDir, path.basename(model.onnxFile));
  const tmp = `${modelFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, int8Bytes);
  fs.renameSync(tmp, modelFile);
  return { ...figures, outDir, modelFile, quantizedTensors: plan.tensors.length, quantizedConvs: plan.convs.length, calibrationImages: cal.used };
}

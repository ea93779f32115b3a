// Detector INT8, measured to decide whether to offer it (it is not offered):
// the PicoDet-S 416 stand-in after the load-time graph pass, quantized with the
// feature model's plan (lib/onnx/quantize/plan.ts: the input and output of
// every convolution with constant weights; HardSwish, Sigmoid, the heads'
// Concat/Reshape stay FP32 between a DequantizeLinear and the next
// QuantizeLinear), calibrated on every shared photo with the detector's own
// pre-processing. Then, on every shared photo, the pipeline's detections with
// the FP32 detector against the INT8 one at the pipeline's threshold (the same
// number of boxes, each FP32 box matched by an INT8 box with IoU >= KEEP_IOU),
// and raw Runs at 1 and 2 intra-op threads, the two taking turns.
// Part of section "int8" (./int8.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createPipeline } from '../../lib/index';
import { native } from '../../lib/native/loader';
import type { NativeModel } from '../../lib/native/binding';
import { calibrate } from '../../lib/onnx/quantize/calibrate';
import { planQuantization } from '../../lib/onnx/quantize/plan';
import { writeQdq } from '../../lib/onnx/quantize/qdq';
import { optimizeModel } from '../../lib/onnx/graph-pass';
import { decodeModel, encodeModel } from '../../lib/onnx/graph-pass/model';
import { resolveModel } from '../../lib/models/resolve';
import { DET_ONNX, STANDIN_CONFIG } from '../lib/paths';
import { median, medianRunMs } from '../lib/stats';
import { PHOTOS_DIR, sharedPhotos } from '../lib/photos';
import { iou } from '../../test/helpers/recognition';

/** "Keeps boxes", as the issue on INT8 defines it for the detector. */
export const KEEP_IOU = 0.9;

export interface DetectorPhotoRow { image: string; boxes: number; boxesInt8: number; minIou: number; kept: boolean }
export interface DetectorInt8Result {
  model: string;
  quantizedConvs: number;
  quantizedTensors: number;
  calibrationImages: number;
  photos: DetectorPhotoRow[];
  raw: Array<{ threads: number; fp32: number; int8: number; speedup: number }>;
  /** Offered only when it is faster at every thread count and keeps the boxes on every photo. */
  offered: boolean;
  error?: string;
}



async function boxesOf(config: Record<string, unknown> | undefined, photos: string[]): Promise<number[][][]> {
  const pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1, ...(config ? { config } : {}) });
  try {
    const out: number[][][] = [];
    for (const p of photos) out.push((await pipeline.recognize(p)).json.res.boxes.map((b) => b.coordinate));
    return out;
  } finally {
    await pipeline.close();
  }
}

export async function runDetectorInt8(tmp: string, rounds: number, iters: number): Promise<DetectorInt8Result> {
  const model = resolveModel({ modelName: 'picodet_s_416_coco', modelDir: DET_ONNX, task: 'detection' });
  const res: DetectorInt8Result = { model: 'PicoDet-S 416 stand-in (after the graph pass)', quantizedConvs: 0, quantizedTensors: 0, calibrationImages: 0, photos: [], raw: [], offered: false };
  try {
    const m = decodeModel(fs.readFileSync(model.onnxFile));
    optimizeModel(m);
    const fp32Bytes = encodeModel(m);
    const plan = planQuantization(m.graph!);
    // The picture's input: after the graph pass, the weights are no longer listed as inputs.
    const input = m.graph!.input[0]?.name ?? 'image';
    res.quantizedConvs = plan.convs.length;
    res.quantizedTensors = plan.tensors.length;
    const photos = sharedPhotos();
    const session = { intraOpThreads: 1, graphOptimization: 'all' };
    const cal = await calibrate({ modelFile: model.onnxFile, bytes: fp32Bytes, tensors: plan.tensors, preprocess: { ...model.card.preprocess }, inputName: input, images: photos, session });
    res.calibrationImages = cal.used;
    writeQdq(m, plan, cal.ranges);
    // A model directory like the shared one, the INT8 graph under the same file name.
    const dir = path.join(tmp, 'picodet-int8');
    fs.mkdirSync(dir);
    for (const f of fs.readdirSync(path.dirname(model.onnxFile))) if (!f.endsWith('.onnx')) fs.copyFileSync(path.join(path.dirname(model.onnxFile), f), path.join(dir, f));
    const int8File = path.join(dir, path.basename(model.onnxFile));
    fs.writeFileSync(int8File, encodeModel(m));

    const fp32Boxes = await boxesOf(undefined, photos);
    const int8Boxes = await boxesOf({ SubModules: { Detection: { model_dir: dir } } }, photos);
    photos.forEach((p, i) => {
      const a = fp32Boxes[i], b = int8Boxes[i];
      // Each FP32 box against its best INT8 twin; boxes only INT8 finds count through the box numbers.
      let minIou = 1;
      for (const box of a) minIou = Math.min(minIou, Math.max(0, ...b.map((c) => iou(box, c))));
      res.photos.push({ image: path.relative(PHOTOS_DIR, p), boxes: a.length, boxesInt8: b.length, minIou, kept: a.length === b.length && minIou >= KEEP_IOU });
    });

    const { width = 416, height = 416 } = model.card.preprocess ?? {};
    const dims = [1, 3, height, width];
    const feeds = { [input]: { data: new Float32Array(dims.reduce((x, y) => x * y, 1)).map((_, i) => ((i * 7919) % 255) / 64 - 2), dims } };
    for (const threads of [1, 2]) {
      const o = { intraOpThreads: threads, graphOptimization: 'all' };
      const s: Record<'fp32' | 'int8', NativeModel> = {
        fp32: await native.loadModel(model.onnxFile, o, Buffer.from(fp32Bytes)),
        int8: await native.loadModel(int8File, o),
      };
      const per = { fp32: [] as number[], int8: [] as number[] };
      for (let r = 0; r < rounds; r++) for (const v of ['fp32', 'int8'] as const) per[v].push(await medianRunMs(s[v], feeds, 3, iters));
      const fp32 = median(per.fp32), int8 = median(per.int8);
      res.raw.push({ threads, fp32, int8, speedup: fp32 / int8 });
    }
    res.offered = res.raw.every((r) => r.speedup > 1) && res.photos.every((p) => p.kept);
  } catch (e) {
    res.error = `${(e as { code?: string }).code ?? 'Error'}: ${(e as Error).message}`;
  }
  return res;
}

export function renderDetectorInt8(r: DetectorInt8Result): string[] {
  if (r.error) return ['## Detector INT8', '', `Not measured: ${r.error}`];
  const kept = r.photos.filter((p) => p.kept).length;
  const lost = r.photos.filter((p) => !p.kept);
  return [
    '## Detector INT8 (measured, not offered unless it wins and keeps the boxes)',
    '',
    `${r.model}: ${r.quantizedConvs} convolutions and ${r.quantizedTensors} activation tensors quantized (the feature model's plan), calibrated on ${r.calibrationImages} shared photos with the detector's own pre-processing.`,
    '',
    '| threads | FP32 raw Run (ms) | INT8 raw Run (ms) | FP32 / INT8 |',
    '|---|---|---|---|',
    ...r.raw.map((x) => `| ${x.threads} | ${x.fp32.toFixed(1)} | ${x.int8.toFixed(1)} | ${x.speedup.toFixed(2)}x |`),
    '',
    `Boxes at the pipeline's threshold kept (as many boxes, each FP32 box with an INT8 box of IoU ≥ ${KEEP_IOU}): **${kept} of ${r.photos.length} photos**${lost.length ? ` (lost: ${lost.map((p) => `${p.image} ${p.boxes} → ${p.boxesInt8} boxes, min IoU ${p.minIou.toFixed(2)}`).join('; ')})` : ''}.`,
    '',
    `Verdict: ${r.offered ? '**wins and keeps the boxes**: could be offered' : '**not offered**: it must be faster at every thread count and keep the boxes on every shared photo'}.`,
  ];
}

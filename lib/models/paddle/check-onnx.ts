// `shitu models convert --check IMAGE`: one run of a converted model through
// the package's own ONNX Runtime loading (native.loadModel), on an image
// resized to the model's input (nearest pixel, normalised as the archive's
// config says). A smoke check that the file loads and computes finite outputs
// of the expected shapes, not the pipeline's pre-processing: the detector's and
// feature extractor's own resizing is what recognition uses.
import { native } from '../../native/loader';
import { callNative, ShituError } from '../../errors';
import type { PreprocessCard } from '../card';
import type { NativeTensor } from '../../native/binding';

export interface CheckOutput {
  name: string;
  dims: number[];
  /** Every value finite (no NaN or infinity). */
  finite: boolean;
}

/** Loads `onnxFile`, feeds it `image` and returns its outputs' shapes. */
export async function checkOnnx(onnxFile: string, image: string, pre: PreprocessCard): Promise<CheckOutput[]> {
  const model = await callNative(() => native.loadModel(onnxFile, {}));
  const img = await callNative(() => native.decodeImage(image));
  const feeds: Record<string, NativeTensor> = {};
  let size: [number, number] = [pre.height || 224, pre.width || 224];
  // A batch fixed at conversion (--input-shape x=2,...) gets the image that many times.
  const batchOf = (shape: number[]) => (shape[0] > 0 ? shape[0] : 1);
  const repeat = (one: Float32Array, n: number) => {
    const all = new Float32Array(one.length * n);
    for (let k = 0; k < n; k++) all.set(one, k * one.length);
    return all;
  };
  const inputs = model.inputs();
  const image4d = inputs.find((i) => i.shape.length === 4 && i.shape[1] === 3);
  if (image4d) {
    const h = image4d.shape[2] > 0 ? image4d.shape[2] : size[0];
    const w = image4d.shape[3] > 0 ? image4d.shape[3] : size[1];
    size = [h, w];
    const data = new Float32Array(3 * h * w);
    for (let y = 0; y < h; y++) {
      const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / h));
      for (let x = 0; x < w; x++) {
        const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / w));
        const p = (sy * img.width + sx) * 3;
        for (let c = 0; c < 3; c++) {
          // decoded pixels are BGR; channel c of the model is R,G,B for 'rgb'
          const v = img.data[p + (pre.channelOrder === 'rgb' ? 2 - c : c)];
          data[c * h * w + y * w + x] = (v * pre.scale - pre.mean[c]) / pre.std[c];
        }
      }
    }
    const n = batchOf(image4d.shape);
    feeds[image4d.name] = { data: repeat(data, n), dims: [n, 3, h, w] };
  }
  for (const i of inputs) {
    if (i.name === image4d?.name) continue;
    const n = batchOf(i.shape);
    if (i.name === 'im_shape') feeds[i.name] = { data: repeat(Float32Array.from(size), n), dims: [n, 2] };
    else if (i.name === 'scale_factor') feeds[i.name] = { data: repeat(Float32Array.from([size[0] / img.height, size[1] / img.width]), n), dims: [n, 2] };
    else throw new ShituError('ERR_INPUT', `--check cannot feed input ${i.name} [${i.shape.join(', ')}] from an image (image, im_shape and scale_factor are known)`);
  }
  const out = await callNative(() => model.run(feeds));
  return Object.entries(out).map(([name, t]) => ({ name, dims: t.dims, finite: t.data.every(Number.isFinite) }));
}

// A real photo as an ONNX Runtime input tensor, for tests that run a model
// directly (onnxruntime-node) rather than through the pipeline: decoded by the
// addon (BGR), resized by nearest neighbour (the tests compare two graphs on
// the same input, so the resampling only has to be deterministic), normalised
// per channel.
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { native } from '../../lib/native/loader';

export interface TensorSpec {
  width: number;
  height: number;
  /** Channel order fed to the model. */
  order: 'bgr' | 'rgb';
  /** On 0-255 values: (v - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
}

export async function imageTensor(file: string, s: TensorSpec): Promise<ort.Tensor> {
  const im = await native.decodeImage(fs.readFileSync(file));
  const plane = s.width * s.height;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < s.height; y++) {
    const sy = Math.min(im.height - 1, Math.floor(((y + 0.5) * im.height) / s.height));
    for (let x = 0; x < s.width; x++) {
      const sx = Math.min(im.width - 1, Math.floor(((x + 0.5) * im.width) / s.width));
      const at = (sy * im.width + sx) * 3;
      for (let c = 0; c < 3; c++) {
        const v = im.data[at + (s.order === 'bgr' ? c : 2 - c)];
        out[c * plane + y * s.width + x] = (v - s.mean[c]) / s.std[c];
      }
    }
  }
  return new ort.Tensor('float32', out, [1, 3, s.height, s.width]);
}

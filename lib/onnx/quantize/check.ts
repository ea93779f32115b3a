// Is the INT8 feature model good enough to replace the FP32 one? Both embed
// the same gallery with the pipeline's pre-processing and normalisation; the
// figures are the mean cosine between each image's two embeddings and how
// often each image's nearest other gallery image (top-1 retrieval, cosine) has
// the same label under both models.
import { callNative, callNativeSync } from '../../errors';
import type { NativeModel, NativePreprocessSpec } from '../../native/binding';
import { native } from '../../native/loader';

export interface AgreementFigures {
  images: number;
  meanCosine: number;
  /** Fraction of images whose top-1 neighbour's label is the same under both models. */
  top1Agreement: number;
}

async function embedAll(model: NativeModel, spec: { preprocess: NativePreprocessSpec; inputName?: string; outputName?: string }, images: string[]): Promise<{ rows: Float32Array[]; ok: boolean[] }> {
  const ex = callNativeSync(() => native.createFeatureExtractor(model, { ...spec, maxBatch: 8 }));
  const rows: Float32Array[] = [];
  const ok: boolean[] = [];
  for (let i = 0; i < images.length; i += 8) {
    const r = await callNative(() => ex.embed(images.slice(i, i + 8), { collectErrors: true }));
    const failed = new Set(r.errors.map((e) => e.index));
    for (let b = 0; b < r.count; b++) {
      rows.push(r.features.slice(b * r.dim, (b + 1) * r.dim));
      ok.push(!failed.has(b));
    }
  }
  return { rows, ok };
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** The label of each row's most similar other row. */
function top1Labels(rows: Float32Array[], labels: string[]): string[] {
  return rows.map((a, i) => {
    let best = -Infinity, label = '';
    rows.forEach((b, j) => {
      if (j === i) return;
      const s = dot(a, b);
      if (s > best) { best = s; label = labels[j]; }
    });
    return label;
  });
}

export async function compareModels(fp32: NativeModel, int8: NativeModel, spec: { preprocess: NativePreprocessSpec; inputName?: string; outputName?: string }, images: string[], labels: string[]): Promise<AgreementFigures> {
  const a = await embedAll(fp32, spec, images);
  const b = await embedAll(int8, spec, images);
  const keep = images.map((_, i) => a.ok[i] && b.ok[i]);
  const ra = a.rows.filter((_, i) => keep[i]), rb = b.rows.filter((_, i) => keep[i]);
  const lab = labels.filter((_, i) => keep[i]);
  const n = ra.length;
  const meanCosine = n ? ra.reduce((s, x, i) => s + dot(x, rb[i]), 0) / n : 0;
  const [ta, tb] = [top1Labels(ra, lab), top1Labels(rb, lab)];
  const top1Agreement = n > 1 ? ta.filter((l, i) => l === tb[i]).length / n : 0;
  return { images: n, meanCosine, top1Agreement };
}

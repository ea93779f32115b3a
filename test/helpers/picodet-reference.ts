// The PP-ShiTuV2 detector's post-processing (PaddleDetection's PicoHead as the
// exported program computes it, block 1 of inference.pdmodel) written out in
// plain JS from the head's raw outputs: per level the class scores
// (sigmoid_k [1, H, W, 1]) and box distributions (transpose_k [1, H, W, 4 * 8]);
// softmax over the 8 bins, dot with the projection, times the stride; anchor
// centres (i + 0.5) * stride; the level's 1000 best by score when it has more;
// boxes clipped to im_shape and divided by scale_factor; then multiclass_nms3.
import { NmsAttrs, multiclassNms3 } from './paddle-nms-reference';

export interface HeadLevel {
  stride: number;
  h: number;
  w: number;
  /** [h * w] sigmoid scores, row-major. */
  scores: ArrayLike<number>;
  /** [h * w * 4 * bins] distribution logits, row-major. */
  reg: ArrayLike<number>;
}

export function picodetPostprocess(
  levels: HeadLevel[],
  proj: number[],
  imShape: [number, number],
  scaleFactor: [number, number],
  preTopK: number,
  nms: NmsAttrs,
): { rows: number[][]; counts: number[] } {
  const bins = proj.length;
  const boxes: number[][] = [];
  const scores: number[] = [];
  for (const l of levels) {
    const n = l.h * l.w;
    const cand: { score: number; box: number[]; i: number }[] = [];
    for (let i = 0; i < n; i++) {
      const cx = ((i % l.w) + 0.5) * l.stride;
      const cy = (Math.floor(i / l.w) + 0.5) * l.stride;
      const d = [0, 1, 2, 3].map((side) => {
        const off = (i * 4 + side) * bins;
        let mx = -Infinity;
        for (let k = 0; k < bins; k++) mx = Math.max(mx, l.reg[off + k]);
        let sum = 0;
        let dot = 0;
        for (let k = 0; k < bins; k++) {
          const e = Math.exp(l.reg[off + k] - mx);
          sum += e;
          dot += e * proj[k];
        }
        return (dot / sum) * l.stride;
      });
      const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
      const box = [clip(cx - d[0], imShape[1]), clip(cy - d[1], imShape[0]), clip(cx + d[2], imShape[1]), clip(cy + d[3], imShape[0])];
      cand.push({ score: l.scores[i], box, i });
    }
    // The program's TopK: the level's best first, ties by index; all of them in anchor order otherwise.
    const kept = n > preTopK ? [...cand].sort((a, b) => b.score - a.score || a.i - b.i).slice(0, preTopK) : cand;
    for (const c of kept) {
      boxes.push([c.box[0] / scaleFactor[1], c.box[1] / scaleFactor[0], c.box[2] / scaleFactor[1], c.box[3] / scaleFactor[0]]);
      scores.push(c.score);
    }
  }
  return multiclassNms3([boxes], [[scores]], nms);
}

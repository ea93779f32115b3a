// Paddle's multiclass_nms3 (phi/kernels/cpu/multiclass_nms3_kernel.cc, dense
// [N, C, M] scores) written out in plain JS, step by step as the kernel does
// it: the reference the converted ONNX graph is compared with.

export interface NmsAttrs {
  scoreThreshold: number;
  nmsTopK: number;
  keepTopK: number;
  nmsThreshold: number;
  normalized: boolean;
  backgroundLabel: number;
}

function area(b: number[], normalized: boolean): number {
  if (b[2] < b[0] || b[3] < b[1]) return 0;
  const w = b[2] - b[0];
  const h = b[3] - b[1];
  return normalized ? w * h : (w + 1) * (h + 1);
}

export function jaccard(a: number[], b: number[], normalized: boolean): number {
  if (b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1]) return 0;
  const norm = normalized ? 0 : 1;
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + norm;
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + norm;
  const inter = iw * ih;
  return inter / (area(a, normalized) + area(b, normalized) - inter);
}

/** Greedy NMS of one class: indices kept, best first. */
function nmsFast(boxes: number[][], scores: number[], a: NmsAttrs): number[] {
  let order = scores.map((s, i) => [s, i]).filter(([s]) => s > a.scoreThreshold);
  order.sort((x, y) => y[0] - x[0] || x[1] - y[1]); // stable descending
  if (a.nmsTopK > -1 && a.nmsTopK < order.length) order = order.slice(0, a.nmsTopK);
  const kept: number[] = [];
  for (const [, idx] of order) {
    if (kept.every((k) => jaccard(boxes[idx], boxes[k], a.normalized) <= a.nmsThreshold)) kept.push(idx);
  }
  return kept;
}

/**
 * boxes [N][M][4], scores [N][C][M] -> rows [class, score, x1, y1, x2, y2] of all
 * images and the row count per image (Paddle's Out and NmsRoisNum).
 */
export function multiclassNms3(boxes: number[][][], scores: number[][][], a: NmsAttrs): { rows: number[][]; counts: number[] } {
  const rows: number[][] = [];
  const counts: number[] = [];
  for (let n = 0; n < boxes.length; n++) {
    const perClass = new Map<number, number[]>();
    let numDet = 0;
    for (let c = 0; c < scores[n].length; c++) {
      if (c === a.backgroundLabel) continue;
      const kept = nmsFast(boxes[n], scores[n][c], a);
      perClass.set(c, kept);
      numDet += kept.length;
    }
    let selected = perClass;
    if (a.keepTopK > -1 && numDet > a.keepTopK) {
      const pairs: [number, number, number][] = [];
      for (const [c, idxs] of [...perClass].sort((x, y) => x[0] - y[0])) for (const i of idxs) pairs.push([scores[n][c][i], c, i]);
      const order = pairs.map((p, i) => [p, i] as const).sort((x, y) => y[0][0] - x[0][0] || x[1] - y[1]);
      selected = new Map();
      for (const [[, c, i]] of order.slice(0, a.keepTopK)) selected.set(c, [...(selected.get(c) ?? []), i]);
      numDet = a.keepTopK;
    }
    for (const [c, idxs] of [...selected].sort((x, y) => x[0] - y[0])) for (const i of idxs) rows.push([c, scores[n][c][i], ...boxes[n][i]]);
    counts.push(numDet);
  }
  return { rows, counts };
}

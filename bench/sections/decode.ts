// Section "decode": the cheaper JPEG decode (createPipeline's reducedDecode) against
// full decoding on every shared photo: decode and end-to-end time, and whether
// the results stay the same (same number of boxes, each box IoU >= 0.95 with
// its full-decode twin, identical top-1 label).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import { log, median, now, RunMode, SHARED, writeJson } from '../lib/util';
import { loadOurs } from '../lib/ours';

export interface DecodeRow {
  image: string;
  width: number;
  height: number;
  boxes: number;
  boxesReduced: number;
  minIou: number;
  top1Same: boolean;
  decodeFull: number;
  decodeReduced: number;
  wallFull: number;
  wallReduced: number;
  same: boolean;
}

export interface DecodeResult {
  rows: DecodeRow[];
  iterations: number;
  allSame: boolean;
  notes: string[];
}

export const MIN_IOU = 0.95;

function iou(a: number[], b: number[]): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

function sharedPhotos(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(jpe?g|png|webp|bmp|tiff?)$/i.test(e.name)) out.push(p);
    }
  };
  walk(path.join(SHARED, 'data', 'images'));
  return out;
}

export async function runDecode(mode: RunMode): Promise<DecodeResult> {
  const iterations = mode.quick ? 5 : 20;
  const { pipeline, index } = await loadOurs(1);
  const rows: DecodeRow[] = [];
  for (const img of sharedPhotos()) {
    log(`decode: ${path.relative(SHARED, img)}`);
    const full = (await pipeline.recognize(img, { index })).json.res.boxes;
    const red = (await pipeline.recognize(img, { index, reducedDecode: true })).json.res.boxes;
    // Each full-decode box against its best-overlapping reduced-decode box.
    let minIou = 1, top1Same = full.length === red.length;
    for (const b of full) {
      let best = -1, bi = -1;
      red.forEach((r, i) => { const v = iou(b.coordinate, r.coordinate); if (v > best) { best = v; bi = i; } });
      minIou = Math.min(minIou, Math.max(0, best));
      if (bi < 0 || red[bi].labels[0] !== b.labels[0]) top1Same = false;
    }
    const df: number[] = [], dr: number[] = [], wf: number[] = [], wr: number[] = [];
    const { width, height } = await native.decodeImage(img);
    for (let i = 0; i < iterations; i++) {
      let t = now();
      const a = await pipeline.recognize(img, { index });
      wf.push(now() - t);
      df.push(a.timings.decode);
      t = now();
      const b = await pipeline.recognize(img, { index, reducedDecode: true });
      wr.push(now() - t);
      dr.push(b.timings.decode);
    }
    const same = full.length === red.length && minIou >= MIN_IOU && top1Same;
    rows.push({ image: path.relative(path.join(SHARED, 'data', 'images'), img), width, height, boxes: full.length, boxesReduced: red.length, minIou, top1Same, decodeFull: median(df), decodeReduced: median(dr), wallFull: median(wf), wallReduced: median(wr), same });
  }
  const res: DecodeResult = {
    rows,
    iterations,
    allSame: rows.every((r) => r.same),
    notes: [
      `Every photo under the shared data/images, stand-in models at 1 thread, gallery index (HNSW32/IP). Per photo: one recognition each way for the comparison, then ${iterations} interleaved pairs (full, reduced) for the medians (ms; wall = JS call to result, file read included).`,
      `reducedDecode: a JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg (OpenCV IMREAD_REDUCED_COLOR_*) when the reduced picture still covers 90 % of the detector's input sides (here 374 of 416 px); the detector and the crops get the reduced picture, boxes are scaled back to full-picture pixels. Other formats (PNG) and smaller JPEGs decode in full, as before.`,
      `same = as many boxes, every full-decode box has a reduced-decode box with IoU ≥ ${MIN_IOU} and the same top-1 label (thresholded, as returned).`,
    ],
  };
  writeJson('decode.json', res);
  return res;
}

// Section "decode": the cheaper JPEG decode (createPipeline's reducedDecode) against
// full decoding on every shared photo, and on phone-camera-sized JPEGs made from
// three of them at run time (upscaled to 4032 px, the size of a 12 MP phone
// photo, where decoding costs most): decode and end-to-end time, and whether
// the results stay the same (same number of boxes, each box IoU >= MIN_IOU with
// its full-decode twin, identical top-1 label).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import { log, median, now, RunMode, SHARED, writeJson } from '../lib/util';
import { loadOurs } from '../lib/ours';
import { PHOTOS_DIR, sharedPhotos } from '../lib/photos';
import { iou } from '../../test/helpers/recognition';

export interface DecodeRow {
  image: string;
  /** Made from a shared photo for this run (upscaled to PHONE_SIDE px), not a shared photo itself. */
  upscaled?: boolean;
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

// "Results identical" as the issue on graph rewrites and decoding defines it.
export const MIN_IOU = 0.99;
// The long side of a 12 MP phone photo (4032 x 3024).
export const PHONE_SIDE = 4032;
const PHONE_SOURCES = ['misc/wangzai.jpg', 'drink_test_images/mosilian.jpeg', 'product_demo/query/anmuxi.jpg'];

// Upscaled with sharp (Lanczos), JPEG quality 90 with 4:2:0 chroma, as phone cameras write them.
async function phonePhotos(): Promise<string[]> {
  const sharp = require('sharp');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-bench-phone-'));
  const out: string[] = [];
  for (const rel of PHONE_SOURCES) {
    const src = path.join(PHOTOS_DIR, rel);
    if (!fs.existsSync(src)) continue;
    const dst = path.join(dir, `${path.basename(rel).replace(/\.[^.]+$/, '')}-${PHONE_SIDE}.jpg`);
    await sharp(src).rotate().resize(PHONE_SIDE, PHONE_SIDE, { fit: 'inside', kernel: 'lanczos3' }).jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toFile(dst);
    out.push(dst);
  }
  return out;
}



export async function runDecode(mode: RunMode): Promise<DecodeResult> {
  const iterations = mode.quick ? 5 : 20;
  const { pipeline, index } = await loadOurs(1);
  const rows: DecodeRow[] = [];
  const phone = await phonePhotos();
  for (const img of [...sharedPhotos(), ...phone]) {
    const upscaled = phone.includes(img);
    log(`decode: ${upscaled ? path.basename(img) : path.relative(SHARED, img)}`);
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
    const name = upscaled ? `${PHONE_SOURCES[phone.indexOf(img)]}, upscaled to ${PHONE_SIDE} px` : path.relative(PHOTOS_DIR, img);
    rows.push({ image: name, upscaled, width, height, boxes: full.length, boxesReduced: red.length, minIou, top1Same, decodeFull: median(df), decodeReduced: median(dr), wallFull: median(wf), wallReduced: median(wr), same });
  }
  if (phone.length) fs.rmSync(path.dirname(phone[0]), { recursive: true, force: true });
  const res: DecodeResult = {
    rows,
    iterations,
    allSame: rows.every((r) => r.same),
    notes: [
      `Every photo under the shared data/images, and ${phone.length} phone-camera-sized JPEGs made at run time from ${PHONE_SOURCES.join(', ')} (upscaled with sharp's Lanczos to ${PHONE_SIDE} px on the long side, quality 90, 4:2:0; not shared data), stand-in models at 1 thread, gallery index (HNSW32/IP). Per photo: one recognition each way for the comparison, then ${iterations} interleaved pairs (full, reduced) for the medians (ms; wall = JS call to result, file read included).`,
      `reducedDecode: a JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg (OpenCV IMREAD_REDUCED_COLOR_*) when the reduced picture still covers 90 % of the detector's input sides (here 374 of 416 px); the detector and the crops get the reduced picture, boxes are scaled back to full-picture pixels. Other formats (PNG) and smaller JPEGs decode in full, as before.`,
      `same = as many boxes, every full-decode box has a reduced-decode box with IoU ≥ ${MIN_IOU} and the same top-1 label (thresholded, as returned).`,
    ],
  };
  writeJson('decode.json', res);
  return res;
}

// The peer: the same PP-ShiTuV2-style recognition written the way a Node
// developer would today, with onnxruntime-node (CPU provider), sharp (decode,
// resize, raw pixels) and hnswlib-node (inner-product HNSW index). Same models,
// same pre-processing: for the stand-ins GFL decode + class-aware NMS in JS (the
// algorithm of native/detection_postprocess.cc); for the PP-ShiTuV2 programs
// converted with random weights (NMS in the graph) the PaddleX export's inputs
// (image 640x640 RGB + scale_factor, and im_shape where declared) and its [M,6] boxes.
//
// It runs in a child process (peer-worker.ts): onnxruntime-node's binding needs
// the symbol version VERS_1.30.0 of libonnxruntime.so.1 and this package's addon
// VERS_1.29.0 of a library with the same SONAME, so the two cannot be loaded
// into one process (the second dlopen fails).
import * as fs from 'node:fs';

/* eslint-disable @typescript-eslint/no-var-requires */
const ort: any = require('onnxruntime-node');
import type { StageTimings } from '../../lib/pipeline/result';

const sharp: any = require('sharp');
const { HierarchicalNSW } = require('hnswlib-node');

/** The same stages as this package reports (lib/pipeline/result.ts), measured in JS. */
export type PeerTimings = Omit<StageTimings, 'wall'>;

export interface PeerBox {
  classId: number;
  score: number;
  coordinate: [number, number, number, number];
  labels: string[];
  scores: number[];
}

interface Det { cls: number; score: number; x1: number; y1: number; x2: number; y2: number }

const DET_MEAN = [103.53, 116.28, 123.675];
const DET_STD = [57.375, 57.12, 58.395];
const REC_MEAN = [0.485, 0.456, 0.406];
const REC_STD = [0.229, 0.224, 0.225];
const STRIDES = [8, 16, 32, 64];
const REG_MAX = 7;

/** Moves the initializers out of the graph inputs (paddle2onnx lists all 279 as inputs), with onnx-proto. */
export function stripInitializerInputs(bytes: Buffer): Uint8Array {
  const { onnx } = require('onnx-proto');
  const m = onnx.ModelProto.decode(bytes);
  const init = new Set(m.graph.initializer.map((i: any) => i.name));
  m.graph.input = m.graph.input.filter((i: any) => !init.has(i.name));
  return onnx.ModelProto.encode(m).finish();
}

export class PeerPipeline {
  private det: any;
  private feat: any;
  private index: any;
  private labels: string[] = [];
  private levels: Array<{ score: string; dist: string; stride: number; gw: number; gh: number }> = [];
  private detInput = 'image';
  private featInput = 'input';
  private featOutput = 'feat1280';
  /** 'shaped': the PaddleX contract (640x640 RGB ImageNet-normalised + scale_factor (+ im_shape) in, [M,6] boxes out). */
  private kind: 'standin' | 'shaped' = 'standin';
  W = 416;
  H = 416;
  readonly RW = 224;
  readonly RH = 224;

  static async create(o: { detOnnx: string; featOnnx: string; threads: number; stripInitializers: boolean; noSpin?: boolean; shaped?: boolean }): Promise<PeerPipeline> {
    const p = new PeerPipeline();
    if (o.shaped) {
      p.kind = 'shaped';
      p.W = p.H = 640;
    }
    ort.env.logLevel = 'error';
    const so: any = { intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3 };
    // Intra-op threads that sleep instead of spinning after a Run: two sessions on 2 cores then stop fighting.
    if (o.noSpin) so.extra = { session: { intra_op: { allow_spinning: '0' } } };
    const detBytes = fs.readFileSync(o.detOnnx);
    p.det = await ort.InferenceSession.create(o.stripInitializers ? stripInitializerInputs(detBytes) : detBytes, so);
    p.feat = await ort.InferenceSession.create(o.featOnnx, so);
    p.detInput = p.det.inputNames.find((n: string) => n === 'image') ?? p.det.inputNames[0];
    p.featInput = p.feat.inputNames[0];
    p.featOutput = p.feat.outputNames.includes('feat1280') ? 'feat1280' : p.feat.outputNames[0];
    if (p.kind === 'shaped') return p;
    // Pair the raw head outputs by size, as the native detector does: [1,HW,C] scores + [1,HW,32] distributions.
    const out = await p.det.run({ [p.detInput]: new ort.Tensor('float32', new Float32Array(3 * p.W * p.H), [1, 3, p.H, p.W]) });
    const outs = Object.keys(out).filter((k) => out[k].dims.length === 3).sort((a, b) => out[b].dims[1] - out[a].dims[1]);
    for (let i = 0; i + 1 < outs.length; i += 2) {
      const a = out[outs[i]], aIsDist = a.dims[2] === 4 * (REG_MAX + 1);
      const stride = STRIDES[i / 2];
      p.levels.push({ dist: aIsDist ? outs[i] : outs[i + 1], score: aIsDist ? outs[i + 1] : outs[i], stride, gw: Math.ceil(p.W / stride), gh: Math.ceil(p.H / stride) });
    }
    return p;
  }

  /** Decodes to packed RGB (EXIF orientation applied, alpha dropped, like cv::IMREAD_COLOR). */
  async decode(file: string | Buffer): Promise<{ data: Buffer; width: number; height: number }> {
    const { data, info } = await sharp(file).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  }

  private async resizeRaw(img: { data: Buffer; width: number; height: number }, w: number, h: number, crop?: { left: number; top: number; width: number; height: number }): Promise<Buffer> {
    let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
    if (crop) s = s.extract(crop);
    // The shaped detector's card asks for bicubic (models/PP-ShiTuV2_det.yaml); crops stay bilinear.
    return s.resize(w, h, { fit: 'fill', kernel: !crop && w === 640 && this.kind === 'shaped' ? 'cubic' : 'linear' }).raw().toBuffer();
  }

  async embedWhole(files: string[]): Promise<Float32Array> {
    const rows: Float32Array[] = [];
    for (let i = 0; i < files.length; i++) {
      const img = await this.decode(files[i]);
      const px = await this.resizeRaw(img, this.RW, this.RH);
      rows.push(await this.features([px]));
    }
    const dim = rows[0]?.length ?? 0;
    const out = new Float32Array(files.length * dim);
    rows.forEach((r, i) => out.set(r, i * dim));
    return out;
  }

  async buildIndex(files: string[], labels: string[]): Promise<void> {
    const feats = await this.embedWhole(files);
    const dim = feats.length / files.length;
    this.index = new HierarchicalNSW('ip', dim);
    this.index.initIndex(Math.max(16, files.length), 32, 40, 100);
    this.index.setEf(16);
    for (let i = 0; i < files.length; i++) this.index.addPoint(Array.from(feats.subarray(i * dim, (i + 1) * dim)), i);
    this.labels = labels;
  }

  private async features(crops: Buffer[]): Promise<Float32Array> {
    const plane = this.RW * this.RH;
    const x = new Float32Array(crops.length * 3 * plane);
    const a = [0, 1, 2].map((c) => 1 / 255 / REC_STD[c]);
    const b = [0, 1, 2].map((c) => -REC_MEAN[c] / REC_STD[c]);
    crops.forEach((px, n) => {
      const base = n * 3 * plane;
      for (let i = 0, j = 0; i < plane; i++, j += 3) {
        x[base + i] = px[j] * a[0] + b[0];
        x[base + plane + i] = px[j + 1] * a[1] + b[1];
        x[base + 2 * plane + i] = px[j + 2] * a[2] + b[2];
      }
    });
    const r = await this.feat.run({ [this.featInput]: new ort.Tensor('float32', x, [crops.length, 3, this.RH, this.RW]) }, [this.featOutput]);
    const f = r[this.featOutput].data as Float32Array;
    const dim = f.length / crops.length;
    for (let n = 0; n < crops.length; n++) {
      let sq = 0;
      for (let i = 0; i < dim; i++) sq += f[n * dim + i] * f[n * dim + i];
      const inv = sq > 1e-24 && Number.isFinite(sq) ? 1 / Math.sqrt(sq) : 0;
      for (let i = 0; i < dim; i++) f[n * dim + i] *= inv;
    }
    return f;
  }

  private static distMean(d: Float32Array, off: number, bins: number): number {
    let mx = d[off];
    for (let i = 1; i < bins; i++) if (d[off + i] > mx) mx = d[off + i];
    let sum = 0, acc = 0;
    for (let i = 0; i < bins; i++) {
      const e = Math.exp(d[off + i] - mx);
      sum += e;
      acc += e * i;
    }
    return acc / sum;
  }

  private static iou(a: Det, b: Det): number {
    const ix = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
    const iy = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
    const inter = ix * iy;
    const ua = Math.max(0, a.x2 - a.x1) * Math.max(0, a.y2 - a.y1) + Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1) - inter;
    return ua > 0 ? inter / ua : 0;
  }

  async recognize(file: string, o: { detThreshold?: number; recThreshold?: number; topk?: number } = {}): Promise<{ boxes: PeerBox[]; timings: PeerTimings; width: number; height: number }> {
    const thr = o.detThreshold ?? 0.5, recThr = o.recThreshold ?? 0.5, k = o.topk ?? 5;
    const t: PeerTimings = { decode: 0, detPreprocess: 0, detInference: 0, detPostprocess: 0, recPreprocess: 0, recInference: 0, recBatchWait: 0, search: 0, total: 0 };
    const t0 = performance.now();
    let tl = t0;
    const lap = () => { const n = performance.now(); const d = n - tl; tl = n; return d; };
    const img = await this.decode(file);
    t.decode = lap();
    const { width: Wi, height: Hi } = img;

    if (this.kind === 'shaped') return this.recognizeShaped(img, t, t0, lap, thr, recThr, k);
    // Detector pre-processing: 416x416 without keeping the ratio, BGR, (v - mean) / std, planar.
    const px = await this.resizeRaw(img, this.W, this.H);
    const plane = this.W * this.H;
    const x = new Float32Array(3 * plane);
    const a = [0, 1, 2].map((c) => 1 / DET_STD[c]);
    const bb = [0, 1, 2].map((c) => -DET_MEAN[c] / DET_STD[c]);
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      x[i] = px[j + 2] * a[0] + bb[0]; // B
      x[plane + i] = px[j + 1] * a[1] + bb[1]; // G
      x[2 * plane + i] = px[j] * a[2] + bb[2]; // R
    }
    const input = new ort.Tensor('float32', x, [1, 3, this.H, this.W]);
    t.detPreprocess = lap();
    const out = await this.det.run({ [this.detInput]: input });
    t.detInference = lap();

    // GFL decode (score pre-filter, softmax expectation per side, distance x stride from the cell centre).
    const scoreThr = Math.max(0.025, thr);
    const bins = REG_MAX + 1;
    let cands: Det[] = [];
    for (const L of this.levels) {
      const s = out[L.score].data as Float32Array, d = out[L.dist].data as Float32Array;
      const C = out[L.score].dims[2];
      const hw = L.gw * L.gh;
      for (let i = 0; i < hw; i++) {
        const so = i * C;
        let best = 0;
        for (let c = 1; c < C; c++) if (s[so + c] > s[so + best]) best = c;
        if (s[so + best] < scoreThr) continue;
        const dOff = i * 4 * bins;
        const cx = ((i % L.gw) + 0.5) * L.stride, cy = (Math.floor(i / L.gw) + 0.5) * L.stride;
        cands.push({
          cls: best,
          score: s[so + best],
          x1: cx - PeerPipeline.distMean(d, dOff, bins) * L.stride,
          y1: cy - PeerPipeline.distMean(d, dOff + bins, bins) * L.stride,
          x2: cx + PeerPipeline.distMean(d, dOff + 2 * bins, bins) * L.stride,
          y2: cy + PeerPipeline.distMean(d, dOff + 3 * bins, bins) * L.stride,
        });
      }
    }
    if (cands.length > 1000) cands = cands.sort((p, q) => q.score - p.score).slice(0, 1000);
    const sx = this.W / Wi, sy = this.H / Hi;
    for (const c of cands) { c.x1 /= sx; c.x2 /= sx; c.y1 /= sy; c.y2 /= sy; }
    // Class-aware greedy NMS (IoU 0.6, at most 100 boxes); Array.prototype.sort is stable.
    cands.sort((p, q) => q.score - p.score);
    const keep: Det[] = [];
    const removed = new Uint8Array(cands.length);
    for (let i = 0; i < cands.length && keep.length < 100; i++) {
      if (removed[i]) continue;
      keep.push(cands[i]);
      for (let j = i + 1; j < cands.length; j++) if (!removed[j] && cands[j].cls === cands[i].cls && PeerPipeline.iou(cands[i], cands[j]) > 0.6) removed[j] = 1;
    }
    let dets: Det[] = [];
    for (const d0 of keep) {
      if (!(d0.score > thr)) continue;
      const d = { ...d0, x1: Math.min(Math.max(d0.x1, 0), Wi), x2: Math.min(Math.max(d0.x2, 0), Wi), y1: Math.min(Math.max(d0.y1, 0), Hi), y2: Math.min(Math.max(d0.y2, 0), Hi) };
      if (!(d.x2 > d.x1) || !(d.y2 > d.y1)) continue;
      dets.push(d);
    }
    dets.sort((p, q) => q.score - p.score);
    if (!dets.length) dets = [{ cls: 0, score: 0, x1: 0, y1: 0, x2: Wi, y2: Hi }];
    t.detPostprocess = lap();

    return this.embedAndSearch(img, dets, t, t0, lap, recThr, k);
  }

  /** PP-ShiTuV2 detector program: 640x640 bicubic, RGB /255 ImageNet mean/std, scale_factor (+ im_shape) in; [M,6] boxes in original pixels out. */
  private async recognizeShaped(img: { data: Buffer; width: number; height: number }, t: PeerTimings, t0: number, lap: () => number, thr: number, recThr: number, k: number) {
    const { width: Wi, height: Hi } = img;
    const px = await this.resizeRaw(img, this.W, this.H);
    const plane = this.W * this.H;
    const x = new Float32Array(3 * plane);
    const a = [0, 1, 2].map((c) => 1 / 255 / REC_STD[c]);
    const b = [0, 1, 2].map((c) => -REC_MEAN[c] / REC_STD[c]);
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      x[i] = px[j] * a[0] + b[0];
      x[plane + i] = px[j + 1] * a[1] + b[1];
      x[2 * plane + i] = px[j + 2] * a[2] + b[2];
    }
    const feeds: Record<string, unknown> = {
      image: new ort.Tensor('float32', x, [1, 3, this.H, this.W]),
      scale_factor: new ort.Tensor('float32', Float32Array.from([this.H / Hi, this.W / Wi]), [1, 2]),
    };
    // PaddleDetection's im_shape: the network input's [H, W] (the converted program declares it; some exports drop it).
    if (this.det.inputNames.includes('im_shape')) feeds.im_shape = new ort.Tensor('float32', Float32Array.from([this.H, this.W]), [1, 2]);
    t.detPreprocess = lap();
    const out = await this.det.run(feeds);
    t.detInference = lap();
    const rows = out[this.det.outputNames[0]].data as Float32Array;
    let dets: Det[] = [];
    for (let r = 0; r + 6 <= rows.length; r += 6) {
      if (!(rows[r + 1] > thr)) continue;
      const d = { cls: rows[r], score: rows[r + 1], x1: Math.min(Math.max(rows[r + 2], 0), Wi), y1: Math.min(Math.max(rows[r + 3], 0), Hi), x2: Math.min(Math.max(rows[r + 4], 0), Wi), y2: Math.min(Math.max(rows[r + 5], 0), Hi) };
      if (d.x2 > d.x1 && d.y2 > d.y1) dets.push(d);
    }
    dets.sort((p, q) => q.score - p.score);
    if (!dets.length) dets = [{ cls: 0, score: 0, x1: 0, y1: 0, x2: Wi, y2: Hi }];
    t.detPostprocess = lap();
    return this.embedAndSearch(img, dets, t, t0, lap, recThr, k);
  }

  private async embedAndSearch(img: { data: Buffer; width: number; height: number }, dets: Det[], t: PeerTimings, t0: number, lap: () => number, recThr: number, k: number): Promise<{ boxes: PeerBox[]; timings: PeerTimings; width: number; height: number }> {
    const { width: Wi, height: Hi } = img;
    // Crops (integer coordinates, like CropBox), 224x224, RGB /255, ImageNet mean/std.
    const crops = await Promise.all(dets.map((d) => {
      const x1 = Math.min(Math.max(Math.trunc(d.x1), 0), Wi - 1);
      const y1 = Math.min(Math.max(Math.trunc(d.y1), 0), Hi - 1);
      const x2 = Math.min(Math.max(Math.trunc(d.x2), x1 + 1), Wi);
      const y2 = Math.min(Math.max(Math.trunc(d.y2), y1 + 1), Hi);
      return this.resizeRaw(img, this.RW, this.RH, { left: x1, top: y1, width: x2 - x1, height: y2 - y1 });
    }));
    t.recPreprocess = lap();
    const f = await this.features(crops);
    t.recInference = lap(); // includes the tensor fill + L2 normalisation (JS), see features()
    const dim = f.length / dets.length;
    const boxes: PeerBox[] = dets.map((d, n) => {
      const r = this.index.searchKnn(Array.from(f.subarray(n * dim, (n + 1) * dim)), Math.min(k, this.labels.length));
      const labels: string[] = [], scores: number[] = [];
      for (let j = 0; j < r.neighbors.length; j++) {
        labels.push(this.labels[r.neighbors[j]]);
        scores.push(1 - r.distances[j]);
      }
      const matched = scores.length > 0 && scores[0] >= recThr;
      return { classId: d.cls, score: d.score, coordinate: [d.x1, d.y1, d.x2, d.y2], labels: matched ? labels : [null as any], scores: matched ? scores : [null as any], rawTop1: labels[0], rawTop1Score: scores[0] } as any;
    });
    t.search = lap();
    t.total = performance.now() - t0;
    return { boxes, timings: t, width: Wi, height: Hi };
  }
}

// Section "peer": this package against the peer stack (onnxruntime-node + sharp +
// hnswlib-node), same models, images, gallery and thread counts. The peer runs
// in a child process (the two ONNX Runtime builds cannot share one process);
// the two sides take turns (A B A B per image) so neither runs while the other
// measures, and drift in the machine's load hits both alike.
import { fork, ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { galleryEntries, IMAGES, log, RunMode, runInFlight, stats, Stats, writeJson, now } from '../lib/util';
import { loadOurs, ModelSet } from '../lib/ours';
import { ensureProgramModels } from '../models/generate';
import { shapedModelSet } from './shaped';

class Worker {
  private child: ChildProcess;
  private seq = 0;
  private waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  constructor() {
    this.child = fork(path.join(__dirname, '..', 'lib', 'peer-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: any) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(m.error));
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`peer worker exited with ${code}`));
      this.waiting.clear();
    });
  }
  call(msg: Record<string, unknown>): Promise<any> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ ...msg, id });
    });
  }
  async close() {
    await this.call({ cmd: 'exit' }).catch(() => undefined);
  }
}

export interface PeerImageRow {
  image: string;
  threads: number;
  variant: string;
  ours: Stats;
  peer: Stats;
  oursBoxes: number;
  peerBoxes: number;
  /** Largest coordinate difference between matched boxes (pixels), when the box counts agree. */
  maxBoxDelta: number | null;
  oursTop1: Array<string | null>;
  peerTop1: Array<string | null>;
  oursTop1Raw: Array<string | null>;
  peerTop1Raw: Array<string | null>;
  top1Agree: boolean;
  top1RawAgree: boolean;
  /** Raw top-1 similarity (inner product of L2-normalised features), per box. */
  oursTop1Score: Array<number | null>;
  peerTop1Score: Array<number | null>;
  /** Smallest IoU between a box of ours and its matched peer box. */
  minIou: number;
  oursStages: Record<string, number>;
  peerStages: Record<string, number>;
}

export interface PeerThroughputRow {
  threads: number;
  variant: string;
  concurrency: number;
  count: number;
  oursIps: number;
  peerIps: number;
  ratio: number;
  oursP99: number;
  peerP99: number;
}

export interface PeerResult {
  variants: Record<string, string>;
  rows: PeerImageRow[];
  throughput: PeerThroughputRow[];
  load: Array<{ threads: number; variant: string; oursLoadMs: number; peerLoadMs: number; peerIndexMs: number; oursIndexMs: number }>;
  notes: string[];
}

const STAGE_KEYS = ['decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'search'];

function medianOf(rows: any[], key: string): number {
  return stats(rows.map((r) => r[key])).p50;
}

export async function runPeer(mode: RunMode): Promise<PeerResult> {
  // --quick: 1 thread, few iterations (it must leave the whole quick run under 2 minutes).
  const warmup = mode.quick ? 2 : 5;
  const half = mode.quick ? 5 : 12; // per turn; two turns per side (the full run must stay under 15 min)
  const tpCount = mode.quick ? 12 : 40;
  const gallery = galleryEntries();
  const variants: Array<{ key: string; strip: boolean; noSpin?: boolean; threads?: number[]; shaped?: boolean; desc: string }> = [
    { key: 'peer', strip: true, desc: 'onnxruntime-node with the detector\'s initializers moved out of the graph inputs (done in JS with onnx-proto) — the best this stack allows, and what this package does natively' },
  ];
  if (!mode.quick) variants.push({ key: 'peer-no-spin', strip: true, noSpin: true, threads: [2], desc: 'as "peer", plus the session option session.intra_op.allow_spinning = "0" (intra-op threads sleep after a Run instead of spinning), which this package also sets: at 2 threads the detector and feature sessions then stop fighting over the 2 cores' });
  // The PP-ShiTuV2 programs converted with random weights (timing only), 1 thread, fewer iterations: a detection is ~10x the stand-in's work.
  if (!mode.quick) variants.push({ key: 'peer-shaped', strip: false, shaped: true, threads: [1], desc: 'as "peer", on the PP-ShiTuV2 programs (random weights: timing only; section 2): 640x640 bicubic RGB + scale_factor and im_shape in, NMS in the graph, 512-d features; both sides embed the whole image (no box reaches 0.5), so labels are not compared' });
  if (!mode.quick) variants.push({ key: 'peer-as-exported', strip: false, threads: [1], desc: 'onnxruntime-node on the detector file as exported (279 initializers listed as graph inputs, so no constant folding): what a developer gets by default' });
  const res: PeerResult = {
    variants: Object.fromEntries(variants.map((v) => [v.key, v.desc])),
    rows: [],
    throughput: [],
    load: [],
    notes: [
      'Peer: onnxruntime-node 1.30.0 (CPU provider, intraOpNumThreads = threads, interOpNumThreads 1, sequential, graph optimisation "all"), sharp 0.35.5 (decode once to raw RGB with EXIF rotation, resize 416x416 fill / crops 224x224 fill, kernel "linear"), hnswlib-node 3.0.0 (inner product, M 32, efConstruction 40, ef 16). GFL decode + class-aware NMS in JS.',
      'Both sides in one benchmark run on the same machine, turn by turn; the peer in a child process so that the thread pools and allocators of one side do not disturb the timings of the other (both can share one process: test/native/coexistence.test.ts).',
      'Latency = wall time of one recognition from the JS call to the result, sequential calls. Throughput = images/s over the 4 images round-robin with 1 (and 2) calls in flight.',
      'Top-1 agreement: boxes are matched by IoU; per image, the box counts must agree and every matched pair must have the same top-1 label, thresholded (rec_threshold 0.5, null below) and raw (no threshold).',
    ],
  };
  for (const v of variants) {
    // The as-exported variant only at 1 thread (the least noisy setting), to fit the full run's time.
    for (const threads of v.threads ?? (mode.quick ? [1] : [2, 1])) {
      log(`peer: ${v.key}, ${threads} thread(s)`);
      const w = new Worker();
      const shaped = v.shaped ? await ensureProgramModels() : undefined;
      const set: ModelSet | undefined = shaped ? shapedModelSet(shaped) : undefined;
      const images = shaped ? IMAGES.slice(0, 2) : IMAGES;
      const vWarmup = shaped ? 1 : warmup, vHalf = shaped ? 4 : half, vTp = shaped ? 8 : tpCount;
      try {
        const init = await w.call({ cmd: 'init', threads, stripInitializers: v.strip, noSpin: !!v.noSpin, gallery, shaped: shaped ? { det: shaped.det.file, rec: shaped.rec.file } : undefined });
        const { pipeline, index, loadMs, indexMs } = await loadOurs(threads, set, shaped ? 1 : 4);
        res.load.push({ threads, variant: v.key, oursLoadMs: loadMs, oursIndexMs: indexMs, peerLoadMs: init.loadMs, peerIndexMs: init.indexMs });
        for (const img of images) {
          const oursLat: number[] = [], peerLat: number[] = [], oursT: any[] = [], peerT: any[] = [];
          let peerLast: any;
          for (let i = 0; i < vWarmup; i++) await pipeline.recognize(img, { index, keepImage: false });
          for (let turn = 0; turn < 2; turn++) {
            for (let i = 0; i < vHalf; i++) {
              const t0 = now();
              const r = await pipeline.recognize(img, { index, keepImage: false });
              oursLat.push(now() - t0);
              oursT.push(r.timings);
            }
            const p = await w.call({ cmd: 'bench', image: img, warmup: turn === 0 ? vWarmup : 0, iters: vHalf });
            peerLat.push(...p.lat);
            peerT.push(...p.timings);
            peerLast = p;
          }
          const ours = await pipeline.recognize(img, { index, keepImage: false });
          const oursRaw = await pipeline.recognize(img, { index, keepImage: false, recThreshold: -1e9 });
          // Match boxes by IoU (equal scores may come in either order), then compare per matched pair.
          const iou = (a: number[], b: number[]) => {
            const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])), iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
            const u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy;
            return u > 0 ? (ix * iy) / u : 0;
          };
          const used = new Set<number>();
          const pairs = oursRaw.boxes.map((b) => {
            let best = -1, bi = 0;
            peerLast.boxes.forEach((pb: any, j: number) => {
              const v = iou(b.coordinate, pb.coordinate);
              if (!used.has(j) && v > bi) { bi = v; best = j; }
            });
            if (best >= 0) used.add(best);
            return { j: best, iou: bi };
          });
          const peerAt = (i: number) => (pairs[i].j >= 0 ? peerLast.boxes[pairs[i].j] : undefined);
          const oursTop1 = ours.boxes.map((b) => b.labels[0]);
          const oursTop1Raw = oursRaw.boxes.map((b) => b.labels[0]);
          const oursTop1Score = oursRaw.boxes.map((b) => b.rec_scores[0]);
          const peerTop1 = oursRaw.boxes.map((_, i) => peerAt(i)?.labels[0] ?? null);
          const peerTop1Raw = oursRaw.boxes.map((_, i) => peerAt(i)?.rawTop1 ?? null);
          const peerTop1Score = oursRaw.boxes.map((_, i) => peerAt(i)?.rawTop1Score ?? null);
          const countsAgree = ours.boxes.length === peerLast.boxes.length && oursRaw.boxes.length === ours.boxes.length;
          const minIou = pairs.length ? Math.min(...pairs.map((q) => q.iou)) : 1;
          const maxBoxDelta: number | null = countsAgree
            ? Math.max(0, ...oursRaw.boxes.map((b, i) => { const pb = peerAt(i); return pb ? Math.max(...b.coordinate.map((c, k) => Math.abs(c - pb.coordinate[k]))) : Infinity; }))
            : null;
          res.rows.push({
            image: path.basename(img),
            threads,
            variant: v.key,
            ours: stats(oursLat),
            peer: stats(peerLat),
            oursBoxes: ours.boxes.length,
            peerBoxes: peerLast.boxes.length,
            maxBoxDelta,
            oursTop1,
            peerTop1,
            oursTop1Raw,
            peerTop1Raw,
            top1Agree: countsAgree && JSON.stringify(oursTop1) === JSON.stringify(peerTop1),
            top1RawAgree: countsAgree && JSON.stringify(oursTop1Raw) === JSON.stringify(peerTop1Raw),
            oursTop1Score,
            peerTop1Score,
            minIou,
            oursStages: Object.fromEntries(STAGE_KEYS.map((k) => [k, medianOf(oursT, k)]).concat([['crossing', stats(oursT.map((t: any) => t.wall - t.total)).p50]])),
            peerStages: Object.fromEntries(STAGE_KEYS.map((k) => [k, medianOf(peerT, k)])),
          });
        }
        // Throughput: all images round-robin, 1 (and 2) in flight.
        for (const concurrency of mode.quick || shaped ? [1] : [1, 2]) {
          const t0 = now();
          const oursLat = await runInFlight(vTp, concurrency, (i) => pipeline.recognize(images[i % images.length], { index }));
          const oursSec = (now() - t0) / 1000;
          const p = await w.call({ cmd: 'throughput', images, count: vTp, concurrency });
          const oursIps = vTp / oursSec, peerIps = vTp / p.seconds;
          res.throughput.push({ threads, variant: v.key, concurrency, count: vTp, oursIps, peerIps, ratio: oursIps / peerIps, oursP99: stats(oursLat).p99, peerP99: stats(p.lat).p99 });
        }
      } finally {
        await w.close();
      }
    }
  }
  writeJson('peer.json', res);
  return res;
}

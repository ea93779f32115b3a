// Section "eval": the evaluation at scale, 1,000 labelled queries made from the
// shared photos (augmented copies: crop, mirror, brightness, JPEG quality,
// each a different file, so the content-hash cache does not short-cut them)
// against the quick-start gallery, through pipeline.evaluate. Standalone:
//   node dist/bench/sections/eval.js [--queries N] [--concurrency N] [--keep DIR]
// writes bench/results/eval.json (seconds, queries/s, the figures) and the
// report's Markdown and charts in bench/results/eval/.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { native } from '../../lib/native/loader';
import { writeEvaluation } from '../../lib/eval/write-report';
import { log, machine, resultsDir, ROOT, SHARED, STANDIN_CONFIG, writeJson } from '../lib/util';

const IMAGES = path.join(SHARED, 'data', 'images');
const GALLERY_LABELS = path.join(ROOT, 'examples', 'gallery_labels.txt');

/** The query photos and what they show ('-': nothing in the gallery). */
const SOURCES: Array<[string, string]> = [
  ...fs.readFileSync(GALLERY_LABELS, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split('\t') as [string, string]),
  ['product_demo/query/anmuxi.jpg', '安慕希'],
  ['misc/anmuxi.jpg', '安慕希'],
  ['misc/wangzai.jpg', '-'],
  ['misc/coco_000000570688.jpg', '-'],
  ['product_demo/query/daoxiangcunjinzhubing_6.jpg', '-'],
];

/** Deterministic: the same queries on every run (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Raw { data: Uint8Array; width: number; height: number; channels: number }

/** A crop of 80-100 % of each side, at most 800 px on the long side, maybe mirrored, brightness x0.8-1.2. */
function augment(src: Raw, r: () => number): Raw {
  const cw = Math.max(16, Math.round(src.width * (0.8 + 0.2 * r())));
  const ch = Math.max(16, Math.round(src.height * (0.8 + 0.2 * r())));
  const x0 = Math.floor(r() * (src.width - cw + 1)), y0 = Math.floor(r() * (src.height - ch + 1));
  const scale = Math.min(1, 800 / Math.max(cw, ch));
  const w = Math.max(16, Math.round(cw * scale)), h = Math.max(16, Math.round(ch * scale));
  const mirror = r() < 0.5, gain = 0.8 + 0.4 * r();
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = y0 + Math.min(ch - 1, Math.floor(y / scale));
    for (let x = 0; x < w; x++) {
      const sx = x0 + Math.min(cw - 1, Math.floor((mirror ? w - 1 - x : x) / scale));
      const si = (sy * src.width + sx) * src.channels, di = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) out[di + c] = Math.min(255, src.data[si + c] * gain);
    }
  }
  return { data: out, width: w, height: h, channels: 3 };
}

async function makeQueries(dir: string, n: number): Promise<string> {
  const r = rng(24);
  const decoded = await Promise.all(SOURCES.map(([p]) => native.decodeImage(path.join(IMAGES, p)) as Promise<Raw>));
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % SOURCES.length;
    const name = `q${String(i).padStart(4, '0')}.jpg`;
    const bytes: Buffer = await native.encodeImage({ ...augment(decoded[k], r), channelOrder: 'bgr' }, '.jpg', 75 + Math.floor(r() * 21));
    fs.writeFileSync(path.join(dir, name), bytes);
    lines.push(`${name}\t${SOURCES[k][1]}`);
  }
  const labels = path.join(dir, 'labels.txt');
  fs.writeFileSync(labels, lines.join('\n') + '\n');
  return labels;
}

async function main() {
  const args = process.argv.slice(2);
  const arg = (k: string) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
  const n = Number(arg('--queries') ?? 1000);
  const concurrency = arg('--concurrency') ? Number(arg('--concurrency')) : undefined;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--queries must be a positive integer, got ${arg('--queries')}`);
  const dir = arg('--keep') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-bench-eval-'));
  fs.mkdirSync(dir, { recursive: true });
  const m = machine();
  log(`eval bench: ${n} queries on ${m.cpu}, ${m.cores} cores, load ${m.loadavgStart.join(' ')}`);
  try {
    const tq = performance.now();
    const queryLabels = await makeQueries(dir, n);
    const makeS = (performance.now() - tq) / 1000;
    const pipeline = await createPipeline(STANDIN_CONFIG, { concurrency });
    try {
      const t0 = performance.now();
      const r = await pipeline.evaluate({ gallery: { dir: IMAGES, labels: GALLERY_LABELS }, queries: dir, queryLabels });
      const seconds = (performance.now() - t0) / 1000;
      // The Markdown and the charts are kept; the full JSON (every query's hits, megabytes) is not.
      const written = await writeEvaluation(r, path.join(resultsDir(), 'eval'));
      for (const f of written) if (f.endsWith('.json')) fs.rmSync(f);
      const result = {
        machine: m,
        settings: pipeline.settings,
        queries: r.queries,
        gallery: r.gallery,
        seconds,
        queriesPerSecond: n / seconds,
        makeQueriesSeconds: makeS,
        embedded: r.run.embedded,
        image: { recall1: r.image.recall1, recall5: r.image.recall5, mAP: r.image.mAP, bestF1: r.image.sweep.bestF1, suggested: r.image.sweep.suggested, atCurrent: r.image.atCurrent },
        box: { count: r.box.count, recall1: r.box.recall1, recall5: r.box.recall5, mAP: r.box.mAP, suggested: r.box.sweep.suggested },
      };
      const file = writeJson('eval.json', result);
      log(`${n} queries in ${seconds.toFixed(1)} s (${result.queriesPerSecond.toFixed(1)} queries/s); Recall@1 ${(r.image.recall1 * 100).toFixed(1)} %, mAP@5 ${(r.image.mAP * 100).toFixed(1)} %, suggested ${r.image.sweep.suggested?.toFixed(4)} -> ${file}`);
    } finally {
      await pipeline.close();
    }
  } finally {
    if (!arg('--keep')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The bench's section (bench/sections/index.ts): the same run, from `node dist/bench/run.js`. */
export const runEval = (): Promise<void> => main();

// Run as a script only: the section imports this file.
if (require.main === module) main().catch((e) => { process.stderr.write(`${(e as Error).stack ?? e}\n`); process.exitCode = 1; });

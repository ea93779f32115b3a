// The INT8 feature model (`shitu models quantize`, lib/onnx/quantize/), measured in one run:
//  1. an FP32 feature model: the MobileNetV2 stand-in's INT8 weights turned back
//     into floats (test/helpers/int8-to-fp32.ts, the quantizer's own test model),
//     quantized by quantizeFeatureModel calibrated on the quick-start gallery
//     (examples/gallery_labels.txt photos, one folder per label); the guard's
//     figures (top-1 retrieval agreement, mean cosine) as it reports them;
//  2. the PP-ShiTuV2 feature program converted with random weights
//     (bench/models/generate.ts), quantized the same way with the guard's
//     thresholds off: random weights make every embedding alike, so its figures
//     are shown but mean nothing (timing only);
//  3. raw ONNX Runtime Runs (the addon's bare Model.run, graph optimization
//     "all" as in the pipeline) FP32 against INT8 at 1 and 2 intra-op threads,
//     the variants taking turns round after round so that load from other
//     processes falls on both.
// The INT8 kernels' speed hangs on the CPU's SIMD (VNNI above all): its flags
// are recorded with the figures.
// Section "int8" of bench/run.js; on its own: node dist/bench/sections/int8.js
// [--quick] [--out file.json] after tsc.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import type { NativeModel } from '../../lib/native/binding';
import { quantizeFeatureModel, QuantizeReport } from '../../lib/onnx/quantize';
import { writeFp32FeatureModel } from '../../test/helpers/int8-to-fp32';
import { ensureProgramModels, PROGRAM_LABEL, REC_SIZE } from '../models/generate';
import { machine } from '../lib/machine';
import { FEAT_ONNX, ROOT, SHARED } from '../lib/paths';
import { median, medianRunMs } from '../lib/stats';
import { DetectorInt8Result, renderDetectorInt8, runDetectorInt8 } from './int8-detector';

/** INT8 raw Run against FP32 on the stand-in feature model, same run. */
export const INT8_TARGET = 1.4;
let ROUNDS = 5;
let ITERS = 20;

const VARIANTS = ['fp32', 'int8'] as const;
type Variant = (typeof VARIANTS)[number];

interface Row { model: string; threads: number; ms: Record<Variant, number>; speedup: number }
interface Quantized {
  model: string;
  /** Whether the guard's figures mean anything (false: random weights). */
  guarded: boolean;
  /** Calibration and check images. */
  calibration: string;
  note: string;
  figures?: Pick<QuantizeReport, 'images' | 'top1Agreement' | 'meanCosine' | 'quantizedConvs' | 'calibrationImages'>;
  quantizeMs?: number;
  error?: string;
}

export interface Int8Result {
  machine: ReturnType<typeof machine>;
  cpuFlags: Record<'avx2' | 'avx512f' | 'avx512_vnni' | 'avx_vnni', boolean>;
  loadavgStart: number[];
  loadavgEnd: number[];
  quick: boolean;
  rounds: number;
  iters: number;
  models: Quantized[];
  raw: Row[];
  detector?: DetectorInt8Result;
}

function cpuFlags(): Int8Result['cpuFlags'] {
  let flags = new Set<string>();
  try { flags = new Set((/^flags\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/)); } catch { /* not Linux: all false */ }
  return { avx2: flags.has('avx2'), avx512f: flags.has('avx512f'), avx512_vnni: flags.has('avx512_vnni'), avx_vnni: flags.has('avx_vnni') };
}

/** The quick-start gallery as the quantizer reads one: a folder per label (copies). */
function galleryDir(tmp: string): string {
  const dir = path.join(tmp, 'gallery');
  const list = fs.readFileSync(path.join(ROOT, 'examples', 'gallery_labels.txt'), 'utf8').split('\n');
  for (const line of list) {
    const m = /^([^#\s]\S*)\s+(.+)$/.exec(line.trim());
    if (!m) continue;
    const d = path.join(dir, m[2].trim());
    fs.mkdirSync(d, { recursive: true });
    fs.copyFileSync(path.join(SHARED, 'data', 'images', m[1]), path.join(d, path.basename(m[1])));
  }
  return dir;
}

async function quantize(q: Quantized, modelDir: string, gallery: string, guarded: boolean, outDir?: string): Promise<string | undefined> {
  const t0 = performance.now();
  try {
    const r = await quantizeFeatureModel({ modelDir, galleryDir: gallery, outDir, ...(guarded ? {} : { minTop1Agreement: 0, minMeanCosine: -1 }) });
    q.quantizeMs = performance.now() - t0;
    q.figures = { images: r.images, top1Agreement: r.top1Agreement, meanCosine: r.meanCosine, quantizedConvs: r.quantizedConvs, calibrationImages: r.calibrationImages };
    return r.modelFile;
  } catch (e) {
    q.error = `${(e as { code?: string }).code ?? 'Error'}: ${(e as Error).message}`;
    return undefined;
  }
}

async function time(model: string, fp32: string, int8: string, input: string): Promise<Row[]> {
  const dims = [1, 3, 224, 224];
  const feeds = { [input]: { data: new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7919) % 255) / 64 - 2), dims } };
  const rows: Row[] = [];
  for (const threads of [1, 2]) {
    const o = { intraOpThreads: threads, graphOptimization: 'all' };
    const s: Record<Variant, NativeModel> = { fp32: await native.loadModel(fp32, o), int8: await native.loadModel(int8, o) };
    const per: Record<Variant, number[]> = { fp32: [], int8: [] };
    for (let r = 0; r < ROUNDS; r++) for (const v of VARIANTS) per[v].push(await medianRunMs(s[v], feeds, 3, ITERS));
    const ms = { fp32: median(per.fp32), int8: median(per.int8) };
    rows.push({ model, threads, ms, speedup: ms.fp32 / ms.int8 });
  }
  return rows;
}

export async function runInt8Bench(o: { quick?: boolean } = {}): Promise<{ result: Int8Result; markdown: string }> {
  const quick = !!o.quick;
  [ROUNDS, ITERS] = quick ? [2, 8] : [5, 20];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-bench-int8-'));
  try {
    const loadStart = os.loadavg();
    const gallery = galleryDir(tmp);
    const models: Quantized[] = [];
    const raw: Row[] = [];

    const standinDir = path.join(tmp, 'mobilenetv2-fp32');
    const fp32 = writeFp32FeatureModel(FEAT_ONNX, standinDir, path.join(ROOT, 'models', 'mobilenetv2_feat.yaml'));
    const STANDIN = 'MobileNetV2 FP32 stand-in (feat1280)';
    const guardNote = 'guarded: written only when the figures pass QUANTIZE in lib/limits.ts';
    const standin: Quantized = { model: STANDIN, guarded: true, calibration: `the quick-start gallery (examples/gallery_labels.txt: ${fs.readdirSync(gallery).length} labels, a distractor's label is its own)`, note: guardNote };
    models.push(standin);
    let standinInt8 = await quantize(standin, standinDir, gallery, true);
    if (!standinInt8) {
      // Refused there: the quantizer's own test set (every shared photo, labelled by folder), where it passes.
      const all: Quantized = { model: STANDIN, guarded: true, calibration: 'every shared photo (data/images, labelled by folder)', note: `${guardNote}; timed below` };
      models.push(all);
      standinInt8 = await quantize(all, standinDir, path.join(SHARED, 'data', 'images'), true, path.join(tmp, 'mobilenetv2-fp32-all-int8'));
    }

    let program: { rec: { file: string } } | undefined;
    const prog: Quantized = { model: 'PP-ShiTuV2_rec (PP-LCNetV2_base)', guarded: false, calibration: 'the quick-start gallery', note: `${PROGRAM_LABEL}: the guard's figures are shown, its thresholds off` };
    models.push(prog);
    try { program = await ensureProgramModels(); } catch (e) { prog.error = `not converted: ${(e as Error).message}`; }
    let progInt8: string | undefined;
    const progDir = path.join(tmp, 'PP-ShiTuV2_rec');
    if (program) {
      // A copy under the model's registered name (its card comes from the package's registry).
      fs.mkdirSync(progDir);
      fs.copyFileSync(program.rec.file, path.join(progDir, path.basename(program.rec.file)));
      progInt8 = await quantize(prog, progDir, gallery, false);
    }

    // Timing last, with nothing else of this process running.
    if (standinInt8) raw.push(...(await time(standin.model, fp32, standinInt8, 'input')));
    if (progInt8) raw.push(...(await time(prog.model, path.join(progDir, path.basename(progInt8)), progInt8, 'x')));
    const detector = await runDetectorInt8(tmp, ROUNDS, ITERS);
    const result: Int8Result = {
      machine: machine(), cpuFlags: cpuFlags(), loadavgStart: loadStart, loadavgEnd: os.loadavg(), quick, rounds: ROUNDS, iters: ITERS,
      models, raw, detector,
    };
    return { result, markdown: render(result) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function render(r: Int8Result): string {
  const mc = r.machine;
  const f = (x: number) => x.toFixed(1);
  const flags = Object.entries(r.cpuFlags).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ');
  const head = r.raw.find((x) => x.model === r.models[0].model && x.threads === 1);
  return [
    `# INT8 feature model — ${mc.cpu}, ${mc.simd ?? 'SIMD unknown'}, ${mc.cores} cores, load ${r.loadavgStart.map((x) => x.toFixed(1)).join('/')}${r.quick ? ' (quick)' : ''}`,
    '',
    `CPU flags: ${flags}. Each model is calibrated and checked on the same images (the check: each image's nearest other image keeps its label, FP32 against INT8).`,
    '',
    '## Quantization (`shitu models quantize`) and the guard\'s figures',
    '',
    '| model | calibration + check images | top-1 agreement | mean cosine | convolutions quantized | quantize time | note |',
    '|---|---|---|---|---|---|---|',
    ...r.models.map((m) => m.figures
      ? `| ${m.model} | ${m.calibration} | ${(100 * m.figures.top1Agreement).toFixed(1)} % of ${m.figures.images}${m.guarded ? '' : ' (random weights: timing only)'} | ${m.figures.meanCosine.toFixed(4)}${m.guarded ? '' : ' (meaningless)'} | ${m.figures.quantizedConvs} | ${((m.quantizeMs ?? 0) / 1000).toFixed(1)} s | ${m.note} |`
      : `| ${m.model} | ${m.calibration} | — | — | — | — | not written: ${(m.error ?? '').replace(/,? on \d+ images of .*$/, '')} |`),
    '',
    `## Raw Run, FP32 against INT8, median of ${r.rounds} rounds x ${r.iters} Runs (ms)`,
    '',
    '| model | threads | FP32 | INT8 | FP32 / INT8 |',
    '|---|---|---|---|---|',
    ...r.raw.map((x) => `| ${x.model} | ${x.threads} | ${f(x.ms.fp32)} | ${f(x.ms.int8)} | ${x.speedup.toFixed(2)}x |`),
    '',
    head ? `Stand-in, 1 thread: **${head.speedup.toFixed(2)}x** (target >= ${INT8_TARGET}x: ${head.speedup >= INT8_TARGET ? '**met**' : '**not met**'})` : 'Stand-in: not timed (not quantized).',
    '',
    ...(r.detector ? renderDetectorInt8(r.detector) : []),
  ].join('\n');
}

if (require.main === module) {
  const outArg = process.argv.indexOf('--out');
  runInt8Bench({ quick: process.argv.includes('--quick') }).then(
    ({ result, markdown }) => {
      console.log(markdown);
      if (outArg > 0) fs.writeFileSync(process.argv[outArg + 1], JSON.stringify(result, null, 2));
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

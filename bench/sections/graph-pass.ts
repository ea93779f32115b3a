// The load-time graph pass (lib/onnx/graph-pass/), measured in one run:
//  1. raw ONNX Runtime Runs (the addon's bare Model.run, same ORT and options
//     as the pipeline) of each stand-in model as given, with only the weights
//     taken out of the graph inputs (the addon's behaviour without the pass), and
//     rewritten by the pass, at 1 and 2 intra-op threads; the variants take turns
//     round after round so that load from other processes falls on all of them;
//  2. the stand-in pipeline's throughput (default options, recognitions in flight
//     = its concurrency) with optimizeGraph on and off, also in turns;
//  3. load times: the first load (rewrite + cache write), a cached load, and a
//     load without the pass.
// Section "graph-pass" of bench/run.js; run on its own: node dist/bench/sections/graph-pass.js
// [--quick] [--out file.json] after tsc: prints a Markdown report. A
// bench runner calls runGraphPassBench() and gets the figures and the Markdown.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPipeline, IndexData, Pipeline } from '../../lib/index';
import { native } from '../../lib/native/loader';
import type { NativeModel } from '../../lib/native/binding';
import { optimizedModel } from '../../lib/onnx/graph-pass/cache';
import { GRAPH_PASS_VERSION } from '../../lib/onnx/graph-pass';
import { machine } from '../lib/machine';
import { DET_ONNX, FEAT_ONNX, galleryEntries, IMAGES, SHARED, STANDIN_CONFIG } from '../lib/paths';
import { median, medianRunMs, now, runInFlight } from '../lib/stats';

/** The stand-in pipeline's throughput with the pass against without it, in one run. */
export const PIPELINE_TARGET = 1.3;
let ROUNDS = 5;
let ITERS = 20;
let RECOGNITIONS = 48;

const MODELS = [
  { name: 'PicoDet-S 416', file: DET_ONNX, dims: [1, 3, 416, 416] },
  { name: 'PicoDet-S 320', file: path.join(SHARED, 'models', 'picodet_s_coco', 'picodet_s_320_coco.onnx'), dims: [1, 3, 320, 320] },
  { name: 'MobileNetV2 int8 (feature)', file: FEAT_ONNX, dims: [1, 3, 224, 224] },
];
const VARIANTS = ['as given', 'weights out of inputs', 'graph pass'] as const;
type Variant = (typeof VARIANTS)[number];

interface RawRow { model: string; threads: number; ms: Record<Variant, number>; speedup: number }
interface PipelineRow { optimizeGraph: boolean; ips: number[]; medianIps: number }

/** A fresh model home per run, so that the first load really rewrites (the cache lives there). */
let tmpHome = '';

async function load(file: string, threads: number, v: Variant, cacheDir: string): Promise<NativeModel> {
  const o = { intraOpThreads: threads, graphOptimization: 'all' };
  if (v === 'as given') return native.loadModel(file, { ...o, stripInitializerInputs: false });
  if (v === 'weights out of inputs') return native.loadModel(file, o);
  const r = optimizedModel(file, [cacheDir]);
  if (!r) throw new Error(`the graph pass left ${file} alone`);
  return native.loadModel(file, { ...o, stripInitializerInputs: false }, r.bytes);
}

async function raw(): Promise<RawRow[]> {
  const rows: RawRow[] = [];
  for (const m of MODELS) {
    const n = m.dims.reduce((a, b) => a * b, 1);
    const feeds = { [m.file === FEAT_ONNX ? 'input' : 'image']: { data: new Float32Array(n).map((_, i) => ((i * 7919) % 255) / 64 - 2), dims: m.dims } };
    for (const threads of [1, 2]) {
      const sessions = {} as Record<Variant, NativeModel>;
      for (const v of VARIANTS) sessions[v] = await load(m.file, threads, v, path.join(tmpHome, 'raw-cache'));
      const per: Record<Variant, number[]> = { 'as given': [], 'weights out of inputs': [], 'graph pass': [] };
      for (let r = 0; r < ROUNDS; r++) for (const v of VARIANTS) per[v].push(await medianRunMs(sessions[v], feeds, 3, ITERS));
      const ms = Object.fromEntries(VARIANTS.map((v) => [v, median(per[v])])) as Record<Variant, number>;
      rows.push({ model: m.name, threads, ms, speedup: ms['as given'] / ms['graph pass'] });
    }
  }
  return rows;
}

async function throughput(p: Pipeline, index: IndexData): Promise<number> {
  const conc = p.settings.concurrency;
  const t0 = now();
  await runInFlight(RECOGNITIONS, conc, (i) => p.recognize(IMAGES[i % IMAGES.length], { index }));
  return RECOGNITIONS / ((now() - t0) / 1000);
}

async function pipelines(): Promise<{ rows: PipelineRow[]; ratio: number; loads: Record<string, number>; settings: string }> {
  const loads: Record<string, number> = {};
  let t0 = now();
  const on = await createPipeline(STANDIN_CONFIG, { warmup: true });
  loads['first load, graph pass (rewrite + cache write)'] = now() - t0;
  await on.close();
  t0 = now();
  const onCached = await createPipeline(STANDIN_CONFIG, { warmup: true });
  loads['cached load, graph pass'] = now() - t0;
  t0 = now();
  const off = await createPipeline(STANDIN_CONFIG, { warmup: true, optimizeGraph: false });
  loads['load without the pass'] = now() - t0;
  const gallery = galleryEntries();
  const build = (p: Pipeline) => p.buildIndex({ galleryImgs: gallery.map((g) => g.image), galleryLabel: gallery.map((g) => g.label), indexType: 'Flat', metricType: 'IP' });
  const [ion, ioff] = [await build(onCached), await build(off)];
  const rows: PipelineRow[] = [{ optimizeGraph: true, ips: [], medianIps: 0 }, { optimizeGraph: false, ips: [], medianIps: 0 }];
  await throughput(onCached, ion);
  await throughput(off, ioff);
  for (let r = 0; r < ROUNDS; r++) {
    rows[0].ips.push(await throughput(onCached, ion));
    rows[1].ips.push(await throughput(off, ioff));
  }
  for (const row of rows) row.medianIps = median(row.ips);
  const s = onCached.settings;
  await onCached.close();
  await off.close();
  return { rows, ratio: rows[0].medianIps / rows[1].medianIps, loads, settings: `${s.concurrency} in flight x ${s.threads} thread(s)` };
}

export interface GraphPassBench {
  result: { machine: ReturnType<typeof machine>; loadavgStart: number[]; loadavgEnd: number[]; graphPassVersion: number; quick: boolean; raw: RawRow[]; pipeline: Awaited<ReturnType<typeof pipelines>> };
  markdown: string;
}

export async function runGraphPassBench(o: { quick?: boolean } = {}): Promise<GraphPassBench> {
  const quick = !!o.quick;
  [ROUNDS, ITERS, RECOGNITIONS] = quick ? [2, 8, 16] : [5, 20, 48];
  const savedHome = process.env.SHITU_MODEL_HOME;
  tmpHome = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-bench-graph-pass-'));
  process.env.SHITU_MODEL_HOME = tmpHome;
  try {
    const mc = machine();
    const loadStart = os.loadavg();
    const rawRows = await raw();
    const pipe = await pipelines();
    const result = { machine: mc, loadavgStart: loadStart, loadavgEnd: os.loadavg(), graphPassVersion: GRAPH_PASS_VERSION, quick, raw: rawRows, pipeline: pipe };
    return { result, markdown: render(result) };
  } finally {
    if (savedHome === undefined) delete process.env.SHITU_MODEL_HOME;
    else process.env.SHITU_MODEL_HOME = savedHome;
    fs.rmSync(tmpHome, { recursive: true, force: true });
  }
}

function render(r: GraphPassBench['result']): string {
  const { machine: mc, raw: rawRows, pipeline: pipe } = r;
  const f = (x: number) => x.toFixed(1);
  const lines = [
    `# Graph pass (v${r.graphPassVersion}) — ${mc.cpu}, ${mc.simd ?? 'SIMD unknown'}, ${mc.cores} cores, load ${r.loadavgStart.map((x) => x.toFixed(1)).join('/')}${r.quick ? ' (quick)' : ''}`,
    '',
    `## Raw Run, median of ${ROUNDS} rounds x ${ITERS} Runs (ms)`,
    '',
    '| model | threads | as given | weights out of inputs | graph pass | as given / graph pass |',
    '|---|---|---|---|---|---|',
    ...rawRows.map((x) => `| ${x.model} | ${x.threads} | ${f(x.ms['as given'])} | ${f(x.ms['weights out of inputs'])} | ${f(x.ms['graph pass'])} | ${x.speedup.toFixed(2)}x |`),
    '',
    `## Stand-in pipeline, default options (${pipe.settings}), ${RECOGNITIONS} recognitions x ${ROUNDS} rounds`,
    '',
    '| optimizeGraph | images/s (median) | rounds |',
    '|---|---|---|',
    ...pipe.rows.map((x) => `| ${x.optimizeGraph} | ${f(x.medianIps)} | ${x.ips.map(f).join(', ')} |`),
    '',
    `on / off: **${pipe.ratio.toFixed(2)}x** (target >= ${PIPELINE_TARGET}x: ${pipe.ratio >= PIPELINE_TARGET ? '**met**' : '**not met**'})`,
    '',
    '## Pipeline load (both models, warm-up included)',
    '',
    ...Object.entries(pipe.loads).map(([k, v]) => `- ${k}: ${v.toFixed(0)} ms`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const outArg = process.argv.indexOf('--out');
  runGraphPassBench({ quick: process.argv.includes('--quick') }).then(
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

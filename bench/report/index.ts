// Writes a run's REPORT.md (and its SVG charts) from the JSON results of that
// one run, in that run's folder: a section the run did not measure says so; no
// figure of another run is ever shown.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { barChart, fmt, lineChart, readJson, scatterChart, stackedBarChart, writeSvg } from '../lib/util';

/** The report's performance targets, each defined here once. */
export const TARGETS = {
  /** Stand-in models, default settings, against onnxruntime-node + sharp + hnswlib-node in the same run. */
  peerRatio: 3.0,
  /** The PP-ShiTuV2 programs (random weights) against the same peer. */
  peerRatioPrograms: 1.5,
  /** Best setting against raw ONNX Runtime Runs of the same (rewritten) graphs, all cores busy. */
  limitFraction: 0.92,
  /** The stand-in pipeline with the load-time graph pass against without it. */
  graphPassPipeline: 1.3,
  /** Raw Run of the INT8 feature model (shitu models quantize) against its FP32 source, 1 thread. */
  int8Feature: 1.4,
} as const;
import type { StagesResult } from '../sections/stages';
import type { LimitResult } from '../sections/limit';
import type { PeerResult } from '../sections/peer';
import type { ThroughputResult } from '../sections/throughput';
import type { IndexScalingResult } from '../sections/index-scaling';
import type { MillionResult } from '../sections/million';
import { millionSection, millionTargets } from './million';
import type { BatchingResult } from '../sections/batching';
import { batchingSection, batchingTargets } from './batching';
import type { MemoryResult } from '../sections/memory';
import { MIN_IOU, type DecodeResult } from '../sections/decode';
import type { ShapedResult } from '../sections/shaped';
import { shapedClosing, shapedSection } from './shaped';
import { headlineRows } from './headline';
import { extraSection } from './extra';

const STAGES = ['decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'search', 'crossing'];
const STAGE_LABELS: Record<string, string> = {
  decode: 'decode',
  detPreprocess: 'det pre-proc.',
  detInference: 'det inference',
  detPostprocess: 'decoding/NMS',
  recPreprocess: 'crop + feat pre-proc.',
  recInference: 'feat inference',
  search: 'search',
  crossing: 'crossing into JS',
};

const yesNo = (b: boolean | undefined) => (b === undefined ? 'n/a' : b ? '**met**' : '**not met**');

function table(head: string[], rows: Array<Array<string | number>>): string {
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) out.push(`| ${r.map((c) => String(c)).join(' | ')} |`);
  return out.join('\n') + '\n';
}

/** One sentence: the shared ONNX Runtime pool against a pool per session, from section 4's rows. */
function sharedNote(tp: ThroughputResult | undefined): string {
  const rows = tp?.concurrency ?? [];
  const parts: string[] = [];
  for (const c of [1, 2]) {
    const sh = rows.find((r) => r.setting?.startsWith('shared') && r.concurrency === c);
    const own = rows.find((r) => !r.setting?.startsWith('shared') && !r.setting?.startsWith('default') && r.threads === sh?.threads && r.concurrency === c);
    if (sh && own) parts.push(`${c} in flight ${fmt(sh.ips, 1)} vs ${fmt(own.ips, 1)} images/s (p50 ${fmt(sh.latency.p50, 1)} vs ${fmt(own.latency.p50, 1)} ms)`);
  }
  const best = rows.filter((r) => r.limitIps).reduce<ThroughputResult['concurrency'][number] | undefined>((a, b) => (!a || b.ips > a.ips ? b : a), undefined);
  return parts.length ? ` One process-wide pool for both sessions (\`threadPool: 'shared'\`, section 4) against a ${rows.find((r) => r.setting?.startsWith('shared'))?.threads}-thread pool per session: ${parts.join('; ')}; the best setting measured is ${best?.setting} (${fmt(best?.ips, 1)} images/s).` : '';
}

/**
 * Writes the report of the run whose results are in `dir` (readJson/writeSvg
 * read and write there: SHITU_BENCH_OUT) to `reportPath`; returns reportPath.
 */
export function writeReport(dir: string, reportPath: string): string {
  const prevOut = process.env.SHITU_BENCH_OUT;
  process.env.SHITU_BENCH_OUT = dir;
  try {
    fs.writeFileSync(reportPath, renderReport(dir, path.dirname(reportPath)));
  } finally {
    if (prevOut === undefined) delete process.env.SHITU_BENCH_OUT;
    else process.env.SHITU_BENCH_OUT = prevOut;
  }
  return reportPath;
}

function renderReport(dir: string, reportDir: string): string {
  const meta = readJson('meta.json') ?? {};
  const stages = readJson<StagesResult>('stages.json');
  const limit = readJson<LimitResult>('limit.json');
  const peer = readJson<PeerResult>('peer.json');
  const tp = readJson<ThroughputResult>('throughput.json');
  const idx = readJson<IndexScalingResult>('index-scaling.json');
  const million = readJson<MillionResult>('index-million.json');
  const mem = readJson<MemoryResult>('memory.json');
  const dec = readJson<DecodeResult>('decode.json');
  const batching = readJson<BatchingResult>('batching.json');
  const shaped = readJson<ShapedResult>('shaped.json');
  const img = (name: string) => path.relative(reportDir, path.join(dir, name)).split(path.sep).join('/');
  const failed: Record<string, string> = meta.failed ?? {};
  const notMeasured = (key: string) => (failed[key] ? (failed[key].startsWith('left out') ? `**Not measured in this run** (${failed[key]}).\n\n` : `**Not measured in this run: the section failed** (${failed[key]}).\n\n`) : `**Not measured in this run** (section \`${key}\` was not run${meta.mode === 'quick' ? ': --quick does not sample it' : ''}).\n\n`);
  // Throughput runs pinned to fewer cores (taskset) of the same run write throughput-<N>cores.json.
  const pinnedTp = fs.readdirSync(dir).map((f) => /^throughput-(\d+)cores\.json$/.exec(f)).filter((x): x is RegExpExecArray => !!x)
    .map((x) => readJson<ThroughputResult>(x[0])!).filter((r) => r && r.raw?.length).sort((a, b) => a.cores - b.cores);
  const tpAll = [...pinnedTp, ...(tp?.raw?.length ? [tp] : [])];
  const m = meta.machine ?? {};
  const here = `${m.cpu ?? '?'}, ${m.cores ?? '?'} cores`;
  const md: string[] = [];
  md.push('# shitu-node benchmark report\n');
  md.push(`Generated by \`${meta.command ?? 'node dist/bench/run.js'}\` (${meta.mode ?? '?'} run, ${fmt(meta.seconds, 0)} s) on ${meta.started ?? '?'}. One run of one command: every figure below comes from it.\n`);
  md.push(`Sections measured: ${(meta.sections ?? []).map((s: string) => `${s} (${fmt(meta.sectionSeconds?.[s], 0)} s)`).join(', ') || 'none'}. Not measured in this run: ${(meta.notRun ?? []).join(', ') || 'none'}${meta.mode === 'quick' ? ' (--quick samples the sections marked quick in --help, with few iterations and one thread count)' : ''}.${Object.keys(failed).length ? ` ${Object.entries(failed).map(([k, v]) => `${v.startsWith('stopped') ? 'Cut short' : 'Failed'}: ${k} (${v})`).join('; ')}.` : ''}${meta.note ? ` Note: ${meta.note}.` : ''}\n`);
  md.push(table(['hardware', ''], [
    ['CPU', `${m.cpu} (os.cpus()[0].model)${m.simd ? `; ${m.simd}` : ''}`],
    ['cores', m.cores],
    ['memory', `${m.memGiB} GiB`],
    ['OS', m.os],
    ['Node.js', m.node],
    ['load average at start / end (1, 5, 15 min)', `${(m.loadavgStart ?? []).join(', ')} / ${(meta.loadavgEnd ?? []).join(', ')}`],
  ]));
  const busy = Math.max(m.loadavgStart?.[0] ?? 0, meta.loadavgEnd?.[0] ?? 0);
  md.push(`Load: ${busy > (m.cores ?? 2) * 0.75 ? `other processes shared the ${m.cores} cores during this run (a 1-minute load of ${fmt(busy, 1)} means about ${fmt(busy, 1)} runnable threads on ${m.cores} cores), so absolute times are slower than on a quiet machine, and settings with 2 intra-op threads per session suffer most (each ONNX Runtime pool wants every core). Ratios measured turn by turn (ours vs peer) or back to back (overhead vs raw Runs) are the figures least moved by it.` : `the machine was close to idle (1-minute load ${fmt(busy, 1)} on ${m.cores} cores).`} Treat differences under ~10 % as noise.\n`);
  md.push('Models: the shared **stand-in** models (PicoDet-S 416 COCO detector without NMS, MobileNetV2 int8 with its 1280-d pooled feature) unless a section says **PP-ShiTuV2 program, random weights: timing only** (section 2: the real PP-ShiTuV2 programs converted by this package\'s Paddle converter). Images: misc/bus.jpg, misc/dog.jpg, drink_test_images/100.jpeg, product_demo/query/anmuxi.jpg. Gallery: product_demo/gallery (6 images, label "anmuxi") + 6 distractor images labelled by file name.\n');

  // ------------------------------------------------------------ headline
  md.push('## Headline\n');
  md.push(table(['comparison', 'this package', 'against', 'ratio', 'hardware'], headlineRows({ here, peer, tp, shaped }).map((r) => [r.comparison, r.ours, r.other, r.ratio, r.hardware])));

  // ------------------------------------------------------------ targets
  md.push('## Targets\n');
  const gpRun = readJson<{ result: { pipeline: { ratio: number; settings: string }; raw: Array<{ model: string; threads: number; speedup: number }> } }>('graph-pass.json');
  const sumRows: Array<Array<string | number>> = [];
  if (limit) {
    for (const th of [1, 2]) {
      const rows = limit.rows.filter((r) => r.threads === th);
      if (!rows.length) continue;
      const P = (r: any) => r.pairedOverheadPct ?? r.overheadPct, PN = (r: any) => r.pairedOverheadNoDecodePct ?? r.overheadNoDecodePct;
      const worst = Math.max(...rows.map(P));
      const worstNd = Math.max(...rows.map(PN));
      sumRows.push([`overhead ≤ 10 % of end-to-end, batch 1, ${th} thread(s) (paired medians)`, `${fmt(Math.min(...rows.map(P)), 1)} – ${fmt(worst, 1)} % with decode; ${fmt(Math.min(...rows.map(PN)), 1)} – ${fmt(worstNd, 1)} % without decode`, `${yesNo(worst <= 10)} with decode, ${yesNo(worstNd <= 10)} without`]);
    }
  }
  if (peer) {
    for (const t of peer.throughput.filter((x) => x.variant === 'peer' || x.variant === 'peer-shaped')) {
      const want = t.variant === 'peer-shaped' ? TARGETS.peerRatioPrograms : TARGETS.peerRatio;
      sumRows.push([`≥ ${want}x the peer's throughput, ${t.variant === 'peer-shaped' ? 'PP-ShiTuV2 programs (random weights)' : 'stand-in models'}, ${t.threads} thread(s), ${t.concurrency} in flight`, `${fmt(t.ratio, 2)}x`, yesNo(t.ratio >= want)]);
    }
    for (const th of [1, 2]) {
      const rows = peer.rows.filter((r) => r.variant === 'peer' && r.threads === th);
      if (!rows.length) continue;
      const lower = rows.filter((r) => r.ours.p99 < r.peer.p99).length;
      sumRows.push([`lower p99 latency than the peer, ${th} thread(s)`, `lower on ${lower} of ${rows.length} images`, yesNo(lower === rows.length)]);
    }
    const rows = peer.rows.filter((r) => r.variant === 'peer');
    const agree = rows.filter((r) => r.top1Agree).length, agreeRaw = rows.filter((r) => r.top1RawAgree).length;
    sumRows.push(['identical top-1 labels to the peer', `${agree} of ${rows.length} image runs (thresholded), ${agreeRaw} of ${rows.length} (raw top-1)`, yesNo(agree === rows.length)]);
  }
  for (const r of tpAll) {
    const rows = r.concurrency.filter((x) => x.limitIps);
    if (!rows.length) continue;
    const best = rows.reduce((a, b) => (b.ips > a.ips ? b : a));
    const def = rows.find((x) => x.setting?.startsWith('default options'));
    const ratio = best.ips / best.limitIps!;
    if (r.cores === 2) sumRows.push([`throughput ≥ ${100 * TARGETS.limitFraction} % of the limit at the best setting, 2 cores`, `${fmt(100 * ratio, 1)} % (headline)`, yesNo(ratio >= TARGETS.limitFraction)]);
    if (def) {
      const others = rows.filter((x) => !x.setting?.startsWith('default'));
      const bestOther = others.reduce((a, b) => (b.ips > a.ips ? b : a), others[0]);
      // Within the noise of one run (5 %) counts as choosing the best.
      sumRows.push([`default createPipeline options choose the best setting, ${r.cores} core(s)`, `default ${def.threads} x ${def.concurrency}: ${fmt(def.ips, 1)} images/s (${fmt((100 * def.ips) / def.limitIps!, 1)} % of the limit); best other: ${bestOther?.setting} ${fmt(bestOther?.ips, 1)}`, yesNo(!bestOther || def.ips >= 0.95 * bestOther.ips)]);
    }
  }
  if (dec) {
    const reduced = dec.rows.filter((r) => r.decodeReduced < 0.8 * r.decodeFull);
    const phone = dec.rows.filter((r) => r.upscaled);
    if (phone.length) sumRows.push([`reducedDecode on phone-camera-sized JPEGs (12 MP, made from shared photos), end-to-end`, `${fmt(Math.min(...phone.map((r) => r.wallFull / r.wallReduced)), 2)}–${fmt(Math.max(...phone.map((r) => r.wallFull / r.wallReduced)), 2)}x faster (decode ${fmt(Math.min(...phone.map((r) => r.decodeFull / r.decodeReduced)), 1)}–${fmt(Math.max(...phone.map((r) => r.decodeFull / r.decodeReduced)), 1)}x); ${phone.filter((r) => r.same).length} of ${phone.length} the same`, 'measured (no target)']);
    sumRows.push([`reducedDecode keeps boxes (IoU ≥ ${MIN_IOU}) and top-1 labels on every photo`, `${dec.rows.filter((r) => r.same).length} of ${dec.rows.length} photos the same${dec.allSame ? '' : ` (differs: ${dec.rows.filter((r) => !r.same).map((r) => r.image).join(', ')})`}; decode ${reduced.length ? `${fmt(Math.min(...reduced.map((r) => r.decodeReduced / r.decodeFull)) * 100, 0)}–${fmt(Math.max(...reduced.map((r) => r.decodeReduced / r.decodeFull)) * 100, 0)} %` : 'n/a'} of full on the ${reduced.length} photos it reduces`, `${yesNo(dec.allSame)}: ${dec.allSame ? 'could be on by default' : 'kept an option, off by default'}`]);
  }
  if (gpRun) {
    const p = gpRun.result.pipeline;
    sumRows.push([`stand-in pipeline with the graph pass ≥ ${TARGETS.graphPassPipeline}x without it, same run (${p.settings})`, `${fmt(p.ratio, 2)}x; raw detector Run ${gpRun.result.raw.filter((x) => x.model.startsWith('PicoDet')).map((x) => `${fmt(x.speedup, 2)}x`).join(', ')}`, yesNo(p.ratio >= TARGETS.graphPassPipeline)]);
  } else sumRows.push([`stand-in pipeline with the graph pass ≥ ${TARGETS.graphPassPipeline}x without it`, 'not measured in this run (section graph-pass)', '—']);
  const i8 = readJson<{ result: { raw: Array<{ model: string; threads: number; speedup: number }>; models: Array<{ model: string }> } }>('int8.json');
  const i8Rows = i8?.result.raw.filter((x) => x.model === i8.result.models[0]?.model) ?? [];
  const i8One = i8Rows.find((x) => x.threads === 1);
  if (i8One) sumRows.push([`INT8 feature model's raw Run ≥ ${TARGETS.int8Feature}x its FP32 source, stand-in, 1 thread, same run`, i8Rows.map((x) => `${fmt(x.speedup, 2)}x at ${x.threads} thread(s)`).join('; '), yesNo(i8One.speedup >= TARGETS.int8Feature)]);
  else sumRows.push([`INT8 feature model's raw Run ≥ ${TARGETS.int8Feature}x its FP32 source`, 'not measured in this run (section int8)', '—']);
  if (mem) sumRows.push([`RSS flat over ${mem.predictions} predictions`, `${fmt(mem.rssStartMiB, 1)} → ${fmt(mem.rssEndMiB, 1)} MiB (${mem.growthMiB >= 0 ? '+' : ''}${fmt(mem.growthMiB, 1)} MiB)`, yesNo(mem.flat)]);
  if (batching) sumRows.push(...batchingTargets(batching));
  if (million) sumRows.push(...millionTargets(million));
  md.push(table(['target', 'measured', 'verdict'], sumRows));

  // ------------------------------------------------------------ 1. stages
  md.push('## 1. Time per stage of one recognition (stand-in models)\n');
  if (!stages) md.push(notMeasured('stages'));
  else {
    for (const run of stages.runs) {
      md.push(`### ${run.modelSet}, ${run.threads} intra-op thread(s)\n`);
      md.push(`Median (p99) in ms over ${run.iterations} recognitions per image after ${run.warmup} warm-up runs. Pipeline load ${fmt(run.loadMs, 0)} ms, gallery index ${fmt(run.indexMs, 0)} ms. "crossing into JS" = wall − native total (queueing on the worker pool, the thread hop back, building the result objects).\n`);
      const head = ['image', 'size', 'boxes', ...STAGES.map((s) => STAGE_LABELS[s]), 'native total', 'wall (e2e)'];
      md.push(table(head, run.images.map((im) => [
        im.image, `${im.width}x${im.height}`, im.boxes,
        ...STAGES.map((s) => `${fmt((im.stages as any)[s].p50)} (${fmt((im.stages as any)[s].p99)})`),
        `${fmt(im.total.p50)} (${fmt(im.total.p99)})`,
        `**${fmt(im.wall.p50)}** (${fmt(im.wall.p99)})`,
      ])));
      const svg = writeSvg(`stages-${run.modelSet.startsWith('stand-in') ? 'standin' : run.modelSet.replace(/[^a-z0-9]+/gi, '_')}-${run.threads}t.svg`, stackedBarChart({
        title: `Median time per stage, ${run.threads} thread(s) (${run.modelSet.split(' (')[0]})`,
        rows: run.images.map((im) => `${im.image} (${im.boxes} box${im.boxes === 1 ? '' : 'es'})`),
        segments: STAGES.map((s) => ({ name: STAGE_LABELS[s], values: run.images.map((im) => (im.stages as any)[s].p50) })),
        unit: 'ms',
      }));
      md.push(`![stages ${run.threads}t](${img(svg)})\n`);
    }
    for (const s of stages.skipped) md.push(`- Skipped **${s.modelSet}**: ${s.reason}.\n`);
    for (const n of stages.notes) md.push(`- ${n}\n`);
    md.push('\n');
  }

  // ------------------------------------------------------------ 2. shaped
  md.push('## 2. PP-ShiTuV2 programs (random weights) beside the published table\n');
  if (!shaped) md.push(notMeasured('shaped'));
  else md.push(shapedSection(shaped, table, (th) => {
    const run = shaped.runs.find((r) => r.threads === th);
    if (!run) return undefined;
    return img(writeSvg(`stages-shaped-${th}t.svg`, stackedBarChart({
      title: `Per-stage split of one recognition, ${th} thread(s) (PP-ShiTuV2 programs, random weights)`,
      rows: run.images.map((im) => im.image),
      segments: STAGES.map((s) => ({ name: STAGE_LABELS[s], values: run.images.map((im) => (im.stages as any)[s].p50) })),
      unit: 'ms',
    })));
  }));

  // ------------------------------------------------------------ 3. limit
  md.push('## 3. Overhead against the raw ONNX Runtime Runs\n');
  if (!limit) md.push(notMeasured('limit'));
  else {
    md.push('Per image, one recognize() and then the raw Runs of the same models (same ONNX Runtime, session options and threads), back to back, repeated: the overhead is the share of the recognition spent outside inference. The raw Runs here are those interleaved with recognitions (the Runs alone, which set the throughput limit, are section 5\'s; the recognition\'s own stages are section 1\'s).\n\n');
    md.push(table(['image', 'threads', 'boxes', 'raw det, interleaved (ms)', 'raw feat at batch = boxes, interleaved (ms)', '**paired overhead**', '**paired overhead w/o decode**', 'overhead from medians (w/o decode)'],
      limit.rows.map((r) => [r.image, r.threads, r.boxes, fmt(r.rawDet), fmt(r.rawFeat),
        `**${fmt((r as any).pairedOverheadPct, 1)} %**`, `**${fmt((r as any).pairedOverheadNoDecodePct, 1)} %**`, `${fmt(r.overheadPct, 1)} % (${fmt(r.overheadNoDecodePct, 1)} %)`])));
    md.push('Target: overhead ≤ 10 % of end-to-end at batch 1.\n');
    for (const n of limit.notes.filter((x) => !x.startsWith('"alone"'))) md.push(`- ${n}\n`);
    md.push('\n');
  }

  // ------------------------------------------------------------ 3. peer
  md.push('## 4. Against the hand-rolled Node stack (onnxruntime-node + sharp + hnswlib-node)\n');
  if (!peer) md.push(notMeasured('peer'));
  else {
    for (const [k, d] of Object.entries(peer.variants)) md.push(`- **${k}**: ${d}\n`);
    md.push('\n');
    md.push('Throughput over the images round-robin, the two sides in turn: the peer\'s images/s and ours as a ratio to it (this package\'s own images/s per setting are section 5\'s).\n\n');
    md.push(table(['variant', 'threads', 'in flight', 'peer images/s', '**ours ÷ peer images/s**', 'peer p99 ms', 'ours ÷ peer p99'],
      peer.throughput.map((t) => [t.variant, t.threads, t.concurrency, fmt(t.peerIps, 1), `**${fmt(t.ratio, 2)}x**`, fmt(t.peerP99, 1), fmt(t.oursP99 / t.peerP99, 2)])));
    md.push('Latency per image, the two sides taken turn by turn (A B A B): the peer\'s, and ours as a ratio to it (this package\'s own latency per stage is section 1\'s).\n\n');
    md.push(table(['variant', 'threads', 'image', 'peer p50 / p99 ms', '**ours ÷ peer p50 / p99**', 'boxes ours / peer', 'min IoU', 'top-1 ours (raw score)', 'top-1 peer (raw score)', 'top-1 agree (thresholded / raw)'],
      peer.rows.map((r) => [r.variant, r.threads, r.image, `${fmt(r.peer.p50, 1)} / ${fmt(r.peer.p99, 1)}`, `**${fmt(r.ours.p50 / r.peer.p50, 2)} / ${fmt(r.ours.p99 / r.peer.p99, 2)}**`, `${r.oursBoxes} / ${r.peerBoxes}`, fmt(r.minIou, 3),
        r.oursTop1Raw.map((l, i) => `${l} (${fmt(r.oursTop1Score[i] as number, 3)})`).join(', '),
        r.peerTop1Raw.map((l, i) => `${l} (${fmt(r.peerTop1Score[i] as number, 3)})`).join(', '),
        `${r.top1Agree ? 'yes' : '**no**'} / ${r.top1RawAgree ? 'yes' : '**no**'}`])));
    for (const [variant, th] of [...new Set(peer.rows.filter((r) => r.variant === 'peer' || r.variant === 'peer-shaped').map((r) => `${r.variant}|${r.threads}`))].map((k) => [k.split('|')[0], Number(k.split('|')[1])] as const)) {
      const rows = peer.rows.filter((r) => r.variant === variant && r.threads === th);
      md.push(`Median per stage, ${th} thread(s) (${[...new Set(rows.map((r) => r.variant))].join(', ')}): the peer's ms, and ours ÷ peer:\n\n`);
      md.push(table(['image', '', ...STAGES.filter((s) => s !== 'crossing').map((s) => STAGE_LABELS[s])], rows.flatMap((r) => [
        [r.image, 'peer ms', ...STAGES.filter((s) => s !== 'crossing').map((s) => fmt(r.peerStages[s]))],
        [r.image, 'ours ÷ peer', ...STAGES.filter((s) => s !== 'crossing').map((s) => fmt(r.oursStages[s] / r.peerStages[s], 2))],
      ])));
      const svg = writeSvg(`peer-latency-${th}t-${rows[0].variant}.svg`, barChart({
        title: `Latency per image, ${th} thread(s), taken turn by turn: ours vs peer (${rows[0].variant})`,
        categories: rows.map((r) => r.image),
        series: [
          { name: 'ours p50', values: rows.map((r) => r.ours.p50) },
          { name: 'peer p50', values: rows.map((r) => r.peer.p50) },
          { name: 'ours p99', values: rows.map((r) => r.ours.p99) },
          { name: 'peer p99', values: rows.map((r) => r.peer.p99) },
        ],
        unit: 'ms',
      }));
      md.push(`![peer ${th}t](${img(svg)})\n`);
    }
    md.push(table(['variant', 'threads', 'peer load ms', 'peer gallery index ms'], peer.load.map((l) => [l.variant, l.threads, fmt(l.peerLoadMs, 0), fmt(l.peerIndexMs, 0)])));
    for (const n of peer.notes) md.push(`- ${n}\n`);
    md.push('- Where top-1 labels differ, look at the raw scores: with the stand-in MobileNetV2 features against a gallery of other products the similarities are close and low, so a different resampler (sharp\'s "linear" filters over the whole shrink footprint, OpenCV INTER_LINEAR, what the reference uses, takes 2x2 taps) can swap two near-equal candidates. On the PP-ShiTuV2 programs (random weights) the labels mean nothing and are not compared.\n');
    md.push('- FAISS\'s own Node binding (faiss-node) is not in the peer: its install downloads from the internet, which these machines cannot reach; hnswlib-node is the index a Node developer can install here.\n\n');
  }

  // ------------------------------------------------------------ 4. throughput
  md.push('## 5. Throughput against the limit\n');
  if (!tpAll.length) md.push(notMeasured('throughput'));
  for (const r of tpAll) {
    const raw1 = r.raw.find((x) => x.threads === 1);
    md.push(`${r.cores} core(s)${r === tp ? '' : ' (taskset)'}. Raw ONNX Runtime Runs per image (detector + feature model at batch = boxes ${r.raw[0]?.boxes.join('/')}, alone): ${r.raw.map((x) => `${x.threads} thread(s) ${fmt(x.detMs)} + ${fmt(x.featMs)} = **${fmt(x.perImageMs)} ms**`).join('; ')}. Hard limit (the best over those thread counts of (cores / threads) x 1000 / raw ms per image): **${fmt(r.concurrency.find((x) => x.limitIps)?.limitIps, 1)} images/s**; raw Runs side by side (${r.cores} loops at 1 thread at once): ${fmt(raw1?.sideBySideIps, 1)} images/s.\n\n`);
    const side = raw1?.sideBySideIps;
    const rows = r.concurrency.filter((x) => x.limitIps);
    md.push(table(['setting', 'images/s', 'this setting\'s limit', 'hard limit', '**ratio to the hard limit**', 'ratio to raw side by side', 'latency p50 / p99 ms', 'event-loop delay p50 / p99 / max ms'],
      rows.map((x) => [x.setting ?? `${x.threads} x ${x.concurrency}`, `**${fmt(x.ips, 1)}**`, fmt(x.settingLimitIps, 1), fmt(x.limitIps, 1), `**${fmt((100 * x.ips) / x.limitIps!, 1)} %**`, side ? `${fmt((100 * x.ips) / side, 1)} %` : 'n/a', `${fmt(x.latency.p50, 1)} / ${fmt(x.latency.p99, 1)}`, `${fmt(x.loopDelay.p50)} / ${fmt(x.loopDelay.p99)} / ${fmt(x.loopDelay.max)}`])));
    const svgT = writeSvg(`throughput-vs-limit-${r.cores}cores.svg`, barChart({
      title: `images/s per setting against its limit, ${r.cores} core(s)`,
      categories: rows.map((x) => (x.setting ?? '').replace(/ \(.*\)$/, '').replace(' thread(s) x ', 't x ').replace(' in flight', '')),
      series: [
        { name: 'measured', values: rows.map((x) => x.ips) },
        { name: 'this setting\'s limit', values: rows.map((x) => x.settingLimitIps ?? NaN) },
        { name: 'hard limit', values: rows.map((x) => x.limitIps ?? NaN) },
      ],
      unit: 'images/s', width: Math.max(760, 90 * rows.length),
    }));
    md.push(`![throughput vs limit](${img(svgT)})\n`);
  }
  if (tp) {
    md.push('### Batched feature extraction\n');
    md.push(`Idle event-loop delay (nothing running, same monitor): p50 ${fmt(tp.idleLoopDelay.p50)} / p99 ${fmt(tp.idleLoopDelay.p99)} / max ${fmt(tp.idleLoopDelay.max)} ms.\n\n`);
    md.push(table(['threads', 'batch', 'images', 'feature extractions/s', 'ms/image (wall)', 'input copy ms/image', 'pre-proc. ms/image', 'inference ms/image'],
      tp.batch.map((r) => [r.threads, r.batch, r.images, `**${fmt(r.ips, 1)}**`, fmt(r.perImageMs), fmt((r as any).inputMsPerImage), fmt(r.preprocessMsPerImage), fmt(r.inferenceMsPerImage)])));
    const svg2 = writeSvg('throughput-batch.svg', barChart({
      title: 'Batched feature extraction (feature model only, not recognitions), images/s',
      categories: [...new Set(tp.batch.map((r) => r.batch))].map((b) => `batch ${b}`),
      series: [...new Set(tp.batch.map((r) => r.threads))].map((th) => ({ name: `${th} thread(s)`, values: tp.batch.filter((r) => r.threads === th).map((r) => r.ips) })),
      unit: 'images/s',
    }));
    md.push(`![batch](${img(svg2)})\n`);
    for (const n of tp.notes) md.push(`- ${n}\n`);
    md.push('\n');
  }
  if (batching) md.push(batchingSection(batching, table));
  else md.push('### 5b. Dynamic batching in the service\n\n' + notMeasured('batching'));

  // ------------------------------------------------------------ 5. index
  md.push('## 6. Index scaling\n');
  if (!idx) md.push(notMeasured('index'));
  else {
    md.push(table(['vectors', 'index', 'build s', 'adds/s', 'search p50 / p99 ms (k=5, 1 query)', 'recall@5 vs Flat', 'bytes/vector (serialized)', 'raw vectors MiB'],
      idx.rows.map((r) => [r.n, r.impl, fmt(r.buildS, 2), fmt(r.addPerS, 0), `${fmt(r.search.p50, 3)} / ${fmt(r.search.p99, 3)}`, fmt(r.recall5, 3), fmt(r.bytesPerVector, 0), fmt(r.rawVectorsMiB, 1)])));
    for (const s of idx.skipped) md.push(`- Skipped ${s.impl} at ${s.n}: ${s.reason}.\n`);
    const impls = [...new Set(idx.rows.map((r) => r.impl))];
    const sizes = idx.sizes.filter((n) => idx.rows.some((r) => r.n === n));
    const s1 = writeSvg('index-search.svg', lineChart({
      title: 'Single-query search latency (p50, k=5)', xs: sizes, logX: true, logY: true, xLabel: 'vectors in the index', unit: 'ms',
      series: impls.map((i) => ({ name: i.replace('hnswlib-node HNSW (M 32)', 'hnswlib-node').replace('FAISS ', ''), values: sizes.map((n) => idx.rows.find((r) => r.n === n && r.impl === i)?.search.p50 ?? NaN) })),
      width: 900,
    }));
    const buildImpls = impls.filter((i) => !i.includes('('));
    const buildImplsAll = [...buildImpls, ...impls.filter((i) => i.startsWith('hnswlib-node') && !i.includes('(ef'))].filter((v, i, a) => a.indexOf(v) === i);
    const s2 = writeSvg('index-build.svg', lineChart({
      title: 'Build time (create + train + add)', xs: sizes, logX: true, logY: true, xLabel: 'vectors', unit: 's',
      series: buildImplsAll.map((i) => ({ name: i.replace(' HNSW (M 32)', ''), values: sizes.map((n) => idx.rows.find((r) => r.n === n && r.impl === i)?.buildS ?? NaN) })),
    }));
    md.push(`\n![index search](${img(s1)})\n\n![index build](${img(s2)})\n`);
    for (const n of idx.notes) md.push(`- ${n}\n`);
    md.push('\n');
  }
  if (!million) md.push('### 6b. Galleries of 10^6 vectors\n\n' + notMeasured('million'));
  else {
    // The cut-short line goes under the section's own heading (its first line).
    md.push(millionSection(million, table, `this report's run (${here}${m.simd ? `, ${m.simd}` : ''}, ${String(meta.started ?? '?').slice(0, 16).replace('T', ' ')} UTC)`).replace('\n', failed.million ? `\n\n**This section was cut short**: ${failed.million}.\n` : '\n'));
    const svgM = writeSvg('million-recall-vs-p50.svg', scatterChart({
      title: `recall@5 against search p50, ${million.n.toLocaleString('en-US')} vectors (${million.data ?? 'synthetic'})`,
      series: million.rows.map((r) => ({ name: r.impl.replace('FAISS ', ''), points: r.searches.map((s) => [s.p50, s.recall5] as [number, number]) })),
      xLabel: 'search p50 ms (k = 5, one query per call)', yLabel: 'recall@5', logX: true, yMin: 0, yMax: 1, guides: { x: 1, y: 0.95 }, width: 900,
    }));
    md.push(`![recall vs p50](${img(svgM)})\n\nDashed: the target (recall@5 ≥ 0.95 at p50 ≤ 1 ms): a setting meets it above the horizontal line and left of the vertical one.\n\n`);
  }

  // ------------------------------------------------------------ 7. memory
  md.push('## 7. Memory over many predictions\n');
  if (!mem) md.push(notMeasured('memory'));
  else {
    md.push(table(['', 'MiB'], [
      ['RSS of the fresh process before loading', fmt(mem.rssAtStartMiB, 1)],
      ['RSS with both models loaded + gallery index', fmt(mem.rssModelsLoadedMiB, 1)],
      ['peak RSS after load + warm-up predictions', fmt(mem.peakRssAfterLoadMiB, 1)],
      ['peak RSS over the whole run', fmt(mem.peakRssMiB, 1)],
      [`RSS at start of the ${mem.predictions} predictions`, fmt(mem.rssStartMiB, 1)],
      ['RSS at end', fmt(mem.rssEndMiB, 1)],
      ['growth', `**${mem.growthMiB >= 0 ? '+' : ''}${fmt(mem.growthMiB, 1)}** (${fmt(mem.growthPct, 1)} %)`],
      ['floor (lowest mid-run sample), first quarter → last quarter', mem.floorFirstQuarterMiB !== undefined ? `${fmt(mem.floorFirstQuarterMiB, 1)} → ${fmt(mem.floorLastQuarterMiB, 1)} (**${mem.floorGrowthMiB >= 0 ? '+' : ''}${fmt(mem.floorGrowthMiB, 1)}**, ${fmt((1024 * mem.floorGrowthMiB) / Math.max(1, mem.predictions), 2)} KiB per prediction)` : 'n/a'],
      ['second-half slope, KiB per 1000 predictions (noisy)', fmt(mem.slopeKiBPer1000, 0)],
    ]));
    md.push(`${mem.predictions} predictions ${mem.predictions < mem.requested ? `(of ${mem.requested} requested: the full run caps this section's time, ${fmt(mem.seconds, 0)} s)` : ''} with ${mem.threads} thread(s), ${mem.concurrency} in flight, in ${fmt(mem.seconds, 0)} s. Verdict: ${mem.flat ? '**flat**' : '**not flat**'}.\n\n`);
    const svg = writeSvg('memory-rss.svg', lineChart({
      title: 'RSS over predictions (sampled after a GC)', xs: mem.series.map((s) => s.predictions), xLabel: 'predictions', unit: 'MiB',
      series: [{ name: 'RSS', values: mem.series.map((s) => s.rssMiB) }, { name: 'JS heap used', values: mem.series.map((s) => s.heapUsedMiB) }, { name: 'external (Buffers)', values: mem.series.map((s) => s.externalMiB) }],
    }));
    md.push(`![memory](${img(svg)})\n`);
    for (const n of mem.notes) md.push(`- ${n}\n`);
    md.push('\n');
  }
  // ------------------------------------------------------------ 9. decode
  md.push('## 8. Cheaper decode (reducedDecode) against full decoding\n');
  if (!dec) md.push(notMeasured('decode'));
  else {
    md.push('Reduced against full decoding of the same photo, measured in turns; as ratios (the full-decode times of the report photos are section 1\'s).\n\n');
    md.push(table(['photo', 'size', 'boxes full / reduced', 'min IoU', 'top-1 same', '**decode reduced ÷ full**', '**e2e reduced ÷ full**', 'same'],
      dec.rows.map((r) => [r.image, `${r.width}x${r.height}`, `${r.boxes} / ${r.boxesReduced}`, fmt(r.minIou, 3), r.top1Same ? 'yes' : '**no**', fmt(r.decodeReduced / r.decodeFull, 2), fmt(r.wallReduced / r.wallFull, 2), r.same ? 'yes' : '**no**'])));
    md.push(`Verdict: ${dec.allSame ? `**the same on every photo (IoU ≥ ${MIN_IOU})**` : `**not the same on every photo (IoU ≥ ${MIN_IOU})**: reducedDecode stays an option, off by default`}.\n\n`);
    for (const n of dec.notes) md.push(`- ${n}\n`);
    md.push('\n');
  }
  md.push('## 9. PostgreSQL index store\n\n**Not measured in this run**: bench/service/pgstore.js is run on its own (it needs a PostgreSQL server; see its header).\n\n');
  md.push(extraSection(readJson, notMeasured));
  const gp = readJson<{ markdown: string }>('graph-pass.json');
  // The section renders itself (bench/sections/graph-pass.ts); its headings go one level down here.
  md.push(gp ? gp.markdown.replace(/^(#+) /gm, '#$1 ') + '\n\n' : '## Graph pass\n\n' + notMeasured('graph-pass'));
  const i8md = readJson<{ markdown: string }>('int8.json');
  // Rendered by its section (bench/sections/int8.ts), headings one level down.
  md.push(i8md ? i8md.markdown.replace(/^(#+) /gm, '#$1 ') + '\n\n' : '## INT8 feature model\n\n' + notMeasured('int8'));
  md.push('## Closing note: PP-ShiTuV2 programs against the published table\n');
  md.push(shaped ? shapedClosing(shaped, table) : notMeasured('shaped'));
  md.push('## Reproduce\n\n```\nnpx tsc -p tsconfig.json\nnode dist/bench/run.js --help              # sections and options\nnode dist/bench/run.js --quick             # < 2 min: sampled sections, results in bench/results/run-<timestamp>/\nnode dist/bench/run.js                     # full run without the 10^6 section (its duration: this report\'s header)\nnode dist/bench/run.js --only=million      # the 10^6 section alone (hours on 2 cores)\nnode dist/bench/run.js --all --update-report  # every section, million included, replacing bench/REPORT.md and bench/results/ (this report)\n```\n');
  return md.join('\n');
}

if (require.main === module) {
  // node dist/bench/report/index.js DIR [REPORT]: re-render the report of the run in DIR (into DIR/REPORT.md, or REPORT).
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node dist/bench/report/index.js RESULTS_DIR [REPORT_PATH]\n');
    process.exit(2);
  }
  console.log(writeReport(path.resolve(dir), path.resolve(process.argv[3] ?? path.join(dir, 'REPORT.md'))));
}

// Section "throughput": throughput with 1, 2, 4 recognitions in flight against the limit
// that raw ONNX Runtime Runs set (measured in the same run), the default
// createPipeline options, batched feature extraction, and the event loop's
// delay while recognitions run. Under `taskset` (fewer cores than the machine
// has) it writes throughput-<N>cores.json with the limit rows only.
import * as os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createPipeline, IndexData, Pipeline } from '../../lib/index';
import { native } from '../../lib/native/loader';
import { DET_ONNX, FEAT_ONNX, STANDIN_CONFIG, galleryEntries, IMAGES, log, median, medianRunMs, RunMode, runInFlight, stats, Stats, writeJson, now } from '../lib/util';
import { internals, loadOurs } from '../lib/ours';

export interface ConcurrencyRow {
  threads: number;
  concurrency: number;
  /** "threads x in flight", "default options", "default + reducedDecode". */
  setting?: string;
  /** This setting's limit: min(in flight x threads, cores) / threads Runs side by side at the raw time per image of `threads`. */
  settingLimitIps?: number;
  /** The hard limit: cores x raw Runs per image at 1 thread, alone. */
  limitIps?: number;
  count: number;
  seconds: number;
  ips: number;
  latency: Stats;
  loopDelay: { p50: number; p99: number; max: number; mean: number };
}

export interface BatchRow {
  threads: number;
  batch: number;
  images: number;
  ips: number;
  perImageMs: number;
  /** Copying the raw pixels in (the "decode" of a raw input) + cropping. */
  inputMsPerImage: number;
  preprocessMsPerImage: number;
  inferenceMsPerImage: number;
  /** Inside the native call. */
  nativeMsPerImage: number;
}

/** Raw ONNX Runtime Runs per image (detector + feature model at batch = boxes, each alone), by thread count. */
export interface RawPerImage {
  threads: number;
  detMs: number;
  /** Mean over the images of the feature model's Run at their box counts. */
  featMs: number;
  perImageMs: number;
  boxes: number[];
  /** 1 thread only: images/s when `cores` loops of raw Runs (det + feat per image, the 4 images in turn) run side by side. */
  sideBySideIps?: number;
}

export interface ThroughputResult {
  cores: number;
  raw: RawPerImage[];
  concurrency: ConcurrencyRow[];
  batch: BatchRow[];
  idleLoopDelay: { p50: number; p99: number; max: number };
  notes: string[];
}

function loopStats(h: ReturnType<typeof monitorEventLoopDelay>) {
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6 };
}

/** `count` recognitions over the report photos with `concurrency` in flight: images/s, latency, event-loop delay meanwhile. */
async function measureInFlight(pipeline: Pipeline, index: IndexData, count: number, concurrency: number) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = now();
  const lat = await runInFlight(count, concurrency, (i) => pipeline.recognize(IMAGES[i % IMAGES.length], { index }));
  const seconds = (now() - t0) / 1000;
  h.disable();
  return { count, seconds, ips: count / seconds, latency: stats(lat), loopDelay: loopStats(h) };
}

/** Raw Run times per image at `threads` (same ONNX Runtime, session options, thread count; via the addon's bare Model.run). */
async function rawPerImage(threads: number, boxes: number[], mode: RunMode): Promise<RawPerImage> {
  const warmup = mode.quick ? 2 : 10, iters = mode.quick ? 8 : 40;
  const det = await native.loadModel(DET_ONNX, { intraOpThreads: threads });
  const feat = await native.loadModel(FEAT_ONNX, { intraOpThreads: threads });
  const detIn = det.inputs()[0], featIn = feat.inputs()[0];
  const detMs = await medianRunMs(det, { [detIn.name]: { data: new Float32Array(3 * 416 * 416).fill(0.5), dims: [1, 3, 416, 416] } }, warmup, iters);
  const byBoxes = new Map<number, number>();
  for (const nb of new Set(boxes))
    byBoxes.set(nb, await medianRunMs(feat, { [featIn.name]: { data: new Float32Array(nb * 3 * 224 * 224).fill(0.5), dims: [nb, 3, 224, 224] } }, warmup, iters));
  const featMs = boxes.reduce((a, nb) => a + byBoxes.get(nb)!, 0) / boxes.length;
  const res: RawPerImage = { threads, detMs, featMs, perImageMs: detMs + featMs, boxes };
  if (threads === 1) {
    // The cores' worth of raw Runs at once: what inference alone reaches when every core is busy.
    const cores = Math.max(1, os.availableParallelism());
    const detFeeds = { [detIn.name]: { data: new Float32Array(3 * 416 * 416).fill(0.5), dims: [1, 3, 416, 416] } };
    const featFeeds = new Map([...new Set(boxes)].map((nb) => [nb, { [featIn.name]: { data: new Float32Array(nb * 3 * 224 * 224).fill(0.5), dims: [nb, 3, 224, 224] } }]));
    const n = (mode.quick ? 3 : 30) * boxes.length;
    const t0 = now();
    await runInFlight(n * cores, cores, async (i) => {
      await det.run(detFeeds);
      await feat.run(featFeeds.get(boxes[i % boxes.length])!);
    });
    res.sideBySideIps = (1000 * n * cores) / (now() - t0);
  }
  return res;
}

export async function runThroughput(mode: RunMode): Promise<ThroughputResult> {
  // --quick: 1 thread at 1 and 2 in flight, the default options, a short batch sweep.
  const count = mode.quick ? 12 : 240;
  const cores = Math.max(1, os.availableParallelism());
  const pinned = cores < os.cpus().length;
  const res: ThroughputResult = {
    cores,
    raw: [],
    concurrency: [],
    batch: [],
    idleLoopDelay: { p50: 0, p99: 0, max: 0 },
    notes: [
      'Concurrency: `count` recognitions over the 4 images round-robin, with 1, 2 or 4 recognize() calls in flight (each a native call on a worker thread).',
      'Limit: the raw ONNX Runtime Runs one image needs (detector at [1,3,416,416] + feature model at [boxes,3,224,224], each Run after Run alone, medians, mean over the 4 images), measured in the same run just before the rows. Raw Runs are measured before and after the rows and the faster kept. Hard limit = the best of (cores / threads) x 1000 / (raw ms per image at that thread count) over the thread counts measured: every core busy with nothing but inference. A setting\'s own limit = min(in flight x threads, cores) / threads Runs side by side at that thread count\'s raw time. Ratio = measured images/s / hard limit. "raw side by side" = images/s of `cores` loops of those raw Runs at 1 thread running at once (what inference alone reaches with every core busy, cores contending for caches and memory).',
      '"shared pool" = createPipeline(config, {threadPool: "shared"}): the detector\'s and the feature model\'s sessions run on ONNX Runtime\'s one process-wide intra-op pool (a thread per core, no spinning) instead of a pool each. Its own limit is computed as for a session pool of that many threads.',
      '"default options" = createPipeline(config) without threads / concurrency (chosen from os.availableParallelism(), which follows taskset), with the pipeline\'s concurrency in flight, as predict() runs; "+ reducedDecode" adds createPipeline\'s reducedDecode: true.',
      'Event-loop delay: perf_hooks.monitorEventLoopDelay (resolution 1 ms) while the recognitions run; the idle row is the same monitor with nothing running, as the floor of the measurement.',
      'Batched extraction: FeatureExtractor.embed on pre-decoded gallery pictures (raw BGR pixels; decode not counted), whole pictures (the 12 gallery pictures in turn, the same mix for every B) resized to 224x224, B pictures per call = one ONNX Runtime Run at batch B.',
    ],
  };
  {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    await new Promise((r) => setTimeout(r, 500));
    h.disable();
    const s = loopStats(h);
    res.idleLoopDelay = { p50: s.p50, p99: s.p99, max: s.max };
  }
  // Box counts per image (the feature model's batch), then the raw Run times.
  const boxes: number[] = [];
  {
    const { pipeline, index } = await loadOurs(1);
    for (const img of IMAGES) boxes.push(Math.max(1, (await pipeline.recognize(img, { index })).boxes.length));
  }
  const threadCounts = cores >= 2 && !mode.quick ? [2, 1] : [1];
  // Raw Runs before the rows; measured again after them, the faster of the two is kept
  // (a limit is what inference can reach: load on the machine only ever slows it).
  const rawThreads = [...new Set([...threadCounts, ...(mode.quick ? [] : [cores])])];
  for (const threads of rawThreads) {
    log(`throughput: raw Runs per image at ${threads} thread(s)`);
    res.raw.push(await rawPerImage(threads, boxes, mode));
  }
  const raw1 = res.raw.find((r) => r.threads === 1)!;
  // The hard limit is the best that inference alone reaches at any measured thread
  // count (cores / threads sessions side by side): on a machine other processes load,
  // more threads get a larger share of the cores, for the raw Runs as for the pipeline.
  const limitIps = Math.max(...res.raw.map((r) => ((Math.max(1, cores / r.threads) * 1000) / r.perImageMs)));
  const settingLimit = (threads: number, inFlight: number) => {
    const r = res.raw.find((x) => x.threads === threads) ?? raw1;
    return ((Math.min(inFlight * threads, cores) / threads) * 1000) / r.perImageMs;
  };
  for (const threads of threadCounts) {
    const { pipeline, index } = await loadOurs(threads);
    for (let i = 0; i < 4; i++) await pipeline.recognize(IMAGES[i % IMAGES.length], { index, keepImage: false });
    for (const concurrency of mode.quick ? [1, 2] : [1, 2, 4]) {
      log(`throughput: ${threads} thread(s), ${concurrency} in flight`);
      res.concurrency.push({ threads, concurrency, setting: `${threads} thread(s) x ${concurrency} in flight`, settingLimitIps: settingLimit(threads, concurrency), limitIps, ...(await measureInFlight(pipeline, index, count, concurrency)) });
    }
  }
  // One process-wide ONNX Runtime pool (a thread per core) for both models.
  if (!mode.quick) {
    const pipeline = await createPipeline(STANDIN_CONFIG, { threadPool: 'shared', concurrency: 4 });
    const { index } = await loadOurs(1);
    for (let i = 0; i < 4; i++) await pipeline.recognize(IMAGES[i % IMAGES.length], { index });
    for (const concurrency of cores >= 2 ? [1, 2, 4] : [1, 2]) {
      log(`throughput: shared pool, ${concurrency} in flight`);
      res.concurrency.push({ threads: cores, concurrency, setting: `shared pool (${cores} thread(s)) x ${concurrency} in flight`, settingLimitIps: settingLimit(cores, concurrency), limitIps, ...(await measureInFlight(pipeline, index, count, concurrency)) });
    }
    await pipeline.close();
  }
  // The defaults, as a user gets them (and with the cheaper JPEG decode).
  for (const reducedDecode of mode.quick ? [false] : [false, true]) {
    const pipeline = await createPipeline(STANDIN_CONFIG, { reducedDecode });
    const { index } = await loadOurs(1);
    const { threads, concurrency } = pipeline.settings;
    for (let i = 0; i < 4; i++) await pipeline.recognize(IMAGES[i % IMAGES.length], { index });
    const setting = reducedDecode ? 'default + reducedDecode' : 'default options';
    log(`throughput: ${setting} (${threads} thread(s) x ${concurrency} in flight)`);
    res.concurrency.push({ threads, concurrency, setting: `${setting} (${threads} x ${concurrency})`, settingLimitIps: settingLimit(threads, concurrency), limitIps, ...(await measureInFlight(pipeline, index, count, concurrency)) });
    await pipeline.close();
  }
  for (const threads of rawThreads) {
    log(`throughput: raw Runs per image at ${threads} thread(s), again`);
    const again = await rawPerImage(threads, boxes, mode);
    const i = res.raw.findIndex((r) => r.threads === threads);
    if (again.perImageMs < res.raw[i].perImageMs) res.raw[i] = { ...again, sideBySideIps: Math.max(again.sideBySideIps ?? 0, res.raw[i].sideBySideIps ?? 0) || undefined };
  }
  // The rows' limits from the raw Runs as kept.
  const limitAfter = Math.max(...res.raw.map((r) => ((Math.max(1, cores / r.threads) * 1000) / r.perImageMs)));
  for (const row of res.concurrency) {
    row.limitIps = limitAfter;
    row.settingLimitIps = settingLimit(row.threads, row.concurrency);
  }
  if (pinned) {
    writeJson(`throughput-${cores}cores.json`, res);
    return res;
  }
  // Batched feature extraction.
  const pics = await Promise.all(galleryEntries().map((g) => native.decodeImage(g.image)));
  for (const threads of mode.quick ? [1] : [2, 1]) {
    const { pipeline } = await loadOurs(threads);
    const ex = internals(pipeline).extractor;
    for (const batch of mode.quick ? [1, 8] : [1, 8, 32]) {
      log(`throughput: batched extraction, ${threads} thread(s), batch ${batch}`);
      // Every batch size goes through the same mix of pictures (the gallery's sizes differ: up to 1596x1204).
      const batchAt = (c: number) => Array.from({ length: batch }, (_, i) => pics[(c * batch + i) % pics.length]);
      await ex.embed(batchAt(0), {});
      const target = mode.quick ? 32 : 384;
      const calls = Math.max(2, Math.ceil(target / batch));
      let pre = 0, inf = 0, inp = 0, tot = 0;
      const t0 = now();
      for (let c = 0; c < calls; c++) {
        const r = await ex.embed(batchAt(c), {});
        pre += r.timings.recPreprocess;
        inf += r.timings.recInference;
        inp += r.timings.decode;
        tot += r.timings.total;
      }
      const ms = now() - t0;
      const n = calls * batch;
      res.batch.push({ threads, batch, images: n, ips: (1000 * n) / ms, perImageMs: ms / n, inputMsPerImage: inp / n, preprocessMsPerImage: pre / n, inferenceMsPerImage: inf / n, nativeMsPerImage: tot / n });
    }
  }
  writeJson('throughput.json', res);
  return res;
}

// Section 4: throughput with 1, 2, 4 recognitions in flight, batched feature
// extraction, and the event loop's delay while recognitions run.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { native } from '../lib/native';
import { galleryEntries, IMAGES, log, RunMode, runInFlight, stats, Stats, writeJson, now } from './util';
import { internals, loadOurs } from './ours';

export interface ConcurrencyRow {
  threads: number;
  concurrency: number;
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

export interface ThroughputResult {
  concurrency: ConcurrencyRow[];
  batch: BatchRow[];
  idleLoopDelay: { p50: number; p99: number; max: number };
  notes: string[];
}

function loopStats(h: ReturnType<typeof monitorEventLoopDelay>) {
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6 };
}

export async function runThroughput(mode: RunMode): Promise<ThroughputResult> {
  const count = mode.quick ? 24 : 120;
  const res: ThroughputResult = {
    concurrency: [],
    batch: [],
    idleLoopDelay: { p50: 0, p99: 0, max: 0 },
    notes: [
      'Concurrency: `count` recognitions over the 4 images round-robin, with 1, 2 or 4 recognize() calls in flight (each a native call on a worker thread).',
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
  for (const threads of [2, 1]) {
    const { pipeline, index } = await loadOurs(threads);
    for (let i = 0; i < 4; i++) await pipeline.recognize(IMAGES[i % IMAGES.length], { index, keepImage: false });
    for (const concurrency of [1, 2, 4]) {
      log(`throughput: ${threads} thread(s), ${concurrency} in flight`);
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t0 = now();
      const lat = await runInFlight(count, concurrency, (i) => pipeline.recognize(IMAGES[i % IMAGES.length], { index }));
      const seconds = (now() - t0) / 1000;
      h.disable();
      res.concurrency.push({ threads, concurrency, count, seconds, ips: count / seconds, latency: stats(lat), loopDelay: loopStats(h) });
    }
  }
  // Batched feature extraction.
  const pics = await Promise.all(galleryEntries().map((g) => native.decodeImage(g.image)));
  for (const threads of [2, 1]) {
    const { pipeline } = await loadOurs(threads);
    const ex = internals(pipeline).extractor;
    for (const batch of [1, 8, 32]) {
      log(`throughput: batched extraction, ${threads} thread(s), batch ${batch}`);
      // Every batch size goes through the same mix of pictures (the gallery's sizes differ: up to 1596x1204).
      const batchAt = (c: number) => Array.from({ length: batch }, (_, i) => pics[(c * batch + i) % pics.length]);
      await ex.embed(batchAt(0), {});
      const target = mode.quick ? 96 : 384;
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

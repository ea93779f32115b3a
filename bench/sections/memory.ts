// Section "memory": memory. Runs in a fresh child process so that its peak RSS is its
// own: RSS at start, with both models loaded (+ index), peak, and RSS over many
// predictions (must stay flat).
import { fork } from 'node:child_process';
import { createPipeline, trimMemory } from '../../lib/index';
import { galleryEntries, gc, IMAGES, log, mb, RunMode, STANDIN_CONFIG, writeJson, now } from '../lib/util';

export interface MemoryResult {
  predictions: number;
  requested: number;
  threads: number;
  concurrency: number;
  rssAtStartMiB: number;
  rssModelsLoadedMiB: number;
  peakRssAfterLoadMiB: number;
  peakRssMiB: number;
  /** After the warm-up predictions. */
  rssStartMiB: number;
  rssEndMiB: number;
  growthMiB: number;
  growthPct: number;
  /** Lowest RSS sample in the first / last quarter of the run, among the samples taken mid-run (one call in flight). */
  floorFirstQuarterMiB: number;
  floorLastQuarterMiB: number;
  floorGrowthMiB: number;
  /** Least-squares slope of RSS over the second half of the run. */
  slopeKiBPer1000: number;
  flat: boolean;
  series: Array<{ predictions: number; rssMiB: number; heapUsedMiB: number; externalMiB: number }>;
  seconds: number;
  notes: string[];
}

// A GC, then glibc's malloc_trim: freed native memory (decoded pictures, tensors
// freed on worker threads) otherwise stays in RSS at its high-water mark and
// hides whether anything is really retained.
function settle(): void {
  gc();
  trimMemory();
}

async function child(quick: boolean): Promise<MemoryResult> {
  const rssAtStart = process.memoryUsage().rss;
  const threads = 1, concurrency = 2;
  const pipeline = await createPipeline(STANDIN_CONFIG, { threads, concurrency });
  const g = galleryEntries();
  const index = await pipeline.buildIndex({ galleryImgs: g.map((e) => e.image), galleryLabel: g.map((e) => e.label) });
  settle();
  const rssLoaded = process.memoryUsage().rss;
  const warm = 100;
  const requested = quick ? 300 : 10000;
  // The full run stops early when its time budget (150 s, its share of a run under 15 min) is used; the count is reported.
  const budgetMs = quick ? 60_000 : 150_000;
  const series: MemoryResult['series'] = [];
  let done = 0;
  const sample = () => {
    settle();
    const m = process.memoryUsage();
    series.push({ predictions: done, rssMiB: mb(m.rss), heapUsedMiB: mb(m.heapUsed), externalMiB: mb(m.external) });
  };
  const step = quick ? 25 : 250;
  const run = async (n: number, deadline: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (;;) {
        if (now() > deadline) return;
        const i = next++;
        if (i >= n) return;
        await pipeline.recognize(IMAGES[i % IMAGES.length], { index, keepImage: true });
        done++;
        if (done % step === 0) sample();
      }
    }));
  };
  await run(warm, Infinity);
  const peakAfterLoad = process.resourceUsage().maxRSS * 1024;
  settle();
  done = 0;
  sample();
  const start = series[0].rssMiB;
  const t0 = now();
  await run(requested, t0 + budgetMs);
  const seconds = (now() - t0) / 1000;
  settle();
  await new Promise((r) => setTimeout(r, 100));
  sample();
  const end = series[series.length - 1].rssMiB;
  const half = series.slice(Math.floor(series.length / 2));
  const mx = half.reduce((a, s) => a + s.predictions, 0) / half.length;
  const my = half.reduce((a, s) => a + s.rssMiB, 0) / half.length;
  const sxy = half.reduce((a, s) => a + (s.predictions - mx) * (s.rssMiB - my), 0);
  const sxx = half.reduce((a, s) => a + (s.predictions - mx) ** 2, 0);
  const slope = sxx > 0 ? ((sxy / sxx) * 1000 * 1024) : 0;
  const growth = end - start;
  // The first and last samples are taken with nothing in flight; the floors compare the in-between ones (one call in flight) only.
  const mid = series.slice(1, -1);
  const q = Math.max(1, Math.floor(mid.length / 4));
  const floorFirst = mid.length ? Math.min(...mid.slice(0, q).map((x) => x.rssMiB)) : NaN;
  const floorLast = mid.length ? Math.min(...mid.slice(-q).map((x) => x.rssMiB)) : NaN;
  await pipeline.close();
  return {
    predictions: done,
    requested,
    threads,
    concurrency,
    rssAtStartMiB: mb(rssAtStart),
    rssModelsLoadedMiB: mb(rssLoaded),
    peakRssAfterLoadMiB: mb(peakAfterLoad),
    peakRssMiB: mb(process.resourceUsage().maxRSS * 1024),
    rssStartMiB: start,
    rssEndMiB: end,
    growthMiB: growth,
    growthPct: (100 * growth) / start,
    slopeKiBPer1000: slope,
    floorFirstQuarterMiB: floorFirst,
    floorLastQuarterMiB: floorLast,
    floorGrowthMiB: floorLast - floorFirst,
    flat: growth < Math.max(8, 0.05 * start) && floorLast - floorFirst < Math.max(8, 0.05 * start),
    series,
    seconds,
    notes: [
      `A fresh process: createPipeline(standin.yaml, {threads: ${threads}, concurrency: ${concurrency}}), gallery index built, ${warm} warm-up predictions (ONNX Runtime arenas and the allocator settle), then predictions over the 4 images round-robin with ${concurrency} in flight and keepImage: true (the decoded picture comes back to JS each time, so its buffers are exercised too). RSS sampled after a GC and malloc_trim (trimMemory()) every ${step} predictions; start = after the warm-up, end = after the run, each after a GC and malloc_trim (without the trim, RSS keeps the malloc arenas' high-water mark: +84 MiB at the end of 10,000 predictions, floor +13 MiB).`,
      'flat = growth (end − start) and growth of the floor (lowest sample of the last quarter − lowest of the first quarter, among the samples taken while the other call is in flight; start and end are taken with nothing in flight) both below max(8 MiB, 5 %). The samples swing by ~60 MiB depending on whether the other call in flight holds its decoded picture and buffers at that moment; the slope is reported but too noisy to judge by.',
    ],
  };
}

export async function runMemory(mode: RunMode): Promise<MemoryResult> {
  log(`memory: fresh process, ${mode.quick ? 300 : 10000} predictions requested`);
  const res = await new Promise<MemoryResult>((resolve, reject) => {
    const c = fork(__filename, ['--child', ...(mode.quick ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.on('message', (m: any) => (m.ok ? resolve(m.result) : reject(new Error(m.error))));
    c.on('exit', (code) => (code ? reject(new Error(`memory child exited with ${code}`)) : undefined));
  });
  writeJson('memory.json', res);
  log(`memory: ${res.predictions} predictions in ${res.seconds.toFixed(0)} s: RSS start ${res.rssStartMiB.toFixed(1)} MiB, end ${res.rssEndMiB.toFixed(1)} MiB, growth ${res.growthMiB.toFixed(1)} MiB (${res.growthPct.toFixed(1)} %), floor ${res.floorFirstQuarterMiB.toFixed(1)} -> ${res.floorLastQuarterMiB.toFixed(1)} MiB, peak ${res.peakRssMiB.toFixed(1)} MiB -> ${res.flat ? 'flat' : 'NOT flat'}`);
  return res;
}

if (require.main === module && process.argv.includes('--child')) {
  child(process.argv.includes('--quick')).then(
    (r) => process.send!({ ok: true, result: r }, () => process.exit(0)),
    (e) => process.send!({ ok: false, error: String(e?.stack ?? e) }, () => process.exit(1)),
  );
}

// Statistics and timing loops: quantiles, medians, calls in flight.
export interface Stats { n: number; mean: number; p50: number; p90: number; p99: number; min: number; max: number }

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Median milliseconds of a raw model Run on `feeds`, after `warmup` unmeasured Runs. */
export async function medianRunMs(model: { run(feeds: unknown): Promise<unknown> }, feeds: Record<string, { data: Float32Array; dims: number[] }>, warmup: number, iters: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await model.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = now();
    await model.run(feeds);
    ts.push(now() - t0);
  }
  return median(ts);
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { n: s.length, mean, p50: median(s), p90: quantile(s, 0.9), p99: quantile(s, 0.99), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const now = () => performance.now();

/** Runs `task(i)` for i in [0, count) with `concurrency` calls in flight; returns each call's latency (ms). */
export async function runInFlight(count: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const a = now();
      await task(i);
      latencies.push(now() - a);
    }
  }));
  return latencies;
}


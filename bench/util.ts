// Shared helpers for the benchmark: paths, statistics, machine description,
// result files and hand-written SVG charts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useSharedDir } from '../lib/util/shared-dir';

/** dist/bench/util.js -> repository root is two levels up; bench/util.ts (ts runner) -> one. */
export const ROOT = fs.existsSync(path.resolve(__dirname, '..', '..', 'package.json'))
  ? path.resolve(__dirname, '..', '..')
  : path.resolve(__dirname, '..');
export const SHARED = useSharedDir() ?? path.resolve(ROOT, '..', 'shared');
export const BENCH_DIR = path.join(ROOT, 'bench');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const STANDIN_CONFIG = path.join(ROOT, 'models', 'standin.yaml');
export const DET_ONNX = path.join(SHARED, 'models', 'picodet_s_coco', 'picodet_s_416_coco.onnx');
export const FEAT_ONNX = path.join(SHARED, 'models', 'mobilenetv2', 'mobilenetv2-12-int8-feat.onnx');

/** When this process started the benchmark (sections use it to stay inside the run's time budget). */
export const RUN_START = Date.now();
export const elapsedS = () => (Date.now() - RUN_START) / 1000;

export const IMAGES = [
  'data/images/misc/bus.jpg',
  'data/images/misc/dog.jpg',
  'data/images/drink_test_images/100.jpeg',
  'data/images/product_demo/query/anmuxi.jpg',
].map((p) => path.join(SHARED, p));

/**
 * Gallery: the product_demo gallery (6 views of one product, label "anmuxi") plus
 * distractor images that are not queries, each labelled by its file name, so that
 * top-1 agreement between two implementations means something.
 */
export function galleryEntries(): Array<{ image: string; label: string }> {
  const g = path.join(SHARED, 'data/images/product_demo/gallery');
  const out: Array<{ image: string; label: string }> = [];
  for (const label of fs.readdirSync(g).sort()) {
    const dir = path.join(g, label);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).sort()) if (/\.(jpe?g|png)$/i.test(f)) out.push({ image: path.join(dir, f), label });
  }
  for (const p of [
    'data/images/product_demo/query/daoxiangcunjinzhubing_6.jpg',
    'data/images/drink_test_images/mosilian.jpeg',
    'data/images/drink_test_images/nongfu_spring.jpeg',
    'data/images/drink_test_images/youjia.jpeg',
    'data/images/misc/coco_000000570688.jpg',
    'data/images/misc/wangzai.jpg',
  ]) {
    const f = path.join(SHARED, p);
    if (fs.existsSync(f)) out.push({ image: f, label: path.basename(f).replace(/\.[^.]+$/, '').replace(/_\d+$/, '') });
  }
  return out;
}

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

export function fmt(x: number | undefined | null, d = 2): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return 'n/a';
  return x.toFixed(d);
}

export function mb(bytes: number): number {
  return bytes / (1024 * 1024);
}

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  os: string;
  node: string;
  loadavgStart: number[];
  date: string;
}

export function machine(): Machine {
  const c = os.cpus();
  return {
    cpu: c[0]?.model?.trim() ?? 'unknown',
    cores: c.length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    node: process.version,
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

export function writeJson(name: string, data: unknown): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const p = path.join(RESULTS_DIR, name);
  fs.writeFileSync(p, JSON.stringify(data, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  return p;
}

export function readJson<T = any>(name: string): T | undefined {
  const p = path.join(RESULTS_DIR, name);
  if (!fs.existsSync(p)) return undefined;
  return JSON.parse(fs.readFileSync(p, 'utf8')) as T;
}

export function log(...a: unknown[]): void {
  const t = new Date().toISOString().slice(11, 19);
  console.log(`[${t}]`, ...a);
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

let gcFn: (() => void) | undefined;
/** Runs the garbage collector (exposed at run time, no node flag needed). */
export function gc(): void {
  if (!gcFn) {
    const g = (globalThis as any).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      require('node:v8').setFlagsFromString('--expose-gc');
      gcFn = require('node:vm').runInNewContext('gc');
    }
  }
  gcFn!();
}

export interface RunMode {
  quick: boolean;
}

// ------------------------------------------------------------------ SVG charts
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

/** Grouped bar chart: one group per category, one bar per series. */
export function barChart(o: { title: string; categories: string[]; series: Array<{ name: string; values: number[] }>; unit: string; width?: number; height?: number }): string {
  const W = o.width ?? 760, H = o.height ?? 360, L = 70, R = 20, T = 40, B = 80;
  const pw = W - L - R, ph = H - T - B;
  const max = niceMax(Math.max(...o.series.flatMap((s) => s.values.filter(Number.isFinite))));
  const gw = pw / Math.max(1, o.categories.length);
  const bw = (gw * 0.8) / Math.max(1, o.series.length);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5, y = T + ph - (ph * i) / 5;
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 5}" y="${y + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  parts.push(`<text x="15" y="${T + ph / 2}" transform="rotate(-90 15 ${T + ph / 2})" text-anchor="middle">${esc(o.unit)}</text>`);
  o.categories.forEach((c, ci) => {
    const gx = L + ci * gw + gw * 0.1;
    o.series.forEach((s, si) => {
      const v = s.values[ci];
      if (!Number.isFinite(v)) return;
      const h = (ph * v) / max;
      const x = gx + si * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${(T + ph - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name} ${c}: ${v.toFixed(3)} ${o.unit}`)}</title></rect>`);
      parts.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(T + ph - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${+v.toPrecision(3)}</text>`);
    });
    parts.push(`<text x="${(L + ci * gw + gw / 2).toFixed(1)}" y="${T + ph + 15}" text-anchor="middle">${esc(c)}</text>`);
  });
  parts.push(`<line x1="${L}" y1="${T + ph}" x2="${W - R}" y2="${T + ph}" stroke="black"/>`);
  o.series.forEach((s, si) => {
    const x = L + si * 150, y = H - 25;
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/><text x="${x + 14}" y="${y}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Horizontal stacked bar: one bar per row, segments per stage. */
export function stackedBarChart(o: { title: string; rows: string[]; segments: Array<{ name: string; values: number[] }>; unit: string; width?: number }): string {
  const W = o.width ?? 760, rowH = 28, L = 170, R = 30, T = 40;
  const H = T + o.rows.length * rowH + 30 + Math.ceil(o.segments.length / 4) * 18;
  const pw = W - L - R;
  const totals = o.rows.map((_, ri) => o.segments.reduce((a, s) => a + (Number.isFinite(s.values[ri]) ? Math.max(0, s.values[ri]) : 0), 0));
  const max = niceMax(Math.max(...totals));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(`${o.title} (${o.unit})`)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const x = L + (pw * i) / 5;
    parts.push(`<line x1="${x}" y1="${T - 5}" x2="${x}" y2="${T + o.rows.length * rowH}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${T + o.rows.length * rowH + 12}" text-anchor="middle">${+((max * i) / 5).toPrecision(3)}</text>`);
  }
  o.rows.forEach((r, ri) => {
    const y = T + ri * rowH;
    parts.push(`<text x="${L - 5}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(r)}</text>`);
    let x = L;
    o.segments.forEach((s, si) => {
      const v = Number.isFinite(s.values[ri]) ? Math.max(0, s.values[ri]) : 0;
      const w = (pw * v) / max;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${r} ${s.name}: ${v.toFixed(3)} ${o.unit}`)}</title></rect>`);
      x += w;
    });
    parts.push(`<text x="${(x + 3).toFixed(1)}" y="${y + rowH / 2 + 4}">${totals[ri].toFixed(1)}</text>`);
  });
  o.segments.forEach((s, si) => {
    const x = 10 + (si % 4) * 185, y = T + o.rows.length * rowH + 30 + Math.floor(si / 4) * 18;
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/><text x="${x + 14}" y="${y}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Line chart with a log-10 x axis (e.g. index size). */
export function lineChart(o: { title: string; xs: number[]; series: Array<{ name: string; values: number[] }>; unit: string; xLabel: string; logX?: boolean; logY?: boolean; width?: number; height?: number }): string {
  const W = o.width ?? 760, L = 70, R = 20, T = 40;
  const perRow = Math.max(1, Math.floor((W - L) / 175));
  const legendRows = Math.ceil(o.series.length / perRow);
  const B = 56 + legendRows * 16;
  const H = (o.height ?? 360) + (legendRows - 1) * 16;
  const pw = W - L - R, ph = H - T - B;
  const fx = (v: number) => (o.logX ? Math.log10(v) : v);
  const xmin = fx(Math.min(...o.xs)), xmax = fx(Math.max(...o.xs));
  const all = o.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v) && (!o.logY || v > 0)));
  let ymin = 0, ymax = niceMax(Math.max(...all, 1e-9));
  const fy = (v: number) => (o.logY ? Math.log10(v) : v);
  if (o.logY) {
    ymin = Math.floor(Math.log10(Math.min(...all)));
    ymax = Math.ceil(Math.log10(Math.max(...all)));
    if (ymax === ymin) ymax = ymin + 1;
  }
  const X = (v: number) => L + (xmax === xmin ? pw / 2 : ((fx(v) - xmin) / (xmax - xmin)) * pw);
  const Y = (v: number) => T + ph - ((fy(v) - ymin) / (ymax - ymin)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  const ticks = o.logY ? Array.from({ length: ymax - ymin + 1 }, (_, i) => Math.pow(10, ymin + i)) : Array.from({ length: 6 }, (_, i) => (ymax * i) / 5);
  for (const v of ticks) {
    const y = Y(v);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/><text x="${L - 5}" y="${y + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  const every = Math.ceil(o.xs.length / 12);
  o.xs.forEach((x, i) => {
    if (i % every === 0) parts.push(`<text x="${X(x)}" y="${T + ph + 15}" text-anchor="middle">${x >= 1000 ? `${+(x / 1000).toPrecision(3)}k` : x}</text>`);
  });
  parts.push(`<text x="${L + pw / 2}" y="${T + ph + 32}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text x="15" y="${T + ph / 2}" transform="rotate(-90 15 ${T + ph / 2})" text-anchor="middle">${esc(o.unit)}${o.logY ? ' (log)' : ''}</text>`);
  o.series.forEach((s, si) => {
    const pts = o.xs.map((x, i) => [x, s.values[i]] as const).filter(([, v]) => Number.isFinite(v) && (!o.logY || v > 0));
    if (!pts.length) return;
    parts.push(`<polyline fill="none" stroke="${COLORS[si % COLORS.length]}" stroke-width="2" points="${pts.map(([x, v]) => `${X(x).toFixed(1)},${Y(v).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, v] of pts) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="3" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name} @ ${x}: ${v}`)}</title></circle>`);
    const lx = L + (si % perRow) * 175, ly = H - 12 - (legendRows - 1 - Math.floor(si / perRow)) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/><text x="${lx + 14}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function writeSvg(name: string, svg: string): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, name), svg);
  return `results/${name}`;
}

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

/** Deterministic pseudo-random unit vectors (n x dim, row-major). */
export function unitVectors(n: number, dim: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) { const x = rnd(); v[i * dim + j] = x; norm += x * x; }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) v[i * dim + j] /= norm;
  }
  return v;
}

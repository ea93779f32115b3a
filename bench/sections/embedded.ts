// Section "embedded": recognition inside someone else's
// server. bench/lib/embedded-app.ts (a minimal Fastify app, one pipeline with its
// defaults, `POST /recognize` with the raw image) runs as a child process;
// autocannon here drives it at each connection count for `durationS` seconds,
// while the app measures, per level, its event-loop delay, a 3 KB fs.readFile
// issued every 20 ms beside the load (libuv's thread pool: the host's fs, dns,
// crypto and zlib) and its RSS.
//
//   node dist/bench/sections/embedded.js [--addon PATH] [--out FILE] [--duration S] [--connections 1,4,16] [--note TEXT]
//
// --addon loads another build of the addon (a shitu.node with its ONNX Runtime
// library beside it) through SHITU_ADDON_PATH, e.g. one built before the
// addon had its own threads, for the "before" figures. --out: a path, or a
// file name under bench/results (default embedded.json). --note: free text kept
// in the result (what was measured, e.g. which JS and addon).
//
// Exported for the bench report: runEmbedded(opts): Promise<EmbeddedResult>.
// JSON shape (EmbeddedResult, kept stable):
//   { section: 'embedded', date, addon, note?, machine: {cpu, cores, node, os},
//     loadAvg: {start: [1, 5, 15 min], end: [...]},
//     settings: {durationS, connections[], image, imageBytes, readProbe: {bytes, everyMs},
//                uvThreadpoolSize, pipeline: {threads, concurrency, ...}, galleryImages},
//     rssStartMB, rssEndMB,
//     levels: [{ connections, requests, reqPerS, latencyP50Ms, latencyP99Ms, latencyMaxMs,
//                errors, non2xx, eventLoopDelayP99Ms, eventLoopDelayMaxMs,
//                readFile: {n, p50Ms, p99Ms, maxMs}, rssMB }] }
// rssStartMB is read once the app is ready and warmed up, rssEndMB after the last level.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { READ_PROBE, WindowFigures } from '../lib/embedded-app';
import { IMAGES, resultsDir } from '../lib/util';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon: any = require('autocannon');

export interface EmbeddedOptions {
  connections: number[];
  durationS: number;
  /** Path of another shitu.node (with its ONNX Runtime library beside it); default: the loader's choice. */
  addon?: string;
  /** Free text kept in the result. */
  note?: string;
}

export interface EmbeddedLevel {
  connections: number;
  requests: number;
  reqPerS: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  errors: number;
  non2xx: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  readFile: { n: number; p50Ms: number; p99Ms: number; maxMs: number };
  rssMB: number;
}

export interface EmbeddedResult {
  section: 'embedded';
  date: string;
  addon: string;
  note?: string;
  machine: { cpu: string; cores: number; node: string; os: string };
  loadAvg: { start: number[]; end: number[] };
  settings: {
    durationS: number;
    connections: number[];
    image: string;
    imageBytes: number;
    readProbe: { bytes: number; everyMs: number };
    uvThreadpoolSize: string;
    pipeline: unknown;
    galleryImages: number;
  };
  rssStartMB: number;
  rssEndMB: number;
  levels: EmbeddedLevel[];
}

/** The query sent as the body of every request (the product photo). */
const QUERY = IMAGES[3];
const loadAvg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

async function startApp(addon: string | undefined): Promise<{ child: ChildProcess; base: string }> {
  const appFile = path.join(__dirname, '..', 'lib', `embedded-app${path.extname(__filename)}`);
  const env = { ...process.env };
  if (addon) env.SHITU_ADDON_PATH = path.resolve(addon);
  const child = spawn(process.execPath, [...process.execArgv, appFile], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<number>((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l).port));
    child.once('exit', (code) => reject(new Error(`the embedded app exited (code ${code}) before listening`)));
  });
  const port = await ready;
  return { child, base: `http://127.0.0.1:${port}` };
}

async function call<T>(base: string, route: string, method = 'POST'): Promise<T> {
  const res = await fetch(base + route, { method });
  if (res.status !== 200) throw new Error(`${route}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

function cannon(url: string, body: Buffer, connections: number, durationS: number): Promise<any> {
  return new Promise((resolve, reject) => {
    autocannon({
      url, method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body,
      connections, duration: durationS, timeout: 60, pipelining: 1,
    }, (err: Error | null, res: any) => (err ? reject(err) : resolve(res)));
  });
}

export async function runEmbedded(opts: EmbeddedOptions): Promise<EmbeddedResult> {
  if (!Array.isArray(opts.connections) || !opts.connections.length || !opts.connections.every((c) => Number.isInteger(c) && c >= 1))
    throw new RangeError('connections must be a non-empty list of positive integers');
  if (!(opts.durationS > 0)) throw new RangeError('durationS must be a positive number of seconds');
  if (opts.addon !== undefined && !fs.existsSync(opts.addon)) throw new Error(`no addon at ${opts.addon}`);
  const start = loadAvg();
  const body = fs.readFileSync(QUERY);
  const { child, base } = await startApp(opts.addon);
  try {
    const url = `${base}/recognize`;
    // Warm-up (not measured): first requests size ORT's arenas, JIT the paths.
    await cannon(url, body, 2, 2);
    const info = await call<{ rssMB: number; settings: unknown; galleryImages: number }>(base, '/bench/info', 'GET');
    const levels: EmbeddedLevel[] = [];
    for (const connections of opts.connections) {
      await call(base, '/bench/window/start');
      const r = await cannon(url, body, connections, opts.durationS);
      const w = await call<WindowFigures>(base, '/bench/window/stop');
      const requests = (r['2xx'] ?? 0) + (r.non2xx ?? 0);
      levels.push({
        connections,
        requests,
        reqPerS: Math.round((requests / r.duration) * 10) / 10,
        latencyP50Ms: r.latency.p50,
        latencyP99Ms: r.latency.p99,
        latencyMaxMs: r.latency.max,
        errors: r.errors + r.timeouts,
        non2xx: r.non2xx,
        eventLoopDelayP99Ms: w.eventLoopDelayP99Ms,
        eventLoopDelayMaxMs: w.eventLoopDelayMaxMs,
        readFile: w.readFile,
        rssMB: w.rssMB,
      });
      const l = levels[levels.length - 1];
      process.stderr.write(`embedded c=${connections}: ${l.reqPerS} req/s, p50 ${l.latencyP50Ms} ms, p99 ${l.latencyP99Ms} ms, ` +
        `event loop p99 ${l.eventLoopDelayP99Ms} ms, readFile p99 ${l.readFile.p99Ms} ms (n ${l.readFile.n}), RSS ${l.rssMB} MB\n`);
    }
    const end = await call<{ rssMB: number }>(base, '/bench/info', 'GET');
    const c = os.cpus();
    return {
      section: 'embedded',
      date: new Date().toISOString(),
      addon: opts.addon ? path.resolve(opts.addon) : 'default (lib/native/loader.ts)',
      ...(opts.note ? { note: opts.note } : {}),
      machine: { cpu: c[0]?.model?.trim() ?? 'unknown', cores: c.length, node: process.version, os: `${os.type()} ${os.release()}` },
      loadAvg: { start, end: loadAvg() },
      settings: {
        durationS: opts.durationS,
        connections: opts.connections,
        image: path.basename(QUERY),
        imageBytes: body.length,
        readProbe: { ...READ_PROBE },
        uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? 'default (4)',
        pipeline: info.settings,
        galleryImages: info.galleryImages,
      },
      rssStartMB: info.rssMB,
      rssEndMB: end.rssMB,
      levels,
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const addon = arg('--addon');
  const outArg = arg('--out') ?? 'embedded.json';
  const out = outArg.includes(path.sep) ? path.resolve(outArg) : path.join(resultsDir(), outArg);
  const durationS = Number(arg('--duration') ?? 10);
  const connections = (arg('--connections') ?? '1,4,16').split(',').map(Number);
  const result = await runEmbedded({ connections, durationS, addon, note: arg('--note') });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
  fs.renameSync(`${out}.tmp`, out);
  const rows = result.levels.map((l) => `| ${l.connections} | ${l.reqPerS} | ${l.latencyP50Ms} | ${l.latencyP99Ms} | ${l.eventLoopDelayP99Ms} | ${l.readFile.p99Ms} | ${l.rssMB} |`);
  process.stdout.write([
    `Embedded app (${result.addon}; load average at start ${result.loadAvg.start.join(' ')}; RSS ${result.rssStartMB} -> ${result.rssEndMB} MB)`,
    '',
    '| connections | req/s | p50 ms | p99 ms | event loop p99 ms | readFile p99 ms | RSS MB |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Wrote ${out}`,
    '',
  ].join('\n'));
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}

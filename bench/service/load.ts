// Load test of the HTTP service (lib/server/app.ts): the server runs in this process
// on loopback over the stand-in pipeline, with an index built through the API
// from a few shared images; autocannon drives POST /shitu-infer with
// returnImage false and true at 1, 8 and 32 connections, then an overload run
// against a small queue where 503 + Retry-After is the expected answer.
//
//   node dist/bench/service/load.js [--quick] [--requests N]
//
// Full: 10,000 measured requests (1,667 per run; ~4.5 min on 2 idle cores);
// --quick: 500.
//
// Writes bench/results/load.json and prints a Markdown table.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ShituServer } from '../../lib/server/app';
import { ROOT } from '../lib/paths';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon: any = require('autocannon');

/** $SHITU_SHARED_DIR, else ../shared beside the checkout; exported for models/standin.yaml. */
const SHARED = process.env.SHITU_SHARED_DIR ?? path.resolve(ROOT, '..', 'shared');
process.env.SHITU_SHARED_DIR = SHARED;
const IMG = (rel: string) => path.join(SHARED, 'data', 'images', rel);

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const reqArg = args.indexOf('--requests');
/** Requests over the six measured runs (RSS is compared before and after them). */
const TOTAL = reqArg >= 0 ? parseInt(args[reqArg + 1], 10) : quick ? 500 : 10000;
const MAX_CONCURRENT = 2;
const MAX_QUEUE = 64;
const OVERLOAD = { maxQueue: 4, connections: 32, amount: quick ? 100 : 300 };

interface Row {
  scenario: string;
  returnImage: boolean;
  connections: number;
  requests: number;
  durationS: number;
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  status503: number;
  errors: number;
  timeouts: number;
  /** Process RSS after this run (after a full GC), MB. */
  rssMB?: number;
}

/** A full collection before each RSS reading (exposed via v8 flags when node was not started with --expose-gc). */
const gc: () => void = (() => {
  if (typeof global.gc === 'function') return global.gc;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
})();

const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;

async function post(base: string, route: string, body: unknown): Promise<any> {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json: any = await res.json();
  if (res.status !== 200) throw new Error(`${route}: HTTP ${res.status}: ${json.errorMsg}`);
  return json.result;
}

async function listen(pipeline: Pipeline, indexDir: string, maxQueue: number): Promise<{ app: ShituServer; base: string }> {
  const app = createServer(pipeline, { indexDir, maxConcurrent: MAX_CONCURRENT, maxQueue });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

function cannon(url: string, body: string, connections: number, amount: number): Promise<any> {
  return new Promise((resolve, reject) => {
    autocannon({
      url, method: 'POST', headers: { 'content-type': 'application/json' }, body,
      connections, amount, timeout: 60, pipelining: 1,
    }, (err: Error | null, res: any) => (err ? reject(err) : resolve(res)));
  });
}

function row(scenario: string, returnImage: boolean, connections: number, r: any): Row {
  const codes = r.statusCodeStats ?? {};
  const total = Object.values(codes).reduce((a: number, c: any) => a + (c?.count ?? 0), 0) as number;
  return {
    scenario, returnImage, connections,
    requests: total,
    durationS: r.duration,
    reqPerS: Math.round((total / r.duration) * 10) / 10,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    non2xx: r.non2xx,
    status503: codes['503']?.count ?? 0,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

async function main() {
  const t0 = Date.now();
  const loadBefore = os.loadavg()[0];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-load-'));
  const pipeline = await createPipeline(path.join(ROOT, 'models', 'standin.yaml'), { threads: 1, concurrency: MAX_CONCURRENT });
  const { app, base } = await listen(pipeline, tmp, MAX_QUEUE);
  const b64 = (rel: string) => fs.readFileSync(IMG(rel)).toString('base64');
  const built = await post(base, '/shitu-index-build', {
    imageLabelPairs: [
      { image: b64('product_demo/gallery/anmuxi/001.jpg'), label: 'anmuxi' },
      { image: b64('product_demo/gallery/anmuxi/002.jpg'), label: 'anmuxi' },
      { image: b64('drink_test_images/mosilian.jpeg'), label: 'mosilian' },
      { image: b64('drink_test_images/nongfu_spring.jpeg'), label: 'nongfu_spring' },
      { image: b64('drink_test_images/youjia.jpeg'), label: 'youjia' },
    ],
  });
  const indexKey: string = built.indexKey;
  const query = b64('product_demo/query/anmuxi.jpg');
  const bodyOf = (returnImage: boolean) => JSON.stringify({ image: query, indexKey, returnImage });
  const url = `${base}/shitu-infer`;

  // Warm-up (not measured): first requests allocate ORT arenas, JIT the JSON paths.
  await cannon(url, bodyOf(true), 2, 20);
  gc();
  const rssBefore = process.memoryUsage().rss;

  const scenarios: Array<{ returnImage: boolean; connections: number }> = [];
  for (const returnImage of [false, true]) for (const connections of [1, 8, 32]) scenarios.push({ returnImage, connections });
  const per = Math.max(1, Math.floor(TOTAL / scenarios.length));
  const rows: Row[] = [];
  for (const s of scenarios) {
    const r = await cannon(url, bodyOf(s.returnImage), s.connections, per);
    const x = row('steady', s.returnImage, s.connections, r);
    gc();
    x.rssMB = mb(process.memoryUsage().rss);
    rows.push(x);
    process.stderr.write(`returnImage=${s.returnImage} c=${s.connections}: ${x.requests} req, ${x.reqPerS} req/s, p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms, non-2xx ${x.non2xx}\n`);
  }
  gc();
  const rssAfter = process.memoryUsage().rss;
  const measured = rows.reduce((a, r) => a + r.requests, 0);
  await app.close();

  // Overload: 32 connections against 2 workers + a queue of 4: 503s expected.
  const small = await listen(pipeline, tmp, OVERLOAD.maxQueue);
  const retryAfter = await (async () => {
    // One refused request, to read its Retry-After.
    const held: Array<Promise<Response>> = [];
    for (let i = 0; i < MAX_CONCURRENT + OVERLOAD.maxQueue + 1; i++)
      held.push(fetch(small.base + '/shitu-infer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(false) }));
    const rs = await Promise.all(held);
    await Promise.all(rs.map((r) => r.arrayBuffer()));
    return rs.find((r) => r.status === 503)?.headers.get('retry-after') ?? null;
  })();
  const ov = row(`overload (maxQueue ${OVERLOAD.maxQueue})`, false, OVERLOAD.connections,
    await cannon(`${small.base}/shitu-infer`, bodyOf(false), OVERLOAD.connections, OVERLOAD.amount));
  rows.push(ov);
  await small.app.close();
  await pipeline.close();
  fs.rmSync(tmp, { recursive: true, force: true });

  const result = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    server: { maxConcurrent: MAX_CONCURRENT, maxQueue: MAX_QUEUE, pipelineThreads: 1, models: 'stand-in (models/standin.yaml)', galleryVectors: Object.keys(built.idMap).length },
    note: 'autocannon runs in the same process as the server (its JS work shares the 2 cores with inference)',
    loadAvg1: { before: Math.round(loadBefore * 100) / 100, after: Math.round(os.loadavg()[0] * 100) / 100 },
    rows,
    memory: { requests: measured, rssBeforeMB: mb(rssBefore), rssAfterMB: mb(rssAfter), deltaMB: mb(rssAfter - rssBefore) },
    overload: { retryAfterHeader: retryAfter, ...OVERLOAD },
    wallS: Math.round((Date.now() - t0) / 100) / 10,
  };
  const out = path.join(ROOT, 'bench', 'results', 'load.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
  fs.renameSync(`${out}.tmp`, out);

  const lines = [
    `Load test of POST /shitu-infer (${result.mode}; ${result.machine.cpus} cores, ${result.machine.node}; server maxConcurrent ${MAX_CONCURRENT}, maxQueue ${MAX_QUEUE}; stand-in models, 1 ORT thread per model)`,
    '',
    '| run | returnImage | connections | requests | req/s | p50 ms | p99 ms | non-2xx | 503 | errors | RSS after, MB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.scenario} | ${r.returnImage} | ${r.connections} | ${r.requests} | ${r.reqPerS} | ${r.p50Ms} | ${r.p99Ms} | ${r.non2xx} | ${r.status503} | ${r.errors + r.timeouts} | ${r.rssMB ?? ''} |`),
    '',
    `RSS: ${result.memory.rssBeforeMB} MB before, ${result.memory.rssAfterMB} MB after ${measured} requests (${result.memory.deltaMB >= 0 ? '+' : ''}${result.memory.deltaMB} MB).` +
      ` Overload Retry-After: ${retryAfter ?? 'n/a'} s. Load average (1 min) ${result.loadAvg1.before} before, ${result.loadAvg1.after} after` +
      ` (above ~2 means other processes shared the cores). Wall: ${result.wallS} s. Written: ${path.relative(ROOT, out)}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});

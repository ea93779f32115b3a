// Section "batching" (the report's 5b): dynamic batching in the service. The HTTP
// service (lib/server/app.ts) runs in this process on loopback; autocannon drives
// POST /shitu-infer with the four report photos in turn (4/3/4/1 boxes) at 1,
// 8 and 32 connections, for each server setting: batching off and on, at the
// service's default 2 recognitions at once and at 4. Requests/s and latency
// p50/p99 per run, and what the batcher did (feature-model Runs per
// recognition, crops per Run).
//
//   node dist/bench/sections/batching.js [--quick]   (or as the "batching" section of run.js)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { BATCHING } from '../../lib/limits';
import { IMAGES, log, RunMode, STANDIN_CONFIG, writeJson } from '../lib/util';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon: any = require('autocannon');

export interface BatchingSetting {
  name: string;
  maxConcurrent: number;
  batching: { maxBatch: number; maxWaitMs: number } | null;
}

export interface BatchingRow {
  setting: string;
  maxConcurrent: number;
  batching: BatchingSetting['batching'];
  connections: number;
  requests: number;
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Feature-model Runs made by the batcher per recognition with crops (1 = no batching happened). */
  runsPerRequest: number | null;
  /** Mean crops per batched Run. */
  rowsPerRun: number | null;
}

export interface BatchingResult {
  cores: number;
  requestsPerRun: number;
  loadavgStart: number[];
  loadavgEnd: number[];
  rows: BatchingRow[];
  notes: string[];
}

const SETTINGS: BatchingSetting[] = [
  { name: 'off, 2 at once (serve before batching)', maxConcurrent: 2, batching: null },
  { name: `on (${BATCHING.maxBatch.default} crops, ${BATCHING.maxWaitMs.default} ms), 2 at once`, maxConcurrent: 2, batching: { maxBatch: BATCHING.maxBatch.default, maxWaitMs: BATCHING.maxWaitMs.default } },
  { name: 'off, 4 at once', maxConcurrent: 4, batching: null },
  { name: `on (${BATCHING.maxBatch.default} crops, ${BATCHING.maxWaitMs.default} ms), 4 at once`, maxConcurrent: 4, batching: { maxBatch: BATCHING.maxBatch.default, maxWaitMs: BATCHING.maxWaitMs.default } },
  // No wait: only crops queued while another Run is going share a Run.
  { name: `on (${BATCHING.maxBatch.default} crops, 0 ms), 4 at once`, maxConcurrent: 4, batching: { maxBatch: BATCHING.maxBatch.default, maxWaitMs: 0 } },
];
const CONNECTIONS = [1, 8, 32];

function cannon(url: string, bodies: string[], connections: number, amount: number): Promise<any> {
  return new Promise((resolve, reject) => {
    autocannon({
      url, method: 'POST', headers: { 'content-type': 'application/json' },
      requests: bodies.map((body) => ({ body })),
      connections, amount, timeout: 60, pipelining: 1,
    }, (err: Error | null, res: any) => (err ? reject(err) : resolve(res)));
  });
}

async function post(base: string, route: string, body: unknown): Promise<any> {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json: any = await res.json();
  if (res.status !== 200) throw new Error(`${route}: HTTP ${res.status}: ${json.errorMsg}`);
  return json.result;
}

export async function runBatching(mode: RunMode): Promise<BatchingResult> {
  const per = mode.quick ? 40 : 240;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-batching-'));
  const b64 = (p: string) => fs.readFileSync(p).toString('base64');
  const res: BatchingResult = {
    cores: os.availableParallelism(), requestsPerRun: per, loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100), loadavgEnd: [], rows: [],
    notes: [
      `Each run: ${per} POST /shitu-infer (returnImage false) over the four report photos in turn, autocannon in the same process as the server (its JS work shares the cores), after 16 unmeasured requests. Pipeline: stand-in models, 1 ONNX Runtime thread per model, a flat index of 5 gallery photos.`,
      '"at once" = the server\'s maxConcurrent (recognitions running at once; the rest wait in its queue). Batching: crops of the recognitions running at once share feature-model Runs of up to maxBatch crops; the first waits up to maxWaitMs for the others, never when none is still detecting.',
      'runs/request: the batcher\'s feature-model Runs per recognition (1.00 = every recognition ran alone); crops/run: mean crops per Run.',
      "Default: off, in createPipeline and in shitu serve, because on these 2 CPU cores it does not win (Targets). The 16 unmeasured requests warm each setting's own pipeline; settings run one after another, so drift between them is part of the differences.",
    ],
  };
  for (const s of SETTINGS) {
    const pipeline: Pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: s.maxConcurrent, batching: s.batching ?? false });
    const app = createServer(pipeline, { indexDir: tmp, maxConcurrent: s.maxConcurrent, maxQueue: 64 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const built = await post(base, '/shitu-index-build', {
      imageLabelPairs: ['product_demo/gallery/anmuxi/001.jpg', 'product_demo/gallery/anmuxi/002.jpg', 'drink_test_images/mosilian.jpeg', 'drink_test_images/nongfu_spring.jpeg', 'drink_test_images/youjia.jpeg']
        .map((p) => ({ image: b64(path.join(path.dirname(path.dirname(IMAGES[0])), p)), label: path.basename(path.dirname(p)) === 'anmuxi' ? 'anmuxi' : path.basename(p).split('.')[0] })),
    });
    const bodies = IMAGES.map((p) => JSON.stringify({ image: b64(p), indexKey: built.indexKey, returnImage: false }));
    const url = `${base}/shitu-infer`;
    await cannon(url, bodies, s.maxConcurrent, 16);
    for (const c of CONNECTIONS) {
      const before = pipeline.batchStats();
      const t0 = performance.now();
      const r = await cannon(url, bodies, c, per);
      // autocannon's own duration is whole seconds at this scale: timed here instead.
      const seconds = (performance.now() - t0) / 1000;
      const after = pipeline.batchStats();
      const reqs = after.requests - before.requests, runs = after.runs - before.runs;
      const row: BatchingRow = {
        setting: s.name, maxConcurrent: s.maxConcurrent, batching: s.batching, connections: c,
        requests: r.requests.total, reqPerS: Math.round((r.requests.total / seconds) * 10) / 10,
        p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx,
        runsPerRequest: s.batching && reqs ? Math.round((runs / reqs) * 100) / 100 : null,
        rowsPerRun: s.batching && runs ? Math.round(((after.rows - before.rows) / runs) * 10) / 10 : null,
      };
      res.rows.push(row);
      log(`batching: ${s.name}, c=${c}: ${row.reqPerS} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, runs/request ${row.runsPerRequest ?? '-'}, crops/run ${row.rowsPerRun ?? '-'}`);
    }
    await app.close();
    await pipeline.close();
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  res.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  writeJson('batching.json', res);
  return res;
}

if (require.main === module) {
  runBatching({ quick: process.argv.includes('--quick') }).catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  });
}

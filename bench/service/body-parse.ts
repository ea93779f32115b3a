// /health while large JSON bodies are parsed: the service on
// loopback (no pipeline needed: bodies are parsed before the route runs), a
// client process posting one kind of body in a loop, and a probe asking /health
// every 20 ms. Kinds: the largest accepted body (a Base64 string of bodyLimit
// bytes, parsed on the worker thread), a body of 100k values (the most values
// accepted), and the nested-array attack (16 MB of nested arrays, refused by
// the shape scan). Prints /health p50/p99/max per kind, the event loop's delay
// (perf_hooks) and the answers' statuses.
// Without a pipeline the route answers 503 once the body is parsed; with
// --pipeline (the stand-in models, a small index built first) it reads the
// image field too: the largest body's Base64 is decoded and tried as an image
// (400, it is no image). --only TEXT runs the kinds whose name contains TEXT.
//
//   node dist/bench/service/body-parse.js [--seconds N] [--pipeline] [--only TEXT]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { createServer } from '../../lib/server/app';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { BODY_LIMITS, SERVICE_LIMITS } from '../../lib/limits';
import { ROOT } from '../lib/paths';
import { useSharedDir } from '../lib/shared-dir';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 10;
const withPipeline = process.argv.includes('--pipeline');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : '';

/** Each kind's body; `rest`: the fields after the image (the index key when there is a pipeline). */
const KINDS: Record<string, (rest: string) => string> = {
  'largest accepted (Base64 string, 64 MiB)': (rest) => `{"image":"${'A'.repeat(SERVICE_LIMITS.bodyLimit - 13 - rest.length)}"${rest}}`,
  [`${BODY_LIMITS.maxJsonValues / 1000}k values, depth 3`]: (rest) => `{"image":"x"${rest},"extra":[${Array.from({ length: BODY_LIMITS.maxJsonValues / 10 - 10 }, () => '[1,2,3,4,5,6,7,8,9]').join(',')}]}`,
  'nested arrays, 16 MB (refused)': (rest) => `{"image":"x"${rest},"extra":${'['.repeat(8e6)}${']'.repeat(8e6)}}`,
};

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-body-'));
  let pipeline: Pipeline | undefined;
  if (withPipeline) {
    if (!useSharedDir()) throw new Error('--pipeline needs the shared models: set SHITU_SHARED_DIR');
    pipeline = await createPipeline(path.join(ROOT, 'models', 'standin.yaml'), { threads: 1, warmup: false });
  }
  const app = createServer(pipeline ?? new Promise(() => undefined), { indexDir: dir });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  let rest = '';
  if (pipeline) {
    const photo = fs.readFileSync(path.join(process.env.SHITU_SHARED_DIR!, 'data', 'images', 'product_demo', 'query', 'anmuxi.jpg')).toString('base64');
    const r = await fetch(base + '/shitu-index-build', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ imageLabelPairs: [{ image: photo, label: 'a' }] }) });
    const built = await r.json() as { result: { indexKey: string } };
    rest = `,"indexKey":"${built.result.indexKey}","returnImage":false`;
  }
  for (const [kind, make] of Object.entries(KINDS)) {
    if (!kind.includes(only)) continue;
    const file = path.join(dir, 'body.json');
    fs.writeFileSync(file, make(rest));
    const loader = `
      const body = require('fs').readFileSync(process.env.BODY);
      const end = Date.now() + Number(process.env.MS);
      const statuses = {};
      (async () => {
        while (Date.now() < end) {
          const r = await fetch(process.env.URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => null);
          const s = r ? r.status : 'reset'; if (r) await r.arrayBuffer();
          statuses[s] = (statuses[s] || 0) + 1;
        }
        console.log(JSON.stringify(statuses));
      })();`;
    const child = spawn(process.execPath, ['-e', loader], { env: { ...process.env, BODY: file, MS: String(seconds * 1000), URL: base + '/shitu-infer' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const done = new Promise<void>((r) => child.on('close', () => r()));
    const lat: number[] = [];
    // How long the event loop itself was held (the probes' latency also counts the CPUs taken by other processes).
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const elu0 = performance.eventLoopUtilization();
    const gcs: number[] = [];
    const gcObs = new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push(e.duration); });
    gcObs.observe({ entryTypes: ['gc'] });
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const end = Date.now() + seconds * 1000;
    await new Promise((s) => setTimeout(s, 300));
    while (Date.now() < end) {
      const t0 = performance.now();
      const r = await fetch(base + '/health');
      await r.arrayBuffer();
      lat.push(performance.now() - t0);
      rssMax = Math.max(rssMax, process.memoryUsage.rss());
      await new Promise((s) => setTimeout(s, 20));
    }
    await done;
    loop.disable();
    gcObs.disconnect();
    const busy = performance.eventLoopUtilization(elu0).active;
    const answers = Object.values(JSON.parse(out.trim() || '{}') as Record<string, number>).reduce((a, b) => a + b, 0);
    lat.sort((a, b) => a - b);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
    console.log(`${kind}: answers ${out.trim()}; /health ${lat.length} probes, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat[lat.length - 1].toFixed(1)} ms; event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms, busy ${(busy / Math.max(1, answers)).toFixed(0)} ms per body; GC ${(gcs.reduce((a, b) => a + b, 0) / Math.max(1, answers)).toFixed(0)} ms per body, longest ${Math.max(0, ...gcs).toFixed(1)} ms; server RSS +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB`);
  }
  await app.close();
  await pipeline?.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });

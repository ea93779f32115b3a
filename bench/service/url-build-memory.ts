// RSS of one build whose images are URLs: 16 URLs of 16 MiB each (random
// bytes: the point is the download, they need not decode) on a local image host
// (127.0.0.2, allowed through the fetch guard), against the request's download
// budget (FETCH_BUDGET.maxBytesPerRequest, 128 MiB): the build is refused 413
// once the budget is spent. The image host runs in this process; the service
// and its client run in a fresh child per run, whose RSS is sampled every 10 ms
// from before the request until the answer. Modes: the host sends a
// Content-Length, or streams the body chunked (no length known beforehand).
// Prints one JSON line per run: status, time, peak RSS over the baseline, the
// peak of ArrayBuffer bytes (live or awaiting collection) and the bytes the host sent.
//
//   node dist/bench/service/url-build-memory.js [--runs N] [--images N] [--mib N] [--mode length|chunked|both]
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { FETCH_BUDGET } from '../../lib/limits';
import { ROOT } from '../lib/paths';
import { useSharedDir } from '../lib/shared-dir';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : def; };
const runs = Number(arg('--runs', '3'));
const images = Number(arg('--images', '16'));
const mib = Number(arg('--mib', '16'));
const modeArg = arg('--mode', 'both');
const HOST = '127.0.0.2';

interface RunResult { mode: string; status: number; ms: number; rssBeforeMiB: number; peakDeltaMiB: number; peakArrayBuffersMiB: number; errorMsg?: string }

async function child(hostPort: number, mode: string) {
  useSharedDir();
  const pipeline = await createPipeline(path.join(ROOT, 'models', 'standin.yaml'), { threads: 1, warmup: false });
  const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-urlmem-'));
  const app = createServer(pipeline, { indexDir, fetch: { guard: { allow: [HOST] } } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const body = JSON.stringify({ imageLabelPairs: Array.from({ length: images }, (_, i) => ({ image: `http://${HOST}:${hostPort}/${mode}/${i}.jpg`, label: `u${i}` })) });
  global.gc?.();
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  // ArrayBuffer bytes V8 knows of, live or not yet collected (the downloads, and the socket's read buffers).
  let peakAb = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakAb = Math.max(peakAb, m.arrayBuffers);
  }, 10);
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/shitu-index-build`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const answer = await r.json() as { errorMsg?: string };
  const ms = performance.now() - t0;
  peak = Math.max(peak, process.memoryUsage.rss());
  clearInterval(timer);
  const out: RunResult = { mode, status: r.status, ms: Math.round(ms), rssBeforeMiB: Math.round(rss0 / 2 ** 20), peakDeltaMiB: Math.round((peak - rss0) / 2 ** 20), peakArrayBuffersMiB: Math.round(peakAb / 2 ** 20) };
  if (r.status !== 200) out.errorMsg = answer.errorMsg?.slice(0, 120);
  console.log(JSON.stringify(out));
  await app.close();
  await pipeline.close();
  fs.rmSync(indexDir, { recursive: true, force: true });
}

async function main() {
  if (process.argv[2] === '--child') return child(Number(process.argv[3]), process.argv[4]);
  const image = crypto.randomBytes(mib * 2 ** 20);
  let sent = 0;
  const host = http.createServer((req, res) => {
    const chunked = req.url!.startsWith('/chunked/');
    res.writeHead(200, { 'content-type': 'image/jpeg', ...(chunked ? {} : { 'content-length': String(image.length) }) });
    // Sent 256 KiB at a time, following backpressure, so that a cancelled download stops sending.
    let at = 0;
    const pump = () => {
      while (at < image.length) {
        const part = image.subarray(at, at + (1 << 18));
        at += part.length;
        sent += part.length;
        if (!res.write(part)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => { at = image.length; });
    pump();
  });
  await new Promise<void>((r) => host.listen(0, HOST, r));
  const port = (host.address() as AddressInfo).port;
  const modes = modeArg === 'both' ? ['length', 'chunked'] : [modeArg];
  console.log(JSON.stringify({ images, imageMiB: mib, budgetMiB: FETCH_BUDGET.maxBytesPerRequest / 2 ** 20, perRequest: FETCH_BUDGET.perRequest, loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim() }));
  for (let run = 0; run < runs; run++) {
    for (const mode of modes) {
      sent = 0;
      // Not spawnSync: the image host answers from this process's event loop.
      const c = spawn(process.execPath, ['--expose-gc', __filename, '--child', String(port), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      c.stdout.on('data', (d) => { stdout += d; });
      await new Promise((r) => c.on('close', r));
      const res = JSON.parse(stdout.trim().split('\n').pop()!) as RunResult;
      // Bytes the host sent until the child exited (it closes the service right after the answer).
      console.log(JSON.stringify({ run: run + 1, ...res, hostSentMiB: Math.round(sent / 2 ** 20) }));
    }
  }
  host.close();
}

main().catch((e) => { console.error(e); process.exit(1); });

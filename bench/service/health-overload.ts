// /health and /ready under 10x overload: the service on loopback with
// maxConcurrent recognitions and a small queue, 10x that many clients posting
// /shitu-infer with a real photo in a loop (most get 503 from the headers), and
// a probe asking /health every 50 ms. Prints the probe's latency percentiles,
// the infer goodput and the 503 count.
//
//   node dist/bench/service/health-overload.js [--seconds N]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { useSharedDir } from '../lib/shared-dir';
import { ROOT } from '../lib/paths';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 20;

async function main() {
  const shared = useSharedDir();
  if (!shared) throw new Error('shared models and photos not found: set SHITU_SHARED_DIR');
  const pipeline = await createPipeline(path.join(ROOT, 'models', 'standin.yaml'), { threads: 1 });
  const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-overload-'));
  const maxConcurrent = 2, maxQueue = 2;
  const app = createServer(pipeline, { indexDir, maxConcurrent, maxQueue });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const photo = fs.readFileSync(path.join(shared, 'data', 'images', 'product_demo', 'query', 'anmuxi.jpg')).toString('base64');
  const built = await (await fetch(base + '/shitu-index-build', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ imageLabelPairs: [{ image: photo, label: 'anmuxi' }] }),
  })).json() as { result: { indexKey: string } };
  const body = JSON.stringify({ image: photo, indexKey: built.result.indexKey, returnImage: false });
  const clients = 10 * (maxConcurrent + maxQueue);
  // The load comes from another process, so that this process's event loop is the server's alone.
  const bodyFile = path.join(indexDir, 'body.json');
  fs.writeFileSync(bodyFile, body);
  const loader = `
    const body = require('fs').readFileSync(process.env.BODY, 'utf8');
    const end = Date.now() + Number(process.env.MS);
    let ok = 0, busy = 0, other = 0;
    Promise.all(Array.from({ length: Number(process.env.CLIENTS) }, async () => {
      while (Date.now() < end) {
        const r = await fetch(process.env.URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
        if (r.status === 200) ok++; else if (r.status === 503) { busy++; await new Promise((s) => setTimeout(s, 20)); } else other++;
      }
    })).then(() => console.log(JSON.stringify({ ok, busy, other })));`;
  const child = spawn(process.execPath, ['-e', loader], {
    env: { ...process.env, BODY: bodyFile, MS: String(seconds * 1000), CLIENTS: String(clients), URL: base + '/shitu-infer' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const load = [new Promise<void>((r) => child.on('close', () => r()))];
  const end = Date.now() + seconds * 1000;
  const lat: number[] = [];
  const probe = (async () => {
    await new Promise((s) => setTimeout(s, 1000)); // let the overload build up
    while (Date.now() < end) {
      const t0 = performance.now();
      const r = await fetch(base + '/health');
      await r.arrayBuffer();
      lat.push(performance.now() - t0);
      await new Promise((s) => setTimeout(s, 50));
    }
  })();
  await Promise.all([...load, probe]);
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
  console.log(`clients ${clients} (10x of ${maxConcurrent} slots + ${maxQueue} queued), ${seconds} s`);
  const { ok, busy, other } = JSON.parse(out.trim()) as { ok: number; busy: number; other: number };
  console.log(`infer: ${ok} ok (${(ok / seconds).toFixed(1)}/s goodput), ${busy} x 503, ${other} other`);
  console.log(`/health: ${lat.length} probes, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat[lat.length - 1].toFixed(1)} ms`);
  await app.close();
  await pipeline.close();
  fs.rmSync(indexDir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });

// /health while large JSON bodies are parsed: the service on
// loopback (no pipeline needed: bodies are parsed before the route runs), a
// client process posting one kind of body in a loop, and a probe asking /health
// every 20 ms. Kinds: the largest accepted body (a Base64 string of bodyLimit
// bytes, parsed on the worker thread), a body of 100k values (the most values
// accepted), and the nested-array attack (16 MB of nested arrays, refused by
// the shape scan). Prints /health p50/p99/max per kind and the answers' statuses.
//
//   node dist/bench/service/body-parse.js [--seconds N]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createServer } from '../../lib/server/app';
import { BODY_LIMITS, SERVICE_LIMITS } from '../../lib/limits';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 10;

const KINDS: Record<string, () => string> = {
  'largest accepted (Base64 string, 64 MiB)': () => `{"image":"${'A'.repeat(SERVICE_LIMITS.bodyLimit - 16)}"}`,
  [`${BODY_LIMITS.maxJsonValues / 1000}k values, depth 3`]: () => `{"image":"x","extra":[${Array.from({ length: BODY_LIMITS.maxJsonValues / 10 - 10 }, () => '[1,2,3,4,5,6,7,8,9]').join(',')}]}`,
  'nested arrays, 16 MB (refused)': () => `{"image":"x","extra":${'['.repeat(8e6)}${']'.repeat(8e6)}}`,
};

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-body-'));
  const app = createServer(new Promise(() => undefined), { indexDir: dir });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  for (const [kind, make] of Object.entries(KINDS)) {
    const file = path.join(dir, 'body.json');
    fs.writeFileSync(file, make());
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
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const end = Date.now() + seconds * 1000;
    await new Promise((s) => setTimeout(s, 300));
    while (Date.now() < end) {
      const t0 = performance.now();
      const r = await fetch(base + '/health');
      await r.arrayBuffer();
      lat.push(performance.now() - t0);
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      await new Promise((s) => setTimeout(s, 20));
    }
    await done;
    lat.sort((a, b) => a - b);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
    console.log(`${kind}: answers ${out.trim()}; /health ${lat.length} probes, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat[lat.length - 1].toFixed(1)} ms; server RSS +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB`);
  }
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });

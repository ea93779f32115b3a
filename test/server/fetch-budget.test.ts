// Image URL fetches under a budget (lib/server/fetches/request-fetches.ts): a
// slow canary on 127.0.0.2 (allowed through the guard) counts the sockets open
// at once; a build's URLs are fetched a few at a time per request and per
// process, the bytes of one request are capped, and the fetches stop when the
// client goes away.
import t from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createServer, ServerOptions } from '../../lib/server/app';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { img, STANDIN_CONFIG } from '../helpers/shared';

const photo = fs.readFileSync(img('misc', 'dog.jpg'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-fetchb-'));
let pipeline: Pipeline;
t.before(async () => { pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, warmup: false }); });
t.teardown(async () => { await pipeline?.close(); fs.rmSync(tmp, { recursive: true, force: true }); });

/** A canary answering after `delayMs`, counting sockets open now and at most. */
async function slowCanary(delayMs: number, body: Buffer = photo) {
  const c = { open: 0, maxOpen: 0, requests: 0, port: 0 };
  const server = http.createServer((req, res) => {
    c.requests++;
    const timer = setTimeout(() => { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(body); }, delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  server.on('connection', (s) => { c.open++; c.maxOpen = Math.max(c.maxOpen, c.open); s.on('close', () => c.open--); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  t.teardown(() => { server.closeAllConnections(); return new Promise<void>((r) => server.close(() => r())); });
  c.port = (server.address() as AddressInfo).port;
  return c;
}

async function start(o: Partial<ServerOptions> = {}) {
  const app = createServer(pipeline, { indexDir: fs.mkdtempSync(path.join(tmp, 'i-')), fetch: { guard: { allow: ['127.0.0.2'] } }, ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

const build = (base: string, urls: string[], signal?: AbortSignal) => fetch(base + '/shitu-index-build', {
  method: 'POST', headers: { 'content-type': 'application/json' }, signal,
  body: JSON.stringify({ imageLabelPairs: urls.map((image, i) => ({ image, label: `l${i}` })) }),
});

t.test('a build fetches its URLs a few at a time; the process caps all requests together', async (t) => {
  const c = await slowCanary(100);
  const base = await start({ fetchBudget: { perRequest: 3, perProcess: 5 } });
  const urls = Array.from({ length: 12 }, (_, i) => `http://127.0.0.2:${c.port}/${i}.jpg`);
  const one = await build(base, urls);
  t.equal(one.status, 200, 'built');
  t.equal(c.requests, 12);
  t.ok(c.maxOpen <= 3, `one request: at most 3 sockets at once (saw ${c.maxOpen})`);
  c.maxOpen = 0;
  const all = await Promise.all([0, 1, 2].map(() => build(base, urls)));
  t.same(all.map((r) => r.status), [200, 200, 200]);
  t.ok(c.maxOpen <= 5 && c.maxOpen >= 4, `three requests: at most 5 sockets at once across the process (saw ${c.maxOpen})`);
  t.comment(`sockets at once: ${c.maxOpen} for 3 builds x 12 URLs (perRequest 3, perProcess 5)`);
});

t.test('the bytes of one request are capped, whatever its number of URLs', async (t) => {
  const c = await slowCanary(0);
  const base = await start({ fetchBudget: { maxBytesPerRequest: photo.length * 3 + 10 } });
  const ok = await build(base, Array.from({ length: 3 }, (_, i) => `http://127.0.0.2:${c.port}/${i}.jpg`));
  t.equal(ok.status, 200, 'three photos fit');
  const over = await build(base, Array.from({ length: 6 }, (_, i) => `http://127.0.0.2:${c.port}/${i}.jpg`));
  t.equal(over.status, 413);
  t.match(await over.json(), { errorCode: 413, errorMsg: new RegExp(`imageLabelPairs\\[\\d\\]\\.image: the images of this request come to more than ${photo.length * 3 + 10} bytes`) });
});

t.test('fetches stop when the client goes away', async (t) => {
  const c = await slowCanary(60_000);
  const base = await start();
  const ac = new AbortController();
  const p = build(base, Array.from({ length: 50 }, (_, i) => `http://127.0.0.2:${c.port}/${i}.jpg`), ac.signal).catch(() => null);
  const until = async (f: () => boolean) => { for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 25)); };
  await until(() => c.open >= 4);
  t.equal(c.open, 4, 'four fetches running (the per-request default)');
  ac.abort();
  await p;
  await until(() => c.open === 0);
  t.equal(c.open, 0, 'their sockets closed');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(c.requests, 4, 'and no further URL was fetched');
});

// Image URL fetches under a budget (lib/server/fetches/request-fetches.ts): a
// slow canary on 127.0.0.2 (allowed through the guard) counts the sockets open
// at once; a build's URLs are fetched a few at a time per request and per
// process, the bytes of one request are capped, and the fetches stop when the
// client goes away. A byte host checks that a download is the bytes served
// (with a Content-Length, chunked) and that a build over its budget stops its
// downloads.
import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createServer, ServerOptions } from '../../lib/server/app';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { fetchImage } from '../../lib/input/fetch-image';
import { FETCH_LIMITS } from '../../lib/limits';
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

/** An image host serving `bytes` at every path, with a Content-Length or chunked (/chunked/...); counts sockets and bytes sent. */
async function byteHost(bytes: Buffer) {
  const c = { open: 0, requests: 0, sent: 0, port: 0 };
  const server = http.createServer((req, res) => {
    c.requests++;
    const chunked = req.url!.startsWith('/chunked/');
    res.writeHead(200, { 'content-type': 'image/jpeg', ...(chunked ? {} : { 'content-length': String(bytes.length) }) });
    let at = 0;
    const pump = () => {
      while (at < bytes.length) {
        const part = bytes.subarray(at, at + 65536);
        at += part.length;
        c.sent += part.length;
        if (!res.write(part)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => { at = bytes.length; });
    pump();
  });
  server.on('connection', (s) => { c.open++; s.on('close', () => c.open--); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  t.teardown(() => { server.closeAllConnections(); return new Promise<void>((r) => server.close(() => r())); });
  c.port = (server.address() as AddressInfo).port;
  return c;
}

t.test('a download is the bytes served, with a Content-Length, chunked, and past the first buffer', async (t) => {
  const small = crypto.randomBytes(3 * 1024 * 1024 + 17);
  const h = await byteHost(small);
  for (const mode of ['length', 'chunked']) {
    const got = await fetchImage(`http://127.0.0.2:${h.port}/${mode}/a.jpg`, { guard: { allow: ['127.0.0.2'] } });
    t.ok(got.equals(small), `${mode}: the same ${small.length} bytes`);
    await t.rejects(fetchImage(`http://127.0.0.2:${h.port}/${mode}/a.jpg`, { guard: { allow: ['127.0.0.2'] }, maxBytes: small.length - 1 }),
      { code: 'ERR_FETCH', details: { overBytes: small.length - 1 } }, `${mode}: one byte over maxBytes is refused`);
  }
  // Without a Content-Length the buffer starts at FETCH_LIMITS.maxBytes and grows when the caller allows more.
  const large = crypto.randomBytes(FETCH_LIMITS.maxBytes + 1024 * 1024);
  const l = await byteHost(large);
  const grown = await fetchImage(`http://127.0.0.2:${l.port}/chunked/b.jpg`, { guard: { allow: ['127.0.0.2'] }, maxBytes: 2 * FETCH_LIMITS.maxBytes });
  t.ok(grown.equals(large), `chunked, ${(large.length / 2 ** 20).toFixed(0)} MiB: the same bytes`);
});

t.test('a build over its download budget: 413, the downloads stopped and their sockets closed', async (t) => {
  const mib = 1024 * 1024;
  const h = await byteHost(crypto.randomBytes(mib));
  const budget = 4 * mib + 1000;
  const base = await start({ fetchBudget: { maxBytesPerRequest: budget } });
  const until = async (f: () => boolean) => { for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 25)); };
  for (const mode of ['length', 'chunked']) {
    h.sent = 0;
    h.requests = 0;
    const r = await build(base, Array.from({ length: 16 }, (_, i) => `http://127.0.0.2:${h.port}/${mode}/${i}.jpg`));
    t.equal(r.status, 413, `${mode}: 413`);
    t.match(await r.json(), { errorMsg: new RegExp(`^imageLabelPairs\\[\\d+\\]\\.image: the images of this request come to more than ${budget} bytes`) });
    await until(() => h.open === 0);
    t.equal(h.open, 0, `${mode}: no socket to the image host left open`);
    t.ok(h.requests < 16, `${mode}: not every URL was fetched (${h.requests} of 16)`);
    t.comment(`${mode}: ${h.requests} downloads started, ${(h.sent / mib).toFixed(1)} MiB sent by the host for a budget of ${(budget / mib).toFixed(1)} MiB`);
  }
});

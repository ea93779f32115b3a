// The service as a good guest: a client that disconnects has its queued
// recognition dropped from the pipeline's admission (pipeline.stats() counts
// it aborted, it never runs), and the per-request deadline (createServer
// requestDeadlineMs, shitu serve --request-timeout) answers 504 ERR_TIMEOUT and
// stops the work. A real server on 127.0.0.1:0 over the stand-in pipeline; the
// pipeline's one slot is held by a job the test releases, so that queueing is
// decided by the test, not by timing (as server.test.ts holds the limiter's).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ServerOptions, ShituServer } from '../../lib/server/app';
import type { Admission } from '../../lib/pipeline/admission';
import { Cancellation } from '../../lib/pipeline/cancel';
import { img, STANDIN_CONFIG } from '../helpers/shared';
import { CASES } from '../helpers/recognition-cases';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-server-cancel-'));
const b64 = (file: string) => fs.readFileSync(file).toString('base64');
const QUERY = b64(img(CASES.queryAnmuxi.image));

/** Waits until cond() holds; fails naming what it waited for after 30 s (a loose bound: a hang, not a speed). */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waited 30 s for ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let pipeline: Pipeline;
t.before(async () => {
  pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, concurrency: 1 });
});
t.teardown(async () => {
  await pipeline?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Holds the pipeline's one slot until released. */
function holdPipeline(): () => void {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  void (pipeline as unknown as { admission: Admission }).admission.run(() => gate, Cancellation.none('hold'));
  return release;
}

async function start(o: Partial<ServerOptions> = {}): Promise<{ app: ShituServer; base: string; key: string }> {
  const app = createServer(pipeline, { indexDir: path.join(tmp, 'indexes'), ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // Built directly: a request might not make it within a short deadline on a loaded machine.
  const index = await pipeline.buildIndex({ galleryImgs: [img('product_demo/gallery/anmuxi/001.jpg')], galleryLabel: ['anmuxi'], indexType: 'Flat' });
  return { app, base, key: await app.shitu.store.create(index) };
}

async function post(base: string, route: string, body: unknown, signal?: AbortSignal) {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  return { status: res.status, body: await res.json() };
}

t.test('a client that disconnects has its queued recognition dropped', async (t) => {
  const { app, base, key } = await start();
  t.teardown(() => app.close());
  const release = holdPipeline();
  const before = pipeline.stats();
  const ac = new AbortController();
  const req = post(base, '/shitu-infer', { image: QUERY, indexKey: key, returnImage: false }, ac.signal).catch((e) => e);
  await until(() => pipeline.stats().queued === 1);
  ac.abort();
  t.match(await req, { name: 'AbortError' });
  await until(() => pipeline.stats().aborted === before.aborted + 1);
  t.equal(pipeline.stats().queued, 0, 'it left the queue while the slot was still held');
  release();
  await until(() => pipeline.stats().inFlight === 0 && app.shitu.limiter.stats.active === 0);
  t.equal(pipeline.stats().completed, before.completed + 1, 'only the holding job completed: the recognition never ran');
  // The service goes on.
  const ok = await post(base, '/shitu-infer', { image: QUERY, indexKey: key, returnImage: false });
  t.equal(ok.status, 200);
});

t.test('the request deadline answers 504 ERR_TIMEOUT and stops the work', async (t) => {
  const { app, base, key } = await start({ requestDeadlineMs: 150 });
  t.teardown(() => app.close());
  const release = holdPipeline();
  t.teardown(release);
  const before = pipeline.stats();
  const t0 = Date.now();
  const r = await post(base, '/shitu-infer', { image: QUERY, indexKey: key, returnImage: false });
  t.equal(r.status, 504);
  t.equal(r.body.errorCode, 504);
  t.match(r.body.errorMsg, /^ERR_TIMEOUT: .*150 ms/);
  t.ok(Date.now() - t0 < 10_000, 'answered at the deadline, not when the slot came free');
  t.equal(pipeline.stats().aborted, before.aborted + 1, 'the queued recognition was dropped');

  // A build past its deadline answers 504 and creates no index.
  const keys = (await app.shitu.store.list()).length;
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: QUERY, label: 'late' }] });
  t.equal(built.status, 504);
  t.match(built.body.errorMsg, /ERR_TIMEOUT/);
  t.equal((await app.shitu.store.list()).length, keys, 'no index created');

  // Waiting in the service's own queue counts too.
  release();
  await until(() => pipeline.stats().inFlight === 0);
  let freeLimiter!: () => void;
  const gate = new Promise<void>((res) => { freeLimiter = res; });
  for (let i = 0; i < app.shitu.limiter.maxConcurrent; i++) void app.shitu.limiter.run(() => gate);
  const queued = await post(base, '/shitu-infer', { image: QUERY, indexKey: key, returnImage: false });
  freeLimiter();
  t.equal(queued.status, 504);
  t.match(queued.body.errorMsg, /ERR_TIMEOUT/);
});

t.test('requestDeadlineMs and --request-timeout are checked', async (t) => {
  t.throws(() => createServer(pipeline, { indexDir: tmp, requestDeadlineMs: 0 }), { name: 'RangeError', message: /requestDeadlineMs must be a positive integer/ });
  const cli = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'serve', '--request-timeout', 'soon'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /--request-timeout/);
});

// `shitu serve`'s lifecycle and logs (lib/cli/serve.ts), as a process: spawned
// on the stand-in config with a free port, its stdout read as pino JSON lines.
// SIGTERM while a build runs: /ready (on the health port) answers 503 draining,
// the listener refuses new connections, the build completes, exit 0; a drain
// past --shutdown-timeout exits 1 anyway; a second SIGTERM exits at once (143).
// And /ready over the PostgreSQL store: 503 with the reason while the database
// is unreachable (a port nothing listens on; a real cluster stopped), 200 again after.
import t, { Test } from 'tap';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { freePort, startCluster } from '../helpers/postgres';
import { SHARED as shared } from '../helpers/shared';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist/lib/cli/main.js');
const CONFIG = path.join(ROOT, 'models/standin.yaml');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-lifecycle-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const GALLERY = [
  ...[1, 2, 3, 4, 5, 6].map((i) => [`product_demo/gallery/anmuxi/00${i}.jpg`, 'anmuxi']),
  ['drink_test_images/mosilian.jpeg', 'mosilian'], ['drink_test_images/nongfu_spring.jpeg', 'nongfu_spring'],
  ['drink_test_images/youjia.jpeg', 'youjia'], ['drink_test_images/100.jpeg', '100'],
];
const pairs = (n: number) => Array.from({ length: n }, (_, i) => {
  const [rel, label] = GALLERY[i % GALLERY.length];
  return { image: fs.readFileSync(path.join(shared, 'data/images', rel)).toString('base64'), label };
});

interface Served {
  child: ChildProcess;
  base: string;
  healthBase: string;
  port: number;
  /** Every stdout line parsed (a line that is not JSON fails the test). */
  lines: any[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolves with the first line matching. */
  line(f: (l: any) => boolean): Promise<any>;
}

async function serve(t: Test, args: string[] = []): Promise<Served> {
  const [port, healthPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', CONFIG, '--threads', '1', '--port', String(port), '--health-port', String(healthPort),
    '--index-dir', fs.mkdtempSync(path.join(tmp, 'idx-')), '--request-timeout', '120000', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: any[] = [];
  const waiters: Array<{ f: (l: any) => boolean; resolve: (l: any) => void }> = [];
  let buf = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let l: any;
      try { l = JSON.parse(text); } catch { t.fail(`a stdout line that is not JSON: ${text}`); continue; }
      lines.push(l);
      for (const w of waiters.filter((x) => x.f(l))) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const line = (f: (l: any) => boolean) => {
    const seen = lines.find(f);
    return seen ? Promise.resolve(seen) : new Promise<any>((resolve) => waiters.push({ f, resolve }));
  };
  const s: Served = { child, base: `http://127.0.0.1:${port}`, healthBase: `http://127.0.0.1:${healthPort}`, port, lines, stderr: () => err, exited, line };
  // Ready: /ready on the health port answers 200 (the ready line may be below --log-level).
  for (;;) {
    const ok = await fetch(s.healthBase + '/ready').then((r) => r.status === 200, () => false);
    if (ok) return s;
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the service reports `n` requests holding recognition slots (its /metrics). */
async function untilInFlight(s: Served, n: number): Promise<void> {
  for (;;) {
    const text = await (await fetch(s.base + '/metrics')).text();
    const m = /^shitu_service_in_flight (\d+)$/m.exec(text);
    if (m && Number(m[1]) >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const build = (s: Served, n: number) => fetch(s.base + '/shitu-index-build', {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ imageLabelPairs: pairs(n) }),
});

/** Whether a new TCP connection to the port is accepted. */
const connects = (port: number) => new Promise<boolean>((resolve) => {
  const c = net.connect(port, '127.0.0.1');
  c.once('connect', () => { c.destroy(); resolve(true); });
  c.once('error', () => resolve(false));
});

t.test('SIGTERM drains: /ready 503 draining, no new connections, the build completes, exit 0; JSON log lines', async (t) => {
  // A long --shutdown-timeout: a slow shared machine must not turn this drain into a timeout.
  const s = await serve(t, ['--shutdown-timeout', '60000']);
  t.equal((await fetch(s.healthBase + '/ready')).status, 200, 'ready before');
  const listening = s.lines.find((l) => l.event === 'listening');
  t.match(listening, { level: 30, address: s.base, healthPort: Number(new URL(s.healthBase).port), apiKeys: 0, msg: String });

  const reply = build(s, 40);
  await untilInFlight(s, 1);
  s.child.kill('SIGTERM');
  const draining = await s.line((l) => l.event === 'draining');
  t.match(draining, { signal: 'SIGTERM', active: 1, timeoutMs: 60000 });
  const ready = await fetch(s.healthBase + '/ready');
  t.equal(ready.status, 503, '/ready turns 503 at once');
  const body = await ready.json() as any;
  t.match(body, { errorCode: 503, errorMsg: /shutting down/, result: { status: 'draining' } });
  t.equal(await connects(s.port), false, 'the listener accepts no new connection');

  const r = await reply;
  t.equal(r.status, 200, 'the build in flight completed');
  const built = await r.json() as any;
  t.match(built.result.indexKey, UUID);
  const exit = await s.exited;
  t.same([exit.code, exit.signal], [0, null], 'exit 0');
  t.match(s.lines.find((l) => l.event === 'exit'), { code: 0, msg: /drained/ });

  // One line per request, with the fields; the build's line names the key it answered.
  const line = s.lines.find((l) => l.msg === 'request' && l.route === '/shitu-index-build');
  t.match(line, { level: 30, logId: built.logId, method: 'POST', route: '/shitu-index-build', status: 200, ms: Number, indexKey: built.result.indexKey });
  t.ok(line.ms > 0);
  t.ok(s.lines.some((l) => l.msg === 'request' && l.route === '/metrics' && l.status === 200 && UUID.test(l.logId)), 'the metrics scrapes too');
  t.notOk(s.lines.some((l) => /incoming request|request completed/.test(l.msg)), 'not Fastify\'s own request lines as well');
  const order = ['listening', 'ready', 'draining', 'exit'].map((e) => s.lines.findIndex((l) => l.event === e));
  t.ok(order.every((i) => i >= 0), 'every lifecycle line');
  t.equal(s.stderr().replace(/\(node:\d+\) \[FSTDEP\d+\][^\n]*\n|\(Use `node --trace-warnings[^\n]*\n/g, ''), '', 'nothing on stderr');
});

t.test('a drain longer than --shutdown-timeout exits 1 anyway', async (t) => {
  const s = await serve(t, ['--shutdown-timeout', '300', '--max-concurrent', '1']);
  const reply = build(s, 60).catch((e) => e);
  await untilInFlight(s, 1);
  const at = performance.now();
  s.child.kill('SIGTERM');
  const exit = await s.exited;
  t.same([exit.code, exit.signal], [1, null], 'exit 1: the drain timed out');
  t.ok(exit.at - at < 5000, `exited ${Math.round(exit.at - at)} ms after SIGTERM (timeout 300 ms)`);
  t.match(s.lines.find((l) => l.event === 'exit'), { level: 40, code: 1, active: 1, msg: /longer than --shutdown-timeout 300 ms/ });
  const cut = await reply;
  // Stopped at its next boundary before the exit (ERR_CLOSED) or the connection cut: never a success.
  t.ok(cut instanceof Error || cut.status >= 500, `the build in flight did not complete: ${cut instanceof Error ? cut.message : cut.status}`);
});

t.test('a second SIGTERM exits at once', async (t) => {
  const s = await serve(t);
  const reply = build(s, 60).catch((e) => e);
  await untilInFlight(s, 1);
  s.child.kill('SIGTERM');
  await s.line((l) => l.event === 'draining');
  const at = performance.now();
  s.child.kill('SIGTERM');
  const exit = await s.exited;
  t.same([exit.code, exit.signal], [143, null], 'exit 143 (128 + SIGTERM)');
  t.ok(exit.at - at < 5000, `exited ${Math.round(exit.at - at)} ms after the second signal`);
  t.match(s.lines.find((l) => l.event === 'exit'), { signal: 'SIGTERM', code: 143 });
  const cut = await reply;
  t.ok(cut instanceof Error || cut.status >= 500, `the build in flight did not complete: ${cut instanceof Error ? cut.message : cut.status}`);
});

t.test('--log-level: warn leaves the info lines out; a bad level is a usage error', async (t) => {
  const s = await serve(t, ['--log-level', 'warn']);
  const scraped = await fetch(s.base + '/metrics');
  t.equal(scraped.status, 200);
  t.match(await scraped.text(), /^process_resident_memory_bytes \d+/m, 'serve adds the process metrics');
  s.child.kill('SIGTERM');
  const exit = await s.exited;
  t.equal(exit.code, 0);
  t.same(s.lines.filter((l) => l.level < 40), [], 'no line below warn (requests and lifecycle are info)');

  const bad = spawn(process.execPath, [MAIN, 'serve', '--config', CONFIG, '--log-level', 'loud'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  bad.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const code = await new Promise<number | null>((resolve) => bad.once('exit', (c) => resolve(c)));
  t.equal(code, 2, 'usage error');
  t.match(err, /--log-level.*loud.*fatal, error, warn, info, debug, trace, silent/s, 'names the levels');
});

let pipeline: Pipeline;
t.test('/ready over the PostgreSQL store: 503 with the reason while it is unreachable', async (t) => {
  pipeline = await createPipeline(CONFIG, { threads: 1 });
  t.teardown(() => pipeline.close());
  const readyOf = async (base: string) => {
    const r = await fetch(base + '/ready');
    return { status: r.status, body: await r.json() as any };
  };
  const start = async (url: string) => {
    const app = createServer(pipeline, { indexStore: url });
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  };

  const nowhere = await start(`postgresql://postgres@127.0.0.1:${await freePort()}/postgres`);
  const down = await readyOf(nowhere);
  t.equal(down.status, 503);
  t.match(down.body, { errorCode: 503, result: { status: 'store' }, errorMsg: /index store .*unreachable or its change feed is not live/ });
  t.notMatch(down.body.errorMsg, /postgresql:\/\//, 'no URL in the answer');
  const m = await (await fetch(nowhere + '/metrics')).text();
  t.match(m, /^shitu_store_feed_live 0$/m);
  t.match(m, /^shitu_store_feed_lag_seconds [0-9.e+-]+$/m);

  const cluster = await startCluster();
  t.teardown(() => cluster.destroy());
  const base = await start(cluster.url);
  const until = async (status: number) => { for (;;) { const r = await readyOf(base); if (r.status === status) return r; await new Promise((res) => setTimeout(res, 100)); } };
  await until(200);
  const live = await (await fetch(base + '/metrics')).text();
  t.match(live, /^shitu_store_feed_live 1$/m, 'live');
  t.match(live, /^shitu_store_feed_lag_seconds 0$/m, 'caught up: no lag');
  cluster.stop();
  const stopped = await until(503);
  t.match(stopped.body, { result: { status: 'store' }, errorMsg: /unreachable or its change feed is not live/ }, 'the database stopped: 503 with the reason');
  const lag = /^shitu_store_feed_lag_seconds ([0-9.e+-]+)$/m.exec(await (await fetch(base + '/metrics')).text());
  t.ok(lag && Number(lag[1]) >= 0, `feed lag while down: ${lag?.[1]} s`);
  cluster.start();
  t.equal((await until(200)).status, 200, 'ready again once the database is back');
});

// GET /metrics (lib/server/metrics.ts): the Prometheus text format parsed line
// by line, request counters by route pattern that move with requests, stage
// histograms after a recognition, admission gauges and counters, index sizes,
// aborted requests, a registry per server, and the read scope when keys are set.
// Real servers on 127.0.0.1:0 over the stand-in pipeline.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ServerOptions, ShituServer } from '../../lib/server/app';
import { SHARED as shared } from '../helpers/shared';

const b64 = (rel: string) => fs.readFileSync(path.join(shared, 'data/images', rel)).toString('base64');

interface Sample { name: string; labels: Record<string, string>; value: number }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
// Values as Prometheus parses them (Go's ParseFloat: NaN in any case; prom-client
// writes "Nan" for an event-loop lag not measured yet).
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?,?\\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|\\+Inf|-Inf|[Nn]a[Nn]))(?: -?[0-9]+)?$`);
const HELP_RE = new RegExp(`^# HELP ${NAME} .*$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/** The text exposition format, version 0.0.4: every line a HELP, a TYPE or a sample; samples after their family's TYPE. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; bad: string[] } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const bad: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || HELP_RE.test(line)) continue;
    const ty = TYPE_RE.exec(line);
    if (ty) { types.set(ty[1], ty[2]); continue; }
    const m = SAMPLE_RE.exec(line);
    if (!m) { bad.push(line); continue; }
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    if (!types.has(m[1]) && !types.has(family)) bad.push(`${line} (no TYPE before it)`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    samples.push({ name: m[1], labels, value: /^nan$/i.test(m[3]) ? NaN : Number(m[3].replace('+Inf', 'Infinity').replace('-Inf', '-Infinity')) });
  }
  return { samples, types, bad };
}

/** The value of the one sample with these labels (all of them given), undefined if none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hit = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hit.length === 1 ? hit[0].value : hit.length ? NaN : undefined;
}

let pipeline: Pipeline;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-metrics-'));

async function start(t: Test, o: Partial<ServerOptions> = {}): Promise<{ app: ShituServer; base: string }> {
  const app = createServer(pipeline, { indexDir: path.join(tmp, 'indexes'), ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

async function scrape(base: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + '/metrics', { headers });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, ...parseExposition(text) };
}

const post = async (base: string, route: string, body: unknown) => {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
};

t.before(async () => {
  pipeline = await createPipeline(path.resolve(__dirname, '../../models/standin.yaml'), { threads: 1 });
});
t.teardown(async () => {
  await pipeline?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

t.test('counters by route pattern, stage histograms, admission, index sizes', async (t) => {
  const { base } = await start(t, { processMetrics: true });
  const first = await scrape(base);
  t.equal(first.status, 200);
  t.match(first.type, /^text\/plain; version=0\.0\.4/);
  t.same(first.bad, [], 'every line parses');
  t.equal(first.types.get('shitu_http_requests_total'), 'counter');
  t.equal(first.types.get('shitu_http_request_duration_seconds'), 'histogram');
  t.equal(first.types.get('shitu_recognition_stage_duration_seconds'), 'histogram');
  t.equal(first.types.get('shitu_service_queue_depth'), 'gauge');
  t.ok(first.types.has('process_resident_memory_bytes'), 'process metrics on the server\'s registry');
  t.equal(valueOf(first.samples, 'shitu_recognition_stage_duration_seconds_count', { stage: 'detInference' }), undefined, 'no recognition yet');

  const built = await post(base, '/shitu-index-build', { imageLabelPairs: [
    { image: b64('product_demo/gallery/anmuxi/001.jpg'), label: 'anmuxi' },
    { image: b64('drink_test_images/mosilian.jpeg'), label: 'mosilian' },
  ] });
  t.equal(built.status, 200);
  const key = built.body.result.indexKey as string;
  const infer = { image: b64('product_demo/query/anmuxi.jpg'), indexKey: key, returnImage: false };
  t.equal((await post(base, '/shitu-infer', infer)).status, 200);
  t.equal((await fetch(`${base}/indexes/${key}`)).status, 200);
  t.equal((await fetch(`${base}/no/such/route?x=1`)).status, 404);
  t.equal((await post(base, '/shitu-infer', { image: 'not base64 of an image', indexKey: key })).status, 400);

  const m = await scrape(base);
  t.same(m.bad, []);
  const req = (method: string, route: string, status: string) => valueOf(m.samples, 'shitu_http_requests_total', { method, route, status });
  t.equal(req('POST', '/shitu-index-build', '200'), 1);
  t.equal(req('POST', '/shitu-infer', '200'), 1);
  t.equal(req('POST', '/shitu-infer', '400'), 1, 'by status');
  t.equal(req('GET', '/indexes/:indexKey', '200'), 1, 'the route pattern, not the URL');
  t.equal(req('GET', '(unmatched)', '404'), 1);
  t.equal(req('GET', '/metrics', '200'), 1, 'the first scrape');
  t.notOk(m.samples.some((s) => s.labels.route?.includes(key) || s.labels.route?.includes('/no/such')), 'no raw URL in any label');
  t.equal(valueOf(m.samples, 'shitu_http_request_duration_seconds_count', { method: 'POST', route: '/shitu-infer', status: '200' }), 1);
  t.ok(valueOf(m.samples, 'shitu_http_request_duration_seconds_sum', { method: 'POST', route: '/shitu-index-build', status: '200' })! > 0);

  // One recognition, every stage observed once; buckets cumulative up to +Inf = count.
  for (const stage of ['decode', 'detInference', 'recInference', 'search', 'total', 'wall']) {
    t.equal(valueOf(m.samples, 'shitu_recognition_stage_duration_seconds_count', { stage }), 1, `stage ${stage}`);
    const buckets = m.samples.filter((s) => s.name === 'shitu_recognition_stage_duration_seconds_bucket' && s.labels.stage === stage);
    t.ok(buckets.length > 3);
    t.ok(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1].value), 'cumulative');
    t.equal(buckets.find((b) => b.labels.le === '+Inf')?.value, 1);
  }
  t.ok(valueOf(m.samples, 'shitu_recognition_stage_duration_seconds_sum', { stage: 'wall' })! > 0);

  t.equal(valueOf(m.samples, 'shitu_index_vectors', { index_key: key }), 2, 'the built index, loaded');
  t.equal(valueOf(m.samples, 'shitu_service_in_flight'), 0);
  t.equal(valueOf(m.samples, 'shitu_service_queue_depth'), 0);
  t.equal(valueOf(m.samples, 'shitu_service_admission_total', { outcome: 'completed' }), 3, 'the build and the two infers');
  const jobs = valueOf(m.samples, 'shitu_pipeline_jobs_total', { outcome: 'completed' })!;
  t.ok(jobs >= 2, `pipeline jobs completed: ${jobs}`);
  t.equal(valueOf(m.samples, 'shitu_pipeline_in_flight'), 0);

  // They move.
  t.equal((await post(base, '/shitu-infer', infer)).status, 200);
  const again = await scrape(base);
  t.equal(valueOf(again.samples, 'shitu_http_requests_total', { method: 'POST', route: '/shitu-infer', status: '200' }), 2);
  t.equal(valueOf(again.samples, 'shitu_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }), 2);
  t.equal(valueOf(again.samples, 'shitu_recognition_stage_duration_seconds_count', { stage: 'detInference' }), 2);
  t.ok(valueOf(again.samples, 'shitu_pipeline_jobs_total', { outcome: 'completed' })! > jobs);
  t.equal(valueOf(again.samples, 'shitu_service_admission_total', { outcome: 'completed' }), 4);
});

t.test('queue depth while slots are held, and requests stopped by their deadline or their client', async (t) => {
  const { app, base } = await start(t, { maxConcurrent: 1, maxQueue: 4, requestDeadlineMs: 300 });
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: b64('drink_test_images/mosilian.jpeg'), label: 'mosilian' }] });
  const infer = { image: b64('product_demo/query/anmuxi.jpg'), indexKey: built.body.result.indexKey, returnImage: false };
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  void app.shitu.limiter.run(() => gate);
  const waiting = post(base, '/shitu-infer', infer);
  while (app.shitu.limiter.stats.queued < 1) await new Promise((r) => setTimeout(r, 5));
  const during = await scrape(base);
  t.equal(valueOf(during.samples, 'shitu_service_queue_depth'), 1);
  t.equal(valueOf(during.samples, 'shitu_service_in_flight'), 1);
  t.notOk(during.types.has('process_resident_memory_bytes'), 'no process metrics unless asked for');
  t.equal(valueOf(during.samples, 'shitu_requests_aborted_total', { reason: 'timeout' }), 0);
  const r = await waiting;
  t.equal(r.status, 504, 'past its deadline while queued');
  release();
  const after = await scrape(base);
  t.equal(valueOf(after.samples, 'shitu_requests_aborted_total', { reason: 'timeout' }), 1);
  t.equal(valueOf(after.samples, 'shitu_service_admission_total', { outcome: 'cancelled' }), 1, 'dropped from the queue');
  t.equal(valueOf(after.samples, 'shitu_http_requests_total', { method: 'POST', route: '/shitu-infer', status: '504' }), 1);

  // A client that goes away while queued: its work is dropped and counted as a client abort.
  const hold = new Promise<void>((r) => { release = r; });
  void app.shitu.limiter.run(() => hold);
  const ac = new AbortController();
  const gone = fetch(base + '/shitu-infer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(infer), signal: ac.signal }).catch((e) => e);
  while (app.shitu.limiter.stats.queued < 1) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  t.type(await gone, Error);
  while (app.shitu.limiter.stats.queued > 0) await new Promise((r) => setTimeout(r, 5));
  release();
  let client: number | undefined;
  for (;;) {
    client = valueOf((await scrape(base)).samples, 'shitu_requests_aborted_total', { reason: 'client' });
    if (client) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(client, 1, 'the client abort counted');
  const last = await scrape(base);
  t.equal(valueOf(last.samples, 'shitu_service_admission_total', { outcome: 'cancelled' }), 2);
  t.equal(valueOf(last.samples, 'shitu_requests_aborted_total', { reason: 'timeout' }), 1, 'not as a timeout');
});

t.test('a registry per server; the read scope when API keys are set', async (t) => {
  const READ = 'r'.repeat(32);
  const WRITE = 'w'.repeat(32);
  const { base } = await start(t, { apiKeys: [{ key: READ, scopes: ['read'] }, { key: WRITE, scopes: ['write'] }] });
  const other = await start(t);
  const none = await fetch(base + '/metrics');
  t.equal(none.status, 401, 'no key');
  t.equal((await none.json() as any).errorCode, 401);
  t.equal((await fetch(base + '/metrics', { headers: { authorization: `Bearer ${WRITE}` } })).status, 403, 'a key without the read scope');
  const ok = await scrape(base, { authorization: `Bearer ${READ}` });
  t.equal(ok.status, 200);
  t.same(ok.bad, []);
  t.equal(valueOf(ok.samples, 'shitu_http_requests_total', { method: 'GET', route: '/metrics', status: '401' }), 1);
  t.equal(valueOf(ok.samples, 'shitu_http_requests_total', { method: 'GET', route: '/metrics', status: '403' }), 1);
  const o = await scrape(other.base);
  t.equal(valueOf(o.samples, 'shitu_http_requests_total', { method: 'GET', route: '/metrics', status: '401' }), undefined, 'the other server counted none of them');
});

// The service as a network service: API keys and scopes (401/403 in the
// reference's envelope), per-key quotas, null for optional fields (as PaddleX's
// schema), bounded work per request, pixel bombs answered 413, admission decided
// from the headers before the body is read, header/request timeouts, and
// /health answering while every recognition slot is taken.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ServerOptions, ShituServer } from '../../lib/server/app';
import { parseApiKeys } from '../../lib/server/auth';
import { MAX_LABEL_LENGTH, TOPK } from '../../lib/limits';
import { img, STANDIN_CONFIG } from '../helpers/shared';
import { pngBomb, tiffBomb } from '../helpers/bombs';
import { expectLabel } from '../helpers/recognition';
import { CASES } from '../helpers/recognition-cases';

const b64 = (...p: string[]) => fs.readFileSync(img(...p)).toString('base64');
const READ = 'r'.repeat(20), WRITE = 'w'.repeat(20), BOTH = 'b'.repeat(24), SMALL = 's'.repeat(20);
const KEYS = parseApiKeys(`
# key scopes name quotas
${READ} read reader
${WRITE} write writer indexes=2 vectors=3
${BOTH} read,write admin
${SMALL} write tiny indexes=0
`);

let pipeline: Pipeline;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-sec-'));
t.before(async () => { pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 }); });
t.teardown(async () => { await pipeline?.close(); fs.rmSync(tmp, { recursive: true, force: true }); });

async function start(t: Test, o: Partial<ServerOptions> = {}): Promise<{ app: ShituServer; base: string; port: number }> {
  const app = createServer(pipeline, { indexDir: fs.mkdtempSync(path.join(tmp, 'idx-')), ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const { port } = app.server.address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}`, port };
}

async function post(base: string, route: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await res.json() as any };
}
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const pairs = (n: number) => Array.from({ length: n }, (_, i) => ({ image: b64('product_demo', 'query', 'anmuxi.jpg'), label: `l${i}` }));

t.test('API keys: 401 without a valid key, 403 without the scope; the envelope of the reference', async (t) => {
  const { base } = await start(t, { apiKeys: KEYS });
  const none = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) });
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer realm="shitu"');
  t.match(none.body, { errorCode: 401, errorMsg: /API key is required/ });
  t.match(none.body.logId, /^[0-9a-f-]{36}$/);
  t.equal((await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer('x'.repeat(20)))).status, 401, 'unknown key');
  t.equal((await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(WRITE.slice(0, -1) + 'x'))).status, 401, 'almost the key');
  const ro = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(READ));
  t.equal(ro.status, 403);
  t.match(ro.body.errorMsg, /lacks the "write" scope/);
  // A write key builds (Bearer), a read key infers (X-API-Key); the write key cannot infer.
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(WRITE));
  t.equal(built.status, 200);
  const key = built.body.result.indexKey;
  const inf = await post(base, '/shitu-infer', { image: b64('product_demo', 'query', 'anmuxi.jpg'), indexKey: key, returnImage: false }, { 'x-api-key': READ });
  t.equal(inf.status, 200);
  t.equal((await post(base, '/shitu-infer', { image: 'x', indexKey: key }, bearer(WRITE))).status, 403);
  t.equal((await post(base, '/shitu-index-remove', { ids: [0], indexKey: key }, bearer(READ))).status, 403);
  const own = (await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(BOTH))).body.result.indexKey;
  t.equal((await post(base, '/shitu-index-add', { imageLabelPairs: pairs(1), indexKey: own }, bearer(BOTH))).status, 200, 'read,write');
  t.equal((await post(base, '/shitu-index-add', { imageLabelPairs: pairs(1), indexKey: key }, bearer(BOTH))).status, 403, 'but only to its own indexes (test/server/quota.test.ts)');
  // Health, readiness and the API description need no key.
  for (const r of ['/health', '/ready', '/openapi.json']) t.equal((await fetch(base + r)).status, 200, `${r} is open`);
  const doc = await (await fetch(base + '/openapi.json')).json() as any;
  t.ok(doc.components.securitySchemes.bearer && doc.components.securitySchemes.apiKey, 'the schemes are documented');
});

t.test('quotas per key: indexes owned and vectors per index', async (t) => {
  const { base } = await start(t, { apiKeys: KEYS });
  t.match(await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(SMALL)), { status: 403, body: { errorMsg: /already owns 0 index\(es\), its limit is 0/ } });
  t.match(await post(base, '/shitu-index-build', { imageLabelPairs: pairs(4) }, bearer(WRITE)), { status: 403, body: { errorMsg: /at most 3 per index/ } });
  const a = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(2) }, bearer(WRITE));
  t.equal(a.status, 200);
  t.match(await post(base, '/shitu-index-add', { imageLabelPairs: pairs(2), indexKey: a.body.result.indexKey }, bearer(WRITE)), { status: 403, body: { errorMsg: /would hold 4 vectors/ } });
  t.equal((await post(base, '/shitu-index-add', { imageLabelPairs: pairs(1), indexKey: a.body.result.indexKey }, bearer(WRITE))).status, 200);
  t.equal((await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(WRITE))).status, 200);
  t.match(await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(WRITE)), { status: 403, body: { errorMsg: /owns 2 index\(es\), its limit is 2/ } });
  t.equal((await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(BOTH))).status, 200, 'another owner is not affected');
  t.throws(() => parseApiKeys('short read'), /at least 16 characters/);
  t.throws(() => parseApiKeys(`${READ} root`), /unknown scope "root"/);
});

t.test('null for optional fields, as PaddleX accepts', async (t) => {
  const { base } = await start(t);
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) });
  const key = built.body.result.indexKey;
  const r = await post(base, '/shitu-infer', { image: b64('product_demo', 'query', 'anmuxi.jpg'), indexKey: key, detThreshold: null, recThreshold: null, topk: null, returnImage: false });
  t.equal(r.status, 200, JSON.stringify(r.body.errorMsg));
  t.ok(r.body.result.detectedObjects.length >= 1);
  // indexKey null means "not given": without a default index that is the 400 of a missing key.
  t.match(await post(base, '/shitu-infer', { image: 'x', indexKey: null }), { status: 400, body: { errorMsg: /^indexKey: is required/ } });
  t.match(await post(base, '/shitu-index-add', { imageLabelPairs: pairs(1), indexKey: null }), { status: 400, body: { errorMsg: /^indexKey: is required/ } });
});

t.test('null indexKey with a default index uses the default', async (t) => {
  const indexDir = fs.mkdtempSync(path.join(tmp, 'idx-'));
  const first = await start(t, { indexDir });
  const key = (await post(first.base, '/shitu-index-build', { imageLabelPairs: pairs(1) })).body.result.indexKey; // GALLERIES.oneEntry
  const { base } = await start(t, { indexDir, defaultIndexKey: key });
  const c = CASES.oneEntryAnmuxi;
  const r = await post(base, '/shitu-infer', { image: b64(c.image), indexKey: null, returnImage: false, recThreshold: c.recThreshold });
  t.equal(r.status, 200);
  expectLabel(t, r.body.result.detectedObjects[0], c.expected, c.id);
});

t.test('bounded work per request', async (t) => {
  const { base } = await start(t, { maxPairs: 3, maxRemoveIds: 50, maxResponseBytes: 4096 });
  t.match(await post(base, '/shitu-index-build', { imageLabelPairs: pairs(4) }), { status: 422, body: { errorMsg: /^imageLabelPairs: must NOT have more than 3 items/ } });
  const long = [{ image: 'x', label: 'x'.repeat(MAX_LABEL_LENGTH + 1) }];
  t.match(await post(base, '/shitu-index-build', { imageLabelPairs: long }), { status: 422, body: { errorMsg: new RegExp(`label: must NOT have more than ${MAX_LABEL_LENGTH} characters`) } });
  t.match(await post(base, '/shitu-infer', { image: 'x', topk: TOPK.max + 1 }), { status: 422, body: { errorMsg: new RegExp(`^topk: must be <= ${TOPK.max}`) } });
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(2) });
  t.equal(built.status, 200);
  const key = built.body.result.indexKey;
  t.match(await post(base, '/shitu-index-remove', { ids: Array.from({ length: 51 }, (_, i) => i), indexKey: key }), { status: 422, body: { errorMsg: /^ids: must NOT have more than 50 items/ } });
  // Unknown ids: the message names 20 and counts the rest.
  const unknown = await post(base, '/shitu-index-remove', { ids: Array.from({ length: 50 }, (_, i) => 1000 + i), indexKey: key });
  t.equal(unknown.status, 404);
  t.match(unknown.body.errorMsg, /nothing removed: 1000, 1001, .*1019 and 30 more$/);
  // A response over the limit becomes a 500 that names the limit (the image would be far over 4 KiB).
  const big = await post(base, '/shitu-infer', { image: b64('product_demo', 'query', 'anmuxi.jpg'), indexKey: key, returnImage: true });
  t.equal(big.status, 500);
  t.match(big.body.errorMsg, /over the server's limit of 4096 bytes/);
});

t.test('pixel bombs get 413, disabled formats 415, before decoding', async (t) => {
  const { base } = await start(t, { limitInputPixels: 2_000_000 });
  const built = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) });
  const key = built.body.result.indexKey;
  const bomb = pngBomb(30000, 30000).toString('base64');
  const r = await post(base, '/shitu-infer', { image: bomb, indexKey: key });
  t.equal(r.status, 413);
  t.match(r.body.errorMsg, /^image: .*30000x30000 .*over the limit of 2000000 pixels/);
  const b = await post(base, '/shitu-index-build', { imageLabelPairs: [pairs(1)[0], { image: tiffBomb([[5000, 5000]]).toString('base64'), label: 'bomb' }] });
  t.equal(b.status, 413);
  t.match(b.body.errorMsg, /^imageLabelPairs\[1\]\.image: .*over the limit/);
  const j2k = Buffer.from('ff4fff51', 'hex');
  const f = await post(base, '/shitu-infer', { image: Buffer.concat([j2k, Buffer.alloc(60)]).toString('base64'), indexKey: key });
  t.equal(f.status, 415);
  t.match(f.body.errorMsg, /jp2 images are not enabled/);
  // Ordinary photos pass.
  t.equal((await post(base, '/shitu-infer', { image: b64('misc', 'bus.jpg'), indexKey: key, returnImage: false })).status, 200);
});

/** Sends raw bytes on a socket and resolves with what came back when the server closes or answers. */
function rawRequest(port: number, head: string, waitMs: number): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    s.on('data', (d) => { data += d.toString(); });
    s.on('close', () => { closed = true; resolve({ data, closed }); });
    s.on('error', () => undefined);
    s.write(head);
    setTimeout(() => { s.destroy(); resolve({ data, closed }); }, waitMs);
  });
}

t.test('admission is decided from the headers: a full server answers 503 before reading the body', async (t) => {
  const { app, port, base } = await start(t, { maxConcurrent: 1, maxQueue: 0 });
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  void app.shitu.limiter.run(() => gate);
  t.teardown(() => release());
  // Headers announce a 10 MB body that is never sent: the answer still comes.
  const r = await rawRequest(port, `POST /shitu-infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"image":`, 20000);
  t.match(r.data, /^HTTP\/1.1 503/);
  t.match(r.data, /retry-after: \d+/i);
  t.match(r.data, /"errorCode":503/);
  // /health answers while every slot is taken (the bound is generous: this is no timing test).
  const t0 = performance.now();
  const h = await fetch(base + '/health');
  t.equal(h.status, 200);
  t.ok(performance.now() - t0 < 2000, '/health within 2 s');
  t.equal(app.shitu.stats().rejected, 1);
});

t.test('slow clients are cut off by the header and request timeouts', async (t) => {
  const { port } = await start(t, { headersTimeoutMs: 500, requestTimeoutMs: 1000 });
  // Headers never finished.
  const slowHead = await rawRequest(port, 'POST /shitu-infer HTTP/1.1\r\nHost: 127.0.0.1\r\n', 15000);
  t.ok(slowHead.closed, 'connection closed');
  t.match(slowHead.data, /^(HTTP\/1.1 408|)/, 'a 408 or a plain close');
  // Body never finished.
  const slowBody = await rawRequest(port, 'POST /shitu-infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"im', 15000);
  t.ok(slowBody.closed, 'connection closed');
});

t.test('each kind of bad indexKey gets the status the README states', async (t) => {
  const indexDir = fs.mkdtempSync(path.join(tmp, 'idx-'));
  const { base } = await start(t, { indexDir });
  const key = (await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) })).body.result.indexKey as string;
  const image = b64('product_demo', 'query', 'anmuxi.jpg');
  const cases: Array<[unknown, number, RegExp]> = [
    [5, 422, /^indexKey: must be string/],
    [['a'], 422, /^indexKey: must be string/],
    ['', 422, /^indexKey: "" is not an index key/],
    ['../x', 422, /is not an index key/],
    ['00000000-0000-4000-8000-000000000000', 404, /^indexKey: no index/],
  ];
  for (const [k, status, re] of cases) {
    const r = await post(base, '/shitu-infer', { image, indexKey: k, returnImage: false });
    t.equal(r.status, status, `${JSON.stringify(k)}: ${status}`);
    t.match(r.body.errorMsg, re);
  }
  t.equal((await post(base, '/shitu-infer', { image, indexKey: key.toUpperCase(), returnImage: false })).status, 200, 'any case');
  // An index whose files cannot be read: a server-side failure, 500 naming the code.
  const broken = '11111111-1111-4111-8111-111111111111';
  fs.mkdirSync(path.join(indexDir, broken));
  fs.writeFileSync(path.join(indexDir, broken, 'vector.index'), 'garbage');
  const r = await post(base, '/shitu-infer', { image, indexKey: broken, returnImage: false });
  t.equal(r.status, 500);
  t.match(r.body.errorMsg, /^ERR_INDEX_/);
});

t.test('connections over the cap are refused by the socket layer', async (t) => {
  const { port, base } = await start(t, { maxConnections: 2 });
  const open = await Promise.all([0, 1].map(() => new Promise<net.Socket>((r) => { const s = net.connect(port, '127.0.0.1', () => r(s)); })));
  t.teardown(() => open.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 100));
  const third = await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 5000);
  t.ok(third.closed && third.data === '', 'the third connection is closed without an answer');
  open.forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 100));
  t.equal((await fetch(base + '/health')).status, 200, 'answers again below the cap');
});

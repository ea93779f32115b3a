// Idempotency-Key on the service's writes, on both stores, with real servers
// on 127.0.0.1 and a real PostgreSQL 15 + pgvector cluster: a retried add,
// build or remove writes once and gets the first answer again (on the server
// that answered, and on a second server over the same directory or database);
// the same key with another body is 422; a repeat while the first request is
// still running is 409 (the first is held in its image fetch by a local image
// server until the test lets it go); keys expire; keys are per owner; a
// malformed key is 400.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import pg from 'pg';

import { createServer, ServerOptions } from '../../lib/server/app';
import { parseApiKeys } from '../../lib/server/auth';
import { img } from '../helpers/shared';
import { serviceFixture } from '../helpers/service-fixture';

const IMAGE_BYTES = fs.readFileSync(img('product_demo', 'query', 'anmuxi.jpg'));
const IMAGE = IMAGE_BYTES.toString('base64');
const pairs = (n: number, label = 'l') => Array.from({ length: n }, (_, i) => ({ image: IMAGE, label: `${label}${i}` }));

const fx = serviceFixture('shitu-idem-');
const { tmp } = fx;

interface Reply { status: number; body: any; raw: string; replayed: string | null; retryAfter: string | null }
async function post(base: string, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const raw = await res.text();
  return { status: res.status, body: JSON.parse(raw), raw, replayed: res.headers.get('idempotent-replayed'), retryAfter: res.headers.get('retry-after') };
}
const idMapOf = async (base: string, key: string, auth: Record<string, string> = {}) => {
  const res = await fetch(`${base}/indexes/${key}`, { headers: auth });
  return (await res.json()).result.idMap as Record<string, string>;
};

const STORES: Array<[string, () => Partial<ServerOptions>]> = [
  ['file store', () => ({ indexDir: fs.mkdtempSync(path.join(tmp, 'idx-')) })],
  ['PostgreSQL store', () => ({ indexStore: fx.cluster.url })],
];

async function servers(t: Test, store: Partial<ServerOptions>, o: Partial<ServerOptions> = {}, n = 2): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const app = createServer(fx.pipeline, { ...store, ...o } as ServerOptions);
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => app.close());
    out.push(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  }
  return out;
}

let keyNo = 0;
/** A key no earlier subtest used (the PostgreSQL store keeps keys across subtests). */
const newKey = (what: string) => `${what}-${process.pid}-${++keyNo}`;

for (const [name, storeOf] of STORES) {
  t.test(`${name}: a retried add with the same key adds once, on the same server and on another one`, async (t) => {
    const [a, b] = await servers(t, storeOf());
    const built = await post(a, '/shitu-index-build', { imageLabelPairs: pairs(1, 'base') });
    t.equal(built.status, 200, built.body.errorMsg);
    const indexKey = built.body.result.indexKey;
    const key = newKey('add');
    const body = { indexKey, imageLabelPairs: pairs(2, 'new') };
    const first = await post(a, '/shitu-index-add', body, { 'idempotency-key': key });
    t.equal(first.status, 200, first.body.errorMsg);
    t.equal(first.replayed, null, 'the first answer is not a replay');
    t.same(Object.values(first.body.result.idMap).sort(), ['base0', 'new0', 'new1']);
    const again = await post(a, '/shitu-index-add', body, { 'idempotency-key': key });
    t.equal(again.status, 200);
    t.equal(again.replayed, 'true', 'the repeat is marked as a replay');
    t.equal(again.raw, first.raw, 'the same answer, byte for byte (logId included)');
    const elsewhere = await post(b, '/shitu-index-add', body, { 'idempotency-key': key });
    t.equal(elsewhere.status, 200);
    t.equal(elsewhere.replayed, 'true', 'the other server recognises the retry');
    t.equal(elsewhere.raw, first.raw);
    t.same(Object.values(await idMapOf(b, indexKey)).sort(), ['base0', 'new0', 'new1'], 'the index holds the two entries once');
    const plain = await post(b, '/shitu-index-add', body);
    t.equal(plain.status, 200, 'without a key the same body adds again');
    t.equal(Object.keys(plain.body.result.idMap).length, 5);
  });

  t.test(`${name}: a retried build makes one index; a retried remove answers as the first did`, async (t) => {
    const [a, b] = await servers(t, storeOf());
    const before = (await (await fetch(`${a}/indexes`)).json()).result.indexes.length;
    const key = newKey('build');
    const body = { imageLabelPairs: pairs(3, 'b') };
    const first = await post(a, '/shitu-index-build', body, { 'idempotency-key': key });
    t.equal(first.status, 200, first.body.errorMsg);
    const again = await post(b, '/shitu-index-build', body, { 'idempotency-key': key });
    t.equal(again.replayed, 'true');
    t.equal(again.body.result.indexKey, first.body.result.indexKey, 'the same index key');
    const after = (await (await fetch(`${b}/indexes`)).json()).result.indexes.length;
    t.equal(after - before, 1, 'one index was built');

    const indexKey = first.body.result.indexKey;
    const rkey = newKey('remove');
    const removed = await post(a, '/shitu-index-remove', { indexKey, ids: [0] }, { 'idempotency-key': rkey });
    t.equal(removed.status, 200, removed.body.errorMsg);
    t.same(Object.values(removed.body.result.idMap).sort(), ['b1', 'b2']);
    const retried = await post(b, '/shitu-index-remove', { indexKey, ids: [0] }, { 'idempotency-key': rkey });
    t.equal(retried.status, 200, 'a retry of a remove that happened is not a 404');
    t.equal(retried.raw, removed.raw);
    const unkeyed = await post(b, '/shitu-index-remove', { indexKey, ids: [0] });
    t.equal(unkeyed.status, 404, 'without the key: id 0 is gone');
  });

  t.test(`${name}: the same key with another request is 422 ERR_IDEMPOTENCY_MISMATCH, nothing written`, async (t) => {
    const [a, b] = await servers(t, storeOf());
    const indexKey = (await post(a, '/shitu-index-build', { imageLabelPairs: pairs(1) })).body.result.indexKey;
    const key = newKey('mismatch');
    t.equal((await post(a, '/shitu-index-add', { indexKey, imageLabelPairs: pairs(1, 'x') }, { 'idempotency-key': key })).status, 200);
    const other = await post(b, '/shitu-index-add', { indexKey, imageLabelPairs: pairs(1, 'y') }, { 'idempotency-key': key });
    t.equal(other.status, 422);
    t.match(other.body.errorMsg, /^ERR_IDEMPOTENCY_MISMATCH: /);
    const otherRoute = await post(b, '/shitu-index-remove', { indexKey, ids: [0] }, { 'idempotency-key': key });
    t.equal(otherRoute.status, 422, 'another route with the key is another request too');
    t.same(Object.values(await idMapOf(a, indexKey)).sort(), ['l0', 'x0'], 'neither wrote');
    // Key order in the body does not make another request (canonical JSON).
    const reordered = await post(a, '/shitu-index-add', { imageLabelPairs: [{ label: 'x0', image: IMAGE }], indexKey }, { 'idempotency-key': key });
    t.equal(reordered.replayed, 'true');
  });

  t.test(`${name}: a repeat while the first request runs is 409 with Retry-After, then the first answer`, async (t) => {
    // The first add's image URL points here; its answer waits until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let fetched!: () => void;
    const started = new Promise<void>((r) => { fetched = r; });
    const images = http.createServer((req, res) => {
      fetched();
      void gate.then(() => { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(IMAGE_BYTES); });
    });
    await new Promise<void>((r) => images.listen(0, '127.0.0.3', r));
    t.teardown(() => new Promise<void>((r) => { images.closeAllConnections(); images.close(() => r()); }));
    const url = `http://127.0.0.3:${(images.address() as AddressInfo).port}/a.jpg`;
    const [a, b] = await servers(t, storeOf(), { fetch: { guard: { allow: ['127.0.0.3'] } } });
    const indexKey = (await post(a, '/shitu-index-build', { imageLabelPairs: pairs(1) })).body.result.indexKey;
    const key = newKey('inflight');
    const body = { indexKey, imageLabelPairs: [{ image: url, label: 'slow' }] };
    const first = post(a, '/shitu-index-add', body, { 'idempotency-key': key });
    await started; // the first request holds its key and waits for its image
    for (const base of [a, b]) {
      const busy = await post(base, '/shitu-index-add', body, { 'idempotency-key': key });
      t.equal(busy.status, 409, `${base === a ? 'same' : 'other'} server: 409`);
      t.match(busy.body.errorMsg, /^ERR_IDEMPOTENCY_IN_FLIGHT: /);
      t.equal(busy.retryAfter, '1');
    }
    release();
    const done = await first;
    t.equal(done.status, 200, done.body.errorMsg);
    const later = await post(b, '/shitu-index-add', body, { 'idempotency-key': key });
    t.equal(later.replayed, 'true');
    t.equal(later.raw, done.raw);
    t.same(Object.values(await idMapOf(a, indexKey)).sort(), ['l0', 'slow']);
  });

  t.test(`${name}: a request that fails frees its key; keys expire`, async (t) => {
    const [a] = await servers(t, storeOf(), { idempotencyTtlMs: 1500 }, 1);
    const indexKey = (await post(a, '/shitu-index-build', { imageLabelPairs: pairs(1) })).body.result.indexKey;
    const failKey = newKey('fail');
    const bad = await post(a, '/shitu-index-remove', { indexKey, ids: [42] }, { 'idempotency-key': failKey });
    t.equal(bad.status, 404);
    const badAgain = await post(a, '/shitu-index-remove', { indexKey, ids: [42] }, { 'idempotency-key': failKey });
    t.equal(badAgain.status, 404, 'the failure is not recorded: the retry runs again');
    t.equal(badAgain.replayed, null);

    const key = newKey('expire');
    const body = { indexKey, imageLabelPairs: pairs(1, 'e') };
    t.equal((await post(a, '/shitu-index-add', body, { 'idempotency-key': key })).status, 200);
    t.equal((await post(a, '/shitu-index-add', body, { 'idempotency-key': key })).replayed, 'true', 'within its lifetime (from the answer on): replayed');
    await new Promise((r) => setTimeout(r, 1800));
    const afterExpiry = await post(a, '/shitu-index-add', body, { 'idempotency-key': key });
    t.equal(afterExpiry.status, 200);
    t.equal(afterExpiry.replayed, null, 'after it expired the key is new again');
    t.equal(Object.keys(await idMapOf(a, indexKey)).length, 3, 'and the add ran again');
  });

  t.test(`${name}: keys are per owner`, async (t) => {
    const n = ++keyNo;
    const A = `a${n}`.padEnd(24, 'a');
    const B = `b${n}`.padEnd(24, 'b');
    const apiKeys = parseApiKeys(`${A} read,write alice-${n}\n${B} read,write bob-${n}`);
    const [a, b] = await servers(t, storeOf(), { apiKeys });
    const key = newKey('owner');
    const asA = { authorization: `Bearer ${A}`, 'idempotency-key': key };
    const asB = { authorization: `Bearer ${B}`, 'idempotency-key': key };
    const first = await post(a, '/shitu-index-build', { imageLabelPairs: pairs(1, 'alice') }, asA);
    t.equal(first.status, 200, first.body.errorMsg);
    const same = await post(b, '/shitu-index-build', { imageLabelPairs: pairs(1, 'alice') }, asB);
    t.equal(same.status, 200);
    t.equal(same.replayed, null, "another owner's identical request is not answered from alice's record");
    t.not(same.body.result.indexKey, first.body.result.indexKey, 'it built its own index');
    const otherBody = await post(b, '/shitu-index-build', { imageLabelPairs: pairs(1, 'bob') }, asA);
    t.equal(otherBody.status, 422, "alice's key with another body is still alice's mismatch");
  });

  t.test(`${name}: a malformed key is 400 ERR_IDEMPOTENCY_KEY`, async (t) => {
    const [a] = await servers(t, storeOf(), {}, 1);
    for (const bad of ['with space', 'x'.repeat(256), 'é']) {
      const r = await fetch(`${a}/shitu-index-build`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': Buffer.from(bad, 'utf8').toString('latin1') },
        body: JSON.stringify({ imageLabelPairs: pairs(1) }),
      });
      const body = await r.json();
      t.equal(r.status, 400, JSON.stringify(bad).slice(0, 20));
      t.match(body.errorMsg, /^ERR_IDEMPOTENCY_KEY: /);
    }
  });
}

t.test('PostgreSQL store: expired keys are deleted in bounded batches, not kept', async (t) => {
  const [a] = await servers(t, { indexStore: fx.cluster.url }, { idempotencyTtlMs: 200 }, 1);
  const indexKey = (await post(a, '/shitu-index-build', { imageLabelPairs: pairs(1) })).body.result.indexKey;
  for (let i = 0; i < 3; i++) t.equal((await post(a, '/shitu-index-remove', { indexKey, ids: [] }, { 'idempotency-key': newKey('gc') })).status, 200);
  const db = new pg.Client({ connectionString: fx.cluster.url });
  await db.connect();
  t.teardown(() => db.end());
  const expiredRows = async () => Number((await db.query('SELECT count(*) AS n FROM shitu_idempotency WHERE expires_at <= now()')).rows[0].n);
  await new Promise((r) => setTimeout(r, 400));
  t.ok((await expiredRows()) >= 3, 'expired rows wait for the next cleanup');
  // The next claim after the cleanup interval (here the ttl) deletes them (not awaited by the claim: polled).
  await post(a, '/shitu-index-remove', { indexKey, ids: [] }, { 'idempotency-key': newKey('gc') });
  let left = await expiredRows();
  for (let i = 0; i < 100 && left > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = await expiredRows();
  }
  t.equal(left, 0, 'no expired row is left');
});

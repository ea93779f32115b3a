// API keys' bounds that must hold under concurrency, on both stores and across
// the processes that share one: an `indexes=N` quota reserved before any work
// (30 concurrent builds by a key with indexes=1 through two servers: exactly
// one index), a failed build gives its slot back, `vectors=N` checked at write
// time (concurrent adds cannot overshoot), and writes only to the indexes a
// key owns unless it has the admin scope.
// Two servers over one directory (file store) or one database (PostgreSQL,
// two replicas); a real PostgreSQL 15 + pgvector cluster (test/helpers/postgres.ts).
import t, { Test } from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';

import { createServer, ServerOptions } from '../../lib/server/app';
import { parseApiKeys } from '../../lib/server/auth';
import { FileOwnership } from '../../lib/store/file/file-ownership';
import { img } from '../helpers/shared';
import { serviceFixture } from '../helpers/service-fixture';

const b64 = (...p: string[]) => fs.readFileSync(img(...p)).toString('base64');
const IMAGE = b64('product_demo', 'query', 'anmuxi.jpg');
const pairs = (n: number, label = 'l') => Array.from({ length: n }, (_, i) => ({ image: IMAGE, label: `${label}${i}` }));

const fx = serviceFixture('shitu-quota-');
const { tmp } = fx;

let run = 0;
/** Keys whose names are new in each subtest (the PostgreSQL store keeps owners across subtests). */
function keysFor() {
  const n = ++run;
  const k = (c: string) => `${c}${n}`.padEnd(24, c);
  const K = { ONE: k('o'), THREE: k('t'), OTHER: k('x'), ADMIN: k('a'), READ: k('r') };
  const names = { ONE: `one-${n}`, THREE: `three-${n}`, OTHER: `other-${n}` };
  const apiKeys = parseApiKeys(`
${K.ONE} write ${names.ONE} indexes=1
${K.THREE} write ${names.THREE} vectors=3
${K.OTHER} write ${names.OTHER}
${K.ADMIN} admin root-${n}
${K.READ} read reader-${n}
`);
  return { K, names, apiKeys };
}

interface Reply { status: number; body: any }
const post = async (base: string, route: string, body: unknown, key?: string): Promise<Reply> => {
  const res = await fetch(base + route, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
};
const get = async (base: string, route: string, key: string): Promise<Reply> => {
  const res = await fetch(base + route, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
};

/**
 * Servers sharing one store: the same directory, or the same database. The
 * file store serialises writes to one index within its process only, so its
 * concurrent adds go through one server; PostgreSQL's through two replicas.
 */
const STORES: Array<[string, () => Partial<ServerOptions>, number]> = [
  ['file store', () => ({ indexDir: fs.mkdtempSync(path.join(tmp, 'idx-')) }), 1],
  ['PostgreSQL store', () => ({ indexStore: fx.cluster.url }), 2],
];

async function servers(t: Test, store: Partial<ServerOptions>, o: Partial<ServerOptions>, n = 2): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const app = createServer(fx.pipeline, { ...store, ...o } as ServerOptions);
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => app.close());
    out.push(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  }
  return out;
}

for (const [name, storeOf, writers] of STORES) {
  t.test(`${name}: 30 concurrent builds by a key with indexes=1, through two servers, make exactly one index`, async (t) => {
    const { K, apiKeys } = keysFor();
    const bases = await servers(t, storeOf(), { apiKeys, maxQueue: 64 });
    const before = (await get(bases[0], '/indexes', K.READ)).body.result.indexes.length;
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => post(bases[i % 2], '/shitu-index-build', { imageLabelPairs: pairs(1) }, K.ONE)));
    const ok = replies.filter((r) => r.status === 200);
    t.equal(ok.length, 1, 'one build succeeds');
    t.same([...new Set(replies.filter((r) => r.status !== 200).map((r) => r.status))], [403], 'the others are refused with 403');
    t.match(replies.find((r) => r.status === 403)!.body.errorMsg, /already owns 1 index\(es\), its limit is 1/);
    const after = (await get(bases[1], '/indexes', K.READ)).body.result.indexes;
    t.equal(after.length - before, 1, 'the store holds one new index');
    t.ok(after.some((e: { indexKey: string }) => e.indexKey === ok[0].body.result.indexKey), 'the one that was answered');
  });

  t.test(`${name}: a failed build gives its reservation back`, async (t) => {
    const { K, apiKeys } = keysFor();
    const [base] = await servers(t, storeOf(), { apiKeys }, 1);
    const bad = await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: Buffer.from('not an image at all').toString('base64'), label: 'x' }] }, K.ONE);
    t.equal(bad.status, 400, bad.body.errorMsg);
    // One failure after another: each finds the slot free again (while one runs, it holds the slot).
    for (let i = 0; i < 3; i++) t.equal((await post(base, '/shitu-index-build', { imageLabelPairs: [{ image: 'aGVsbG8=', label: 'x' }] }, K.ONE)).status, 400, `failure ${i + 2}`);
    const good = await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, K.ONE);
    t.equal(good.status, 200, 'the quota is free after the failures');
    t.match(await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, K.ONE), { status: 403, body: { errorMsg: /its limit is 1/ } }, 'and used up by the success');
  });

  t.test(`${name}: vectors=3 holds under concurrent adds (${writers} server(s))`, async (t) => {
    const { K, apiKeys } = keysFor();
    const bases = await servers(t, storeOf(), { apiKeys, maxQueue: 64 }, writers);
    const built = await post(bases[0], '/shitu-index-build', { imageLabelPairs: pairs(1) }, K.THREE);
    t.equal(built.status, 200, built.body.errorMsg);
    const indexKey = built.body.result.indexKey;
    const adds = await Promise.all(Array.from({ length: 6 }, (_, i) => post(bases[i % bases.length], '/shitu-index-add', { indexKey, imageLabelPairs: pairs(1, `add${i}-`) }, K.THREE)));
    t.equal(adds.filter((r) => r.status === 200).length, 2, 'two adds fit');
    t.same([...new Set(adds.filter((r) => r.status !== 200).map((r) => r.status))], [403], 'the others are refused');
    t.match(adds.find((r) => r.status === 403)!.body.errorMsg, /at most 3 per index/);
    const view = await get(bases[bases.length - 1], `/indexes/${indexKey}`, K.READ);
    t.equal(view.body.result.count, 3, 'the index holds 3 vectors');
  });

  t.test(`${name}: a write key writes only the indexes it owns; admin writes anywhere`, async (t) => {
    const { K, apiKeys } = keysFor();
    const store = storeOf();
    const [base] = await servers(t, store, { apiKeys }, 1);
    const mine = (await post(base, '/shitu-index-build', { imageLabelPairs: pairs(2) }, K.OTHER)).body.result.indexKey;
    const theirs = (await post(base, '/shitu-index-build', { imageLabelPairs: pairs(2) }, K.THREE)).body.result.indexKey;
    t.equal((await post(base, '/shitu-index-add', { indexKey: mine, imageLabelPairs: pairs(1, 'm') }, K.OTHER)).status, 200, 'the owner adds');
    t.equal((await post(base, '/shitu-index-remove', { indexKey: mine, ids: [0] }, K.OTHER)).status, 200, 'the owner removes');
    const add = await post(base, '/shitu-index-add', { indexKey: theirs, imageLabelPairs: pairs(1, 'x') }, K.OTHER);
    t.equal(add.status, 403);
    t.match(add.body.errorMsg, new RegExp(`does not own index ${theirs}: only the key that built it, or a key with the "admin" scope, may change it`));
    t.notMatch(add.body.errorMsg, /three-/, 'the owner is not named');
    t.equal((await post(base, '/shitu-index-remove', { indexKey: theirs, ids: [0] }, K.OTHER)).status, 403, 'nor remove from it');
    t.equal((await get(base, `/indexes/${theirs}`, K.READ)).body.result.count, 2, 'untouched');
    // admin: every write route, any index, without the write scope listed.
    t.equal((await post(base, '/shitu-index-add', { indexKey: theirs, imageLabelPairs: pairs(1, 'a') }, K.ADMIN)).status, 200, 'admin adds');
    t.equal((await post(base, '/shitu-index-remove', { indexKey: theirs, ids: [1] }, K.ADMIN)).status, 200, 'admin removes');
    t.equal((await post(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, K.ADMIN)).status, 200, 'admin builds');
    t.match(await post(base, '/shitu-infer', { image: IMAGE, indexKey: theirs, returnImage: false }, K.ADMIN), { status: 403, body: { errorMsg: /lacks the "read" scope/ } }, 'admin is not read');
    // An index built while the service had no keys has no owner: only admin writes it.
    const [open] = await servers(t, store, {}, 1);
    const unowned = (await post(open, '/shitu-index-build', { imageLabelPairs: pairs(1) })).body.result.indexKey;
    t.equal((await post(base, '/shitu-index-add', { indexKey: unowned, imageLabelPairs: pairs(1) }, K.OTHER)).status, 403, 'unowned: not for a write key');
    t.equal((await post(base, '/shitu-index-add', { indexKey: unowned, imageLabelPairs: pairs(1) }, K.ADMIN)).status, 200, 'unowned: admin');
    t.equal((await post(base, '/shitu-index-add', { indexKey: '00000000-0000-4000-8000-000000000000', imageLabelPairs: pairs(1) }, K.OTHER)).status, 404, 'no such index: 404 before 403');
    // Without keys every route stays open, as in the reference.
    t.equal((await post(open, '/shitu-index-add', { indexKey: theirs, imageLabelPairs: pairs(1) })).status, 200, 'no keys: open');
  });
}

t.test('the keys file knows the admin scope', async (t) => {
  const [spec] = parseApiKeys(`${'k'.repeat(20)} read,admin ops`);
  t.same(spec.scopes, ['read', 'admin']);
  t.throws(() => parseApiKeys(`${'k'.repeat(20)} root`), /unknown scope "root" \(read, write, admin\)/);
});

/**
 * Starts test/helpers/ownership-child.ts in its own process (with tap's
 * TypeScript loader); resolves with what it was granted while it still holds
 * it, and a function that lets it finish (and resolves when it has exited).
 */
function child(...args: string[]): Promise<{ granted: number; pid: number; finish: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...process.execArgv, path.join(__dirname, '..', 'helpers', 'ownership-child.ts'), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    let out = '';
    c.stdout.on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      const r = JSON.parse(out.split('\n')[0]) as { granted: number; pid: number };
      resolve({ ...r, finish: () => { c.stdin.end(); return exited; } });
    });
    c.once('error', reject);
    c.once('exit', (code) => { if (!out.includes('\n')) reject(new Error(`ownership child exited with ${code}`)); });
  });
}

t.test('file store ownership across processes: three processes, 10 reservations each, indexes=3: 3 granted in all', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'procs-'));
  // Each holds what it was granted until all have tried: builds in progress in three processes.
  const results = await Promise.all([0, 1, 2].map(() => child(dir, 'shared-owner', '3', '10', 'keep')));
  t.equal(results.reduce((n, r) => n + r.granted, 0), 3, `granted ${results.map((r) => r.granted).join('+')}`);
  // They exit without committing (builds that died): their reservations no longer count.
  for (const r of results) await r.finish();
  const again = await child(dir, 'shared-owner', '3', '5');
  t.equal(again.granted, 3, 'reservations of dead processes are not counted');
  await again.finish();
});

t.test('file store ownership: a lock left by a dead process is taken over', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'lock-'));
  const dead = await child(dir, 'someone', '1', '1');
  await dead.finish();
  fs.mkdirSync(path.join(dir, '.owners'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.owners', '.lock'), `${dead.pid} ${os.hostname()} left-behind`);
  const o = new FileOwnership(dir);
  const r = await o.reserve('me', '44444444-4444-4444-8444-444444444444', 1);
  t.ok(r.ok, 'reserved');
  t.equal(await o.ownerOf('44444444-4444-4444-8444-444444444444'), 'me');
  t.notOk(fs.existsSync(path.join(dir, '.owners', '.lock')), 'and the lock released');
});

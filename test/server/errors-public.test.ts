// No internals in errors: the service's typical failures,
// driven for real (a corrupt index on disk, an unreachable PostgreSQL store, a
// database that fails a statement, a pipeline that cannot load, bad keys, bad
// images, bad bodies), and every error body scanned for absolute file paths,
// connection strings, SQLSTATE codes and stack frames. The full error goes to
// the request log under the answer's logId.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { AddressInfo } from 'node:net';
import pg from 'pg';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer, ServerOptions } from '../../lib/server/app';
import { parseApiKeys } from '../../lib/server/auth';
import { img, SHARED } from '../helpers/shared';
import { pngBomb } from '../helpers/bombs';
import { freePort } from '../helpers/postgres';
import { serviceFixture } from '../helpers/service-fixture';

const b64 = (...p: string[]) => fs.readFileSync(img(...p)).toString('base64');
const IMAGE = b64('product_demo', 'query', 'anmuxi.jpg');
const pairs = (n: number) => Array.from({ length: n }, (_, i) => ({ image: IMAGE, label: `l${i}` }));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WRITE = 'w'.repeat(20), READ = 'r'.repeat(20), SMALL = 's'.repeat(20);
const KEYS = parseApiKeys(`${WRITE} read,write writer vectors=3\n${READ} read reader\n${SMALL} write small indexes=0`);

const fx = serviceFixture('shitu-errpub-');
const { tmp } = fx;

/**
 * What must never reach a client. Written independently of the server's own
 * scrubber: any `/x/y` that starts a word (URLs the client sent start with
 * `scheme://host`, so they do not), the places this test's files live, the
 * word postgres, SQLSTATE and its 5-character codes, stack frames.
 */
const LEAKS: Array<[string, RegExp]> = [
  ['an absolute path', /(^|[^\w:/.-])\/[\w.-]+\/[\w.-]/],
  ['the temporary directory', new RegExp(tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))],
  ['the shared directory', new RegExp(SHARED.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))],
  ['a connection string or the database', /postgres/i],
  ['a SQLSTATE', /SQLSTATE|\b[0-9][0-9A-Z]{4}\b|\b(?:XX|P0|HV|F0)[0-9A-Z]{3}\b/],
  ['a stack frame', /\n\s*at |\bat [\w.<>]+ \(|\.[jt]s:\d+:\d+/],
];

interface Reply { status: number; body: any; raw: string }
const seen: Array<{ what: string; reply: Reply }> = [];

/** Every error body must be the envelope, with a logId, and leak nothing. */
function expectClean(t: Test, what: string, r: Reply, status?: number | RegExp): void {
  seen.push({ what, reply: r });
  if (status instanceof RegExp) t.match(String(r.status), status, `${what}: status ${r.status}`);
  else if (status !== undefined) t.equal(r.status, status, `${what}: status ${r.status} (${r.body?.errorMsg})`);
  t.ok(r.status >= 400, `${what}: an error`);
  t.match(r.body, { errorCode: r.status, errorMsg: String }, `${what}: the envelope`);
  t.match(r.body?.logId, UUID, `${what}: a logId`);
  for (const [name, re] of LEAKS) t.notMatch(r.raw, re, `${what}: no ${name} in ${JSON.stringify(r.body?.errorMsg)}`);
}

async function call(base: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(base + route, body === undefined ? { headers } : {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const raw = await res.text();
  let parsed: any;
  try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
  return { status: res.status, body: parsed, raw };
}
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

/** A server whose log lines are kept, to find a failure's full error by its logId. */
async function start(t: Test, o: Partial<ServerOptions>, p: Pipeline | Promise<Pipeline> = fx.pipeline) {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const app = createServer(p, { bodyLimit: 4 * 1024 * 1024, ...o, logger: { level: 'error', stream } } as ServerOptions);
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const logOf = (logId: string) => lines.filter((l) => l.includes(logId)).join('\n');
  return { base, logOf };
}

t.test('file store: corrupt and incomplete indexes, bad keys, bad images, bad bodies', async (t) => {
  const indexDir = fs.mkdtempSync(path.join(tmp, 'idx-'));
  const { base, logOf } = await start(t, { indexDir, apiKeys: KEYS, limitInputPixels: 2_000_000, fetch: { guard: true, timeoutMs: 2000 } });
  const built = await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(WRITE));
  t.equal(built.status, 200);
  const key = built.body.result.indexKey as string;

  // Corrupt vector.index, id map that does not parse, no id map at all.
  const corrupt = '11111111-1111-4111-8111-111111111111';
  fs.mkdirSync(path.join(indexDir, corrupt));
  fs.writeFileSync(path.join(indexDir, corrupt, 'vector.index'), 'garbage');
  const badMap = '22222222-2222-4222-8222-222222222222';
  fs.cpSync(path.join(indexDir, key), path.join(indexDir, badMap), { recursive: true });
  fs.writeFileSync(path.join(indexDir, badMap, 'id_map.yaml'), '{: [unclosed\n\t- x');
  const noMap = '33333333-3333-4333-8333-333333333333';
  fs.cpSync(path.join(indexDir, key), path.join(indexDir, noMap), { recursive: true });
  for (const f of fs.readdirSync(path.join(indexDir, noMap))) if (f !== 'vector.index') fs.rmSync(path.join(indexDir, noMap, f));
  for (const k of [corrupt, badMap, noMap]) {
    const r = await call(base, '/shitu-infer', { image: IMAGE, indexKey: k, returnImage: false }, bearer(WRITE));
    expectClean(t, `infer on a broken index ${k}`, r, 500);
    t.match(r.body.errorMsg, /^ERR_INDEX_[A-Z]+: .*the server log has the details under this logId$/, 'names the code');
    t.match(logOf(r.body.logId), new RegExp(`${indexDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|${k}`), 'the log has the full error under the logId');
    expectClean(t, `GET a broken index ${k}`, await call(base, `/indexes/${k}`, undefined, bearer(READ)), 500);
    expectClean(t, `remove from a broken index ${k}`, await call(base, '/shitu-index-remove', { indexKey: k, ids: [0] }, bearer(WRITE)), /^(403|500)$/);
  }

  // Keys and scopes, quotas, ownership.
  expectClean(t, 'no key', await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }), 401);
  expectClean(t, 'unknown key', await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer('x'.repeat(20))), 401);
  expectClean(t, 'missing scope', await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(READ)), 403);
  expectClean(t, 'index quota', await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(SMALL)), 403);
  expectClean(t, 'vector quota', await call(base, '/shitu-index-add', { indexKey: key, imageLabelPairs: pairs(3) }, bearer(WRITE)), 403);
  expectClean(t, 'not the owner', await call(base, '/shitu-index-add', { indexKey: corrupt, imageLabelPairs: pairs(1) }, bearer(WRITE)), /^(403|500)$/);

  // Images.
  const infer = (image: string) => call(base, '/shitu-infer', { image, indexKey: key, returnImage: false }, bearer(READ));
  expectClean(t, 'not an image', await infer(Buffer.from('hello, not an image').toString('base64')), 400);
  expectClean(t, 'not Base64', await infer('%%%'), 400);
  expectClean(t, 'pixel bomb', await infer(pngBomb(30000, 30000).toString('base64')), 413);
  expectClean(t, 'format not enabled', await infer(Buffer.concat([Buffer.from('ff4fff51', 'hex'), Buffer.alloc(60)]).toString('base64')), 415);
  expectClean(t, 'private URL', await infer('http://127.0.0.1:9/x.jpg'), 400);
  expectClean(t, 'metadata URL', await infer('http://169.254.169.254/latest/meta-data/'), 400);
  expectClean(t, 'unresolvable URL', await infer('http://no-such-host.invalid/a.jpg'), 400);
  expectClean(t, 'a bad image in a build', await call(base, '/shitu-index-build', { imageLabelPairs: [pairs(1)[0], { image: 'aGVsbG8=', label: 'x' }] }, bearer(WRITE)), 400);

  // Bodies, keys and routes.
  expectClean(t, 'invalid JSON', await call(base, '/shitu-infer', '{"image": ', bearer(READ)), 400);
  expectClean(t, 'wrong type', await call(base, '/shitu-infer', { image: 5 }, bearer(READ)), 422);
  expectClean(t, 'path as indexKey', await call(base, '/shitu-infer', { image: IMAGE, indexKey: '/etc/passwd' }, bearer(READ)), 422);
  expectClean(t, 'traversal as indexKey', await call(base, `/indexes/..%2F..%2Fetc`, undefined, bearer(READ)), 422);
  expectClean(t, 'unknown index', await call(base, '/shitu-infer', { image: IMAGE, indexKey: '00000000-0000-4000-8000-000000000000' }, bearer(READ)), 404);
  expectClean(t, 'NUL in a label', await call(base, '/shitu-index-build', { imageLabelPairs: [{ image: IMAGE, label: 'a\u0000' }] }, bearer(WRITE)), 422);
  expectClean(t, 'unknown ids', await call(base, '/shitu-index-remove', { indexKey: key, ids: [99] }, bearer(WRITE)), 404);
  expectClean(t, 'body over the limit', await call(base, '/shitu-infer', { image: 'A'.repeat(5 * 1024 * 1024) }, bearer(READ)), 413);
  expectClean(t, 'unknown route', await call(base, '/nope', {}), 404);
});

t.test('a pipeline that cannot load: /ready and the operations say so without its paths', async (t) => {
  const missing = path.join(tmp, 'no', 'such', 'pipeline.yaml');
  const failing = createPipeline(missing, { threads: 1 });
  failing.catch(() => undefined);
  await failing.then(() => t.fail('loads'), () => undefined);
  const { base, logOf } = await start(t, { indexDir: fs.mkdtempSync(path.join(tmp, 'idx-')) }, failing);
  const ready = await call(base, '/ready');
  expectClean(t, '/ready', ready, 503);
  t.match(ready.body.errorMsg, /the pipeline failed to load/);
  const r = await call(base, '/shitu-infer', { image: IMAGE, indexKey: '00000000-0000-4000-8000-000000000000' });
  expectClean(t, 'infer without a pipeline', r, 500);
  t.match(logOf(r.body.logId), /no[/\\]such[/\\]pipeline\.yaml/, 'the log has the path');
});

t.test('PostgreSQL store: unreachable, and a statement that fails in the database', async (t) => {
  const port = await freePort();
  const down = await start(t, { indexStore: `postgresql://shitu:secret@127.0.0.1:${port}/nowhere`, apiKeys: KEYS });
  for (const [what, r] of [
    ['build', await call(down.base, '/shitu-index-build', { imageLabelPairs: pairs(1) }, bearer(WRITE))],
    ['add', await call(down.base, '/shitu-index-add', { indexKey: '00000000-0000-4000-8000-000000000000', imageLabelPairs: pairs(1) }, bearer(WRITE))],
    ['infer', await call(down.base, '/shitu-infer', { image: IMAGE, indexKey: '00000000-0000-4000-8000-000000000000' }, bearer(READ))],
    ['list', await call(down.base, '/indexes', undefined, bearer(READ))],
  ] as Array<[string, Reply]>) {
    expectClean(t, `unreachable store: ${what}`, r, 503);
    t.match(r.body.errorMsg, /^ERR_STORE_UNAVAILABLE: the index store is unavailable/);
    t.notMatch(r.raw, /secret|nowhere|shitu@|ECONNREFUSED/, 'neither the credentials nor the cause');
    t.match(down.logOf(r.body.logId), /ECONNREFUSED|connect/, 'the cause is in the log');
  }

  const { base, logOf } = await start(t, { indexStore: fx.cluster.url });
  const built = await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) });
  t.equal(built.status, 200, built.raw);
  // The database refuses the next insert with an error that names a server path and a SQLSTATE.
  const db = new pg.Client({ connectionString: fx.cluster.url });
  await db.connect();
  t.teardown(() => db.end());
  await db.query(`CREATE FUNCTION shitu_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'could not extend file "/var/lib/postgresql/15/main/base/5/16384"' USING ERRCODE = '53100'; END $$`);
  await db.query('CREATE TRIGGER shitu_test_fail BEFORE INSERT ON shitu_vector FOR EACH ROW EXECUTE FUNCTION shitu_test_fail()');
  // 53100 (disk full) counts as unavailable: answered 503. A plain internal error too: XX000.
  const full = await call(base, '/shitu-index-add', { indexKey: built.body.result.indexKey, imageLabelPairs: pairs(1) });
  expectClean(t, 'disk full in the database', full, 503);
  t.match(logOf(full.body.logId), /could not extend file/, 'the database error is in the log');
  await db.query(`CREATE OR REPLACE FUNCTION shitu_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'corrupted page in "/var/lib/postgresql/15/main/base/5/16384"' USING ERRCODE = 'XX001'; END $$`);
  const broken = await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) });
  expectClean(t, 'internal error in the database', broken, 500);
  t.match(broken.body.errorMsg, /^ERR_INDEX_IO: /);
  t.match(logOf(broken.body.logId), /SQLSTATE XX001.*corrupted page/, 'SQLSTATE and message in the log');
  await db.query('DROP TRIGGER shitu_test_fail ON shitu_vector');
  t.equal((await call(base, '/shitu-index-build', { imageLabelPairs: pairs(1) })).status, 200, 'and it works again');
});

t.test('every error body the suite produced was scanned', async (t) => {
  t.ok(seen.length >= 40, `${seen.length} error bodies`);
  t.same([...new Set(seen.map((s) => Math.floor(s.reply.status / 100)))].sort(), [4, 5], '4xx and 5xx among them');
});

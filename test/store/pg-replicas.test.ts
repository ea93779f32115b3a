// Three `shitu serve` replicas (separate processes on 127.0.0.1) over one
// PostgreSQL + pgvector database: the reference client's flow across them
// (build on A, add on B, remove on C, infer on all three: identical answers),
// eight clients adding concurrently through all replicas (each gets exactly the
// ids it was told), kill -9 of a replica in the middle of an add (all or
// nothing), and a database restart in the middle of traffic (only 200 or 503 +
// Retry-After, no hang, no lost committed write, replicas reconnect and catch up).
import t from 'tap';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import { img, STANDIN_CONFIG } from '../helpers/shared';
import { freePort, startCluster, TestCluster } from '../helpers/postgres';

const CLI = path.resolve(__dirname, '../../dist/lib/cli/main.js');
const b64 = (...p: string[]) => fs.readFileSync(img(...p)).toString('base64');
const GALLERY = [
  ['product_demo/gallery/anmuxi/001.jpg', 'anmuxi'],
  ['drink_test_images/mosilian.jpeg', 'mosilian'],
  ['drink_test_images/nongfu_spring.jpeg', 'nongfu_spring'],
];
const QUERIES = ['product_demo/query/anmuxi.jpg', 'drink_test_images/youjia.jpeg', 'drink_test_images/100.jpeg'];
const ALL_IMAGES = [
  ...[1, 2, 3, 4, 5, 6].map((i) => `product_demo/gallery/anmuxi/00${i}.jpg`),
  'drink_test_images/mosilian.jpeg', 'drink_test_images/nongfu_spring.jpeg', 'drink_test_images/youjia.jpeg', 'drink_test_images/100.jpeg',
];

interface Replica { name: string; base: string; proc: ChildProcess; exited: Promise<number | null>; log: () => string }

async function startReplica(name: string, url: string): Promise<Replica> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', STANDIN_CONFIG, '--threads', '1', '--host', '127.0.0.1', '--port', String(port), '--index-store', url],
    { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
  let err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`replica ${name} exited: ${err}`);
    const ok = await fetch(`${base}/ready`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, base, proc, exited, log: () => err };
}

interface Reply { status: number; retryAfter: string | null; body: any }
async function post(r: Replica, route: string, body: unknown): Promise<Reply> {
  const res = await fetch(r.base + route, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(60000),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

const answer = async (r: Replica, key: string, q: string) => {
  const res = await post(r, '/shitu-infer', { image: b64(q), indexKey: key, returnImage: false });
  if (res.status !== 200) throw new Error(`${r.name} infer: ${res.status} ${res.body.errorMsg}`);
  return JSON.stringify(res.body.result.detectedObjects);
};

/** Polls until every replica answers every query like `truth` (a generous bound: the bench measures the real delay). */
async function converged(replicas: Replica[], key: string, truth: string[], boundMs = 60000): Promise<boolean> {
  const t0 = Date.now();
  for (;;) {
    const now = await Promise.all(replicas.map(async (r) => Promise.all(QUERIES.map((q) => answer(r, key, q)))));
    if (now.every((a) => JSON.stringify(a) === JSON.stringify(truth))) return true;
    if (Date.now() - t0 > boundMs) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

let cluster: TestCluster;
let db: pg.Client;
const replicas: Replica[] = [];
t.before(async () => {
  cluster = await startCluster();
  db = new pg.Client({ connectionString: cluster.url });
  db.on('error', () => undefined); // the restart below cuts this connection
  await db.connect();
  // Replicas start one after another: they create the schema on first connect.
  for (const name of ['A', 'B', 'C']) replicas.push(await startReplica(name, cluster.url));
});
t.teardown(async () => {
  for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) { r.proc.kill('SIGTERM'); await r.exited; }
  await db?.end().catch(() => undefined);
  cluster?.destroy();
});

let key: string;
t.test('the reference client\'s flow across three replicas: build on A, add on B, remove on C, the same answers everywhere', async (t) => {
  const [A, B, C] = replicas;
  const built = await post(A, '/shitu-index-build', { imageLabelPairs: GALLERY.map(([p, label]) => ({ image: b64(p), label })), indexType: 'HNSW32', metricType: 'IP' });
  t.equal(built.status, 200, built.body.errorMsg);
  key = built.body.result.indexKey;
  t.same(built.body.result.idMap, { 0: 'anmuxi', 1: 'mosilian', 2: 'nongfu_spring' });
  const added = await post(B, '/shitu-index-add', { indexKey: key, imageLabelPairs: [
    { image: b64('product_demo/gallery/anmuxi/002.jpg'), label: 'anmuxi' }, { image: b64('drink_test_images/youjia.jpeg'), label: 'youjia' }] });
  t.equal(added.status, 200, added.body.errorMsg);
  t.same(added.body.result.idMap, { 0: 'anmuxi', 1: 'mosilian', 2: 'nongfu_spring', 3: 'anmuxi', 4: 'youjia' }, 'B had the index built on A');
  const removed = await post(C, '/shitu-index-remove', { indexKey: key, ids: [1] });
  t.equal(removed.status, 200, removed.body.errorMsg);
  t.same(removed.body.result.idMap, { 0: 'anmuxi', 2: 'nongfu_spring', 3: 'anmuxi', 4: 'youjia' }, 'C saw B\'s add');
  // C made the last write: it serves it from its answer on (read your writes).
  const truth = await Promise.all(QUERIES.map((q) => answer(C, key, q)));
  t.notMatch(truth.join(), /mosilian/, 'the removed entry is gone on the replica that removed it');
  t.match(truth[1], /youjia/, 'the added entry is found');
  t.ok(await converged(replicas, key, truth), 'A and B give identical answers');
  const unknown = await post(A, '/shitu-index-remove', { indexKey: key, ids: [1] });
  t.equal(unknown.status, 404, 'a removed id is unknown on every replica');
});

t.test('eight clients adding concurrently through all replicas end with exactly the ids they were given', async (t) => {
  const before = Number((await db.query('SELECT next_id FROM shitu_index WHERE key = $1', [key])).rows[0].next_id);
  const given = new Map<string, number>();
  await Promise.all(Array.from({ length: 8 }, async (_, c) => {
    for (let j = 0; j < 3; j++) {
      const label = `client${c}-${j}`;
      const r = await post(replicas[(c + j) % 3], '/shitu-index-add', { indexKey: key, imageLabelPairs: [{ image: b64(ALL_IMAGES[(c * 3 + j) % ALL_IMAGES.length]), label }] });
      if (r.status !== 200) throw new Error(`add ${label}: ${r.status} ${r.body.errorMsg}`);
      const mine = Object.entries(r.body.result.idMap as Record<string, string>).filter(([, l]) => l === label);
      if (mine.length !== 1) throw new Error(`add ${label}: the answer holds it ${mine.length} times`);
      given.set(label, Number(mine[0][0]));
    }
  }));
  const rows = (await db.query('SELECT id, label FROM shitu_vector WHERE index_key = $1 AND id >= $2 ORDER BY id', [key, before])).rows;
  t.equal(rows.length, 24, 'every add stored once');
  t.same(rows.map((r) => Number(r.id)), Array.from({ length: 24 }, (_, i) => before + i), 'ids unique, consecutive, none reused');
  for (const r of rows) t.equal(given.get(r.label), Number(r.id), `${r.label} has the id its client was given`);
  const truth = await Promise.all(QUERIES.map((q) => answer(replicas[0], key, q)));
  t.ok(await converged(replicas, key, truth), 'all replicas converge');
});

t.test('kill -9 of a replica in the middle of an add leaves none of it', async (t) => {
  const C = replicas[2];
  const before = (await db.query('SELECT next_id, version FROM shitu_index WHERE key = $1', [key])).rows[0];
  // Hold the change log so C's transaction stops after storing the vectors,
  // just before recording the change and committing; kill C there.
  const locker = new pg.Client({ connectionString: cluster.url });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE shitu_change IN SHARE MODE');
  const pending = post(C, '/shitu-index-add', { indexKey: key, imageLabelPairs: [
    { image: b64('drink_test_images/100.jpeg'), label: 'half-written-1' }, { image: b64('drink_test_images/youjia.jpeg'), label: 'half-written-2' }] })
    .then(() => 'answered', () => 'connection lost');
  let pid: number | undefined;
  for (let i = 0; i < 600 && pid === undefined; i++) {
    const r = await db.query("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO shitu_change%'");
    pid = r.rows[0]?.pid;
    if (pid === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(pid, 'C is inside its write transaction');
  const inside = (await db.query("SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND locktype = 'relation' AND mode = 'RowExclusiveLock'", [pid])).rows[0].n;
  t.ok(inside > 0, 'with the vectors already inserted');
  C.proc.kill('SIGKILL');
  await C.exited;
  t.equal(await pending, 'connection lost', 'the client gets no success');
  await locker.query('COMMIT');
  await locker.end();
  for (let i = 0; i < 100; i++) {
    if (!(await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows.length) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const after = (await db.query('SELECT next_id, version FROM shitu_index WHERE key = $1', [key])).rows[0];
  t.same(after, before, 'next_id and version unchanged');
  const half = (await db.query("SELECT count(*)::int AS n FROM shitu_vector WHERE label LIKE 'half-written-%'")).rows[0].n;
  t.equal(half, 0, 'no entry of the killed write');
  const next = await post(replicas[0], '/shitu-index-add', { indexKey: key, imageLabelPairs: [{ image: b64('drink_test_images/100.jpeg'), label: 'after-kill' }] });
  t.equal(next.status, 200, 'the index is not left locked');
  t.equal(next.body.result.idMap[String(before.next_id)], 'after-kill', 'the ids the killed write would have taken are given out once, now');
  replicas.splice(2, 1);
});

t.test('a database restart in the middle of traffic: 200 or 503 + Retry-After, then reconnect and catch up', async (t) => {
  const [A, B] = replicas;
  const statuses: Array<{ status: number; retryAfter: string | null }> = [];
  const committed: string[] = [];
  let stop = false;
  let n = 0;
  const client = async (c: number) => {
    while (!stop) {
      const r = c % 2 ? A : B;
      let res: Reply;
      // A connection error (a replica that died) is recorded as status 0 and fails the test below.
      const lost = (e: Error): Reply => ({ status: 0, retryAfter: null, body: { errorMsg: e.message } });
      if (c < 2) {
        const label = `traffic-${c}-${n++}`;
        res = await post(r, '/shitu-index-add', { indexKey: key, imageLabelPairs: [{ image: b64(ALL_IMAGES[n % ALL_IMAGES.length]), label }] }).catch(lost);
        if (res.status === 200) committed.push(label);
      } else {
        res = await post(r, '/shitu-infer', { image: b64(QUERIES[n++ % QUERIES.length]), indexKey: key, returnImage: false }).catch(lost);
      }
      statuses.push({ status: res.status, retryAfter: res.retryAfter });
      if (res.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
  };
  const clients = [0, 1, 2, 3].map(client);
  await new Promise((r) => setTimeout(r, 1000));
  cluster.stop();
  await new Promise((r) => setTimeout(r, 3000));
  cluster.start();
  await new Promise((r) => setTimeout(r, 3000));
  stop = true;
  await Promise.all(clients);
  const by = new Map<number, number>();
  for (const s of statuses) by.set(s.status, (by.get(s.status) ?? 0) + 1);
  t.same([...by.keys()].filter((s) => s !== 200 && s !== 503), [], `only 200 and 503 (${JSON.stringify([...by])})`);
  t.ok((by.get(503) ?? 0) > 0, 'requests that needed the database while it was down got 503');
  t.ok(statuses.filter((s) => s.status === 503).every((s) => s.retryAfter !== null && Number(s.retryAfter) > 0), 'every 503 has Retry-After');
  t.ok((by.get(200) ?? 0) > 0, 'and requests succeeded before and after');
  for (const r of [A, B]) t.ok(r.proc.exitCode === null && r.proc.signalCode === null, `replica ${r.name} is still running${r.proc.exitCode !== null ? `; its stderr:\n${r.log()}` : ''}`);
  await db.end().catch(() => undefined);
  db = new pg.Client({ connectionString: cluster.url });
  db.on('error', () => undefined);
  await db.connect();
  const stored = new Set((await db.query("SELECT label FROM shitu_vector WHERE index_key = $1 AND label LIKE 'traffic-%'", [key])).rows.map((r) => r.label));
  t.same(committed.filter((l) => !stored.has(l)), [], `no acknowledged write lost (${committed.length} acknowledged)`);
  // Both replicas reconnected: a write through one is served by the other.
  // (A replica that lost its copy during the outage reloads it whole; an HNSW
  // graph built in another order may rank near-ties differently, so this
  // compares what was written rather than whole answers.)
  const probe = 'product_demo/query/daoxiangcunjinzhubing_6.jpg';
  const late = await post(A, '/shitu-index-add', { indexKey: key, imageLabelPairs: [{ image: b64(probe), label: 'after-restart' }] });
  t.equal(late.status, 200, late.body.errorMsg);
  const top1 = async (r: Replica) => JSON.parse(await answer(r, key, probe)).map((o: any) => o.recResults[0]?.label);
  t.match(await top1(A), ['after-restart'], 'the writer serves its write');
  const t0 = Date.now();
  while (JSON.stringify(await top1(B)) !== JSON.stringify(await top1(A)) && Date.now() - t0 < 15000) await new Promise((r) => setTimeout(r, 50));
  t.same(await top1(B), await top1(A), 'B caught up with what A wrote after the restart');
});

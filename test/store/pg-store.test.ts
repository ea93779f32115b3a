// The PostgreSQL + pgvector index store as a library (lib/store/postgres/):
// what is stored comes back bit for bit, two stores (two replicas) see each
// other's writes, ids stay unique under concurrent writers, `search: pgvector`
// answers like FAISS on a few thousand vectors, the migration command copies
// file indexes (this package's and PaddleX's layouts), bad input is refused
// with a code, and an unreachable database is ERR_STORE_UNAVAILABLE, not a hang.
// A real PostgreSQL 15 + pgvector cluster started by the test (test/helpers/postgres.ts).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import pg from 'pg';
import { IndexData, MetricType } from '../../lib/vector-index/index-data';
import { PgIndexStore } from '../../lib/store/postgres/pg-index-store';
import { openIndex } from '../../lib/store/open';
import { ShituError } from '../../lib/errors';
import { freePort, startCluster, TestCluster } from '../helpers/postgres';
import { unitVectors } from '../../bench/lib/util';


async function indexOf(n: number, dim: number, type: 'Flat' | 'HNSW32' | 'IVF', metric: MetricType, seed = 1): Promise<IndexData> {
  const index = IndexData.create(dim, type, metric);
  await index.add(unitVectors(n, dim, seed), Array.from({ length: n }, (_, i) => `label-${i % 97}`));
  return index;
}

let cluster: TestCluster;
t.before(async () => { cluster = await startCluster(); });
t.teardown(() => cluster?.destroy());

t.test('an index stored in PostgreSQL comes back whole in another store, and follows its writes', async (t) => {
  const a = new PgIndexStore(cluster.url);
  const b = new PgIndexStore(cluster.url);
  t.teardown(async () => { await a.close(); await b.close(); });
  const index = await indexOf(200, 32, 'HNSW32', 'IP');
  await index.remove([3, 4]);
  const key = await a.create(index);
  const copy = await b.get(key);
  t.same(copy.idMapEntries, index.idMapEntries, 'same ids and labels');
  t.equal(copy.nextId, 200, 'next_id kept: removed ids are not reused');
  t.equal(copy.indexType, 'HNSW32');
  t.equal(copy.metricType, 'IP');
  const q = unitVectors(5, 32, 99);
  t.same(await copy.search(q, 5), await index.search(q, 5), 'identical search results');
  t.same(Array.from(copy.native.reconstruct(10)), Array.from(index.native.reconstruct(10)), 'vectors round-trip bit for bit');

  // A write through a commits before it answers; b's copy follows from the change feed.
  const added = await a.append(key, (ix) => ix.add(unitVectors(2, 32, 7), ['new-a', 'new-b']));
  t.same(added.slice(-2), [[200, 'new-a'], [201, 'new-b']], 'ids follow next_id');
  const t0 = Date.now();
  while ((await b.get(key)).labelOf(201) !== 'new-b' && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 5));
  t.equal((await b.get(key)).labelOf(201), 'new-b', 'the other store serves the add');
  t.equal(copy.count, 200, 'updated in place (the same in-process copy), not reloaded');
  await b.remove(key, [200]);
  t.equal((await b.get(key)).labelOf(200), undefined, 'read your writes: the remover no longer has it');
  const t1 = Date.now();
  while ((await a.get(key)).labelOf(200) !== undefined && Date.now() - t1 < 10000) await new Promise((r) => setTimeout(r, 5));
  t.equal((await a.get(key)).labelOf(200), undefined, 'and the other store follows');
  t.same((await a.list()).map((e) => e.indexKey), [key]);
  t.same(await b.idMap(key), (await a.get(key)).idMapEntries);
});

t.test('concurrent writers through several stores get unique ids, never reused', async (t) => {
  const stores = [0, 1, 2, 3].map(() => new PgIndexStore(cluster.url));
  t.teardown(async () => { for (const s of stores) await s.close(); });
  const key = await stores[0].create(await indexOf(10, 16, 'Flat', 'L2'));
  const per = 6;
  const results = await Promise.all(Array.from({ length: 8 }, (_, client) => (async () => {
    const mine: any[] = [];
    for (let j = 0; j < per; j++) {
      const label = `c${client}-${j}`;
      await stores[(client + j) % stores.length].append(key, (ix) => ix.add(unitVectors(1, 16, client * 100 + j), [label]));
      mine.push(label);
    }
    return mine;
  })()));
  // The database's truth, read by a store that has no cached copy.
  const fresh = new PgIndexStore(cluster.url);
  const final = await fresh.idMap(key);
  await fresh.close();
  const ids = final.map(([id]) => id);
  t.equal(new Set(ids).size, ids.length, 'ids unique');
  t.same(ids, Array.from({ length: 10 + 8 * per }, (_, i) => i), 'exactly the ids 0..n-1, none skipped or reused');
  const labels = final.map(([, l]) => l);
  for (const mine of results) for (const l of mine) t.equal(labels.filter((x) => x === l).length, 1, `${l} stored once`);
  for (const s of stores) {
    const t0 = Date.now();
    while ((await s.get(key)).count !== 10 + 8 * per && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 5));
    t.same((await s.get(key)).idMapEntries, final, 'every store converges to the same index');
  }
});

t.test('search: pgvector answers like FAISS (same metrics, same scores)', async (t) => {
  const store = new PgIndexStore(cluster.url, { search: 'pgvector' });
  t.teardown(() => store.close());
  const n = 3000, dim = 64, k = 5;
  const queries = unitVectors(40, dim, 4242);
  for (const metric of ['IP', 'L2'] as MetricType[]) {
    const flat = await indexOf(n, dim, 'Flat', metric, 11);
    const exact = await flat.search(queries, k);
    const flatKey = await store.create(flat);
    t.equal(await store.searchModeOf(flatKey), 'pgvector');
    await t.rejects(store.get(flatKey), { code: 'ERR_INDEX_UNSUPPORTED' }, 'no in-process copy in pgvector mode');
    const db = await store.searchIndex(flatKey, queries, k);
    t.same(db.map((r) => r.map((h) => h.id)), exact.map((r) => r.map((h) => h.id)), `${metric} Flat: the same neighbours as FAISS`);
    const maxDiff = Math.max(...db.flatMap((r, q) => r.map((h, j) => Math.abs(h.score - exact[q][j].score))));
    t.ok(maxDiff < 1e-4, `${metric} Flat: the same scores (max difference ${maxDiff})`);
    t.same(db[0].map((h) => h.label), exact[0].map((h) => h.label), 'labels');

    const hnsw = await indexOf(n, dim, 'HNSW32', metric, 11);
    const hnswKey = await store.create(hnsw);
    const approx = await store.searchIndex(hnswKey, queries, k, { efSearch: 64 });
    let hit = 0;
    approx.forEach((r, q) => { const truth = new Set(exact[q].map((h) => h.id)); hit += r.filter((h) => truth.has(h.id)).length; });
    const recall = hit / (queries.length / dim * k);
    t.ok(recall >= 0.9, `${metric} HNSW (pgvector hnsw index): recall@5 ${recall.toFixed(3)} against exact search`);
    const plan = await (store as any).db.pool.query(`EXPLAIN SELECT id FROM shitu_vector WHERE index_key = '${hnswKey}' ORDER BY embedding::vector(${dim}) ${metric === 'IP' ? '<#>' : '<->'} '[${new Array(dim).fill(0.1).join(',')}]'::vector(${dim}) LIMIT 5`);
    t.match(plan.rows.map((r: any) => r['QUERY PLAN']).join('\n'), /shitu_ann_/, 'the query uses the pgvector index');
    // Writes keep working in pgvector mode.
    await store.append(hnswKey, (ix) => ix.add(queries.subarray(0, dim), ['the-query']));
    const found = await store.searchIndex(hnswKey, queries.subarray(0, dim), 1);
    t.equal(found[0][0].label, 'the-query', 'an added entry is searchable at once');
  }
});

t.test('migrate-index copies this package\'s and PaddleX\'s layouts; running it again skips them', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-migrate-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const own = await indexOf(50, 16, 'HNSW32', 'IP', 5);
  await own.remove([0]);
  const ownKey = '0b6c2a52-6a3f-4d1e-9a51-1d2f3e4a5b6c';
  await own.save(path.join(dir, 'indexes', ownKey));
  const paddlex = await indexOf(30, 16, 'Flat', 'L2', 6);
  const pxDir = path.join(dir, 'paddlex_index');
  await paddlex.save(pxDir);
  const meta = YAML.parse(fs.readFileSync(path.join(pxDir, 'id_map.yaml'), 'utf8'));
  fs.rmSync(path.join(pxDir, 'id_map.yaml'));
  fs.writeFileSync(path.join(pxDir, 'index_info.yaml'), YAML.stringify({ index_type: 'Flat', metric_type: 'L2', id_map: meta.id_map }));
  const cli = path.resolve(__dirname, '../../dist/lib/cli/main.js');
  const run = () => execFileSync(process.execPath, [cli, 'migrate-index', path.join(dir, 'indexes'), pxDir, '--to', cluster.url], { encoding: 'utf8', timeout: 120000 });
  const out = run();
  t.match(out, new RegExp(`${ownKey} \\(49 entries\\)`), 'a serve --index-dir keeps its keys');
  const pxKey = /paddlex_index -> ([0-9a-f-]{36})/.exec(out)![1];
  const store = new PgIndexStore(cluster.url);
  t.teardown(() => store.close());
  const a = await store.get(ownKey);
  t.same(a.idMapEntries, own.idMapEntries);
  t.equal(a.nextId, 50, 'next_id migrated');
  const q = unitVectors(3, 16, 1234);
  t.same(await a.search(q, 3), await own.search(q, 3));
  const b = await store.get(pxKey);
  t.same(b.idMapEntries, paddlex.idMapEntries);
  t.equal(b.metricType, 'L2');
  t.same(await b.search(q, 3), await paddlex.search(q, 3));
  t.match(run(), /already in the database: skipped/, 'idempotent');
  t.throws(() => execFileSync(process.execPath, [cli, 'migrate-index', path.join(dir, 'nowhere'), '--to', cluster.url], { encoding: 'utf8', stdio: 'pipe' }),
    /ERR_INDEX_IO/, 'a missing source is a coded error');
});

t.test('bad input and an unreachable database are coded errors', async (t) => {
  t.throws(() => new PgIndexStore('postgresql://x@127.0.0.1:1/db?search=elsewhere'), { code: 'ERR_CONFIG' });
  const store = new PgIndexStore(cluster.url);
  t.teardown(() => store.close());
  await t.rejects(store.get('not-a-key'), { code: 'ERR_VALIDATION', details: { field: 'indexKey' } });
  await t.rejects(store.get('00000000-0000-4000-8000-000000000000'), { code: 'ERR_INDEX_NOT_FOUND' });
  const key = await store.create(await indexOf(5, 8, 'Flat', 'IP'));
  await t.rejects(store.remove(key, [3, 99]), { code: 'ERR_INDEX_ID', details: [99] }, 'unknown ids: nothing removed');
  t.equal((await store.idMap(key)).length, 5);
  await t.rejects(store.remove(key, [1.5]), { name: 'TypeError' });
  await t.rejects(store.create(await indexOf(5, 8, 'Flat', 'IP'), key), { code: 'ERR_INDEX_IO' }, 'a key that exists is not overwritten');

  const port = await freePort();
  const down = new PgIndexStore(`postgresql://postgres@127.0.0.1:${port}/postgres`, { reconnectWaitMs: 300 });
  t.teardown(() => down.close());
  const t0 = Date.now();
  const err = await down.get(key).then(() => null, (e: unknown) => e);
  t.ok(err instanceof ShituError, 'a ShituError');
  t.equal((err as ShituError).code, 'ERR_STORE_UNAVAILABLE');
  t.match((err as Error).message, /unavailable: .*(ECONNREFUSED|connect)/, 'names the cause');
  t.ok(Date.now() - t0 < 30000, 'fails instead of hanging');

  const { index, store: s2 } = await openIndex(cluster.url, key);
  t.equal(index.count, 5, 'openIndex(url, key): one call for library users');
  await s2.close();
});

t.test('the HTTP service answers /shitu-infer on a search: pgvector index like on an in-process one', async (t) => {
  const { createPipeline } = require('../../lib/pipeline/pipeline') as typeof import('../../lib/pipeline/pipeline');
  const { createServer } = require('../../lib/server/app') as typeof import('../../lib/server/app');
  const { img, STANDIN_CONFIG } = require('../helpers/shared') as typeof import('../helpers/shared');
  const pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 });
  t.teardown(() => pipeline.close());
  const b64 = (p: string) => fs.readFileSync(img(p)).toString('base64');
  const pairs = [
    ['product_demo/gallery/anmuxi/001.jpg', 'anmuxi'], ['drink_test_images/mosilian.jpeg', 'mosilian'],
    ['drink_test_images/nongfu_spring.jpeg', 'nongfu_spring'], ['drink_test_images/youjia.jpeg', 'youjia'],
  ].map(([p, label]) => ({ image: b64(p), label }));
  const answers: any[][] = [];
  for (const indexStore of [cluster.url, `${cluster.url}?search=pgvector`]) {
    const app = createServer(pipeline, { indexStore });
    t.teardown(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as import('node:net').AddressInfo).port}`;
    const post = async (route: string, body: unknown) => (await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<any>;
    const built = await post('/shitu-index-build', { imageLabelPairs: pairs, indexType: 'Flat', metricType: 'IP' });
    t.equal(built.errorCode, 0, built.errorMsg);
    const added = await post('/shitu-index-add', { indexKey: built.result.indexKey, imageLabelPairs: [{ image: b64('product_demo/gallery/anmuxi/002.jpg'), label: 'anmuxi' }] });
    t.same(added.result.idMap, { 0: 'anmuxi', 1: 'mosilian', 2: 'nongfu_spring', 3: 'youjia', 4: 'anmuxi' });
    const removed = await post('/shitu-index-remove', { indexKey: built.result.indexKey, ids: [1] });
    t.equal(removed.errorCode, 0, removed.errorMsg);
    const mine: any[] = [];
    for (const q of ['product_demo/query/anmuxi.jpg', 'drink_test_images/100.jpeg', 'drink_test_images/mosilian.jpeg']) {
      const r = await post('/shitu-infer', { image: b64(q), indexKey: built.result.indexKey, returnImage: false });
      t.equal(r.errorCode, 0, r.errorMsg);
      mine.push(r.result.detectedObjects);
    }
    answers.push(mine);
  }
  const shape = (a: any[]) => a.map((objs) => objs.map((o: any) => ({ bbox: o.bbox, labels: o.recResults.map((x: any) => x.label) })));
  t.same(shape(answers[1]), shape(answers[0]), 'the same boxes and labels, in the same order, from pgvector as from FAISS');
  const scores = (a: any[]) => a.flat().flatMap((o: any) => o.recResults.map((x: any) => x.score));
  const diff = Math.max(...scores(answers[1]).map((x: number, i: number) => Math.abs(x - scores(answers[0])[i])));
  t.ok(diff < 1e-4, `the same scores (max difference ${diff})`);
  t.notMatch(JSON.stringify(answers[1]), /mosilian/, 'removed entries are not found');
});

t.test('the database going away under load: coded errors only, then the store recovers by itself', async (t) => {
  const store = new PgIndexStore(cluster.url, { reconnectWaitMs: 500 });
  t.teardown(() => store.close());
  const key = await store.create(await indexOf(300, 16, 'Flat', 'IP'), undefined, { search: 'pgvector' });
  const codes = new Map<string, number>();
  let stop = false;
  const q = unitVectors(4, 16, 77);
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      // Multi-statement work (searches in a transaction, writes) leaves connections
      // checked out between statements when the server goes away.
      const op = w % 2 ? store.searchIndex(key, q, 5) : store.append(key, (ix) => ix.add(unitVectors(1, 16, w * 1000 + i), [`w${w}-${i}`]));
      const code = await op.then(() => 'ok', (e) => (e as { code?: string }).code ?? `uncoded: ${(e as Error).message}`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (code !== 'ok') await new Promise((r) => setTimeout(r, 50));
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  await new Promise((r) => setTimeout(r, 500));
  cluster.stop();
  await new Promise((r) => setTimeout(r, 1500));
  cluster.start();
  const t0 = Date.now();
  while (Date.now() - t0 < 20000 && (await store.searchIndex(key, q, 5).then(() => false, () => true))) await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await Promise.all(workers);
  t.same([...codes.keys()].filter((c) => c !== 'ok' && c !== 'ERR_STORE_UNAVAILABLE'), [], `only successes and ERR_STORE_UNAVAILABLE (${JSON.stringify([...codes])})`);
  t.ok((codes.get('ERR_STORE_UNAVAILABLE') ?? 0) > 0, 'the outage was noticed');
  const hits = await store.searchIndex(key, q, 5);
  t.equal(hits.length, 4, 'searches work again after the restart');
  const more = await store.append(key, (ix) => ix.add(unitVectors(1, 16, 5), ['after']));
  t.equal(more[more.length - 1][1], 'after', 'and writes');
});

t.test('a change feed that goes silent (its server process frozen) is noticed and replaced', async (t) => {
  const a = new PgIndexStore(cluster.url);
  const b = new PgIndexStore(cluster.url);
  t.teardown(async () => { await a.close(); await b.close(); });
  const key = await a.create(await indexOf(20, 8, 'Flat', 'IP'));
  await b.get(key);
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  t.teardown(() => admin.end());
  const port = (b as any).feed.client.connection.stream.localPort;
  const { pid } = (await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'shitu-change-feed' AND client_port = $1", [port])).rows[0];
  process.kill(pid, 'SIGSTOP'); // the connection stays open, nothing comes through it
  t.teardown(() => { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } });
  await a.append(key, (ix) => ix.add(unitVectors(1, 8, 3), ['while-frozen']));
  const t0 = Date.now();
  let seen = false;
  while (!seen && Date.now() - t0 < 20000) {
    seen = await b.get(key).then((ix) => ix.labelOf(20) === 'while-frozen', () => false);
    if (!seen) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(seen, `b reconnected and caught up (${Date.now() - t0} ms)`);
});

t.test('a replica further behind than the kept changes reloads the index whole', async (t) => {
  const a = new PgIndexStore(cluster.url, { keepChanges: 3 });
  const b = new PgIndexStore(cluster.url);
  t.teardown(async () => { await a.close(); await b.close(); });
  const key = await a.create(await indexOf(10, 8, 'Flat', 'IP'));
  const before = await b.get(key);
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  t.teardown(() => admin.end());
  const port = (b as any).feed.client.connection.stream.localPort;
  const { pid } = (await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'shitu-change-feed' AND client_port = $1", [port])).rows[0];
  process.kill(pid, 'SIGSTOP'); // b hears nothing while a writes
  t.teardown(() => { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } });
  for (let i = 0; i < 6; i++) await a.append(key, (ix) => ix.add(unitVectors(1, 8, 100 + i), [`late-${i}`]));
  await a.remove(key, [0]);
  const kept = (await admin.query('SELECT version FROM shitu_change WHERE index_key = $1 ORDER BY version', [key])).rows.map((r) => Number(r.version));
  t.same(kept, [6, 7, 8], 'only the last 3 changes are kept');
  const t0 = Date.now();
  let now = before;
  while (Date.now() - t0 < 20000) {
    now = await b.get(key).catch(() => before);
    if (now.count === 15) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.not(now, before, 'reloaded whole (a new in-process copy)');
  t.same(now.idMapEntries, (await a.get(key)).idMapEntries, 'and identical to the writer\'s');
});

t.test('IVF copies loaded at different times keep the centroids the index was built with', async (t) => {
  const a = new PgIndexStore(cluster.url);
  t.teardown(() => a.close());
  const built = IndexData.create(16, 'IVF', 'IP');
  await built.add(unitVectors(400, 16, 21), Array.from({ length: 400 }, (_, i) => `i${i}`));
  const key = await a.create(built);
  await a.append(key, (ix) => ix.add(unitVectors(300, 16, 22), Array.from({ length: 300 }, (_, i) => `j${i}`)));
  await a.remove(key, [5, 6, 7]);
  const b = new PgIndexStore(cluster.url); // loads the index whole, after those writes
  t.teardown(() => b.close());
  const q = unitVectors(60, 16, 23);
  const want = await (await a.get(key)).search(q, 5);
  t.same(await (await b.get(key)).search(q, 5), want, 'the same lists: identical IVF answers (nprobe 1)');
});

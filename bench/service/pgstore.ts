// The PostgreSQL index store: `node dist/bench/service/pgstore.js [--quick] [--vectors N] [--dim D]`.
//  1. /shitu-infer latency with the PostgreSQL store against the file store
//     (searches stay in process: they should be equal);
//  2. propagation delay: a write through one replica until another replica's
//     in-process copy (a separate process) holds it;
//  3. `search: pgvector` (pgvector HNSW in the database) against in-process
//     FAISS HNSW32: latency and recall@5 against exact search.
// Starts its own PostgreSQL cluster (as the tests do) and removes it after.
// Writes bench/results/pgstore.json and replaces only its own section of
// bench/REPORT.md (between the pgstore markers).
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { IndexData } from '../../lib/vector-index/index-data';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { PgIndexStore } from '../../lib/store/postgres/pg-index-store';
import { startCluster } from '../../test/helpers/postgres';
import { BENCH_DIR, fmt, galleryEntries, IMAGES, log, machine, now, STANDIN_CONFIG, stats, Stats, writeJson, unitVectors } from '../lib/util';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const quick = process.argv.includes('--quick');
const N_VECTORS = arg('--vectors', quick ? 5000 : 100000);
const DIM = arg('--dim', 128);
const N_QUERIES = quick ? 50 : 200;
const N_INFER = quick ? 40 : 150;
const N_PROPAGATION = quick ? 50 : 200;


/**
 * Gallery-like vectors: n/20 "products" (random unit centres), each entry a
 * noisy view of one (noise norm about 0.5); queries are fresh noisy views of
 * gallery entries (noise norm about 0.3), like a new photo of a known product.
 */
function clustered(n: number, dim: number, seed: number, centres: Float32Array, noise: number): Float32Array {
  const c = centres.length / dim;
  const jitter = unitVectors(n, dim, seed);
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const k = (i * 7919) % c;
    let norm = 0;
    for (let j = 0; j < dim; j++) { const x = centres[k * dim + j] + noise * jitter[i * dim + j]; v[i * dim + j] = x; norm += x * x; }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) v[i * dim + j] /= norm;
  }
  return v;
}

/** Both stores' servers over one pipeline, requests alternating between them so that machine load hits both alike. */
async function inferLatency(url: string): Promise<Record<string, Stats>> {
  const pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1 });
  const gallery = galleryEntries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-bench-files-'));
  const out: Record<string, Stats> = {};
  try {
    const servers: Array<{ name: string; base: string; bodies: string[]; ms: number[]; close: () => Promise<unknown> }> = [];
    for (const [name, opts] of [['file store', { indexDir: dir }], ['PostgreSQL store', { indexStore: url }]] as const) {
      const app = createServer(pipeline, { ...opts, maxConcurrent: 1 });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const post = async (route: string, body: unknown) => (await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<any>;
      const built = await post('/shitu-index-build', { imageLabelPairs: gallery.map((g) => ({ image: fs.readFileSync(g.image).toString('base64'), label: g.label })), indexType: 'HNSW32' });
      const key = built.result.indexKey;
      const bodies = IMAGES.map((p) => JSON.stringify({ image: fs.readFileSync(p).toString('base64'), indexKey: key, returnImage: false }));
      servers.push({ name, base, bodies, ms: [], close: () => app.close() });
    }
    const once = async (s: (typeof servers)[number], i: number) => {
      const t0 = now();
      const r = await fetch(s.base + '/shitu-infer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: s.bodies[i % s.bodies.length] });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`infer: ${r.status}`);
      return now() - t0;
    };
    for (let i = 0; i < 8; i++) for (const s of servers) await once(s, i);
    for (let i = 0; i < N_INFER; i++) {
      const order = i % 2 ? [...servers].reverse() : servers;
      for (const s of order) s.ms.push(await once(s, i));
    }
    for (const s of servers) {
      out[s.name] = stats(s.ms);
      log(`${s.name}: /shitu-infer p50 ${fmt(out[s.name].p50)} ms p99 ${fmt(out[s.name].p99)} ms`);
      await s.close();
    }
  } finally {
    await pipeline.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function propagation(url: string): Promise<Stats> {
  const writer = new PgIndexStore(url);
  const dim = 512;
  const base = IndexData.create(dim, 'HNSW32', 'IP');
  await base.add(unitVectors(100, dim, 1), Array.from({ length: 100 }, (_, i) => `g${i}`));
  const key = await writer.create(base);
  const follower = fork(path.join(__dirname, '..', 'lib', 'pgstore-follower.js'), [url, key], { stdio: 'inherit' });
  const waiting = new Map<number, (seenAt: number) => void>();
  await new Promise<void>((resolve) => follower.on('message', (m: any) => {
    if (m.ready) resolve();
    else waiting.get(m.id)?.(m.seenAt);
  }));
  const delays: number[] = [];
  for (let i = 0; i < N_PROPAGATION; i++) {
    const id = 100 + i;
    const seen = new Promise<number>((r) => waiting.set(id, r));
    follower.send({ watch: id });
    await writer.append(key, (ix) => ix.add(unitVectors(1, dim, 1000 + i), [`new${i}`]));
    const answeredAt = performance.timeOrigin + performance.now();
    delays.push(Math.max(0, (await seen) - answeredAt));
  }
  follower.send({ stop: true });
  await writer.close();
  const s = stats(delays);
  log(`propagation (writer answered -> other replica serves it): p50 ${fmt(s.p50)} ms p99 ${fmt(s.p99)} ms max ${fmt(s.max)} ms`);
  return s;
}

async function pgvectorSearch(url: string) {
  log(`pgvector vs FAISS: ${N_VECTORS} vectors of ${DIM} dimensions, ${N_QUERIES} queries`);
  const centres = unitVectors(Math.max(1, Math.round(N_VECTORS / 20)), DIM, 3);
  const vectors = clustered(N_VECTORS, DIM, 7, centres, 0.5 / Math.sqrt(DIM / 12));
  const labels = Array.from({ length: N_VECTORS }, (_, i) => `v${i}`);
  const queries = clustered(N_QUERIES, DIM, 99, centres, 0.3 / Math.sqrt(DIM / 12));
  const exact = IndexData.create(DIM, 'Flat', 'IP');
  await exact.add(vectors, labels);
  const truth = await exact.search(queries, 5);
  let t0 = now();
  const faiss = IndexData.create(DIM, 'HNSW32', 'IP');
  await faiss.add(vectors, labels);
  const faissBuildS = (now() - t0) / 1000;
  // A replica's start-up with this gallery: the whole index read from the database into a FAISS copy.
  const writer = new PgIndexStore(url);
  t0 = now();
  const copyKey = await writer.create(faiss);
  const faissStoreS = (now() - t0) / 1000;
  await writer.close();
  const reader = new PgIndexStore(url);
  t0 = now();
  await reader.get(copyKey);
  const loadWholeS = (now() - t0) / 1000;
  await reader.close();
  log(`store ${N_VECTORS} entries (faiss mode): ${fmt(faissStoreS, 1)} s; a fresh replica loads them into its FAISS copy in ${fmt(loadWholeS, 1)} s`);
  const store = new PgIndexStore(url, { search: 'pgvector' });
  t0 = now();
  const key = await store.create(faiss);
  const pgBuildS = (now() - t0) / 1000;
  const recall = (res: Array<Array<{ id: number }>>) => {
    let hit = 0;
    res.forEach((r, q) => { const s = new Set(truth[q].map((h) => h.id)); hit += r.filter((h) => s.has(h.id)).length; });
    return hit / (N_QUERIES * 5);
  };
  const rows: Array<{ engine: string; setting: string; recall: number; latency: Stats }> = [];
  for (const ef of [16, 40, 100]) {
    const ms: number[] = [];
    const res = [];
    for (let q = 0; q < N_QUERIES; q++) {
      const v = queries.subarray(q * DIM, (q + 1) * DIM);
      const t = now();
      res.push((await faiss.native.search(v, 5, { efSearch: ef })) as { ids: BigInt64Array });
      ms.push(now() - t);
    }
    rows.push({ engine: 'FAISS HNSW32 (in process)', setting: `efSearch ${ef}`, recall: recall(res.map((r) => Array.from(r.ids, (id) => ({ id: Number(id) })))), latency: stats(ms) });
  }
  for (const ef of [40, 100]) {
    const ms: number[] = [];
    const res = [];
    for (let q = 0; q < N_QUERIES; q++) {
      const v = queries.subarray(q * DIM, (q + 1) * DIM);
      const t = now();
      res.push((await store.searchIndex(key, v, 5, { efSearch: ef }))[0]);
      ms.push(now() - t);
    }
    rows.push({ engine: 'pgvector HNSW (in PostgreSQL)', setting: `ef_search ${ef}`, recall: recall(res), latency: stats(ms) });
  }
  await store.close();
  for (const r of rows) log(`${r.engine} ${r.setting}: recall@5 ${fmt(r.recall, 3)} p50 ${fmt(r.latency.p50)} ms p99 ${fmt(r.latency.p99)} ms`);
  return { vectors: N_VECTORS, dim: DIM, queries: N_QUERIES, faissBuildS, pgBuildS, faissStoreS, loadWholeS, rows };
}

function report(r: { infer: Record<string, Stats>; propagation: Stats; search: Awaited<ReturnType<typeof pgvectorSearch>>; machine: unknown }): string {
  const m = r.machine as { cores: number };
  const lines = [
    '<!-- pgstore:begin -->',
    '## 8. PostgreSQL index store (replicas)',
    '',
    `\`node dist/bench/service/pgstore.js\` (${new Date().toISOString().slice(0, 10)}, ${m.cores} cores shared with other work; PostgreSQL 15 + pgvector 0.8.0 on 127.0.0.1, fsync off as in the tests).`,
    '',
    '**/shitu-infer latency** (one request at a time, stand-in models, HNSW32 gallery of the product demo): searches stay in process with either store.',
    '',
    '| store | n | p50 ms | p99 ms | mean ms |',
    '|---|---|---|---|---|',
    ...Object.entries(r.infer).map(([k, s]) => `| ${k} | ${s.n} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.mean)} |`),
    '',
    `**Propagation**: from the writing replica's answer to another replica (a separate process) holding the entry in its FAISS copy (0 when it had it before the writer answered), ${r.propagation.n} single-entry adds: p50 ${fmt(r.propagation.p50)} ms, p99 ${fmt(r.propagation.p99)} ms, max ${fmt(r.propagation.max)} ms (the guarantee is 1 s).`,
    '',
    `**search: pgvector** against in-process FAISS HNSW32: ${r.search.vectors} synthetic gallery vectors of ${r.search.dim} dimensions (IP; ${Math.round(r.search.vectors / 20)} random "products", each entry a noisy view of one; queries are new noisy views), ${r.search.queries} queries, recall@5 against exact (Flat) search. Build: FAISS ${fmt(r.search.faissBuildS, 1)} s; PostgreSQL (insert + pgvector HNSW m 16, ef_construction 64) ${fmt(r.search.pgBuildS, 1)} s. The same gallery in the default mode (search in process): stored in ${fmt(r.search.faissStoreS, 1)} s, and a replica starting up loads it whole into its FAISS copy in ${fmt(r.search.loadWholeS, 1)} s.`,
    '',
    '| engine | setting | recall@5 | p50 ms | p99 ms |',
    '|---|---|---|---|---|',
    ...r.search.rows.map((x) => `| ${x.engine} | ${x.setting} | ${fmt(x.recall, 3)} | ${fmt(x.latency.p50)} | ${fmt(x.latency.p99)} |`),
    '',
    '<!-- pgstore:end -->',
  ];
  return lines.join('\n');
}

async function main() {
  const cluster = await startCluster();
  try {
    // pgvector builds HNSW fastest when the graph fits in maintenance_work_mem.
    const pg = require('pg') as typeof import('pg');
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query("ALTER SYSTEM SET maintenance_work_mem = '1GB'");
    await admin.query('SELECT pg_reload_conf()');
    await admin.end();
    const infer = await inferLatency(cluster.url);
    const prop = await propagation(cluster.url);
    const search = await pgvectorSearch(cluster.url);
    const result = { infer, propagation: prop, search, machine: machine() };
    writeJson('pgstore.json', result);
    const reportPath = path.join(BENCH_DIR, 'REPORT.md');
    const section = report(result);
    let md = fs.readFileSync(reportPath, 'utf8');
    const re = /<!-- pgstore:begin -->[\s\S]*<!-- pgstore:end -->/;
    if (re.test(md)) md = md.replace(re, section);
    else {
      const at = md.indexOf('\n## Reproduce');
      md = at >= 0 ? `${md.slice(0, at)}\n${section}\n${md.slice(at)}` : `${md}\n${section}\n`;
    }
    fs.writeFileSync(reportPath, md);
    log(`wrote ${reportPath}`);
  } finally {
    cluster.destroy();
  }
}
main().catch((e) => { console.error(e); process.exit(1); });

// The index stores' idempotency keys below the service (lib/store/idempotency/):
// on a directory, a claim whose process died is taken over at once, and one
// whose write was saved before its process died is reported 'unanswered' (the
// write is not made twice); expired records and dead processes' temporary
// files are pruned. In PostgreSQL, a claim past its lease is taken over and the
// first request's write, should it still come, rolls back: one of the two
// commits, never both.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileIndexStore } from '../../lib/store/file-store';
import { PgIndexStore } from '../../lib/store/postgres/pg-index-store';
import type { IdempotencyClaim, IdempotentWrite } from '../../lib/store/idempotency/keys';
import { IndexData } from '../../lib/vector-index/index-data';
import { startCluster, TestCluster } from '../helpers/postgres';

const DIM = 4;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-idem-keys-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const O = { ttlMs: 60_000, leaseMs: 60_000 };
const vec = () => Float32Array.from({ length: DIM }, () => Math.random());
const deadPid = () => spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;

async function indexWith(labels: string[]): Promise<IndexData> {
  const index = IndexData.create(DIM, 'Flat', 'IP');
  await index.add(Float32Array.from({ length: labels.length * DIM }, () => Math.random()), labels);
  return index;
}
const writeOf = (claim: IdempotencyClaim): IdempotentWrite => ({ claim, answer: (idMap) => ({ status: 200, body: JSON.stringify(idMap) }) });

/** The record file of the one key in the directory, rewritten as if its process were `pid`. */
function pretendHolder(dir: string, pid: string): void {
  const d = path.join(dir, '.idempotency');
  const file = fs.readdirSync(d).find((n) => n.endsWith('.json'))!;
  const rec = JSON.parse(fs.readFileSync(path.join(d, file), 'utf8'));
  fs.writeFileSync(path.join(d, file), JSON.stringify({ ...rec, pid: Number(pid) }));
}

t.test('directory: a claim whose process died before writing is taken over; one that died after its save is unanswered', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'f-'));
  const store = new FileIndexStore(dir);
  const keys = store.idempotency();
  const indexKey = await store.create(await indexWith(['a']));
  const scope = { owner: 'o', key: 'k1', requestHash: 'h1' };
  const first = await keys.claim(scope, { ...O, target: indexKey });
  t.equal(first.state, 'claimed');
  t.equal((await keys.claim(scope, { ...O, target: indexKey })).state, 'in-flight', 'its process is alive: in flight');
  t.equal((await keys.claim({ ...scope, requestHash: 'other' }, O)).state, 'mismatch');
  pretendHolder(dir, deadPid());
  const second = await keys.claim(scope, { ...O, target: indexKey });
  t.equal(second.state, 'claimed', 'died before writing: the retry writes');
  // The first request wakes up late (as if its process were not dead after all): fenced off by its lost claim.
  const late = store.append(indexKey, (index) => index.add(vec(), ['late']), { idempotency: writeOf((first as { claim: IdempotencyClaim }).claim) });
  await t.rejects(late, { code: 'ERR_IDEMPOTENCY_IN_FLIGHT' });
  t.same((await IndexData.load(path.join(dir, indexKey))).idMapEntries.map(([, l]) => l), ['a'], 'it wrote nothing');

  // The second writes; its process dies before recording the answer (simulated: complete fails).
  const claim = (second as { claim: IdempotencyClaim }).claim;
  const dying: IdempotencyClaim = { ...claim, complete: async () => { throw new Error('killed'); } };
  const w = writeOf(dying);
  await store.append(indexKey, (index) => index.add(vec(), ['b']), { idempotency: w });
  t.ok(w.committed && !w.recorded, 'saved, its answer not recorded (the write does not fail for that)');
  pretendHolder(dir, deadPid());
  const third = await keys.claim(scope, { ...O, target: indexKey });
  t.equal(third.state, 'unanswered', 'the retry learns that the write happened');
  t.same((await IndexData.load(path.join(dir, indexKey))).idMapEntries.map(([, l]) => l), ['a', 'b'], 'and it happened once');
  await (third as { claim: IdempotencyClaim }).claim.complete({ status: 200, body: 'rebuilt' });
  const fourth = await keys.claim(scope, { ...O, target: indexKey });
  t.same(fourth, { state: 'replay', answer: { status: 200, body: 'rebuilt' } });
  await store.close();
});

t.test('directory: expired records and dead processes\' temporary files are pruned', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'p-'));
  const store = new FileIndexStore(dir);
  const keys = store.idempotency() as import('../../lib/store/idempotency/file-keys').FileIdempotencyKeys;
  const r = await keys.claim({ owner: 'o', key: 'gone', requestHash: 'h' }, { ttlMs: 50, leaseMs: 50 });
  t.equal(r.state, 'claimed');
  await (r as { claim: IdempotencyClaim }).claim.complete({ status: 200, body: '{}' });
  const kept = await keys.claim({ owner: 'o', key: 'kept', requestHash: 'h' }, O);
  t.equal(kept.state, 'claimed');
  fs.writeFileSync(path.join(keys.dir, `x.json.tmp-${deadPid()}-abcdef`), '{');
  await new Promise((res) => setTimeout(res, 100));
  const removed = await keys.pruneNow();
  t.equal(removed.length, 2, 'the expired record and the dead temporary file');
  t.equal(fs.readdirSync(keys.dir).filter((n) => n.endsWith('.json')).length, 1, 'the live record stays');
  await store.close();
});

t.test('PostgreSQL: a claim past its lease is taken over; the first request\'s late write rolls back', async (t) => {
  const cluster: TestCluster = await startCluster();
  t.teardown(() => cluster.destroy());
  const store = new PgIndexStore(cluster.url, { reconnectWaitMs: 10000 });
  t.teardown(() => store.close());
  const keys = store.idempotency();
  const indexKey = await store.create(await indexWith(['a']));
  const scope = { owner: 'o', key: 'lease', requestHash: 'h' };
  const first = await keys.claim(scope, { ttlMs: 60_000, leaseMs: 100 });
  t.equal(first.state, 'claimed');
  t.equal((await keys.claim(scope, O)).state, 'in-flight');
  await new Promise((res) => setTimeout(res, 200));
  const second = await keys.claim(scope, O);
  t.equal(second.state, 'claimed', 'past its lease, unanswered: taken over');
  await t.rejects(store.append(indexKey, (index) => index.add(vec(), ['late']), { idempotency: writeOf((first as { claim: IdempotencyClaim }).claim) }), { code: 'ERR_IDEMPOTENCY_IN_FLIGHT' });
  t.same((await store.idMap(indexKey)).map(([, l]) => l), ['a'], 'the late write rolled back with its answer');
  const w = writeOf((second as { claim: IdempotencyClaim }).claim);
  await store.append(indexKey, (index) => index.add(vec(), ['b']), { idempotency: w });
  t.ok(w.committed && w.recorded, 'the write and its answer committed together');
  const again = await keys.claim(scope, O);
  t.equal(again.state, 'replay');
  t.same(JSON.parse((again as { answer: { body: string } }).answer.body).map(([, l]: [number, string]) => l), ['a', 'b']);
});

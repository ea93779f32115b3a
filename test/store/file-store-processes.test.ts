// The file store shared by several processes (test/helpers/file-store-writer.js,
// real files, real FAISS indexes): two writer processes adding at once on one
// index lose no update, and a reader process's cached copy follows them; then a
// writer killed with SIGKILL at random moments, 50 times: after each kill the
// directory loads, every acknowledged write is there exactly once, the write in
// progress is all or nothing, and nothing a killed save left stays behind.
import t from 'tap';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileIndexStore } from '../../lib/store/file-store';
import { nextGeneration, readGeneration } from '../../lib/store/file/generation';
import { IndexData } from '../../lib/vector-index/index-data';
import { pidAlive } from '../../lib/store/file/file-lock';

const WRITER = path.join(__dirname, '..', 'helpers', 'file-store-writer.js');
const DIM = 8;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-fs-procs-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Op { op: 'add' | 'remove' | 'build'; key: string; labels: string[] }
interface Writer { proc: ChildProcess; lines: Array<Record<string, Op | number>>; exited: Promise<number | null>; ready: Promise<void>; err: () => string }

function writer(dir: string, key: string, id: number, firstSeq: number, mode: 'add' | 'mix', count = 0): Writer {
  const proc = spawn(process.execPath, [WRITER, dir, key, String(id), String(firstSeq), mode, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Writer['lines'] = [];
  let buf = '';
  let err = '';
  let ready!: () => void;
  const readyP = new Promise<void>((r) => { ready = r; });
  proc.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      lines.push(line);
      if (line.ready) ready();
    }
  });
  proc.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => { ready(); r(code); }));
  return { proc, lines, exited, ready: readyP, err: () => err };
}

async function seed(dir: string, labels: string[]): Promise<string> {
  const index = IndexData.create(DIM, 'Flat', 'IP');
  await index.add(Float32Array.from({ length: labels.length * DIM }, () => Math.random()), labels);
  const store = new FileIndexStore(dir);
  const key = await store.create(index);
  await store.close();
  return key;
}

const labelsIn = async (dir: string, key: string) => (await IndexData.load(path.join(dir, key))).idMapEntries.map(([, l]) => l);

t.test('two writer processes adding at once on one index: 2 x 20 adds, all 40 there once; a reader in a third follows', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'two-'));
  const key = await seed(dir, ['seed-0', 'seed-1']);
  const reader = new FileIndexStore(dir);
  t.equal((await reader.get(key)).count, 2, 'the reader has the index cached');
  const ws = [writer(dir, key, 1, 0, 'add', 20), writer(dir, key, 2, 0, 'add', 20)];
  const codes = await Promise.all(ws.map((w) => w.exited));
  t.same(codes, [0, 0], ws.map((w) => w.err()).join(''));
  const acked = ws.flatMap((w) => w.lines.filter((l) => l.ack).map((l) => (l.ack as Op).labels).flat());
  t.equal(acked.length, 40);
  const labels = await labelsIn(dir, key);
  t.equal(labels.length, 42, 'every add is there: none lost');
  t.equal(new Set(labels).size, 42, 'and once');
  t.same([...acked].sort(), labels.filter((l) => !l.startsWith('seed')).sort());
  const seen = await reader.get(key);
  t.equal(seen.count, 42, "the reader's copy is the latest save (one stat per read noticed it)");
  t.equal((await readGeneration(path.join(dir, key))).generation, 41, 'one generation per save: the build and 40 adds');
  await reader.close();
});

t.test('two stores (as two processes) alternating writes: each write starts from the other one\'s save', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'alt-'));
  const key = await seed(dir, ['s']);
  const a = new FileIndexStore(dir);
  const b = new FileIndexStore(dir);
  for (let i = 0; i < 5; i++) {
    for (const [name, s] of [['a', a], ['b', b]] as const) {
      await s.append(key, (index) => index.add(Float32Array.from({ length: DIM }, () => Math.random()), [`${name}${i}`]));
    }
  }
  t.equal((await labelsIn(dir, key)).length, 11, 'no write replaced another');
  t.equal((await a.get(key)).count, 11);
  await a.close();
  await b.close();
});

/** Entries of the directory that killed writes may leave: save temporaries, moved-aside locks, locks of dead processes. */
function leftovers(dir: string): string[] {
  const out = fs.readdirSync(dir).filter((n) => /\.(tmp|old)-/.test(n));
  const locks = path.join(dir, '.locks');
  for (const n of fs.existsSync(locks) ? fs.readdirSync(locks) : []) {
    if (n.includes('.stale-')) { out.push(`.locks/${n}`); continue; }
    const pid = Number(fs.readFileSync(path.join(locks, n), 'utf8').split(' ')[0]);
    if (!pidAlive(pid)) out.push(`.locks/${n}`);
  }
  return out;
}

t.test('SIGKILL at random moments, 50 times: acknowledged writes there exactly once, the one in progress all or nothing, no garbage', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'kill-'));
  const key = await seed(dir, ['seed-0', 'seed-1', 'seed-2', 'seed-3']);
  let present = new Set(await labelsIn(dir, key));
  const builds = new Map<string, string[]>();
  let generation = (await readGeneration(path.join(dir, key))).generation;
  let acks = 0;
  let halfway = 0;
  const kills = 50;
  for (let round = 0; round < kills; round++) {
    const w = writer(dir, key, 1, round * 1_000_000, 'mix');
    await w.ready;
    // A random number of acknowledged writes, then a random moment (most often in the middle of the next write).
    const target = Math.floor(Math.random() * 6);
    while (w.proc.exitCode === null && w.lines.filter((l) => l.ack).length < target) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, Math.random() * 30));
    w.proc.kill('SIGKILL');
    const code = await w.exited;
    if (code !== null) t.fail(`round ${round}: the writer exited by itself (${code}): ${w.err()}`);
    // The model: acknowledged writes applied in order; the last begun without an ack is pending.
    let pending: Op | undefined;
    for (const l of w.lines) {
      if (l.begin) pending = l.begin as Op;
      if (l.skipped) pending = undefined;
      if (!l.ack) continue;
      const op = l.ack as Op;
      acks++;
      pending = undefined;
      if (op.op === 'build') builds.set(op.key, op.labels);
      else for (const label of op.labels) op.op === 'add' ? present.add(label) : present.delete(label);
    }
    const labels = await labelsIn(dir, key); // loads: not damaged
    const actual = new Set(labels);
    if (actual.size !== labels.length) t.fail(`round ${round}: a label twice`);
    let ok: boolean;
    const same = (s: Set<string>) => s.size === actual.size && [...s].every((l) => actual.has(l));
    if (pending && pending.op !== 'build' && pending.key === key) {
      const applied = new Set(present);
      for (const label of pending.labels) pending.op === 'add' ? applied.add(label) : applied.delete(label);
      ok = same(present) || same(applied);
      if (same(applied) && !same(present)) halfway++;
    } else ok = same(present);
    if (!ok) t.fail(`round ${round}: the index differs from the acknowledged writes (pending: ${JSON.stringify(pending)})`);
    present = actual;
    if (pending?.op === 'build') {
      const there = fs.existsSync(path.join(dir, pending.key));
      if (there) t.same(await labelsIn(dir, pending.key), pending.labels, `round ${round}: a build in progress is whole or absent`);
      if (there) builds.set(pending.key, pending.labels);
    }
    const g = (await readGeneration(path.join(dir, key))).generation;
    if (g < generation) t.fail(`round ${round}: the generation went back from ${generation} to ${g}`);
    generation = g;
    // What a killed writer may leave: at most its own lock and one moved-aside lock; save temporaries are removed by the next load.
    await IndexData.removeSaveLeftovers(dir);
    const left = leftovers(dir);
    if (left.length > 2) t.fail(`round ${round}: leftovers accumulate: ${left.join(', ')}`);
  }
  for (const [k, labels] of builds) t.same(await labelsIn(dir, k), labels, `built index ${k.slice(0, 8)} holds its entries`);
  t.ok(acks > kills, `${acks} acknowledged writes over ${kills} kills`);
  t.pass(`${halfway} kill(s) came after a save and before its acknowledgement (counted as written)`);
  // A last, unkilled writer takes over whatever lock the last kill left, and cleans up behind it.
  const last = writer(dir, key, 2, 99_000_000, 'add', 3);
  t.equal(await last.exited, 0, last.err());
  await IndexData.removeSaveLeftovers(dir);
  t.same(leftovers(dir), [], 'nothing left behind');
  t.equal((await labelsIn(dir, key)).length, present.size + 3);
});

t.test('fencing: a writer that lost its lock, or whose index was saved by another meanwhile, writes nothing', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'fence-'));
  const key = await seed(dir, ['s']);
  const lockFile = path.join(dir, '.locks', `${key}.lock`);
  const slowAppend = (s: FileIndexStore, during: () => Promise<void>) => s.append(key, async (index) => {
    await during();
    await index.add(Float32Array.from({ length: DIM }, () => Math.random()), ['late']);
  });
  const a = new FileIndexStore(dir);
  // Its lock taken over (as by a process on another host that judged it stale).
  const lost = slowAppend(a, async () => fs.writeFileSync(lockFile, `1 another-host ${'0'.repeat(36)}`));
  await t.rejects(lost, { code: 'ERR_STORE_UNAVAILABLE', message: /lost the index lock/ });
  fs.rmSync(lockFile);
  t.same(await labelsIn(dir, key), ['s'], 'nothing written');
  // Another save of the index while this writer held its lock (a writer that ignored the lock).
  const b = new FileIndexStore(dir);
  const raced = slowAppend(b, async () => {
    const other = await IndexData.load(path.join(dir, key));
    await other.add(Float32Array.from({ length: DIM }, () => Math.random()), ['other']);
    await other.save(path.join(dir, key), { files: { 'shitu-generation.json': nextGeneration(await readGeneration(path.join(dir, key))) } });
  });
  await t.rejects(raced, { code: 'ERR_STORE_UNAVAILABLE', message: /another writer saved the index meanwhile/ });
  t.same(await labelsIn(dir, key), ['s', 'other'], "the other save stays; the fenced writer's entry is not written over it");
  await b.append(key, (index) => index.add(Float32Array.from({ length: DIM }, () => Math.random()), ['after']));
  t.same(await labelsIn(dir, key), ['s', 'other', 'after'], 'the next write starts from the latest save');
  await a.close();
  await b.close();
});

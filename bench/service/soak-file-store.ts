// The file store under kill -9, longer than its test (test/store/file-store-processes.test.ts):
// `--writers` writer processes (test/helpers/file-store-writer.js, mode mix:
// adds, removes, builds) on one index directory at once, each killed with
// SIGKILL at a random moment and restarted, `--kills` kills in all. After each
// kill the index must load, hold every acknowledged add not removed since and no
// acknowledged remove, each label once, the writes in progress all or nothing;
// generations never go back; no leftovers accumulate. While the index is checked
// the other writers are stopped (SIGSTOP), wherever they are. Then the cost of a read's
// version check (one stat of the index's vector file), per call, against a read
// without it. Prints one JSON line of figures.
//
//   node dist/bench/service/soak-file-store.js [--kills 500] [--writers 2]
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileIndexStore } from '../../lib/store/file-store';
import { readGeneration, savedState } from '../../lib/store/file/generation';
import { IndexData } from '../../lib/vector-index/index-data';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const KILLS = arg('kills', 500);
const WRITERS = arg('writers', 2);
const WRITER = path.resolve(__dirname, '..', '..', '..', 'test', 'helpers', 'file-store-writer.js');
const DIM = 8;

interface Op { op: 'add' | 'remove' | 'build'; key: string; labels: string[] }
interface Run { proc: ChildProcess; lines: Array<Record<string, Op | number>>; exited: Promise<number | null>; ready: boolean; acks: number }

function start(dir: string, key: string, id: number, seq: number): Run {
  const proc = spawn(process.execPath, [WRITER, dir, key, String(id), String(seq), 'mix'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Run['lines'] = [];
  let buf = '';
  proc.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (line.ready) run.ready = true;
      else lines.push(line);
      if (line.ack) run.acks++;
    }
  });
  const run: Run = { proc, lines, exited: new Promise((r) => proc.once('exit', (c) => r(c))), ready: false, acks: 0 };
  return run;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-soak-'));
  const seed = IndexData.create(DIM, 'Flat', 'IP');
  await seed.add(Float32Array.from({ length: 4 * DIM }, () => Math.random()), ['seed-0', 'seed-1', 'seed-2', 'seed-3']);
  const store = new FileIndexStore(dir);
  const key = await store.create(seed);
  const added = new Set(['seed-0', 'seed-1', 'seed-2', 'seed-3']);
  const removed = new Set<string>();
  let generation = 0;
  let acks = 0;
  let seq = 0;
  let maxLeft = 0;
  const failures: string[] = [];
  const t0 = performance.now();
  const runs: Run[] = Array.from({ length: WRITERS }, (_, i) => start(dir, key, i, (seq += 1_000_000)));
  for (let kill = 0; kill < KILLS; kill++) {
    const i = kill % WRITERS;
    // A random number of its writes acknowledged, then a random moment (most often inside the next one).
    const target = Math.floor(Math.random() * 6);
    while (runs[i].proc.exitCode === null && runs[i].acks < target) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, Math.random() * 30));
    runs[i].proc.kill('SIGKILL');
    await runs[i].exited;
    // The others stop where they are (SIGSTOP, mid-write perhaps) while the index is checked; what they wrote to the pipe is read first.
    for (const [j, r] of runs.entries()) if (j !== i) r.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 30));
    // Settle the acknowledged writes of every writer; the pending ones are each all or nothing.
    const pending: Op[] = [];
    let killedPending: Op | undefined;
    const others = runs.filter((_, j) => j !== i);
    for (const r of [runs[i]]) {
      let last: Op | undefined;
      for (const l of r.lines) {
        if (l.begin) last = l.begin as Op;
        if (l.skipped) last = undefined;
        if (!l.ack) continue;
        const op = l.ack as Op;
        acks++;
        last = undefined;
        if (op.op === 'add') op.labels.forEach((x) => added.add(x));
        if (op.op === 'remove') op.labels.forEach((x) => removed.add(x));
      }
      if (last && last.op !== 'build') { pending.push(last); killedPending = last; }
    }
    // The live writers' acknowledged writes so far count too; their next one is in progress.
    for (const r of others) {
      let last: Op | undefined;
      // Taken out now, with no await in between: lines arriving later are read at the next kill.
      for (const l of r.lines.splice(0)) {
        if (l.begin) last = l.begin as Op;
        if (l.skipped || l.ack) last = undefined;
        if (l.ack && (l.ack as Op).op === 'add') (l.ack as Op).labels.forEach((x) => added.add(x));
        if (l.ack && (l.ack as Op).op === 'remove') (l.ack as Op).labels.forEach((x) => removed.add(x));
      }
      if (last) r.lines.unshift({ begin: last });
      if (last && last.op !== 'build') pending.push(last);
    }
    const index = await IndexData.load(path.join(dir, key));
    const labels = index.idMapEntries.map(([, l]) => l);
    const actual = new Set(labels);
    const loose = new Set(pending.flatMap((p) => p.labels));
    if (actual.size !== labels.length) failures.push(`kill ${kill}: a label twice`);
    for (const l of added) if (!removed.has(l) && !loose.has(l) && !actual.has(l)) failures.push(`kill ${kill}: acknowledged ${l} missing`);
    for (const l of removed) if (!loose.has(l) && actual.has(l)) failures.push(`kill ${kill}: removed ${l} is back`);
    for (const p of pending) {
      const n = p.labels.filter((l) => actual.has(l)).length;
      if (n !== 0 && n !== p.labels.length && p.op === 'add') failures.push(`kill ${kill}: add in progress half applied`);
    }
    // The killed writer's last write will never be acknowledged: what the index shows is what happened.
    if (killedPending && killedPending.labels.every((l) => actual.has(l) === (killedPending!.op === 'add')))
      killedPending.labels.forEach((l) => (killedPending!.op === 'add' ? added : removed).add(l));
    const g = (await readGeneration(path.join(dir, key))).generation;
    if (g < generation) failures.push(`kill ${kill}: generation went back`);
    generation = g;
    await IndexData.removeSaveLeftovers(dir);
    const left = fs.readdirSync(dir).filter((n) => /\.(tmp|old)-/.test(n)).length + fs.readdirSync(path.join(dir, '.locks')).filter((n) => n.includes('.stale-')).length;
    maxLeft = Math.max(maxLeft, left);
    // The acknowledged lines are settled: keep only what is still unread.
    runs[i] = start(dir, key, i, (seq += 1_000_000));
    for (const r of others) r.proc.kill('SIGCONT');
  }
  for (const r of runs) { r.proc.kill('SIGKILL'); await r.exited; }
  const soakS = (performance.now() - t0) / 1000;

  // A read's version check: one stat per get() of a cached index.
  const reader = new FileIndexStore(dir);
  await reader.get(key);
  const N = 20000;
  let t = performance.now();
  for (let i = 0; i < N; i++) await reader.get(key);
  const getUs = ((performance.now() - t) * 1000) / N;
  t = performance.now();
  for (let i = 0; i < N; i++) await savedState(path.join(dir, key));
  const statUs = ((performance.now() - t) * 1000) / N;
  t = performance.now();
  for (let i = 0; i < N; i++) fs.statSync(path.join(dir, key, 'vector.index'), { bigint: true });
  const statSyncUs = ((performance.now() - t) * 1000) / N;
  t = performance.now();
  for (let i = 0; i < N; i++) await Promise.resolve(seed);
  const bareUs = ((performance.now() - t) * 1000) / N;
  console.log(JSON.stringify({
    kills: KILLS, writers: WRITERS, acknowledgedWrites: acks, seconds: Math.round(soakS), failures: failures.length, firstFailures: failures.slice(0, 5),
    maxLeftoversAfterAKill: maxLeft, finalGeneration: generation,
    versionCheck: { getCachedUs: Number(getUs.toFixed(1)), statUs: Number(statUs.toFixed(1)), statSyncUs: Number(statSyncUs.toFixed(1)), awaitOnlyUs: Number(bareUs.toFixed(2)) },
  }));
  fs.rmSync(dir, { recursive: true, force: true });
  if (failures.length) process.exitCode = 1;
}

void main();

// Fuzz campaign over index files: thousands of structured mutations
// of vector.index, id_map.yaml and id_map.pkl, in the layouts of this package,
// PaddleX and PaddleClas, each loaded, searched, changed and saved in child
// processes that handle a batch each, so that a crash or a hang is a failure
// with its case saved (test/fixtures/generated/fuzz/), not a lost run. Every
// failure must be a coded error; memory stays bounded.
// SHITU_FUZZ_CASES sets the number of cases (default 3000).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { IndexData } from '../../lib/index';
import { makeCase, writeCase } from '../helpers/index-fuzz';
import { faissOp, haveNumpy, writeFloats, writePaddleClasIdMap } from '../helpers/paddlex';
import { paddlexSaveIndexInfo } from '../helpers/pyyaml';

const CASES = Number(process.env.SHITU_FUZZ_CASES ?? 3000);
const BATCH = 500;
const HANG_MS = 30_000;
const RUN_SEED = Number(process.env.SHITU_FUZZ_SEED ?? 20261201);
// A larger campaign outlives tap's default 300 s per file.
t.setTimeout(Math.max(300_000, CASES * 100 + 120_000));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-fuzz-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SAVED = path.resolve(__dirname, '..', 'fixtures', 'generated', 'fuzz');
const HELPER = path.join(__dirname, '..', 'helpers', 'index-fuzz.ts');
if (!haveNumpy()) throw new Error('python3 with PyYAML and numpy is needed (scripts/setup.sh installs them)');

const D = 8;
const vec = (n: number, k: number) => new Float32Array(n * D).map((_, i) => Math.sin(i * 0.7 + k));

async function makeSeeds(): Promise<string[]> {
  const seeds: string[] = [];
  let i = 0;
  for (const type of ['Flat', 'IVF', 'HNSW32'] as const) {
    for (const metric of ['IP', 'L2'] as const) {
      // This package's save, without its checksum (else a changed vector.index never reaches FAISS)...
      const index = IndexData.create(D, type, metric);
      await index.add(vec(30, i), Array.from({ length: 30 }, (_, j) => `l${j}`));
      const dir = path.join(tmp, `seed${i++}-ours-${type}-${metric}`);
      await index.save(dir);
      const meta = path.join(dir, 'id_map.yaml');
      fs.writeFileSync(meta, fs.readFileSync(meta, 'utf8').replace(/^vector_sha256:.*\n/m, ''));
      seeds.push(dir);
      // ...and PaddleX's.
      const px = path.join(tmp, `seed${i++}-paddlex-${type}-${metric}`);
      fs.mkdirSync(px);
      faissOp('build', type, metric, writeFloats(path.join(tmp, `v${i}.f32`), vec(30, i)), '30', String(D), path.join(px, 'vector.index'));
      const spec = path.join(tmp, `s${i}.json`);
      fs.writeFileSync(spec, JSON.stringify({ index_type: type, metric_type: metric, id_map: Object.fromEntries(Array.from({ length: 30 }, (_, j) => [String(j), `p${j}`])) }));
      paddlexSaveIndexInfo(spec, path.join(px, 'id_map.yaml'));
      seeds.push(px);
    }
  }
  // With a checksum, and empty; PaddleClas's layout.
  const sum = path.join(tmp, `seed${i++}-ours-checksum`);
  const idx = IndexData.create(D, 'HNSW32', 'IP');
  await idx.add(vec(10, 99), Array.from({ length: 10 }, (_, j) => `c${j}`));
  await idx.save(sum);
  seeds.push(sum);
  const empty = path.join(tmp, `seed${i++}-ours-empty-ivf`);
  await IndexData.create(D, 'IVF', 'IP').save(empty);
  seeds.push(empty);
  const pc = path.join(tmp, `seed${i++}-paddleclas`);
  fs.mkdirSync(pc);
  faissOp('build', 'HNSW32', 'IP', writeFloats(path.join(tmp, 'pc.f32'), vec(20, 7)), '20', String(D), path.join(pc, 'vector.index'));
  writePaddleClasIdMap(path.join(pc, 'id_map.pkl'), Array.from({ length: 20 }, (_, j) => [j, `img/${j}.jpg\tlabel ${j}`]));
  seeds.push(pc);
  return seeds;
}

interface BatchResult { cases: number; loaded: number; coded: Record<string, number>; uncoded: string[]; maxRssMb: number }

function runBatch(seedsJson: string, first: number, count: number): Promise<{ result?: BatchResult; crashAt?: number; hangAt?: number; signal?: string | null; peakMb: number }> {
  const work = fs.mkdtempSync(path.join(tmp, 'work-'));
  const c = spawn(process.execPath, [...process.execArgv, HELPER, seedsJson, String(first), String(count), work], { stdio: ['ignore', 'pipe', 'pipe'] });
  let last = -1;
  let out = '';
  let result: BatchResult | undefined;
  let hung = false;
  let peakMb = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => { clearTimeout(timer); timer = setTimeout(() => { hung = true; c.kill('SIGKILL'); }, HANG_MS); };
  arm();
  // Peak resident memory from the kernel (VmHWM), also for a child that dies.
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${c.pid}/status`, 'utf8'));
      if (m) peakMb = Math.max(peakMb, Math.round(Number(m[1]) / 1024));
    } catch { /* exited */ }
  }, 50);
  c.stdout.on('data', (d: Buffer) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith('C ')) { last = Number(l.slice(2)); arm(); }
      else if (l.startsWith('R ')) result = JSON.parse(l.slice(2));
    }
  });
  let err = '';
  c.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => c.on('exit', (code, signal) => {
    clearTimeout(timer);
    clearInterval(poll);
    fs.rmSync(work, { recursive: true, force: true });
    if (hung) return resolve({ hangAt: last, peakMb });
    if (code !== 0 || !result) { if (err) t.comment(err.slice(-2000)); return resolve({ crashAt: last, signal, peakMb }); }
    resolve({ result, peakMb: Math.max(peakMb, result.maxRssMb) });
  }));
}

t.test(`index-file fuzz: ${CASES} mutated index directories`, { timeout: CASES * 100 + 60_000 }, async (t) => {
  const seeds = await makeSeeds();
  const seedsJson = path.join(tmp, 'seeds.json');
  fs.writeFileSync(seedsJson, JSON.stringify({ seeds: seeds.map((dir) => ({ dir })), runSeed: RUN_SEED }));
  const totals = { inputs: 0, loaded: 0, crashes: 0, hangs: 0, uncoded: 0, peakMb: 0, coded: {} as Record<string, number> };
  const failures: string[] = [];
  const keep = (kind: string, caseNo: number) => {
    try {
      const c = makeCase(seeds.map((dir) => ({ dir })), caseNo, RUN_SEED);
      const dir = path.join(SAVED, `${kind}-${RUN_SEED}-${caseNo}`);
      writeCase(dir, c);
      failures.push(`${kind} at case ${caseNo} (${c.what}), saved in ${dir}`);
    } catch (e) {
      failures.push(`${kind} at case ${caseNo} (not saved: ${(e as Error).message})`);
    }
  };
  const started = Date.now();
  for (let first = 0; first < CASES;) {
    const count = Math.min(BATCH, CASES - first);
    const r = await runBatch(seedsJson, first, count);
    totals.peakMb = Math.max(totals.peakMb, r.peakMb);
    if (r.result) {
      totals.inputs += r.result.cases;
      totals.loaded += r.result.loaded;
      totals.uncoded += r.result.uncoded.length;
      failures.push(...r.result.uncoded.map((u) => `uncoded: ${u}`));
      for (const [k, v] of Object.entries(r.result.coded)) totals.coded[k] = (totals.coded[k] ?? 0) + v;
      first += count;
      continue;
    }
    // A crash or a hang: keep the case, go on after it.
    const at = (r.crashAt ?? r.hangAt)!;
    if (r.hangAt !== undefined) { totals.hangs++; keep('hang', at); } else { totals.crashes++; keep(`crash-${r.signal ?? 'exit'}`, at); }
    totals.inputs += at - first + 1;
    first = at + 1;
  }
  t.comment(`index-file fuzz: ${totals.inputs} inputs, ${totals.loaded} loaded and used, crashes ${totals.crashes}, hangs ${totals.hangs}, ` +
    `uncoded errors ${totals.uncoded}, peak memory ${totals.peakMb} MB per child, ${Math.round((Date.now() - started) / 1000)} s; coded: ${JSON.stringify(totals.coded)}`);
  t.same(failures.slice(0, 20), [], 'no crash, hang or uncoded error');
  t.equal(totals.inputs, CASES);
  t.ok(totals.peakMb < 1024, `peak memory ${totals.peakMb} MB stays bounded`);
  t.ok(totals.loaded > 0 && Object.keys(totals.coded).length > 0, 'the campaign reached both outcomes');
});

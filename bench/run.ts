// Benchmark entry. `node dist/bench/run.js --help` lists the sections and options.
// One run writes every result it reports into one folder (--out, by default a
// fresh bench/results/run-<timestamp>/) and the report beside them; only
// --update-report replaces the committed bench/REPORT.md and bench/results/.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BENCH_DIR, COMMITTED_RESULTS_DIR, ROOT } from './lib/paths';
import { machine, RunMode } from './lib/machine';
import { log, writeJson } from './lib/io';
import { SECTIONS, SectionKey, QUICK_BUDGET_S } from './sections/index';

/** The benchmark scripts outside the report's sections. */
const OTHER_SCRIPTS = [
  { file: 'dist/bench/service/load.js', what: 'the HTTP service under autocannon (--quick)' },
  { file: 'dist/bench/service/pgstore.js', what: 'the PostgreSQL index store (needs a server)' },
  { file: 'dist/bench/service/body-parse.js', what: '/health while the largest JSON bodies are parsed' },
  { file: 'dist/bench/service/build-memory.js', what: 'RSS of one build request, with and without the pixel budget' },
  { file: 'dist/bench/service/health-overload.js', what: '/health and /ready under 10x overload' },
  { file: 'dist/bench/service/soak-file-store.js', what: 'the file store under SIGKILL at random points, writers on one directory (--kills N --writers W)' },
  { file: 'dist/bench/report/index.js DIR', what: "re-render a run folder's REPORT.md from its JSON" },
  { file: 'dist/bench/models/generate.js', what: 'the PP-ShiTuV2 timing models (the real programs, seeded random weights, converted by lib/models/paddle) into bench/.models/ (sections run it)' },
];

const USAGE = `Usage: node dist/bench/run.js [options]

Options:
  --quick            sample the sections marked "quick" below with few iterations (under ${QUICK_BUDGET_S} s on 2 busy cores)
  --only=a,b,...     run only these sections (names below); "million" runs only when named
  --all              every section, million included (the committed report's run)
  --out DIR          write the results and REPORT.md into DIR (default: a fresh bench/results/run-<timestamp>/)
  --update-report    write the committed bench/REPORT.md and bench/results/ from this run (replacing them)
  --ef-construction=N  HNSW efConstruction for the million section (default 40, FAISS's)
  --help             print this and exit

Sections (in run order; each is bench/sections/<script>.ts):
${SECTIONS.map((s) => `  ${s.key.padEnd(11)} ${s.quick ? '[quick] ' : s.separate ? '[only]  ' : '        '}${s.title} [${s.script}]`).join('\n')}

[quick]: sampled by --quick. [only]: not in the full run; --only=million or --all.
Also runnable alone: node dist/bench/sections/{batching,embedded,eval,million}.js (see each file's header).

Not sections of the report (each runs alone; see its header):
${OTHER_SCRIPTS.map((o) => `  ${o.file.padEnd(38)} ${o.what}`).join('\n')}

On 2 cores the full run (every section but million) takes about 15 min; million takes hours
(FAISS HNSW32's build of 10^6 vectors alone took 57 min; node --expose-gc dist/bench/sections/million.js
--types=HNSW32,IVF_PQ picks types). Each report's header gives its run's duration and every section's.
`;

interface Args {
  quick: boolean;
  all?: boolean;
  only?: string[];
  out?: string;
  updateReport: boolean;
  efConstruction?: number;
}

function fail(msg: string): never {
  process.stderr.write(`run.js: ${msg}\n(see node dist/bench/run.js --help)\n`);
  process.exit(2);
}

export function parseArgs(argv: string[]): Args | 'help' {
  const a: Args = { quick: false, updateReport: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    const [k, inline] = x.includes('=') ? [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)] : [x, undefined];
    const value = () => inline ?? (i + 1 < argv.length ? argv[++i] : fail(`${k} needs a value`));
    if (k === '--help' || k === '-h') return 'help';
    else if (k === '--quick') a.quick = true;
    else if (k === '--update-report') a.updateReport = true;
    else if (k === '--all') a.all = true;
    else if (k === '--only') a.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (k === '--out') a.out = value();
    else if (k === '--ef-construction') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 1 << 20) fail(`--ef-construction must be an integer from 1 to 1048576, got ${JSON.stringify(inline ?? argv[i])}`);
      a.efConstruction = n;
    } else fail(`unknown option ${JSON.stringify(x)}`);
  }
  for (const s of a.only ?? []) if (!SECTIONS.some((d) => d.key === s)) fail(`unknown section ${JSON.stringify(s)} (sections: ${SECTIONS.map((d) => d.key).join(', ')})`);
  if (a.all && (a.only || a.quick)) fail('--all excludes --only and --quick');
  if (a.out && a.updateReport) fail('--out and --update-report exclude each other (--update-report writes bench/results/)');
  return a;
}

/** The sections this run measures, in run order. */
export function selectSections(a: Args): SectionKey[] {
  return SECTIONS.filter((s) => (a.all ? true : a.only ? a.only.includes(s.key) : !s.separate && (!a.quick || s.quick))).map((s) => s.key);
}

async function main() {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d\d\dZ$/, 'Z');
  // --update-report stages the run in a fresh folder too, and replaces the committed
  // results only once every section finished: no file of an older run survives.
  const outDir = path.resolve(parsed.out ?? path.join(COMMITTED_RESULTS_DIR, `run-${stamp}`));
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length) fail(`--out ${outDir} is not empty: a report must come from one run only`);
  fs.mkdirSync(outDir, { recursive: true });
  process.env.SHITU_BENCH_OUT = outDir; // read by lib/io.ts here and in the child processes
  const mode: RunMode = { quick: parsed.quick };
  const keys = selectSections(parsed);
  const t0 = Date.now();
  const m = machine();
  log(`shitu-node benchmark (${mode.quick ? 'quick' : 'full'}: ${keys.join(', ')}) on ${m.cpu}, ${m.cores} cores, load ${m.loadavgStart.join(' ')}; results in ${outDir}`);
  const meta: Record<string, unknown> = {
    mode: mode.quick ? 'quick' : 'full',
    command: ['node dist/bench/run.js', ...process.argv.slice(2)].join(' '),
    machine: m,
    sections: keys,
    notRun: SECTIONS.map((s) => s.key).filter((k) => !keys.includes(k)),
    started: m.date,
    sectionSeconds: {} as Record<string, number>,
    failed: {} as Record<string, string>,
  };
  const ctx = { mode, efConstruction: parsed.efConstruction };
  for (const key of keys) {
    const s = SECTIONS.find((d) => d.key === key)!;
    const a = Date.now();
    // --quick keeps its promise: a section that would start past the budget is left out, and the report says so.
    if (mode.quick && (a - t0) / 1000 > QUICK_BUDGET_S - 15) {
      (meta.failed as Record<string, string>)[key] = `left out: the quick run's ${QUICK_BUDGET_S} s were spent`;
      log(`${key}: left out (quick budget spent)`);
      continue;
    }
    try {
      await s.run(ctx);
    } catch (e) {
      // One broken section must not lose the others; the report names it.
      (meta.failed as Record<string, string>)[key] = String((e as Error)?.message ?? e).split('\n')[0];
      log(`${key}: FAILED: ${(e as Error)?.stack ?? e}`);
    }
    (meta.sectionSeconds as Record<string, number>)[key] = (Date.now() - a) / 1000;
  }
  const { closeAll } = require('./lib/ours') as typeof import('./lib/ours');
  await closeAll();
  meta.seconds = (Date.now() - t0) / 1000;
  meta.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  writeJson('meta.json', meta);
  const { writeReport } = require('./report/index') as typeof import('./report/index');
  let reportPath = writeReport(outDir, path.join(outDir, 'REPORT.md'));
  if (parsed.updateReport) {
    for (const f of fs.readdirSync(COMMITTED_RESULTS_DIR)) {
      const p = path.join(COMMITTED_RESULTS_DIR, f);
      // Files and folders (eval/) of the previous report go; other runs' folders stay.
      if (p !== outDir && !f.startsWith('run-')) fs.rmSync(p, { recursive: true, force: true });
    }
    for (const f of fs.readdirSync(outDir)) if (f !== 'REPORT.md') fs.renameSync(path.join(outDir, f), path.join(COMMITTED_RESULTS_DIR, f));
    fs.rmSync(outDir, { recursive: true, force: true });
    process.env.SHITU_BENCH_OUT = COMMITTED_RESULTS_DIR;
    reportPath = writeReport(COMMITTED_RESULTS_DIR, path.join(BENCH_DIR, 'REPORT.md'));
  }
  log(`done in ${(meta.seconds as number).toFixed(0)} s; report: ${path.relative(ROOT, reportPath)}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

// Benchmark entry: node dist/bench/run.js [--quick] [--only=stages,limit,peer,throughput,batching,decode,index,million,memory]
// Writes bench/results/*.json (+ *.svg) and regenerates bench/REPORT.md.
import { closeAll } from './ours';
import { log, machine, readJson, writeJson, RunMode } from './util';
import { runStages, runLimit, StagesResult } from './stages';

const SECTIONS = ['stages', 'limit', 'peer', 'throughput', 'batching', 'decode', 'index', 'million', 'memory'] as const;

async function main() {
  const args = process.argv.slice(2);
  const mode: RunMode = { quick: args.includes('--quick') };
  const onlyArg = args.find((a) => a.startsWith('--only='));
  const only = onlyArg ? onlyArg.slice(7).split(',') : [...SECTIONS];
  const t0 = Date.now();
  const m = machine();
  log(`shitu-node benchmark (${mode.quick ? 'quick' : 'full'}) on ${m.cpu}, ${m.cores} cores, load ${m.loadavgStart.join(' ')}`);
  const meta = { mode: mode.quick ? 'quick' : 'full', machine: m, sections: only, started: m.date } as any;

  // The memory section runs first, in its own process, so its peak RSS is its own.
  if (only.includes('memory')) {
    const { runMemory } = await import('./memory');
    await runMemory(mode);
  }
  let stages: StagesResult | undefined;
  if (only.includes('stages')) stages = await runStages(mode);
  else stages = readJson('stages.json');
  if (only.includes('limit') && stages) await runLimit(mode, stages);
  if (only.includes('peer')) {
    const { runPeer } = await import('./peer');
    await runPeer(mode);
  }
  if (only.includes('throughput')) {
    const { runThroughput } = await import('./throughput');
    await runThroughput(mode);
  }
  if (only.includes('batching')) {
    const { runBatching } = await import('./batching');
    await runBatching(mode);
  }
  if (only.includes('decode')) {
    const { runDecode } = await import('./decode');
    await runDecode(mode);
  }
  await closeAll();
  if (only.includes('index')) {
    const { runIndexScaling } = await import('./index-scaling');
    await runIndexScaling(mode);
  }
  if (only.includes('million')) {
    // 10^6 vectors in the full run (about 30 min on 2 cores), 2 x 10^4 in --quick.
    const { runIndexMillion } = await import('./index-million');
    await runIndexMillion(mode);
  }
  meta.seconds = (Date.now() - t0) / 1000;
  meta.loadavgEnd = require('node:os').loadavg().map((x: number) => Math.round(x * 100) / 100);
  const all = SECTIONS.every((s) => only.includes(s));
  const prev = readJson('meta.json');
  if (all || !prev) writeJson('meta.json', meta);
  else {
    // A partial rerun keeps the full run's description and records itself beside it.
    prev.reruns = [...(prev.reruns ?? []), { sections: only, mode: meta.mode, started: m.date, seconds: meta.seconds, loadavgStart: m.loadavgStart, loadavgEnd: meta.loadavgEnd }];
    writeJson('meta.json', prev);
  }
  const { writeReport } = await import('./report');
  const p = writeReport();
  log(`done in ${meta.seconds.toFixed(0)} s; report: ${p}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// The report's sections for benches written beside this one (bench/sections/embedded.ts:
// an app embedding the engine; bench/sections/eval.ts: the 1,000-query evaluation), read
// from this run's folder only. Their JSON shapes belong to those files, so the
// figures are found by name (req/s, p99, readFile p99, seconds) and shown as
// they are; anything else stays in the JSON.
import { fmt } from '../lib/io';

type Read = <T = any>(name: string) => T | undefined;

/** What bench/sections/embedded.ts writes (its opening comment has the whole shape). */
interface EmbeddedRun {
  levels: Array<{ connections: number; reqPerS: number; latencyP50Ms: number; latencyP99Ms: number; eventLoopDelayP99Ms: number; readFile: { p99Ms: number }; rssMB: number }>;
}

/** Numeric leaves of an object, as [dotted key, value]. */
function leaves(o: unknown, prefix = '', out: Array<[string, number]> = []): Array<[string, number]> {
  if (typeof o === 'number' && Number.isFinite(o)) out.push([prefix, o]);
  else if (o && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

const INTERESTING = /req|rps|per.?s|p50|p99|readfile|seconds|ms$|queries|throughput|latency/i;

function figures(o: unknown): string {
  const l = leaves(o).filter(([k]) => INTERESTING.test(k)).slice(0, 24);
  return l.length ? l.map(([k, v]) => `${k} = ${fmt(v, Math.abs(v) >= 100 ? 0 : 2)}`).join('; ') : 'no figure by a known name (see the JSON)';
}

export function extraSection(read: Read, notMeasured: (key: string) => string): string {
  const md: string[] = [];
  md.push('## 10. An app embedding the engine\n');
  const runs = (['before', 'after'] as const).map((k) => [k, read<EmbeddedRun>(`embedded-${k}.json`)] as const).filter(([, v]) => v?.levels);
  if (!runs.length) md.push(notMeasured('embedded'));
  else {
    md.push('A minimal Fastify app (bench/lib/embedded-app.ts) with one pipeline answers `POST /recognize` (the raw photo) under autocannon; beside the load, the app reads a 3 KB file with `fs.readFile` every 20 ms (libuv\'s thread pool, the host\'s own) and records its latency and the event-loop delay. "before": the package before the addon had its own threads (recognitions on libuv\'s pool); "after": this checkout.\n');
    md.push('| build | connections | req/s | latency p50 / p99 ms | readFile p99 ms | event-loop delay p99 ms | RSS at end MB |');
    md.push('|---|---:|---:|---|---:|---:|---:|');
    for (const [k, v] of runs) for (const l of v!.levels) md.push(`| ${k} | ${l.connections} | ${fmt(l.reqPerS, 1)} | ${fmt(l.latencyP50Ms, 0)} / ${fmt(l.latencyP99Ms, 0)} | ${fmt(l.readFile.p99Ms, 1)} | ${fmt(l.eventLoopDelayP99Ms, 1)} | ${fmt(l.rssMB, 0)} |`);
    md.push('');
    if (!runs.some(([k]) => k === 'before')) md.push('"before" not measured in this run (SHITU_EMBEDDED_BEFORE names an older build).\n');
  }
  md.push('\n## 11. Evaluation over 1,000 queries\n');
  const ev = read('eval.json');
  md.push(ev === undefined ? notMeasured('eval') : `- \`eval.json\`: ${figures(ev)}\n`);
  md.push('\n');
  return md.join('\n');
}

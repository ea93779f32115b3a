// The report's sections for benches written beside this one (bench/embedded.ts:
// an app embedding the engine; bench/eval.ts: the 1,000-query evaluation), read
// from this run's folder only. Their JSON shapes belong to those files, so the
// figures are found by name (req/s, p99, readFile p99, seconds) and shown as
// they are; anything else stays in the JSON.
import { fmt } from './io';

type Read = <T = any>(name: string) => T | undefined;

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
  const files = ['embedded-before.json', 'embedded-after.json', 'embedded.json'].map((f) => [f, read(f)] as const).filter(([, v]) => v !== undefined);
  if (!files.length) md.push(notMeasured('embedded'));
  else for (const [f, v] of files) md.push(`- \`${f}\`: ${figures(v)}\n`);
  md.push('\n## 11. Evaluation over 1,000 queries\n');
  const ev = read('eval.json');
  md.push(ev === undefined ? notMeasured('eval') : `- \`eval.json\`: ${figures(ev)}\n`);
  md.push('\n');
  return md.join('\n');
}

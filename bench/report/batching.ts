// The report's "5b. Dynamic batching in the service" subsection, from
// results/batching.json (bench/sections/batching.ts): a row per server setting and
// connection count, and the Targets rows: does batching win where `shitu
// serve` turns it on by default, and what does it cost a lone request.
import { fmt } from '../lib/util';
import type { BatchingResult, BatchingRow } from '../sections/batching';

const byKey = (r: BatchingResult, on: boolean, maxConcurrent: number, c: number): BatchingRow | undefined =>
  r.rows.find((x) => !!x.batching === on && x.maxConcurrent === maxConcurrent && x.connections === c && (!on || x.batching!.maxWaitMs > 0));

/** Rows for the report's Targets table: [target, measured, verdict]. */
export function batchingTargets(r: BatchingResult): string[][] {
  const out: string[][] = [];
  for (const mc of [2, 4]) {
    const cells: string[] = [];
    let wins = 0, n = 0;
    for (const c of [8, 32]) {
      const off = byKey(r, false, mc, c), on = byKey(r, true, mc, c);
      if (!off || !on) continue;
      n++;
      if (on.reqPerS >= off.reqPerS) wins++;
      cells.push(`c=${c}: ${fmt(on.reqPerS, 1)} vs ${fmt(off.reqPerS, 1)} req/s (${fmt((100 * on.reqPerS) / off.reqPerS - 100, 1)} %), p99 ${fmt(on.p99Ms, 0)} vs ${fmt(off.p99Ms, 0)} ms`);
    }
    if (n) out.push([`dynamic batching wins under load, ${mc} recognitions at once (service)`, cells.join('; '), wins === n ? '**wins**' : wins ? '**mixed**' : '**loses**']);
    const off1 = byKey(r, false, mc, 1), on1 = byKey(r, true, mc, 1);
    if (off1 && on1) out.push([`dynamic batching costs a lone request nothing, ${mc} at once`, `c=1 p50 ${fmt(on1.p50Ms, 1)} vs ${fmt(off1.p50Ms, 1)} ms, ${fmt(on1.reqPerS, 1)} vs ${fmt(off1.reqPerS, 1)} req/s`, on1.p50Ms <= off1.p50Ms * 1.05 + 1 ? '**met**' : '**not met**']);
  }
  return out;
}

export function batchingSection(r: BatchingResult, table: (head: string[], rows: Array<Array<string | number>>) => string): string {
  const md: string[] = [];
  md.push('### 5b. Dynamic batching in the service\n');
  md.push(table(['server setting', 'connections', 'requests', '**req/s**', 'p50 / p99 ms', 'non-2xx', 'runs / request', 'crops / run'],
    r.rows.map((x) => [x.setting, x.connections, x.requests, `**${fmt(x.reqPerS, 1)}**`, `${fmt(x.p50Ms, 0)} / ${fmt(x.p99Ms, 0)}`, x.non2xx, x.runsPerRequest == null ? '—' : fmt(x.runsPerRequest, 2), x.rowsPerRun == null ? '—' : fmt(x.rowsPerRun, 1)])));
  for (const n of r.notes) md.push(`- ${n}\n`);
  md.push('\n');
  return md.join('\n');
}

// The report's headline table: this package against the hand-rolled Node stack,
// against the raw-inference limit and against the published table, each as one
// ratio with the hardware it was measured on.
import { fmt } from '../lib/io';
import type { PeerResult } from '../sections/peer';
import type { ThroughputResult } from '../sections/throughput';
import type { ShapedResult } from '../sections/shaped';
import { shapedBest } from './shaped';

export interface HeadlineRow {
  comparison: string;
  ours: string;
  other: string;
  ratio: string;
  hardware: string;
}

const NOT = 'not measured in this run';

export function headlineRows(o: { here: string; peer?: PeerResult; tp?: ThroughputResult; shaped?: ShapedResult }): HeadlineRow[] {
  const rows: HeadlineRow[] = [];
  const { here } = o;
  // 1. vs the hand-rolled Node stack: throughput, 1 in flight, per model set and thread count.
  const peerRows = (o.peer?.throughput ?? []).filter((t) => t.variant === 'peer' || t.variant === 'peer-shaped');
  if (!peerRows.length) rows.push({ comparison: 'vs the hand-rolled Node stack (onnxruntime-node + sharp + hnswlib-node)', ours: NOT, other: NOT, ratio: '—', hardware: here });
  for (const t of peerRows.filter((x) => x.concurrency === 1)) {
    const models = t.variant === 'peer-shaped' ? 'PP-ShiTuV2 programs (random weights)' : 'stand-in models';
    // Only the ratio for this package: its own images/s per setting are section 5's (one figure per quantity).
    rows.push({
      comparison: `vs the hand-rolled Node stack (onnxruntime-node + sharp + hnswlib-node), ${models}, ${t.threads} thread(s), 1 in flight, the two in turns`,
      ours: 'in turns with the peer', other: `${fmt(t.peerIps, 1)} images/s`, ratio: `**${fmt(t.ratio, 2)}x** the peer's throughput`, hardware: here,
    });
  }
  // 2. vs the raw-inference limit: the best measured setting of this run against its hard limit.
  const lim = (o.tp?.concurrency ?? []).filter((x) => x.limitIps);
  if (lim.length) {
    const best = lim.reduce((a, b) => (b.ips > a.ips ? b : a));
    rows.push({
      comparison: `vs the raw-inference limit (raw ONNX Runtime Runs alone with all ${o.tp!.cores} cores busy), stand-in models, best setting (${best.setting})`,
      ours: `${fmt(best.ips, 1)} images/s`, other: `${fmt(best.limitIps, 1)} images/s`, ratio: `**${fmt((100 * best.ips) / best.limitIps!, 1)} %** of the limit`, hardware: here,
    });
  } else rows.push({ comparison: 'vs the raw-inference limit', ours: NOT, other: NOT, ratio: '—', hardware: here });
  // 3. vs the published table: det + rec inference of the PP-ShiTuV2 programs (random weights), the fastest thread count measured here.
  const s = o.shaped;
  const best = s && shapedBest(s);
  if (s && best && Number.isFinite(best.det + best.rec)) {
    const pub = s.published.detMs + s.published.recMs;
    const ours = best.det + best.rec;
    rows.push({
      comparison: `vs the published table (det + rec inference per image), PP-ShiTuV2 programs converted with random weights (timing only), ${best.threads} thread(s) here${s.runs.length > 1 ? ' (the faster setting)' : ''} vs ${s.published.threads} there`,
      ours: `${fmt(ours, 1)} ms (${fmt(best.det, 1)} + ${fmt(best.rec, 1)})`, other: `${fmt(pub, 2)} ms (${s.published.detMs} + ${s.published.recMs})`, ratio: `**${fmt(ours / pub, 2)}x** the time (${best.threads} vs ${s.published.threads} threads)`, hardware: `${s.cpu ?? here} vs ${s.published.cpu}`,
    });
  } else rows.push({ comparison: 'vs the published table (PP-ShiTuV2 programs, random weights)', ours: NOT, other: NOT, ratio: '—', hardware: here });
  return rows;
}

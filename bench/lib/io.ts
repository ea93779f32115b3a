// Result files: where a run writes its JSON and SVG (the --out folder, passed to
// child processes through SHITU_BENCH_OUT), the log line and number formatting.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMITTED_RESULTS_DIR } from './paths';

/** This run's output folder: SHITU_BENCH_OUT (set by run.ts for itself and its children), else the committed results. */
export function resultsDir(): string {
  return process.env.SHITU_BENCH_OUT ? path.resolve(process.env.SHITU_BENCH_OUT) : COMMITTED_RESULTS_DIR;
}

export function writeJson(name: string, data: unknown): string {
  fs.mkdirSync(resultsDir(), { recursive: true });
  const p = path.join(resultsDir(), name);
  fs.writeFileSync(p, JSON.stringify(data, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  return p;
}

export function readJson<T = any>(name: string): T | undefined {
  const p = path.join(resultsDir(), name);
  if (!fs.existsSync(p)) return undefined;
  return JSON.parse(fs.readFileSync(p, 'utf8')) as T;
}

export function log(...a: unknown[]): void {
  const t = new Date().toISOString().slice(11, 19);
  console.log(`[${t}]`, ...a);
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

export function writeSvg(name: string, svg: string): string {
  fs.mkdirSync(resultsDir(), { recursive: true });
  fs.writeFileSync(path.join(resultsDir(), name), svg);
  return name;
}

export function fmt(x: number | undefined | null, d = 2): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return 'n/a';
  return x.toFixed(d);
}

export function mb(bytes: number): number {
  return bytes / (1024 * 1024);
}


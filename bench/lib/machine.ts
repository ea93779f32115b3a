// The machine and process the run happens on: description, run clock, GC, run mode.
import * as fs from 'node:fs';
import * as os from 'node:os';

/** When this process started the benchmark (sections use it to stay inside the run's time budget). */
export const RUN_START = Date.now();
export const elapsedS = () => (Date.now() - RUN_START) / 1000;

export interface Machine {
  cpu: string;
  /** The widest vector extensions the CPU has (its int8 and float kernels differ by them), with its family and model. */
  simd?: string;
  cores: number;
  memGiB: number;
  os: string;
  node: string;
  loadavgStart: number[];
  date: string;
}

export function machine(): Machine {
  const c = os.cpus();
  return {
    cpu: c[0]?.model?.trim() ?? 'unknown',
    simd: simdLevel(),
    cores: c.length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    node: process.version,
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

/**
 * ONNX Runtime's int8 kernels and FAISS's distance code pick AVX-512 VNNI,
 * AVX-512, AVX-VNNI or AVX2 paths at run time, and two CPUs that os.cpus()
 * both calls "AMD EPYC" can differ there in speed and in the last digits of a
 * score: name the level with the CPU. Linux only (/proc/cpuinfo).
 */
export function simdLevel(): string | undefined {
  let info: string;
  try { info = fs.readFileSync('/proc/cpuinfo', 'utf8'); } catch { return undefined; }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
  const flags = new Set((field('flags') ?? '').split(/\s+/));
  const level = flags.has('avx512f')
    ? `AVX-512${flags.has('avx512_vnni') ? ' + VNNI' : ''}${flags.has('avx512_bf16') ? ' + BF16' : ''}`
    : flags.has('avx2') ? `AVX2${flags.has('avx_vnni') ? ' + AVX-VNNI' : ''}` : flags.has('avx') ? 'AVX' : 'SSE';
  const family = field('cpu family');
  const model = field('model');
  return `${level}${family ? ` (family ${family}, model ${model ?? '?'})` : ''}`;
}

let gcFn: (() => void) | undefined;
/** Runs the garbage collector (exposed at run time, no node flag needed). */
export function gc(): void {
  if (!gcFn) {
    const g = (globalThis as any).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      require('node:v8').setFlagsFromString('--expose-gc');
      gcFn = require('node:vm').runInNewContext('gc');
    }
  }
  gcFn!();
}

export interface RunMode {
  quick: boolean;
}

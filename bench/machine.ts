// The machine and process the run happens on: description, run clock, GC, run mode.
import * as os from 'node:os';

/** When this process started the benchmark (sections use it to stay inside the run's time budget). */
export const RUN_START = Date.now();
export const elapsedS = () => (Date.now() - RUN_START) / 1000;

export interface Machine {
  cpu: string;
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
    cores: c.length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    node: process.version,
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
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

export interface RunMode {
  quick: boolean;
}

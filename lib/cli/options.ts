// What every `shitu` command shares: parsers for numeric options (a bad value
// is a usage error, exit 2, through commander's InvalidArgumentError), the
// pipeline options and the one builder that turns them into createPipeline's
// options (so that every command, serve included, honours every flag), and the
// progress line on stderr.
import { Command, InvalidArgumentError, Option } from 'commander';
import { createPipeline, CreatePipelineOptions, Pipeline } from '../pipeline/pipeline';

/** An integer option in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    const n = Number(v.trim());
    if (!v.trim() || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got ${JSON.stringify(v)}.`);
    return n;
  };
}

/** A finite number option in [min, max]. */
export function numberArg(min = -Infinity, max = Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v.trim());
    if (!v.trim() || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a number${Number.isFinite(min) && Number.isFinite(max) ? ` from ${min} to ${max}` : Number.isFinite(min) ? ` >= ${min}` : ''}, got ${JSON.stringify(v)}.`);
    return n;
  };
}

/** A comma-separated list option. */
export const listArg = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

/** The flags of every command that creates a pipeline. */
export interface PipelineFlags {
  config: string;
  device: string;
  threads?: number;
  threadPool?: 'session' | 'shared';
  reducedDecode?: boolean;
  /** false with --no-optimize-graph. */
  optimizeGraph?: boolean;
  /** --quantized: the feature model's INT8 copy. */
  quantized?: boolean;
}

export const pipelineFlags = (c: Command): Command =>
  c
    .option('--config <file>', 'pipeline config YAML, or PP-ShiTuV2 for the defaults', 'PP-ShiTuV2')
    .option('--device <device>', 'cpu or gpu:N', 'cpu')
    .option('--threads <n>', 'ONNX Runtime threads per model', intArg(1, 1024))
    .addOption(new Option('--thread-pool <kind>', 'session (a pool per model) or shared (one process-wide pool, a thread per core)').choices(['session', 'shared']))
    .option('--reduced-decode', 'decode large JPEGs at 1/2, 1/4 or 1/8 scale (see README "Speed")')
    .option('--no-optimize-graph', 'load the model files as they are, without the load-time graph rewrite')
    .option('--quantized', 'load the feature model\'s INT8 copy (<model_dir>-int8, made by shitu models quantize)');

/** createPipeline's options from the pipeline flags (plus what a command adds, e.g. serve's batching). */
export function pipelineOptionsOf(o: PipelineFlags, extra: CreatePipelineOptions = {}): CreatePipelineOptions {
  return { device: o.device, threads: o.threads, threadPool: o.threadPool, reducedDecode: o.reducedDecode, optimizeGraph: o.optimizeGraph, quantized: o.quantized, ...extra };
}

/** Runs `f` with a pipeline made from the flags, and closes it afterwards. */
export async function withPipeline<T>(o: PipelineFlags, f: (p: Pipeline) => Promise<T>): Promise<T> {
  const p = await createPipeline(o.config, pipelineOptionsOf(o));
  try {
    return await f(p);
  } finally {
    await p.close();
  }
}

/** A progress line on stderr: redrawn on a terminal, every 25 % otherwise. */
export function progressBar(label: string) {
  const tty = process.stderr.isTTY;
  let last = -1;
  return ({ done, total }: { done: number; total: number }) => {
    const pct = Math.floor((done / total) * 100);
    if (pct === last) return;
    last = pct;
    const width = 30, fill = Math.round((done / total) * width);
    const line = `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}`;
    if (tty) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`);
    else if (done === total || pct % 25 === 0) process.stderr.write(line + '\n');
  };
}

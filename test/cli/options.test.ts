// The CLI's shared options: numeric flags are usage errors (exit 2, a clear
// message) when they are not numbers in range, and every command that makes a
// pipeline (serve included) passes every pipeline flag on.
import t from 'tap';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { pipelineFlags, pipelineOptionsOf, PipelineFlags } from '../../lib/cli/options';

const CLI = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
const shitu = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

t.test('a bad number is a usage error naming the option and the value', async (t) => {
  for (const [args, option] of [
    [['predict', '--topk', 'abc', 'x.jpg'], '--topk'],
    [['predict', '--topk', '0', 'x.jpg'], '--topk'],
    [['predict', '--det-threshold', '1.5', 'x.jpg'], '--det-threshold'],
    [['predict', '--threads', '2.5', 'x.jpg'], '--threads'],
    [['serve', '--port', '70000'], '--port'],
    [['serve', '--max-queue', 'many'], '--max-queue'],
    [['serve', '--thread-pool', 'big'], '--thread-pool'],
  ] as Array<[string[], string]>) {
    const r = shitu(...args);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, option, `${args.join(' ')}: names ${option}`);
    t.notMatch(r.stderr, /got null|NaN/, `${args.join(' ')}: no null or NaN in the message`);
  }
});

t.test('serve and every pipeline command share one options builder', async (t) => {
  const parsed = pipelineFlags(new Command('x').exitOverride())
    .parse(['--threads', '3', '--thread-pool', 'session', '--reduced-decode', '--device', 'cpu'], { from: 'user' })
    .opts<PipelineFlags>();
  t.same(pipelineOptionsOf(parsed, { batching: false }), { device: 'cpu', threads: 3, threadPool: 'session', reducedDecode: true, optimizeGraph: true, quantized: undefined, batching: false });
  const plain = pipelineFlags(new Command('x').exitOverride()).parse(['--no-optimize-graph'], { from: 'user' }).opts<PipelineFlags>();
  t.equal(pipelineOptionsOf(plain).optimizeGraph, false, '--no-optimize-graph turns the graph pass off');
  const q = pipelineFlags(new Command('x').exitOverride()).parse(['--quantized'], { from: 'user' }).opts<PipelineFlags>();
  t.equal(pipelineOptionsOf(q).quantized, true, '--quantized: the INT8 feature model');
});

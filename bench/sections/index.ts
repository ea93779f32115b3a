// The benchmark's sections: name, what it measures, whether --quick samples it,
// and how to run it. Section modules are loaded only when their section runs,
// so `run.js --help` loads nothing heavy (no addon, no models).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunMode } from '../lib/machine';
import { log, resultsDir, writeJson } from '../lib/io';
import { spawnSync } from 'node:child_process';

/** --quick must end inside this many seconds on 2 loaded cores. */
export const QUICK_BUDGET_S = 120;

export interface SectionContext {
  mode: RunMode;
  efConstruction?: number;
}

export interface SectionDef {
  key: string;
  title: string;
  /** Sampled by --quick. */
  quick: boolean;
  /** Not in the full run: only with --only naming it. */
  separate?: boolean;
  /** Its module, bench/sections/<script>.ts (listed by run.js --help). */
  script: string;
  run(ctx: SectionContext): Promise<unknown>;
}

export const SECTIONS: readonly SectionDef[] = [
  {
    key: 'memory', quick: false, script: 'memory',
    title: 'RSS over 10^4 predictions in a fresh child process (flat or not)',
    run: async ({ mode }) => (require('./memory') as typeof import('./memory')).runMemory(mode),
  },
  {
    key: 'stages', quick: true, script: 'stages',
    title: 'time per stage of one recognition, stand-in models, 1 and 2 threads (quick: 1 thread)',
    run: async ({ mode }) => (require('./stages') as typeof import('./stages')).runStages(mode),
  },
  {
    key: 'shaped', quick: true, script: 'shaped',
    title: 'PP-ShiTuV2 programs converted by our converter (random weights: timing only): per stage, raw Run, conversion time/RSS, params/FLOPs, beside the published table',
    run: async ({ mode }) => (require('./shaped') as typeof import('./shaped')).runShaped(mode),
  },
  {
    key: 'limit', quick: true, script: 'limit',
    title: 'end-to-end against the raw ONNX Runtime Runs of the same models (overhead)',
    run: async ({ mode }) => (require('./limit') as typeof import('./limit')).runLimit(mode),
  },
  {
    key: 'graph-pass', quick: false, script: 'graph-pass',
    title: 'the load-time graph pass: raw Runs as given / weights out of inputs / rewritten, and the stand-in pipeline with optimizeGraph on and off',
    run: async ({ mode }) => {
      const r = await (require('./graph-pass') as typeof import('./graph-pass')).runGraphPassBench({ quick: mode.quick });
      writeJson('graph-pass.json', r);
      return r;
    },
  },
  {
    key: 'int8', quick: false, script: 'int8',
    title: 'the INT8 feature model (shitu models quantize): raw Runs FP32 against INT8 at 1 and 2 threads, the guard\'s figures, the CPU\'s SIMD flags',
    run: async ({ mode }) => {
      const r = await (require('./int8') as typeof import('./int8')).runInt8Bench({ quick: mode.quick });
      writeJson('int8.json', r);
      return r;
    },
  },
  {
    key: 'peer', quick: true, script: 'peer',
    title: 'against the hand-rolled Node stack (onnxruntime-node + sharp + hnswlib-node), stand-in models and the PP-ShiTuV2 programs (random weights)',
    run: async ({ mode }) => (require('./peer') as typeof import('./peer')).runPeer(mode),
  },
  {
    key: 'throughput', quick: true, script: 'throughput',
    title: 'images/s per setting against the hard limit (raw Runs), concurrency, batching of the feature model',
    run: async ({ mode }) => (require('./throughput') as typeof import('./throughput')).runThroughput(mode),
  },
  {
    key: 'batching', quick: false, script: 'batching',
    title: 'dynamic batching of the feature model across concurrent recognitions',
    run: async ({ mode }) => (require('./batching') as typeof import('./batching')).runBatching(mode),
  },
  {
    key: 'decode', quick: false, script: 'decode',
    title: 'reducedDecode against full decoding on the shared photos',
    run: async ({ mode }) => (require('./decode') as typeof import('./decode')).runDecode(mode),
  },
  {
    key: 'index', quick: true, script: 'index-scaling',
    title: 'index build, search and memory per vector (serialized bytes) at 10^3-10^5 vectors (quick: 10^3, 10^4)',
    run: async ({ mode }) => {
      await (require('../lib/ours') as typeof import('../lib/ours')).closeAll();
      return (require('./index-scaling') as typeof import('./index-scaling')).runIndexScaling(mode);
    },
  },
  {
    key: 'embedded', quick: false, script: 'embedded',
    title: 'an app embedding the engine: req/s, p99 and its own readFile p99',
    run: async ({ mode }) => {
      const m = require('./embedded') as typeof import('./embedded');
      // "before": an older build of the package (its dist/ with the addon it
      // was built with), named by SHITU_EMBEDDED_BEFORE=DIST_DIR[:ADDON_DIR], run
      // first, in the same machine state; "after": this checkout.
      const durationS = mode.quick ? 5 : 10;
      const connections = [1, 4, 16];
      const before = process.env.SHITU_EMBEDDED_BEFORE;
      if (before) {
        const [dist, addon] = before.split(':');
        const out = path.join(resultsDir(), 'embedded-before.json');
        // Builds from before bench/sections/ kept this section at dist/bench/embedded.js.
        const script = [path.join(dist, 'bench', 'sections', 'embedded.js'), path.join(dist, 'bench', 'embedded.js')].find((f) => fs.existsSync(f))
          ?? path.join(dist, 'bench', 'sections', 'embedded.js');
        const args = [script, '--out', out, '--duration', String(durationS), '--connections', connections.join(','),
          '--note', `before: ${dist}${addon ? ` with the addon in ${addon}` : ''}`, ...(addon ? ['--addon', path.join(addon, 'shitu.node')] : [])];
        const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
        if (r.status !== 0) log(`embedded: the "before" build failed (exit ${r.status}): not measured`);
      } else log('embedded: no SHITU_EMBEDDED_BEFORE: the "before" figures are not measured in this run');
      const r = await m.runEmbedded({ connections, durationS, note: 'after: this checkout' });
      if (r !== undefined) writeJson('embedded-after.json', r);
      return r;
    },
  },
  {
    key: 'eval', quick: false, script: 'eval',
    title: '1,000-query evaluation timing',
    run: async () => (require('./eval') as typeof import('./eval')).runEval(),
  },
  {
    key: 'million', quick: false, separate: true, script: 'million',
    title: '10^6 vectors shaped like real embeddings: recall@5 / p50 for HNSW32, HNSW32_SQ8, IVF, IVF_PQ(_RERANK), hnswlib-node',
    run: async ({ mode, efConstruction }) => (require('./million') as typeof import('./million')).runIndexMillion({ ...mode, efConstruction }),
  },
];

export type SectionKey = string;

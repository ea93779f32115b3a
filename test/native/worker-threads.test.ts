// The addon in worker_threads: per-environment native state (native/addon_data.h).
// Runs test/consumer/workers.cjs in a child process: a wrong handle aborts V8
// (SIGABRT), which must fail this test rather than kill the runner.
import t from 'tap';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IMAGES, STANDIN_CONFIG } from '../helpers/shared';
import { expectLabel, expectSameRecognition } from '../helpers/recognition';
import { CASES } from '../helpers/recognition-cases';

const root = path.resolve(__dirname, '..', '..');
const LABELS = path.join(root, 'examples', 'gallery_labels.txt');

t.test('two workers recognise at once; the main thread before, during, after them and after a terminate', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath,
    [path.join(__dirname, '..', 'consumer', 'workers.cjs'), STANDIN_CONFIG, IMAGES, LABELS, root],
    { timeout: 240_000, maxBuffer: 1 << 24 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!);
  t.equal(r.sameCounts, true, 'as many boxes per image at every step');
  t.equal(r.images.length, 6);
  t.ok(r.labelled >= 6, `boxes recognised (${r.labelled})`);
  for (const [step, run] of Object.entries(r.runs as Record<string, any[][]>)) {
    if (step === 'before') continue;
    run.forEach((boxes, i) => expectSameRecognition(t, boxes, r.runs.before[i], `${step}, ${r.images[i]}: as the main thread before`));
  }
  const c = CASES.workersNongfu;
  const at = r.images.indexOf(c.image);
  t.ok(at >= 0, `${c.image} is among the images recognised`);
  expectLabel(t, r.runs.before[at]?.[0], c.expected, c.id);
});

t.test('workers terminated at random points of their native calls never abort the process', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath,
    [path.join(__dirname, '..', 'consumer', 'terminate-workers.cjs'), STANDIN_CONFIG, IMAGES, root, '30'],
    { timeout: 240_000, maxBuffer: 1 << 24 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!);
  t.same(r.terminated, { calls: 30, pipeline: 30 }, 'every worker terminated, none aborted the process');
  t.comment(`terminated after (ms): calls ${r.delays.calls.join(', ')}; pipeline ${r.delays.pipeline.join(', ')}`);
  t.ok(r.boxes > 0, `the main thread still recognises afterwards (${r.boxes} boxes)`);
});

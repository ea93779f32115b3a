// The addon in worker_threads: per-environment native state (native/addon_data.h).
// Runs test/consumer/workers.cjs in a child process: a wrong handle aborts V8
// (SIGABRT), which must fail this test rather than kill the runner.
import t from 'tap';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IMAGES, STANDIN_CONFIG } from './helpers/shared';

const root = path.resolve(__dirname, '..');
const LABELS = path.join(root, 'examples', 'gallery_labels.txt');

t.test('two workers recognise at once; the main thread before, during, after them and after a terminate', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath,
    [path.join(__dirname, 'consumer', 'workers.cjs'), STANDIN_CONFIG, IMAGES, LABELS, root],
    { timeout: 240_000, maxBuffer: 1 << 24 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!);
  t.equal(r.same, true, 'workers and main thread give the same labels at every step');
  t.equal(r.images, 6);
  t.ok(r.labelled >= 6, `boxes recognised (${r.labelled})`);
  t.same(r.before[0].slice(0, 1), ['莫斯利安'], 'first photo recognised as in the gallery');
});

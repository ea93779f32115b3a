// The addon runs its work on threads it owns (native/worker_pool.h), not on
// libuv's thread pool, and native jobs can be cancelled (native/cancel.h).
// Everything runs in one child process (test/helpers/own-threads-child.js) with
// UV_THREADPOOL_SIZE=1, where a single native job on libuv's pool would hold up
// every fs call of the host; the child prints its facts as one JSON line.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IMAGES, STANDIN_CONFIG } from '../helpers/shared';
import { expectLabel, expectSameRecognition } from '../helpers/recognition';
import { CASES, GALLERIES } from '../helpers/recognition-cases';

const root = path.resolve(__dirname, '..', '..');
const child = path.join(__dirname, '..', 'helpers', 'own-threads-child.js');
/** A readFile of 3 KB must answer within this while 16 recognitions are in flight (before: it waited for all of them). */
const READ_BOUND_MS = 1000;

const c = CASES.reducedYoujia; // five: youjia.jpeg against the five-image gallery, full decode here
const job = {
  gallery: GALLERIES.five,
  queries: [c.image, 'product_demo/query/anmuxi.jpg', 'drink_test_images/nongfu_spring.jpeg', 'misc/dog.jpg'],
  big: 'misc/wangzai.jpg', // a 1596x1204 PNG: tens of ms to decode, no DCT shortcut
};

t.test('own threads: readFile stays prompt under 16 recognitions, results right, pool stats, cancellation, workers', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-own-threads-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const jobFile = path.join(dir, 'job.json');
  fs.writeFileSync(jobFile, JSON.stringify(job));
  // The child ends by itself once its work is done: a pool that kept the
  // process alive when idle would run into the timeout instead.
  const { stdout } = await promisify(execFile)(process.execPath, [child, root, STANDIN_CONFIG, IMAGES, jobFile], {
    timeout: 240_000, maxBuffer: 1 << 24, env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
  }).catch((e) => {
    throw new Error(e.killed ? `the child did not exit within 240 s (an idle pool keeping it alive?): ${e.stderr}` : `child failed: ${e.message}`);
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!);
  if (r.error) throw new Error(`child: ${r.error}`);
  t.equal(r.uvThreadpoolSize, '1', 'libuv has a single thread in the child');

  t.test('a 3 KB readFile answers promptly beside 16 recognitions', async (t) => {
    t.ok(r.reads.length >= 3, `${r.reads.length} reads while ${r.concurrent.length} recognitions ran (${Math.round(r.loadMs)} ms)`);
    const worst = Math.max(...r.reads);
    t.ok(worst < READ_BOUND_MS, `slowest read ${worst.toFixed(1)} ms < ${READ_BOUND_MS} ms`);
  });

  t.test('concurrent results equal the one-at-a-time ones', async (t) => {
    t.equal(r.concurrent.length, 48);
    for (const x of r.concurrent)
      expectSameRecognition(t, x.boxes, r.nativeSequential[x.query], `${job.queries[x.query]} among 16 in flight`);
    expectLabel(t, r.sequential[0][0], c.expected, c.id);
    expectLabel(t, r.nativeSequential[0][0], c.expected, `${c.id} (native call)`);
  });

  t.test('pool stats', async (t) => {
    const s = r.statsAfterCreate;
    t.ok(s.threads >= 2, `started with at least the pipeline's concurrency (${s.threads} threads)`);
    t.equal(s.size, s.threads);
    t.equal(s.maxWorkers, 16);
    t.ok(r.maxBusy >= 1 && r.maxBusy <= s.threads, `busy threads (at most ${r.maxBusy}) within the pool`);
    t.ok(r.maxQueued >= 1, `jobs queued behind the pool's threads (up to ${r.maxQueued})`);
    t.match(r.statsIdle, { threads: s.threads, busy: 0, queued: 0 }, 'idle afterwards');
    // Threads that ONNX Runtime or OpenMP start from a pool thread inherit its name: at least as many.
    t.ok(r.namedThreads >= r.statsIdle.threads, `the process has shitu-worker threads (${r.namedThreads})`);
    t.match(r.statsEnd, { busy: 0, queued: 0 }, 'idle at the end');
  });

  t.test('reserveWorkers grows the pool, never shrinks it, caps it', async (t) => {
    const g = r.grow;
    t.equal(g.reserve6, 6);
    t.equal(g.after6, 6, 'six threads running');
    t.equal(g.reserve1, 6, 'a smaller reservation keeps the size');
    t.equal(g.after1, 6);
    t.equal(g.reserveHuge, 16, 'capped at maxWorkers');
    t.match(g.afterHuge, { threads: 16, size: 16 });
    t.match(g.zero, { ok: false, name: 'RangeError' });
    t.match(g.text, { ok: false, name: 'TypeError' });
    expectSameRecognition(t, g.recognized, r.sequential[0], 'the grown pool answers the same');
  });

  t.test('cancel flags', async (t) => {
    const x = r.cancel;
    t.match(x.recognizeBefore, { ok: false, code: 'ERR_ABORTED', message: /before decoding/ }, 'recognize, flag set before');
    t.match(x.detectBefore, { ok: false, code: 'ERR_ABORTED' }, 'detect, flag set before');
    t.match(x.embedBefore, { ok: false, code: 'ERR_ABORTED' }, 'embed, flag set before');
    t.equal(x.recognizeUnset.ok, true, 'an unset flag changes nothing');
    t.ok(x.recognizeUnset.value.boxes.length > 0);
    t.match(x.plainBuffer, { ok: false, name: 'TypeError', message: /SharedArrayBuffer/ }, 'an Int32Array over a plain ArrayBuffer is refused');
    t.match(x.notInt32, { ok: false, name: 'TypeError' }, 'a Uint8Array is refused');
    t.match(x.embedRunning, { ok: false, code: 'ERR_ABORTED', message: /before decoding/ }, 'embed of 48 pictures, cancelled while running');
    t.match(x.recognizeRunning, { ok: false, code: 'ERR_ABORTED', message: /after (decoding|detection)|before a feature batch/ }, 'recognize, cancelled while running');
  });

  t.test('an aborted add or remove leaves the index unchanged', async (t) => {
    const x = r.cancel;
    t.match(x.addBefore, { ok: false, code: 'ERR_ABORTED' });
    t.match(x.removeBefore, { ok: false, code: 'ERR_ABORTED' });
    t.equal(x.ntotalAfterBefore, x.ntotalBefore, `ntotal still ${x.ntotalBefore}`);
    t.match(x.addRunning, { ok: false, code: 'ERR_ABORTED', message: /before adding/ }, 'an add waiting behind a long add, cancelled');
    t.equal(x.longAdd.ok, true, 'the long add itself completed');
    t.equal(x.ntotalAfterRunning, x.ntotalBefore + x.bulk, 'ntotal grew by the long add only');
    t.equal(x.hasAborted2000, false, 'no id of the aborted add');
    t.match(x.indexDataAdd, { ok: false, code: 'ERR_ABORTED' });
    t.match(x.indexDataRemove, { ok: false, code: 'ERR_ABORTED' });
    t.same(x.indexDataAfter, x.indexDataBefore, 'IndexData: count, next id and labels unchanged');
  });

  t.test('worker_threads Workers using the addon exit cleanly', async (t) => {
    t.equal(r.workerNatural.exitCode, 0, 'a Worker whose work is done exits by itself, code 0');
    t.ok(r.workerNatural.boxes > 0);
    t.ok(r.workerNatural.stats.threads >= 1, 'it had its own pool');
    t.equal(r.workerTerminated.exitCode, 1, 'a Worker terminated with native work in flight');
    expectSameRecognition(t, r.afterWorkers, r.sequential[0], 'the main thread answers the same afterwards');
  });
});

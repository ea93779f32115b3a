// One FIFO admission per pipeline over every native job of every call
// (a recognition, a gallery batch's embedding or detection, an index add or
// remove): at most `concurrency` run at once, the rest wait in arrival order;
// beyond `maxQueue` waiting a new job is refused with ERR_BUSY at once instead
// of piling up. A waiting job whose call is cancelled leaves the queue at once.
// Bounding the jobs of all calls together (not the items of one predict) is
// what keeps a server that calls recognize() per request from flooding the
// native threads. The wait itself is lib/util/fifo-slots.ts.
import { ShituError } from '../errors';
import type { Cancellation } from './cancel';
import { debug } from '../util/debug-log';
import { FifoSlots } from '../util/fifo-slots';

export interface AdmissionStats {
  /** Native jobs running now (at most the pipeline's concurrency). */
  inFlight: number;
  /** Jobs waiting for a slot. */
  queued: number;
  /** Jobs that finished, succeeded or failed, or were cancelled, so far. */
  completed: number;
  failed: number;
  /** Dropped from the queue or stopped by their call's signal, deadline or close(). */
  aborted: number;
  /** Refused with ERR_BUSY (the queue was full). */
  rejected: number;
}

export class Admission {
  private readonly slots: FifoSlots;
  private readonly counts = { completed: 0, failed: 0, aborted: 0, rejected: 0 };
  private closed = false;

  constructor(readonly concurrency: number, readonly maxQueue: number) {
    this.slots = new FifoSlots(concurrency);
  }

  stats(): AdmissionStats {
    return { inFlight: this.slots.active, queued: this.slots.queued, ...this.counts };
  }

  /**
   * Runs `job` when a slot is free. Rejects with ERR_BUSY when the queue is
   * full, ERR_CLOSED after close(), and with the call's reason (ERR_ABORTED,
   * ERR_TIMEOUT) as soon as it is cancelled, queued or running (a running job
   * keeps its slot until it reaches its next boundary and returns). With
   * `untilDone`, a job that has started is waited for and decides the outcome
   * itself (an index add or remove: done, or refused by native code before it
   * changed anything).
   */
  async run<T>(job: () => Promise<T>, cancel: Cancellation, o: { untilDone?: boolean } = {}): Promise<T> {
    if (this.closed) throw new ShituError('ERR_CLOSED', 'the pipeline is closed');
    if (cancel.aborted) {
      this.counts.aborted++;
      debug('job aborted before it was queued: %s', (cancel.reason as Error)?.message ?? cancel.reason);
      throw cancel.reason;
    }
    const queuedAt = performance.now();
    if (!this.slots.tryTake()) {
      if (this.slots.queued >= this.maxQueue) {
        this.counts.rejected++;
        throw new ShituError('ERR_BUSY', `the pipeline is busy: ${this.slots.active} job(s) running and ${this.slots.queued} waiting (maxQueue ${this.maxQueue})`);
      }
      await this.slots.wait((giveUp) => cancel.onAbort((reason) => {
        if (!giveUp(reason)) return;
        this.counts.aborted++;
        debug('job aborted while queued, after %s ms: %s', (performance.now() - queuedAt).toFixed(1), (reason as Error)?.message ?? reason);
      }));
    }
    const startedAt = performance.now();
    const wait = (startedAt - queuedAt).toFixed(1);
    let p: Promise<T>;
    try {
      p = job();
    } catch (e) {
      p = Promise.reject(e);
    }
    const ran = () => (performance.now() - startedAt).toFixed(1);
    p.then(() => {
      if (cancel.aborted && !o.untilDone) this.counts.aborted++;
      else this.counts.completed++;
      debug('job %s: waited %s ms for a slot, ran %s ms', cancel.aborted ? 'aborted' : 'done', wait, ran());
    }, (e) => {
      if (cancel.aborted || (e instanceof ShituError && (e.code === 'ERR_ABORTED' || e.code === 'ERR_TIMEOUT'))) this.counts.aborted++;
      else this.counts.failed++;
      debug('job failed (%s): waited %s ms for a slot, ran %s ms', (e as { code?: string })?.code ?? (e as Error)?.message, wait, ran());
    }).finally(() => this.slots.release());
    return o.untilDone ? p : cancel.race(p);
  }

  /**
   * Refuses new jobs, rejects the waiting ones with ERR_CLOSED, and resolves
   * once the running ones are done or after `timeoutMs`, whichever comes first
   * (a native job past its last boundary cannot be stopped; it finishes alone).
   */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    this.counts.aborted += this.slots.dropAll(new ShituError('ERR_CLOSED', 'the pipeline was closed before this work started'));
    if (this.slots.active === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.slots.idle(),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
    ]);
    clearTimeout(timer);
  }
}

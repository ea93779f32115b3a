// Admission control for the HTTP service: at most `maxConcurrent` jobs run at
// once, at most `maxQueue` wait; beyond that a job is refused at once (the
// caller answers 503 + Retry-After) instead of piling up. A job whose signal
// aborts while it waits (the client went away) is dropped without ever starting.
// The wait itself is lib/util/fifo-slots.ts.
import { ShituError } from '../errors';
import { FifoSlots } from '../util/fifo-slots';

/** ERR_BUSY with the seconds a client should wait (details.retryAfterS: the service's Retry-After). */
const busy = (retryAfterS: number) =>
  new ShituError('ERR_BUSY', `the server is busy (all workers busy and the queue full); retry in ${retryAfterS} s`, { details: { retryAfterS } });

const cancelled = () => new ShituError('ERR_ABORTED', 'the client went away before its request started');

export interface LimiterStats {
  active: number;
  queued: number;
  started: number;
  completed: number;
  rejected: number;
  cancelled: number;
}

export class Limiter {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  private readonly slots: FifoSlots;
  private started = 0;
  private completed = 0;
  private rejected = 0;
  private cancelled = 0;
  /** Exponential moving average of a job's run time (ms), for Retry-After. */
  private emaMs = 0;

  constructor(maxConcurrent: number, maxQueue: number) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError(`maxQueue must be a non-negative integer, got ${maxQueue}`);
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
    this.slots = new FifoSlots(maxConcurrent);
  }

  get stats(): LimiterStats {
    return {
      active: this.slots.active, queued: this.slots.queued, started: this.started,
      completed: this.completed, rejected: this.rejected, cancelled: this.cancelled,
    };
  }

  /** True when a job submitted now would be refused (every slot busy and the queue full). */
  get full(): boolean {
    return this.slots.active >= this.maxConcurrent && this.slots.queued >= this.maxQueue;
  }

  /** Counts a refusal decided by the caller before submitting (e.g. from the request headers). */
  refuse(): ShituError {
    this.rejected++;
    return busy(this.retryAfterSeconds());
  }

  /** Seconds a refused client should wait: the time the work ahead of it needs, at least 1. */
  retryAfterSeconds(): number {
    const ahead = this.slots.active + this.slots.queued;
    const est = (this.emaMs || 1000) * ahead / this.maxConcurrent / 1000;
    return Math.max(1, Math.min(60, Math.ceil(est)));
  }

  /** Runs `job` when a slot is free. Throws ERR_BUSY when the queue is full, ERR_ABORTED when `signal` aborts first. */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) {
      this.cancelled++;
      throw cancelled();
    }
    if (!this.slots.tryTake()) {
      if (this.slots.queued >= this.maxQueue) {
        this.rejected++;
        throw busy(this.retryAfterSeconds());
      }
      await this.slots.wait(signal && ((giveUp) => {
        const onAbort = () => { if (giveUp(cancelled())) this.cancelled++; };
        signal.addEventListener('abort', onAbort, { once: true });
        return () => signal.removeEventListener('abort', onAbort);
      }));
    }
    this.started++;
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      const ms = performance.now() - t0;
      this.emaMs = this.emaMs ? this.emaMs * 0.8 + ms * 0.2 : ms;
      this.completed++;
      this.slots.release();
    }
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    return this.slots.idle();
  }
}

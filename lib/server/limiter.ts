// Admission control for the HTTP service: at most `maxConcurrent` jobs run at
// once, at most `maxQueue` wait; beyond that a job is refused at once (the
// caller answers 503 + Retry-After) instead of piling up. A job whose signal
// aborts while it waits (the client went away) is dropped without ever starting.
// The wait itself is lib/util/fifo-slots.ts.
import { FifoSlots } from '../util/fifo-slots';

export class BusyError extends Error {
  readonly retryAfterS: number;
  constructor(retryAfterS: number) {
    super(`the server is busy (all workers busy and the queue full); retry in ${retryAfterS} s`);
    this.name = 'BusyError';
    this.retryAfterS = retryAfterS;
  }
}

export class CancelledError extends Error {
  constructor() {
    super('the client went away before its request started');
    this.name = 'CancelledError';
  }
}

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

  constructor(maxConcurrent = 2, maxQueue = 32) {
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
  refuse(): BusyError {
    this.rejected++;
    return new BusyError(this.retryAfterSeconds());
  }

  /** Seconds a refused client should wait: the time the work ahead of it needs, at least 1. */
  retryAfterSeconds(): number {
    const ahead = this.slots.active + this.slots.queued;
    const est = (this.emaMs || 1000) * ahead / this.maxConcurrent / 1000;
    return Math.max(1, Math.min(60, Math.ceil(est)));
  }

  /** Runs `job` when a slot is free. Throws BusyError when the queue is full, CancelledError when `signal` aborts first. */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) {
      this.cancelled++;
      throw new CancelledError();
    }
    if (!this.slots.tryTake()) {
      if (this.slots.queued >= this.maxQueue) {
        this.rejected++;
        throw new BusyError(this.retryAfterSeconds());
      }
      await this.slots.wait(signal && ((giveUp) => {
        const onAbort = () => { if (giveUp(new CancelledError())) this.cancelled++; };
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

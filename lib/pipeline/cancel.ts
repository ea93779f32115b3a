// Cancellation of one pipeline call: the caller's AbortSignal and its
// timeoutMs deadline folded into one token. The token rejects the call at once
// (queued work is dropped by the admission, lib/pipeline/admission.ts), is
// checked by the JS code at every stage boundary (between items, between
// gallery batches) and sets a flag in shared memory that native code reads at
// its own stage boundaries (the `cancel` option of the native calls: an
// Int32Array over a SharedArrayBuffer, non-zero = cancelled). A call that
// changes an index passes the flag to the native add/remove, which refuses
// (ERR_ABORTED) only before it changes anything, and waits for its answer:
// a rejected call always left the index as it was, a resolved one changed it.
import { ShituError } from '../errors';
import { PIPELINE_LIMITS } from '../limits';
import { createCancelFlag, setCancelFlag } from '../native/cancel-flag';

export interface CancelOptions {
  /** Aborting it rejects the call with ShituError ERR_ABORTED (cause: the signal's reason). */
  signal?: AbortSignal;
  /** Deadline of the whole call in ms, queueing included: past it the call rejects with ERR_TIMEOUT. */
  timeoutMs?: number;
}

const isAbortSignal = (s: unknown): s is AbortSignal =>
  s instanceof AbortSignal || (typeof s === 'object' && s !== null && typeof (s as AbortSignal).aborted === 'boolean'
    && typeof (s as AbortSignal).addEventListener === 'function' && typeof (s as AbortSignal).removeEventListener === 'function');

/** The signal and timeoutMs options checked (TypeError / RangeError with one sentence each). */
export function validateCancelOptions(o: CancelOptions): void {
  if (o.signal !== undefined && !isAbortSignal(o.signal)) throw new TypeError(`signal must be an AbortSignal, got ${typeof o.signal === 'object' ? 'an object that is not one' : JSON.stringify(o.signal)}`);
  const t = o.timeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < PIPELINE_LIMITS.timeoutMs.min || t > PIPELINE_LIMITS.timeoutMs.max))
    throw new RangeError(`timeoutMs must be an integer in [${PIPELINE_LIMITS.timeoutMs.min}, ${PIPELINE_LIMITS.timeoutMs.max}], got ${typeof t === 'number' ? String(t) : JSON.stringify(t)}`);
}

export class Cancellation {
  /** Shared with native code: non-zero once the call is cancelled. */
  readonly flag = createCancelFlag();
  private reasonValue: ShituError | undefined;
  private timer?: NodeJS.Timeout;
  private readonly listeners = new Set<(reason: ShituError) => void>();
  private readonly userSignal?: AbortSignal;
  private readonly onUserAbort = () => this.abort(new ShituError('ERR_ABORTED', `${this.what} was aborted`, { cause: this.userSignal!.reason }));

  /** `what` names the call in the messages ("buildIndex"). */
  constructor(o: CancelOptions, private readonly what: string) {
    validateCancelOptions(o);
    this.userSignal = o.signal;
    if (o.signal?.aborted) this.onUserAbort();
    else o.signal?.addEventListener('abort', this.onUserAbort, { once: true });
    if (o.timeoutMs !== undefined && !this.reasonValue) {
      const ms = o.timeoutMs;
      this.timer = setTimeout(() => this.abort(new ShituError('ERR_TIMEOUT', `${what} took longer than its timeoutMs of ${ms} ms`)), ms);
      this.timer.unref(); // a deadline alone never keeps the process alive
    }
  }

  /** A token that never aborts on its own (internal calls); abort() still works. */
  static none(what: string): Cancellation {
    return new Cancellation({}, what);
  }

  /** True once aborted (or timed out). */
  get aborted(): boolean {
    return this.reasonValue !== undefined;
  }

  /** The ShituError the call rejects with (ERR_ABORTED or ERR_TIMEOUT), once aborted. */
  get reason(): ShituError | undefined {
    return this.reasonValue;
  }

  /** Aborts with `reason` (ignored after a first abort). */
  abort(reason: ShituError): void {
    if (this.reasonValue) return;
    this.reasonValue = reason;
    setCancelFlag(this.flag);
    this.dispose();
    for (const l of [...this.listeners]) l(reason);
    this.listeners.clear();
  }

  /** Calls `f` once when the call aborts (at once if it has); returns the unsubscribe function. */
  onAbort(f: (reason: ShituError) => void): () => void {
    if (this.reasonValue) {
      f(this.reasonValue);
      return () => undefined;
    }
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Throws the reason when aborted: the JS stage boundaries. */
  check(): void {
    if (this.reasonValue) throw this.reasonValue;
  }

  /**
   * Settles as `p`, or rejects with the reason as soon as the call aborts (the
   * work behind `p` stops at its next boundary; its slot is freed when it does).
   */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.reasonValue) {
      p.catch(() => undefined);
      return Promise.reject(this.reasonValue);
    }
    return new Promise<T>((resolve, reject) => {
      const off = this.onAbort((r) => reject(r));
      p.then((v) => { off(); resolve(v); }, (e) => { off(); reject(this.translate(e)); });
    });
  }

  /** A native ERR_ABORTED (the flag seen at a native boundary) becomes this call's own reason. */
  translate(e: unknown): unknown {
    if (this.reasonValue && e instanceof ShituError && e.code === 'ERR_ABORTED') return this.reasonValue;
    return e;
  }

  /** Stops the deadline timer and the signal listener (the call is over). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.userSignal?.removeEventListener('abort', this.onUserAbort);
  }
}

// A fixed number of slots handed out in arrival order: the one FIFO wait behind
// the pipeline's admission (lib/pipeline/admission.ts: native jobs) and the
// service's limiter (lib/server/limiter.ts: requests, image fetches). A freed
// slot goes straight to the first waiter (no newcomer can take it in between),
// a waiter that gives up leaves the queue at once, and idle() resolves when
// nothing holds or waits. Each owner keeps its own counts, errors and queue
// bound; written by hand because what they need (hand-over on release, removal
// of one waiter, an idle promise) is a few lines over an array, and p-limit and
// its kin neither drop one waiter nor tell when they are idle.

interface Waiter {
  start(): void;
  drop(reason: unknown): void;
}

export class FifoSlots {
  private held = 0;
  private readonly waiters: Waiter[] = [];
  private idleWaiters: Array<() => void> = [];

  constructor(readonly size: number) {}

  /** Slots held now. */
  get active(): number { return this.held; }
  /** Callers waiting for a slot. */
  get queued(): number { return this.waiters.length; }

  /** Takes a slot now if one is free (no one waits then): true when taken. */
  tryTake(): boolean {
    if (this.held >= this.size) return false;
    this.held++;
    return true;
  }

  /**
   * Waits at the back of the queue for a slot, handed over by release().
   * `onGiveUp` is called with a function that takes the caller out of the
   * queue and rejects the wait with the reason given (it returns false, and
   * does nothing, once the slot was handed over); `onGiveUp` returns what
   * unsubscribes it, called when the wait ends either way.
   */
  wait(onGiveUp?: (giveUp: (reason: unknown) => boolean) => (() => void) | void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let off: (() => void) | void;
      const w: Waiter = {
        start: () => { off?.(); resolve(); },
        drop: (reason) => { off?.(); reject(reason); },
      };
      this.waiters.push(w);
      off = onGiveUp?.((reason) => {
        const i = this.waiters.indexOf(w);
        if (i < 0) return false;
        this.waiters.splice(i, 1);
        w.drop(reason);
        this.checkIdle();
        return true;
      });
    });
  }

  /** Frees a slot: the first waiter gets it, or it is free again. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next.start(); // handed over: `held` stays, it now counts the waiter
    else this.held--;
    this.checkIdle();
  }

  /** Rejects every waiter with `reason` (they never get a slot); how many there were. */
  dropAll(reason: unknown): number {
    const all = this.waiters.splice(0);
    for (const w of all) w.drop(reason);
    this.checkIdle();
    return all.length;
  }

  /** Resolves when no slot is held and no one waits. */
  idle(): Promise<void> {
    if (this.held === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkIdle(): void {
    if (this.held === 0 && this.waiters.length === 0 && this.idleWaiters.length) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      ws.forEach((w) => w());
    }
  }
}

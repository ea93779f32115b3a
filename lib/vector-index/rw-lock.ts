// Readers share, writers are exclusive and served in arrival order (a waiting
// writer holds back later readers, so writers cannot starve).
export class RwLock {
  private readers = 0;
  private writer = false;
  private queue: Array<{ write: boolean; wake: () => void }> = [];

  async read<T>(f: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await f();
    } finally {
      this.readers--;
      this.pump();
    }
  }

  async write<T>(f: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await f();
    } finally {
      this.writer = false;
      this.pump();
    }
  }

  private acquire(write: boolean): Promise<void> {
    return new Promise((wake) => {
      this.queue.push({ write, wake });
      this.pump();
    });
  }

  private pump() {
    while (this.queue.length && !this.writer) {
      const next = this.queue[0];
      if (next.write) {
        if (this.readers > 0) return;
        this.writer = true;
      } else {
        this.readers++;
      }
      this.queue.shift();
      next.wake();
      if (next.write) return;
    }
  }
}

// The worker thread that parses large JSON bodies, so that the event loop never
// runs a JSON.parse (or a copy) of megabytes. One worker, started on first use;
// a body's chunks are handed over as they arrive (each one a small copy,
// transferred), joined, decoded and parsed there, one body at a time; the
// parsed value comes back by structured clone (a Base64 image string is one
// copy). The code is inline (eval) so that it runs the same from lib/ under
// tap and from dist/. If the worker dies (out of memory), the bodies it held
// fail with 503 and the next body starts a new one.
import { Worker } from 'node:worker_threads';
import { BodyError } from './body-error';

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const sjson = require(workerData.sjson);
const jobs = new Map();
parentPort.on('message', ({ id, op, chunk }) => {
  if (op === 'push') { let j = jobs.get(id); if (!j) jobs.set(id, j = []); j.push(Buffer.from(chunk)); return; }
  const chunks = jobs.get(id) || [];
  jobs.delete(id);
  if (op !== 'end') return;
  try {
    const value = sjson.parse(Buffer.concat(chunks).toString('utf8'), null, { protoAction: 'error', constructorAction: 'error' });
    parentPort.postMessage({ id, ok: true, value });
  } catch (e) {
    parentPort.postMessage({ id, ok: false, message: String(e && e.message || e) });
  }
});`;

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void }

/** One body being handed to the worker. */
export interface WorkerJob {
  push(chunk: Uint8Array): void;
  /** The parsed body. */
  end(): Promise<unknown>;
  /** Drops what was pushed (the body was refused). */
  abort(): void;
}

export class JsonWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly open = new Set<number>();
  private nextId = 0;

  begin(): WorkerJob {
    const w = this.worker ?? this.start();
    const id = this.nextId++;
    this.open.add(id);
    w.ref();
    let settled: Promise<unknown> | undefined;
    const close = () => {
      this.open.delete(id);
      if (!this.open.size && !this.pending.size) w.unref();
    };
    return {
      push: (chunk) => {
        const copy = new Uint8Array(chunk); // its own ArrayBuffer, so it can be transferred
        w.postMessage({ id, op: 'push', chunk: copy }, [copy.buffer]);
      },
      end: () => settled ??= new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        close();
        w.postMessage({ id, op: 'end' });
      }),
      abort: () => {
        close();
        w.postMessage({ id, op: 'abort' });
      },
    };
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private start(): Worker {
    const w = new Worker(SOURCE, {
      eval: true,
      workerData: { sjson: require.resolve('secure-json-parse') },
      // The loaders tap or a caller put in execArgv are not needed for plain JS.
      execArgv: [],
      // A body is at most bodyLimit bytes; its string and parse fit in far less than this.
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    w.unref();
    w.on('message', (m: { id: number; ok: boolean; value?: unknown; message?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!this.open.size && !this.pending.size) w.unref();
      if (m.ok) p.resolve(m.value);
      else p.reject(new BodyError('ERR_BODY_INVALID', `request body: not valid JSON (${m.message})`));
    });
    const fail = (why: string) => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new BodyError('ERR_BODY_PARSER', `request body: the JSON parser ${why}; retry`));
      this.pending.clear();
      this.open.clear();
    };
    w.on('error', (e) => fail(`failed (${e.message})`));
    w.on('exit', (code) => fail(`stopped (exit ${code})`));
    this.worker = w;
    return w;
  }
}

// The worker thread that parses large JSON bodies, so that the event loop never
// runs a JSON.parse (or a copy) of megabytes. One worker, started on first use;
// a body's chunks are handed over as they arrive (copied into batches of a
// megabyte, transferred), joined, decoded and parsed there, one body at a time. The long
// Base64 text of image fields (IMAGE_FIELDS, at least WORKER_DECODE_MIN_CHARS
// characters) is decoded there too (base64.ts, the event loop's decoder) and
// its bytes come back transferred, not copied, each field replaced by a
// placeholder (decoded-images.ts); the rest of the value comes back by
// structured clone. Before, a 64 MB Base64 string came back by copy (50-75 ms
// of the event loop) and was decoded on it half a megabyte a turn. The code is
// inline (eval) so that it runs the same from lib/ under tap and from dist/.
// If the worker dies (out of memory), the bodies it held fail with 503 and the
// next body starts a new one.
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { BodyError } from './body-error';
import { decodeBase64 } from './base64';
import { DecodedImage, DecodedImages } from './decoded-images';
import { IMAGE_FIELDS, IMAGE_URL } from '../image-field';
import { WORKER_DECODE_MIN_CHARS } from '../../limits';

/** Bytes of a body handed to the worker per message. */
const BATCH_BYTES = 1 << 20;

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const sjson = require(workerData.sjson);
const { marker, minChars, fields } = workerData;
const isUrl = new RegExp(workerData.url.source, workerData.url.flags);
const decodeBase64 = ${decodeBase64.toString()};
const jobs = new Map();
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
// The objects whose 'image' is an image field.
function holders(body) {
  if (!isObject(body)) return [];
  const out = [body];
  for (const list of fields.lists) {
    const items = Object.hasOwn(body, list) ? body[list] : undefined;
    if (Array.isArray(items)) for (const x of items) if (isObject(x)) out.push(x);
  }
  return out;
}
function decodeImages(body, digests) {
  const images = [], transfer = [];
  for (const o of holders(body)) {
    const v = Object.hasOwn(o, fields.top) ? o[fields.top] : undefined;
    if (typeof v !== 'string' || v.length < minChars || isUrl.test(v)) continue;
    const it = decodeBase64(v, 1 << 22); // 4 Mi characters a slice: its copies stay small
    let step = it.next();
    while (!step.done) step = it.next();
    const placeholder = marker + images.length;
    const image = { placeholder, sha256: digests ? crypto.createHash('sha256').update(v, 'utf8').digest('hex') : undefined };
    if (typeof step.value === 'string') image.error = step.value;
    else {
      // The decoder's own buffer (allocUnsafe of this size never takes the shared pool) goes as it
      // is, its unused end (line breaks, padding) included, unless that is most of it: then a copy
      // in an ArrayBuffer of its own (a small Buffer.from would be a slice of the pool, which must
      // never be transferred).
      let b = step.value;
      if (b.byteOffset !== 0 || b.length < b.buffer.byteLength / 2) b = new Uint8Array(b);
      image.bytes = b.buffer;
      image.length = b.length;
      transfer.push(b.buffer);
    }
    images.push(image);
    o[fields.top] = placeholder;
  }
  return { images, transfer };
}
parentPort.on('message', ({ id, op, chunk, digests }) => {
  if (op === 'push') { let j = jobs.get(id); if (!j) jobs.set(id, j = []); j.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)); return; }
  const chunks = jobs.get(id) || [];
  jobs.delete(id);
  if (op !== 'end') return;
  let value;
  try {
    value = sjson.parse(Buffer.concat(chunks).toString('utf8'), null, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    parentPort.postMessage({ id, ok: false, message: String(e && e.message || e) });
    return;
  }
  chunks.length = 0;
  const { images, transfer } = decodeImages(value, digests);
  parentPort.postMessage({ id, ok: true, value, images }, transfer);
});`;

/** What the worker sends back for one decoded field. */
interface WorkerImage { placeholder: string; bytes?: ArrayBuffer; length?: number; error?: 'invalid' | 'empty'; sha256?: string }
interface WorkerReply { id: number; ok: boolean; value?: unknown; images?: WorkerImage[]; message?: string }

/** A body parsed on the worker, and its image fields decoded there (undefined: none). */
export interface ParsedBody { value: unknown; images?: DecodedImages }

interface Pending { resolve: (v: ParsedBody) => void; reject: (e: Error) => void }

/** One body being handed to the worker. */
export interface WorkerJob {
  push(chunk: Uint8Array): void;
  /**
   * The parsed body. `digests`: hash the text of each decoded image field (the
   * request has an Idempotency-Key, whose body hash needs them).
   */
  end(digests: boolean): Promise<ParsedBody>;
  /** Drops what was pushed (the body was refused). */
  abort(): void;
}

export class JsonWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly open = new Set<number>();
  private nextId = 0;
  /** Starts this process's placeholders (decoded-images.ts): random, so no client can write one. */
  private readonly marker = `shitu-decoded-image:${randomBytes(16).toString('hex')}:`;

  begin(): WorkerJob {
    const w = this.worker ?? this.start();
    const id = this.nextId++;
    this.open.add(id);
    w.ref();
    let settled: Promise<ParsedBody> | undefined;
    const close = () => {
      this.open.delete(id);
      if (!this.open.size && !this.pending.size) w.unref();
    };
    // The socket's chunks (about 64 KiB) are copied into batches of their own
    // (so they can be transferred): 64 buffers and messages for a 64 MiB body
    // rather than a thousand of each, which cost the event loop in messages and GC.
    let buffer: ArrayBuffer | undefined;
    let batch: Uint8Array | undefined;
    let filled = 0;
    const flush = () => {
      if (!buffer || !batch || !filled) return;
      w.postMessage({ id, op: 'push', chunk: batch.subarray(0, filled) }, [buffer]);
      buffer = batch = undefined;
      filled = 0;
    };
    return {
      push: (chunk) => {
        for (let at = 0; at < chunk.length;) {
          if (!batch) batch = new Uint8Array(buffer = new ArrayBuffer(BATCH_BYTES));
          const n = Math.min(chunk.length - at, BATCH_BYTES - filled);
          batch.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === BATCH_BYTES) flush();
        }
      },
      end: (digests) => settled ??= new Promise((resolve, reject) => {
        flush();
        this.pending.set(id, { resolve, reject });
        close();
        w.postMessage({ id, op: 'end', digests });
      }),
      abort: () => {
        buffer = batch = undefined;
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
      workerData: {
        sjson: require.resolve('secure-json-parse'),
        marker: this.marker,
        minChars: WORKER_DECODE_MIN_CHARS,
        fields: IMAGE_FIELDS,
        url: { source: IMAGE_URL.source, flags: IMAGE_URL.flags },
      },
      // The loaders tap or a caller put in execArgv are not needed for plain JS.
      execArgv: [],
      // A body is at most bodyLimit bytes; its string and parse fit in far less than this.
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    w.unref();
    w.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!this.open.size && !this.pending.size) w.unref();
      if (m.ok) p.resolve({ value: m.value, images: decodedOf(m.images) });
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

function decodedOf(images: WorkerImage[] | undefined): DecodedImages | undefined {
  if (!images?.length) return undefined;
  const m = new Map<string, DecodedImage>();
  for (const x of images) m.set(x.placeholder, { result: x.bytes ? Buffer.from(x.bytes, 0, x.length) : x.error ?? 'invalid', sha256: x.sha256 });
  return new DecodedImages(m);
}

// One file over HTTP(S) to disk, streamed: the body goes straight to a
// temporary file beside the destination (never held in memory: the PP-ShiTuV2
// archives are tens of MB, the CLIP ones hundreds), progress is reported as it
// arrives, and the file appears under its final name only when complete (rename
// is atomic on one filesystem). A failure or an abort leaves nothing behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ShituError } from '../errors';

export interface DownloadOptions {
  /** One line per step of progress (about every 10 % of a known size, or every 8 MiB). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const MiB = 1024 * 1024;
const mb = (n: number) => (n / MiB).toFixed(1);

/** Downloads `url` to `dest`; resolves with the byte count. Throws ShituError ERR_FETCH. */
export async function downloadFile(url: string, dest: string, o: DownloadOptions = {}): Promise<number> {
  const log = o.log ?? (() => {});
  let res: Response;
  try {
    res = await fetch(url, { signal: o.signal });
  } catch (e) {
    throw new ShituError('ERR_FETCH', `cannot download ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok || !res.body) throw new ShituError('ERR_FETCH', `cannot download ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length')) || 0;
  const step = total ? Math.max(total / 10, MiB) : 8 * MiB;
  let got = 0;
  let next = step;
  const progress = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      got += chunk.length;
      if (got >= next) {
        next = got + step;
        log(total ? `downloaded ${mb(got)} of ${mb(total)} MB (${Math.floor((100 * got) / total)} %)` : `downloaded ${mb(got)} MB`);
      }
      cb(null, chunk);
    },
  });
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.part`);
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), progress, fs.createWriteStream(tmp), { signal: o.signal });
    if (total && got !== total) throw new Error(`got ${got} of ${total} bytes`);
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new ShituError('ERR_FETCH', `cannot download ${url}: ${(e as Error).message}`, { cause: e });
  }
  log(`downloaded ${mb(got)} MB`);
  return got;
}

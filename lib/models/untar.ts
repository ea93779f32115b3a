// Takes the files a Paddle model needs out of a downloaded .tar archive.
//
// Done by hand (the ustar / GNU / pax header layout, about 100 lines) rather
// than with a tar library or the `tar` program: only regular files whose base
// name is asked for are written, flattened into one directory under that base
// name, so a hostile archive cannot write outside it (no paths, links or
// devices are ever created), and the reading is one sequential pass with
// 512-byte headers and streamed data (the CLIP archives are hundreds of MB).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ShituError } from '../errors';

const BLOCK = 512;

function bad(file: string, what: string): ShituError {
  return new ShituError('ERR_MODEL_INVALID', `${file}: not a usable tar archive: ${what}`);
}

function cstring(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function octal(b: Buffer, start: number, len: number, file: string): number {
  if (b[start] & 0x80) {
    // base-256 (GNU) for sizes over 8 GiB: far beyond any model file
    throw bad(file, 'an entry of 8 GiB or more');
  }
  const s = cstring(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(file, `a header number ${JSON.stringify(s)} is not octal`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  const stored = parseInt(cstring(h, 148, 8).trim() || 'x', 8);
  return stored === sum;
}

/**
 * Extracts the regular files of `tarFile` whose base name is in `wanted` into
 * `dir` (flat); returns the base names written. A name found twice is refused.
 */
export async function extractTar(tarFile: string, dir: string, wanted: ReadonlySet<string>): Promise<string[]> {
  const fd = await fs.promises.open(tarFile, 'r');
  const written: string[] = [];
  try {
    const size = (await fd.stat()).size;
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    let longName: string | undefined;
    for (;;) {
      if (pos + BLOCK > size) throw bad(tarFile, `truncated at byte ${pos}`);
      await fd.read(h, 0, BLOCK, pos);
      pos += BLOCK;
      if (h.every((x) => x === 0)) break; // end of archive
      if (!checksumOk(h)) throw bad(tarFile, `header checksum wrong at byte ${pos - BLOCK}`);
      const type = String.fromCharCode(h[156] || 0x30);
      const n = octal(h, 124, 12, tarFile);
      const dataEnd = pos + n;
      if (dataEnd > size) throw bad(tarFile, `truncated: an entry of ${n} bytes at byte ${pos} runs past the end`);
      const prefix = h.toString('latin1', 257, 262) === 'ustar' ? cstring(h, 345, 155) : '';
      const name = longName ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
      longName = undefined;
      if (type === 'L' || type === 'x') {
        // GNU long name / pax extended header: the next entry's name
        if (n > 64 * 1024) throw bad(tarFile, `a ${n}-byte extended header`);
        const b = Buffer.alloc(n);
        await fd.read(b, 0, n, pos);
        if (type === 'L') longName = cstring(b, 0, n);
        else {
          const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(b.toString('utf8'));
          if (m) longName = m[1];
        }
      } else if (type === '0' || type === '7') {
        const base = path.posix.basename(name.replace(/\\/g, '/'));
        if (wanted.has(base)) {
          if (written.includes(base)) throw bad(tarFile, `it holds ${base} twice`);
          await copyRange(fd, pos, n, path.join(dir, base));
          written.push(base);
        }
      }
      pos = dataEnd + ((BLOCK - (n % BLOCK)) % BLOCK);
    }
  } finally {
    await fd.close();
  }
  return written;
}

async function copyRange(fd: fs.promises.FileHandle, start: number, length: number, dest: string): Promise<void> {
  const out = await fs.promises.open(dest, 'wx');
  try {
    const buf = Buffer.alloc(Math.min(length, 1024 * 1024) || 1);
    let done = 0;
    while (done < length) {
      const want = Math.min(buf.length, length - done);
      const { bytesRead } = await fd.read(buf, 0, want, start + done);
      if (bytesRead === 0) throw new ShituError('ERR_MODEL_INVALID', `${dest}: archive ended early`);
      await out.write(buf, 0, bytesRead);
      done += bytesRead;
    }
  } finally {
    await out.close();
  }
}

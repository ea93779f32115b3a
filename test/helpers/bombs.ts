// Pixel bombs, generated: small files whose headers declare huge pictures, one
// per container the decoder reads. Nothing here writes a large file.
import * as zlib from 'node:zlib';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid PNG header declaring w x h RGB, with the first rows' data (zeros, compressed). */
export function pngBomb(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const rows = zlib.deflateSync(Buffer.alloc((w * 3 + 1) * 8), { level: 9 });
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A small real PNG of w x h (gray), for the accepting side. */
export function pngImage(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 0;
  const raw = Buffer.alloc((w + 1) * h, 0x80);
  for (let y = 0; y < h; y++) raw[y * (w + 1)] = 0;
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A JPEG whose frame header (SOF0, or `sof` such as 0xC2 progressive) is rewritten to declare w x h. */
export function jpegBomb(jpeg: Buffer, w: number, h: number, sof?: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let p = 2; p + 9 < out.length;) {
    if (out[p] !== 0xff) { p++; continue; }
    const m = out[p + 1];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (sof !== undefined) out[p + 1] = sof;
      out.writeUInt16BE(h, p + 5);
      out.writeUInt16BE(w, p + 7);
      return out;
    }
    p += 2 + out.readUInt16BE(p + 2);
  }
  throw new Error('no SOF in the JPEG');
}

/** Classic little-endian TIFF, one IFD per page: [w, h] each, 8-bit gray, one strip. */
export function tiffBomb(pages: Array<[number, number]>): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(8);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(42, 2);
  header.writeUInt32LE(8, 4);
  parts.push(header);
  let offset = 8;
  pages.forEach(([w, h], i) => {
    const entries: Array<[number, number, number]> = [[256, 4, w], [257, 4, h], [258, 3, 8], [259, 3, 1], [262, 3, 1], [273, 4, 0], [277, 3, 1], [278, 4, h], [279, 4, 16]];
    const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
    ifd.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, v], k) => {
      const e = 2 + k * 12;
      ifd.writeUInt16LE(tag, e);
      ifd.writeUInt16LE(type, e + 2);
      ifd.writeUInt32LE(1, e + 4);
      if (type === 3) ifd.writeUInt16LE(v, e + 8); else ifd.writeUInt32LE(v, e + 8);
    });
    const next = i + 1 < pages.length ? offset + ifd.length : 0;
    ifd.writeUInt32LE(next, ifd.length - 4);
    parts.push(ifd);
    offset += ifd.length;
  });
  parts.push(Buffer.alloc(16));
  return Buffer.concat(parts);
}

/** WebP: VP8X canvas (up to 2^24 per side), or VP8L (up to 16384). */
export function webpBomb(kind: 'VP8X' | 'VP8L', w: number, h: number): Buffer {
  let chunk: Buffer;
  if (kind === 'VP8X') {
    chunk = Buffer.alloc(18);
    chunk.write('VP8X', 0, 'latin1');
    chunk.writeUInt32LE(10, 4);
    chunk.writeUIntLE(w - 1, 12, 3);
    chunk.writeUIntLE(h - 1, 15, 3);
  } else {
    chunk = Buffer.alloc(8 + 5 + 16);
    chunk.write('VP8L', 0, 'latin1');
    chunk.writeUInt32LE(5 + 16, 4);
    chunk[8] = 0x2f;
    chunk.writeUInt32LE(((w - 1) & 0x3fff) | (((h - 1) & 0x3fff) << 14), 9);
  }
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + chunk.length, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, chunk]);
}

/** BMP (BITMAPINFOHEADER), 24-bit, top-down when h < 0. */
export function bmpBomb(w: number, h: number): Buffer {
  const b = Buffer.alloc(54 + 64);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(w, 18);
  b.writeInt32LE(h, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
}

/** A 90-byte JPEG 2000 codestream (SOC + SIZ) declaring w x h. */
export function j2kBomb(w: number, h: number): Buffer {
  const b = Buffer.alloc(90);
  b.writeUInt16BE(0xff4f, 0);
  b.writeUInt16BE(0xff51, 2);
  b.writeUInt16BE(41, 4); // Lsiz
  b.writeUInt32BE(w, 8);
  b.writeUInt32BE(h, 12);
  b.writeUInt32BE(w, 24); // tile size
  b.writeUInt32BE(h, 28);
  b.writeUInt16BE(3, 40);
  return b;
}

export const pnmBomb = (w: number, h: number) => Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`), Buffer.alloc(64)]);
export const pfmBomb = (w: number, h: number) => Buffer.concat([Buffer.from(`PF\n${w} ${h}\n-1.0\n`), Buffer.alloc(64)]);
export const hdrBomb = (w: number, h: number) => Buffer.concat([Buffer.from(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y ${h} +X ${w}\n`), Buffer.alloc(64)]);
export function sunBomb(w: number, h: number): Buffer {
  const b = Buffer.alloc(32 + 64);
  b.writeUInt32BE(0x59a66a95, 0);
  b.writeUInt32BE(w, 4);
  b.writeUInt32BE(h, 8);
  b.writeUInt32BE(24, 12);
  return b;
}
export function exrBomb(w: number, h: number): Buffer {
  const attr = (name: string, type: string, value: Buffer) => Buffer.concat([Buffer.from(name + '\0' + type + '\0', 'latin1'), (() => { const s = Buffer.alloc(4); s.writeUInt32LE(value.length); return s; })(), value]);
  const box = Buffer.alloc(16);
  box.writeInt32LE(0, 0); box.writeInt32LE(0, 4); box.writeInt32LE(w - 1, 8); box.writeInt32LE(h - 1, 12);
  return Buffer.concat([Buffer.from([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0]), attr('dataWindow', 'box2i', box), Buffer.from([0]), Buffer.alloc(64)]);
}

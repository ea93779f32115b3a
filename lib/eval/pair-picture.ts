// The worst gallery pairs side by side in one picture, drawn with the
// package's own drawing (native drawResults: boxes and labels in the same
// style and font as recognition results): each row shows two pictures scaled
// to one height, each framed and tagged with its label, the row tagged with
// the pair's similarity and what is wrong.
import { callNative } from '../errors';
import { native } from '../native/loader';
import { colorIndexOf } from '../util/label-colour';

export interface PicturePair { a: { image: string; label: string }; b: { image: string; label: string }; similarity: number; note: string }

const ROW = 200, GAP = 12, TAG = 26;

interface Raw { data: Uint8Array; width: number; height: number; channels: number }

/** Nearest-neighbour scale to `h` rows (a thumbnail: speed over smoothness). */
function scaleTo(src: Raw, h: number): Raw {
  const w = Math.max(1, Math.round((src.width * h) / src.height));
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(src.height - 1, Math.floor((y * src.height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(src.width - 1, Math.floor((x * src.width) / w));
      const si = (sy * src.width + sx) * src.channels, di = (y * w + x) * 3;
      out[di] = src.data[si]; out[di + 1] = src.data[si + 1]; out[di + 2] = src.data[si + 2];
    }
  }
  return { data: out, width: w, height: h, channels: 3 };
}

/** A JPEG of the pairs (at most `limit` rows), or null when there is none. */
export async function drawPairs(pairs: readonly PicturePair[], limit = 6, decodeLimits: { maxPixels?: number; formats?: string[] } = {}): Promise<Buffer | null> {
  const rows = pairs.slice(0, limit);
  if (!rows.length) return null;
  const thumbs: Array<[Raw, Raw]> = [];
  for (const p of rows) {
    const [a, b] = await Promise.all([p.a.image, p.b.image].map((f) => callNative(() => native.decodeImage(f, decodeLimits)) as Promise<Raw>));
    thumbs.push([scaleTo(a, ROW), scaleTo(b, ROW)]);
  }
  const width = Math.max(...thumbs.map(([a, b]) => a.width + b.width + 3 * GAP));
  const rowH = ROW + TAG + GAP;
  const height = rows.length * rowH + GAP;
  const canvas = new Uint8Array(width * height * 3).fill(255);
  const blit = (t: Raw, x0: number, y0: number) => {
    for (let y = 0; y < t.height; y++) canvas.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), ((y0 + y) * width + x0) * 3);
  };
  const items: Array<{ coordinate: [number, number, number, number]; text: string; colorIndex: number }> = [];
  thumbs.forEach(([a, b], r) => {
    const y0 = GAP + r * rowH + TAG;
    const xa = GAP, xb = 2 * GAP + a.width;
    blit(a, xa, y0);
    blit(b, xb, y0);
    const p = rows[r];
    items.push({ coordinate: [xa, y0, xa + a.width - 1, y0 + ROW - 1], text: `${p.a.label}`, colorIndex: colorIndexOf(p.a.label) });
    items.push({ coordinate: [xb, y0, xb + b.width - 1, y0 + ROW - 1], text: `${p.b.label}  ${p.similarity.toFixed(3)} ${p.note}`, colorIndex: colorIndexOf(p.b.label) });
  });
  return callNative(() => native.drawResults({ data: canvas, width, height, channels: 3, channelOrder: 'bgr' }, items, { format: '.jpg' }));
}

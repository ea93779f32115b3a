// A gallery's images turned into feature vectors for buildIndex/appendIndex:
// the entries read from a directory and label file or given as a list, then
// embedded in batches, each one admitted native job, every failing image
// reported by its place in the gallery.
import * as fs from 'node:fs';
import { callNative, ShituError, withoutImageLabel } from '../errors';
import { GalleryEntry, parseGalleryFile } from '../vector-index/formats/gallery-labels';
import { ImageInput, RawImage, isMat, isRaw, validateRaw } from '../input/image-input';
import type { DecodeLimits } from '../input/decode-limits';
import type { LoadedDetector, LoadedExtractor } from '../models/resolve';
import type { Admission } from './admission';
import type { Cancellation } from './cancel';
import { chunksByPixels } from './pixel-chunks';
import { GalleryFailure, isCallError, SkippedImage } from './options';

/** What embedding needs of a pipeline: its models, its admission and the settings that size the batches. */
export interface GalleryModels {
  detector: LoadedDetector;
  extractor: LoadedExtractor;
  admission: Admission;
  /** Detections of one batch run at once (cropByDetection). */
  concurrency: number;
  /** The feature model's batch size (a gallery batch is up to four of them, at most 16 images). */
  batchSize: number;
  detThreshold: number;
}

/** At most `limit` of `f` at once over `items`, results in order (the first failure rejects). */
async function mapLimit<T, R>(items: T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  }));
  return out;
}

export function galleryEntries(o: { galleryImgs: string | ImageInput[]; galleryLabel: string | string[] }): Array<{ image: ImageInput; label: string }> {
  const { galleryImgs, galleryLabel } = o;
  if (typeof galleryImgs === 'string') {
    if (typeof galleryLabel !== 'string') throw new TypeError('with a gallery directory, galleryLabel must be the path of its label file');
    if (!fs.existsSync(galleryImgs) || !fs.statSync(galleryImgs).isDirectory())
      throw new ShituError('ERR_GALLERY', `gallery root is not a directory: ${galleryImgs}`);
    return parseGalleryFile(galleryLabel, galleryImgs);
  }
  if (!Array.isArray(galleryImgs)) throw new TypeError('galleryImgs must be a directory or a list of images');
  const labels = typeof galleryLabel === 'string' ? parseGalleryFile(galleryLabel).map((e: GalleryEntry) => e.label) : galleryLabel;
  if (!Array.isArray(labels) || labels.length !== galleryImgs.length)
    throw new RangeError(`galleryImgs has ${galleryImgs.length} images but galleryLabel has ${Array.isArray(labels) ? labels.length : 'no'} labels`);
  labels.forEach((l, i) => {
    if (typeof l !== 'string' || !l.trim()) throw new TypeError(`galleryLabel[${i}] must be a non-empty string`);
  });
  return galleryImgs.map((image, i) => ({ image, label: labels[i] }));
}

/**
 * Embeds gallery images in batches, each batch one admitted native job (its
 * detections too, with cropByDetection), the cancellation checked before
 * each. Every image that fails is reported together ('fail') or left out and
 * listed ('skip'); `rows` are the entries whose vectors `vectors` holds.
 */
export async function embedGallery(m: GalleryModels, entries: Array<{ image: ImageInput; label: string }>, cropByDetection: boolean,
                                   onProgress: ((p: { done: number; total: number }) => void) | undefined,
                                   limits: DecodeLimits, cancel: Cancellation, onError: 'fail' | 'skip', pixelBudget?: number): Promise<{ vectors: Float32Array; rows: number[]; skipped: SkippedImage[] }> {
  const dim = m.extractor.dim;
  const all = new Float32Array(entries.length * dim);
  const failures: GalleryFailure[] = [];
  const batch = Math.max(1, Math.min(16, m.batchSize * 4));
  let done = 0;
  const sources = entries.map((e, i) => {
    const img = e.image;
    if (typeof img === 'string' || Buffer.isBuffer(img) || img instanceof Uint8Array) return img;
    if (isMat(img)) return { data: img.getData(), width: img.cols, height: img.rows, channels: img.channels, channelOrder: 'bgr' } as RawImage;
    if (isRaw(img)) { validateRaw(img, `gallery image #${i}`); return img; }
    throw new TypeError(`gallery image #${i} must be a path, a Buffer, raw pixels or a Mat`);
  });
  const chunks: Array<[number, number]> = [];
  if (pixelBudget !== undefined) chunks.push(...chunksByPixels(sources, batch, pixelBudget));
  else for (let s = 0; s < entries.length; s += batch) chunks.push([s, Math.min(entries.length, s + batch)]);
  const runChunk = async ([start, end]: [number, number]) => {
    cancel.check(); // the boundary between gallery batches
    const part = sources.slice(start, end);
    let boxes: Array<number[] | null> | undefined;
    if (cropByDetection) {
      boxes = await mapLimit(part, m.concurrency, async (src) => {
        try {
          const r = await m.admission.run(() => callNative(() => m.detector.native.detect(src, { threshold: m.detThreshold, ...limits, cancel: cancel.flag })), cancel);
          return r.boxes.length ? r.boxes[0].coordinate : null;
        } catch (e) {
          if (isCallError(e)) throw e;
          return null; // reported by embed below
        }
      });
    }
    const r = await m.admission.run(() => callNative(() => m.extractor.native.embed(part, { collectErrors: true, boxes, ...limits, cancel: cancel.flag })), cancel);
    all.set(r.features, start * dim);
    for (const e of r.errors) {
      const src = part[e.index];
      // Native names a picture given as bytes by its place in this batch ("#2"): it is named here by its place in the gallery.
      const message = typeof src === 'string' ? e.message : withoutImageLabel(e.message, `#${e.index}`);
      failures.push({ image: typeof src === 'string' ? src : `#${start + e.index}`, index: start + e.index, code: e.code, message });
    }
    done += part.length;
    onProgress?.({ done, total: entries.length });
  };
  // Two batches in flight keep both the decoder and the model busy; under a pixel budget, one.
  const inFlight = pixelBudget !== undefined ? 1 : 2;
  const workers = Array.from({ length: Math.min(inFlight, chunks.length) }, async (_, w) => {
    for (let c = w; c < chunks.length; c += inFlight) await runChunk(chunks[c]);
  });
  await Promise.all(workers);
  cancel.check();
  failures.sort((a, b) => a.image.localeCompare(b.image));
  if (failures.length && onError === 'fail')
    throw new ShituError('ERR_GALLERY', `${failures.length} gallery image(s) could not be used:\n  ${failures.map((f) => `${f.image}: ${f.message}`).join('\n  ')}`, { details: failures });
  const bad = new Set(failures.map((f) => f.index));
  const rows = entries.map((_, i) => i).filter((i) => !bad.has(i));
  let vectors = all;
  if (bad.size) {
    vectors = new Float32Array(rows.length * dim);
    rows.forEach((row, j) => vectors.set(all.subarray(row * dim, (row + 1) * dim), j * dim));
  }
  return { vectors, rows, skipped: failures.map((f) => ({ path: f.image, index: f.index, code: f.code, message: f.message })) };
}

// What `predict` and `buildIndex` accept, turned into what the native side
// reads: a path, encoded bytes, or raw pixels. URLs are fetched by
// fetch-image.ts; directories expand to their images.
import * as fs from 'node:fs';
import { ShituError } from '../errors';
import { fetchImage, FetchOptions } from './fetch-image';
import { listImages } from '../vector-index/formats/gallery-labels';

export type { FetchOptions } from './fetch-image';

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  channelOrder?: 'rgb' | 'bgr';
}

/** An opencv4nodejs (or @u4/opencv4nodejs) Mat: BGR pixels. */
export interface MatLike {
  rows: number;
  cols: number;
  channels: number;
  getData(): Buffer;
}

export type ImageInput = string | Buffer | Uint8Array | RawImage | MatLike;

/** One image, ready for the native call. */
export interface PreparedImage {
  source: string | Buffer | Uint8Array | RawImage;
  /** The reference's input_path: the file or URL, null for in-memory images. */
  inputPath: string | null;
  /** Base name for saved outputs. */
  stem: string;
}

export function isMat(v: unknown): v is MatLike {
  return !!v && typeof v === 'object' && typeof (v as MatLike).getData === 'function' && 'rows' in v && 'cols' in v;
}

export function isRaw(v: unknown): v is RawImage {
  return !!v && typeof v === 'object' && !Buffer.isBuffer(v) && !(v instanceof Uint8Array) && (v as RawImage).data instanceof Uint8Array;
}

export function validateRaw(r: RawImage, where: string): void {
  const { width, height, channels } = r;
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0)
    throw new RangeError(`${where}: raw image width and height must be positive integers, got ${width}x${height}`);
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new RangeError(`${where}: raw image channels must be 1, 3 or 4, got ${channels}`);
  if (r.data.length < width * height * channels)
    throw new RangeError(`${where}: raw image ${width}x${height}x${channels} needs ${width * height * channels} bytes, data has ${r.data.length}`);
  if (r.channelOrder !== undefined && r.channelOrder !== 'rgb' && r.channelOrder !== 'bgr')
    throw new RangeError(`${where}: channelOrder must be 'rgb' or 'bgr'`);
}

function stemOf(p: string): string {
  const base = p.split(/[\\/]/).pop() || 'image';
  const q = base.split('?')[0];
  const dot = q.lastIndexOf('.');
  return dot > 0 ? q.slice(0, dot) : q || 'image';
}

/**
 * Expands one input (or a list) into images, lazily: directories list their
 * images, URLs are fetched when their turn comes.
 */
/** A prepared image to come; `input` names it in errors: the item's path or URL, or "#n" (its place in the list). */
export type ImageThunk = (() => Promise<PreparedImage>) & { input?: string };

export function* expandInputs(input: ImageInput | ImageInput[], fetchOpts?: FetchOptions, lazyErrors = false): Generator<ImageThunk> {
  const list = Array.isArray(input) ? input : [input];
  let n = 0;
  for (const item of list) {
    if (!lazyErrors) {
      yield* expandOne(item, n, fetchOpts);
    } else {
      // predict's onError 'yield': a bad item becomes a failing thunk, so the items after it still come.
      let thunks: ImageThunk[];
      try {
        thunks = [...expandOne(item, n, fetchOpts)];
      } catch (e) {
        thunks = [() => Promise.reject(e)];
      }
      const name = typeof item === 'string' ? item : `#${n}`;
      for (const f of thunks) yield Object.assign(f, { input: name });
    }
    n++;
  }
}

function* expandOne(item: ImageInput, n: number, fetchOpts?: FetchOptions): Generator<() => Promise<PreparedImage>> {
  {
    const where = `input #${n}`;
    if (typeof item === 'string') {
      if (/^https?:\/\//i.test(item)) {
        yield async () => ({ source: await fetchImage(item, fetchOpts), inputPath: item, stem: stemOf(item) });
      } else if (fs.existsSync(item) && fs.statSync(item).isDirectory()) {
        for (const f of listImages(item)) yield async () => ({ source: f, inputPath: f, stem: stemOf(f) });
      } else {
        yield async () => ({ source: item, inputPath: item, stem: stemOf(item) });
      }
    } else if (Buffer.isBuffer(item) || item instanceof Uint8Array) {
      const k = n;
      yield async () => ({ source: item, inputPath: null, stem: `image_${k}` });
    } else if (isMat(item)) {
      const raw: RawImage = { data: item.getData(), width: item.cols, height: item.rows, channels: item.channels as 1 | 3 | 4, channelOrder: 'bgr' };
      validateRaw(raw, where);
      const k = n;
      yield async () => ({ source: raw, inputPath: null, stem: `image_${k}` });
    } else if (isRaw(item)) {
      validateRaw(item, where);
      const k = n;
      yield async () => ({ source: item, inputPath: null, stem: `image_${k}` });
    } else {
      throw new TypeError(`${where} must be a path, an http(s) URL, a directory, a Buffer, raw pixels {data, width, height, channels} or an opencv4nodejs Mat`);
    }
  }
}

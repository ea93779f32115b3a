// The gallery an evaluation or a check runs on, as vectors with their labels:
// a saved or loaded index (vectors read back from FAISS), or gallery images
// with a label file embedded now (each distinct image once) into an exact
// (Flat) index, so the figures describe the features, not an approximate search.
import * as path from 'node:path';
import { ShituError } from '../errors';
import type { Pipeline } from '../pipeline/pipeline';
import { parseGalleryFile } from '../vector-index/formats/gallery-labels';
import { IndexData, MetricType } from '../vector-index/index-data';
import { readImage } from './embed-cache';
import { throwIfCancelled } from './cancel';

export interface GalleryInput {
  /** A gallery root directory; its label file is `labels` ("path label" lines, relative to the root). */
  dir: string;
  labels: string;
}

export interface GallerySource {
  index: IndexData;
  /** Entries in id order. */
  ids: number[];
  labels: string[];
  /** ids.length x dim. */
  vectors: Float32Array;
  /** Image paths, when built from images (else null: an index has no pictures). */
  images: string[] | null;
  /** SHA-256 of each image's bytes, when built from images. */
  hashes: string[] | null;
}

export interface GallerySourceOptions {
  metricType?: MetricType;
  cropByDetection?: boolean;
  onProgress?: (p: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

/** Reads every vector of an index back (FAISS reconstruct; lossy for the compressed types). */
export function fromIndex(index: IndexData): GallerySource {
  const entries = index.idMapEntries;
  const dim = index.dim;
  const vectors = new Float32Array(entries.length * dim);
  entries.forEach(([id], i) => {
    try {
      vectors.set(index.native.reconstruct(id) as Float32Array, i * dim);
    } catch (e) {
      throw new ShituError('ERR_INDEX_UNSUPPORTED', `cannot read vector ${id} back from this ${index.indexType} index: ${(e as Error).message}`, { cause: e });
    }
  });
  return { index, ids: entries.map((e) => e[0]), labels: entries.map((e) => e[1]), vectors, images: null, hashes: null };
}

export async function fromImages(pipeline: Pipeline, g: GalleryInput, o: GallerySourceOptions = {}): Promise<GallerySource> {
  const entries = parseGalleryFile(g.labels, g.dir);
  const read = await Promise.all(entries.map((e) => readImage(e.image)));
  const firstOf = new Map<string, number>();
  const unique: number[] = [];
  read.forEach((r, i) => {
    if (!firstOf.has(r.hash)) { firstOf.set(r.hash, unique.length); unique.push(i); }
  });
  throwIfCancelled(o.signal);
  const scratch = await pipeline.buildIndex({
    galleryImgs: unique.map((i) => read[i].bytes),
    galleryLabel: unique.map((i) => entries[i].label),
    indexType: 'Flat',
    metricType: o.metricType ?? 'IP',
    cropByDetection: o.cropByDetection,
    onProgress: o.onProgress,
  }).catch((e) => {
    // buildIndex names the failing images by position: name them by path.
    if (e instanceof ShituError && Array.isArray(e.details)) {
      const named = (e.details as Array<{ image: string; message: string }>).map((d) => {
        const k = /^#(\d+)$/.exec(d.image);
        return k ? { ...d, image: entries[unique[Number(k[1])]].image } : d;
      });
      throw new ShituError(e.code, `${named.length} gallery image(s) could not be used:\n  ${named.map((d) => `${d.image}: ${d.message}`).join('\n  ')}`, { details: named, cause: e });
    }
    throw e;
  });
  const dim = scratch.dim;
  const vectors = new Float32Array(entries.length * dim);
  read.forEach((r, i) => vectors.set(scratch.native.reconstruct(firstOf.get(r.hash)!) as Float32Array, i * dim));
  const index = IndexData.create(dim, 'Flat', o.metricType ?? 'IP');
  const ids = await index.add(vectors, entries.map((e) => e.label));
  return {
    index, ids, labels: entries.map((e) => e.label), vectors,
    images: entries.map((e) => path.resolve(e.image)), hashes: read.map((r) => r.hash),
  };
}

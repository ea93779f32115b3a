// The gallery an evaluation or a check runs on, as vectors with their labels:
// a saved or loaded index (vectors read back from FAISS), or gallery images
// with a label file embedded now (each distinct image once) into an exact
// (Flat) index, so the figures describe the features, not an approximate search.
import * as path from 'node:path';
import { ShituError } from '../errors';
import type { PipelineCore } from '../pipeline/core';
import type { GalleryFailure } from '../pipeline/options';
import { parseGalleryFile } from '../vector-index/formats/gallery-labels';
import { IndexData, MetricType } from '../vector-index/index-data';
import { readImage } from './embed-cache';
import { throwIfCancelled } from './cancel';

/** A gallery root directory and its label file ("path label" lines, relative to the root), or pictures with labels. */
export type GalleryInput = { dir: string; labels: string } | { pairs: Array<{ image: string | Uint8Array; label: string }> };

/** Labelled pictures, named (path, or `pairs[i]` for bytes). */
export interface LabelledImage { name: string; source: string | Uint8Array; label: string }

export function labelledImages(g: GalleryInput, what = 'gallery'): LabelledImage[] {
  if ('pairs' in g) {
    if (!Array.isArray(g.pairs) || !g.pairs.length) throw new TypeError(`${what}.pairs must be a non-empty list of {image, label}`);
    return g.pairs.map((e, i) => {
      if (typeof e?.label !== 'string' || !e.label.trim()) throw new TypeError(`${what}.pairs[${i}].label must be a non-empty string`);
      if (typeof e.image !== 'string' && !(e.image instanceof Uint8Array)) throw new TypeError(`${what}.pairs[${i}].image must be a path or bytes`);
      return { name: typeof e.image === 'string' ? path.resolve(e.image) : `${what}[${i}]`, source: e.image, label: e.label };
    });
  }
  if (typeof g?.dir !== 'string' || typeof g?.labels !== 'string') throw new TypeError(`${what} must be {dir, labels} (a directory and its label file) or {pairs}`);
  return parseGalleryFile(g.labels, g.dir).map((e) => ({ name: path.resolve(e.image), source: e.image, label: e.label }));
}

export interface GallerySource {
  index: IndexData;
  /** Entries in id order. */
  ids: number[];
  labels: string[];
  /** ids.length x dim. */
  vectors: Float32Array;
  /** Image names (paths, or positions for bytes), when built from images (else null: an index has no pictures). */
  images: string[] | null;
  /** What to read each picture from, when built from images. */
  sources: Array<string | Uint8Array> | null;
  /** SHA-256 of each image's bytes, when built from images. */
  hashes: string[] | null;
}

export interface GallerySourceOptions {
  metricType?: MetricType;
  cropByDetection?: boolean;
  onProgress?: (p: { done: number; total: number }) => void;
  signal?: AbortSignal;
  limitInputPixels?: number | false;
  imageFormats?: readonly string[];
}

/**
 * Reads every vector of an index back (FAISS reconstruct; lossy for the
 * compressed types), or with `withVectors` false only its ids and labels
 * (enough to search it with queries).
 */
export function fromIndex(index: IndexData, withVectors = true): GallerySource {
  const entries = index.idMapEntries;
  const dim = index.dim;
  const vectors = new Float32Array(withVectors ? entries.length * dim : 0);
  if (withVectors) entries.forEach(([id], i) => {
    try {
      vectors.set(index.native.reconstruct(id) as Float32Array, i * dim);
    } catch (e) {
      throw new ShituError('ERR_INDEX_UNSUPPORTED', `cannot read vector ${id} back from this ${index.indexType} index: ${(e as Error).message}`, { cause: e });
    }
  });
  return { index, ids: entries.map((e) => e[0]), labels: entries.map((e) => e[1]), vectors, images: null, sources: null, hashes: null };
}

export async function fromImages(pipeline: PipelineCore, g: GalleryInput, o: GallerySourceOptions = {}): Promise<GallerySource> {
  const entries = labelledImages(g);
  const read = await Promise.all(entries.map((e) => readImage(e.source)));
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
    limitInputPixels: o.limitInputPixels,
    imageFormats: o.imageFormats,
    signal: o.signal,
  }).catch((e) => {
    // buildIndex saw the unique pictures: each failure is named and placed as the gallery's entry.
    if (e instanceof ShituError && e.code === 'ERR_GALLERY' && Array.isArray(e.details)) {
      const named = (e.details as GalleryFailure[]).map((d): GalleryFailure => ({ ...d, image: entries[unique[d.index]].name, index: unique[d.index] }));
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
    images: entries.map((e) => e.name), sources: entries.map((e) => e.source), hashes: read.map((r) => r.hash),
  };
}

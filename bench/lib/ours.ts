// This package's pipeline on the stand-in models, with the gallery index built
// once per thread count and cached for the sections that need it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createPipeline, Pipeline, IndexData } from '../../lib/index';
import { modelHome } from '../../lib/models/resolve';
import { galleryEntries, STANDIN_CONFIG } from './util';

export interface Loaded {
  pipeline: Pipeline;
  index: IndexData;
  loadMs: number;
  indexMs: number;
}

const cache = new Map<string, Loaded>();

export interface ModelSet {
  name: string;
  config: string;
  override?: Record<string, unknown>;
  /** Model names that must be installed under $SHITU_MODEL_HOME. */
  needs: string[];
  note?: string;
}

export const MODEL_SETS: ModelSet[] = [
  { name: 'stand-in (PicoDet-S 416 + MobileNetV2 int8)', config: STANDIN_CONFIG, needs: [] },
  { name: 'PP-ShiTuV2 (det + rec)', config: 'PP-ShiTuV2', needs: ['PP-ShiTuV2_det', 'PP-ShiTuV2_rec'] },
  {
    name: 'PP-ShiTuV2 det + CLIP ViT-base',
    config: 'PP-ShiTuV2',
    override: { SubModules: { Recognition: { model_name: 'PP-ShiTuV2_rec_CLIP_vit_base' } } },
    needs: ['PP-ShiTuV2_det', 'PP-ShiTuV2_rec_CLIP_vit_base'],
  },
  {
    name: 'PP-ShiTuV2 det + CLIP ViT-large',
    config: 'PP-ShiTuV2',
    override: { SubModules: { Recognition: { model_name: 'PP-ShiTuV2_rec_CLIP_vit_large' } } },
    needs: ['PP-ShiTuV2_det', 'PP-ShiTuV2_rec_CLIP_vit_large'],
  },
];

export function missingModels(set: ModelSet): string[] {
  return set.needs.filter((n) => !fs.existsSync(path.join(modelHome(), n)));
}

export async function loadOurs(threads: number, set: ModelSet = MODEL_SETS[0], concurrency = 4): Promise<Loaded> {
  const key = `${set.name}|${threads}|${concurrency}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const t0 = performance.now();
  const pipeline = await createPipeline(set.config, { threads, concurrency, config: set.override });
  const loadMs = performance.now() - t0;
  const g = galleryEntries();
  const t1 = performance.now();
  const index = await pipeline.buildIndex({ galleryImgs: g.map((e) => e.image), galleryLabel: g.map((e) => e.label), indexType: 'HNSW32', metricType: 'IP' });
  const indexMs = performance.now() - t1;
  const l = { pipeline, index, loadMs, indexMs };
  cache.set(key, l);
  return l;
}

export async function closeAll(): Promise<void> {
  for (const l of cache.values()) await l.pipeline.close();
  cache.clear();
}

/** The native detector / feature extractor objects inside a pipeline (internals, for benchmarks). */
export function internals(p: Pipeline): { detector: any; extractor: any } {
  const a = p as any;
  return { detector: a.detector.native, extractor: a.extractor.native };
}

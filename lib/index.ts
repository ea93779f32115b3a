// Public API of shitu-node.
export { createPipeline, Pipeline } from './pipeline';
export type { CreatePipelineOptions, BuildIndexOptions, AppendIndexOptions, RemoveIndexOptions, PredictOptions, PipelineSettings } from './pipeline';
export { IndexData } from './index-data';
export type { IndexType, MetricType, SearchHit } from './index-data';
export { RecognitionResult } from './result';
export type { BoxJson, ResultJson, StageTimings, PrintOptions } from './result';
export { getPipelineConfig, loadPipelineConfig, DEFAULT_CONFIG } from './config';
export type { PipelineConfig, SubModuleConfig } from './config';
export { ShituError } from './errors';
export type { ShituErrorCode } from './errors';
export type { ImageInput, RawImage, MatLike, FetchOptions } from './image-input';
export { UrlGuard } from './url-guard';
export type { UrlGuardOptions } from './url-guard';
export { DEFAULT_MAX_INPUT_PIXELS, DEFAULT_IMAGE_FORMATS, OPTIONAL_IMAGE_FORMATS, TOPK, MAX_LABEL_LENGTH, SERVICE_LIMITS } from './limits';
export { parseApiKeys, loadApiKeys } from './server-auth';
export type { ApiKeySpec, Scope, IndexOwnership } from './server-auth';
export { parseGalleryFile } from './gallery';
export type { ServerOptions, ShituServer } from './server';
import type * as ServerModule from './server';
/** The HTTP service (lib/server.ts); Fastify is loaded on first use, not on import. */
export function createServer(...args: Parameters<typeof ServerModule.createServer>): ReturnType<typeof ServerModule.createServer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./server') as typeof ServerModule).createServer(...args);
}

import { native as nativeAddon } from './native';
/**
 * Returns freed native memory to the OS (glibc malloc_trim). Pictures and
 * tensors are freed on worker threads whose malloc arenas otherwise keep their
 * high-water mark in RSS; a long-running server may call this when idle.
 */
export function trimMemory(): boolean {
  return nativeAddon.trimMemory();
}

// Index stores: the file store (default) and PostgreSQL + pgvector (shared by replicas; pg is loaded on first use).
export { openIndexStore, openIndex } from './store/open';
export type { IndexStore, IdMapEntries } from './server-store';
export type { PgIndexStore, PgIndexStoreOptions, SearchMode } from './store/postgres/pg-index-store';

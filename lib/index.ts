// Public API of shitu-node.
export { createPipeline, Pipeline } from './pipeline/pipeline';
export type { CreatePipelineOptions, BuildIndexOptions, AppendIndexOptions, RemoveIndexOptions, PredictOptions, PipelineSettings, SkippedImage, GalleryResult } from './pipeline/pipeline';
export type { AdmissionStats } from './pipeline/admission';
export type { CancelOptions } from './pipeline/cancel';
export { IndexData } from './vector-index/index-data';
export type { IndexType, MetricType, SearchHit } from './vector-index/index-data';
export { RecognitionResult } from './pipeline/result';
export { checkGallery } from './eval/gallery-check';
export type { GalleryCheckOptions, GalleryCheckReport } from './eval/gallery-check';
export type { EvaluateOptions, EvaluationReport } from './eval/evaluate';
export { writeEvaluation } from './eval/write-report';
export { writeCheck } from './eval/write-check';
export type { BoxJson, ResultJson, StageTimings, PrintOptions, ItemError } from './pipeline/result';
export { getPipelineConfig, loadPipelineConfig, DEFAULT_CONFIG } from './pipeline/config';
export type { PipelineConfig, SubModuleConfig } from './pipeline/config';
export { ShituError } from './errors';
export type { ConvertPaddleModelOptions, ConvertPaddleModelResult } from './models/paddle/convert-dir';
import type * as ConvertDirModule from './models/paddle/convert-dir';
/** Paddle inference model directory -> ONNX model directory (lib/models/paddle/convert-dir.ts); the converter is loaded on first use, not on import. */
export function convertPaddleModel(...args: Parameters<typeof ConvertDirModule.convertPaddleModel>): ReturnType<typeof ConvertDirModule.convertPaddleModel> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./models/paddle/convert-dir') as typeof ConvertDirModule).convertPaddleModel(...args);
}
export { quantizeFeatureModel } from './onnx/quantize';
export type { QuantizeOptions, QuantizeReport, AgreementFigures } from './onnx/quantize';
export type { ShituErrorCode } from './errors';
export type { ImageInput, RawImage, MatLike, FetchOptions } from './input/image-input';
export { UrlGuard } from './input/url-guard';
export type { UrlGuardOptions } from './input/url-guard';
export { DEFAULT_MAX_INPUT_PIXELS, DEFAULT_IMAGE_FORMATS, OPTIONAL_IMAGE_FORMATS, TOPK, MAX_LABEL_LENGTH, SERVICE_LIMITS } from './limits';
export { parseApiKeys, loadApiKeys } from './server/auth';
export type { ApiKeySpec, Scope, IndexOwnership, OwnerReservation } from './server/auth';
export { parseGalleryFile } from './vector-index/formats/gallery-labels';
export type { ServerOptions, ShituServer } from './server/app';
import type * as ServerModule from './server/app';
/** The HTTP service (lib/server/app.ts); Fastify is loaded on first use, not on import. */
export function createServer(...args: Parameters<typeof ServerModule.createServer>): ReturnType<typeof ServerModule.createServer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./server/app') as typeof ServerModule).createServer(...args);
}

import { native as nativeAddon } from './native/loader';
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
export type { IndexStore, IdMapEntries } from './store/index-store';
export type { PgIndexStore, PgIndexStoreOptions, SearchMode } from './store/postgres/pg-index-store';

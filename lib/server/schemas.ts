// The service's bodies, one TypeBox definition each: Fastify's Ajv validates
// requests with them, @fastify/swagger serves them as /openapi.json, and the
// handlers' types are Static<> of the same definitions. Limits come from
// lib/limits.ts (per-server values where the server takes an option).
// Optional fields accept null as PaddleX's serving schema does (pydantic
// Optional[...] = None), written as OpenAPI 3.0's `nullable`.
import { Static, TSchema, Type } from '@sinclair/typebox';
import { INDEX_TYPES, METRIC_TYPES, SERVICE_INDEX_SHAPE } from '../vector-index/index-data';
import { DET_THRESHOLD, EVAL, LABEL_PATTERN, MAX_LABEL_LENGTH, REC_THRESHOLD, SERVICE_LIMITS, TOPK } from '../limits';

/** T or null (OpenAPI 3.0 `nullable`, which Fastify's Ajv understands). */
const Nullable = <T extends TSchema>(t: T) => Type.Unsafe<Static<T> | null>({ ...t, nullable: true });

/** A string enum as JSON Schema `enum` (clear "must be one of" errors, OpenAPI enums). */
const Enum = <T extends string>(values: readonly T[], o: Record<string, unknown> = {}) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...o });

export const envelope = <T extends TSchema>(result: T) => Type.Object({
  logId: Type.String({ description: 'The UUID of the request.' }),
  errorCode: Type.Integer({ description: 'Fixed at 0.' }),
  errorMsg: Type.String({ description: 'Fixed at "Success".' }),
  result,
});

export const ErrorBody = Type.Object({
  logId: Type.String({ description: 'The UUID of the request.' }),
  errorCode: Type.Integer({ description: 'Same as the HTTP status.' }),
  errorMsg: Type.String({ description: 'What went wrong; validation errors name the field.' }),
});

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), ErrorBody]));

const ImageField = Type.String({
  minLength: 1,
  description: 'An http(s) URL of an image the server can fetch (public addresses only unless the operator allows more), or the Base64-encoded content of the image file.',
});
const IndexKeyField = Nullable(Type.String({
  description: 'The key of the index, as returned by /shitu-index-build. Optional (absent or null) when the server has a default index.',
}));
export const IdMap = Type.Record(Type.String(), Type.String(), { description: 'Mapping from vector ids (as strings) to labels.' });
const Label = (what = 'The label') => Type.String({
  minLength: 1, maxLength: MAX_LABEL_LENGTH, pattern: LABEL_PATTERN,
  description: `${what} (1 to ${MAX_LABEL_LENGTH} characters, not blank, without U+0000 or unpaired surrogates: one rule for every store).`,
});

export interface SchemaLimits {
  maxPairs: number;
  maxRemoveIds: number;
}

/** Pictures with labels: a gallery's, or (/shitu-eval) labelled queries; at most the server's maxPairs. */
const pairsOf = (maxPairs: number, what = 'Image-label pairs', label = Label()) => Type.Array(Type.Object({ image: ImageField, label }), {
  minItems: 1, maxItems: maxPairs, description: `${what} (1 to ${maxPairs}).`,
});

const OnErrorField = Enum(['fail', 'skip'] as const, {
  default: 'fail',
  description: 'Extension: "skip" leaves images that cannot be used out and lists them in the answer\'s `skipped`; "fail" (default) refuses the request over them.',
});
const Skipped = Type.Array(Type.Object({
  image: Type.String({ description: 'The field of the image, e.g. imageLabelPairs[2].image.' }),
  code: Type.String({ description: 'Why, as a ShituError code (ERR_IMAGE_DECODE, ERR_IMAGE_TOO_LARGE, ...).' }),
  message: Type.String(),
}), { description: 'Extension, with onError "skip" only: the images left out.' });

export const BuildBody = (l: SchemaLimits) => Type.Object({
  imageLabelPairs: pairsOf(l.maxPairs),
  onError: Type.Optional(OnErrorField),
  indexType: Type.Optional(Enum(INDEX_TYPES, { default: SERVICE_INDEX_SHAPE.indexType, description: 'Extension: FAISS index type (the reference always builds Flat).' })),
  metricType: Type.Optional(Enum(METRIC_TYPES, { default: SERVICE_INDEX_SHAPE.metricType, description: 'Extension: metric (the reference always uses IP).' })),
});
export const AddBody = (l: SchemaLimits) => Type.Object({ imageLabelPairs: pairsOf(l.maxPairs), indexKey: Type.Optional(IndexKeyField), onError: Type.Optional(OnErrorField) });
export const RemoveBody = (l: SchemaLimits) => Type.Object({
  ids: Type.Array(Type.Integer(), { maxItems: l.maxRemoveIds, description: `Ids of the vectors to remove (at most ${l.maxRemoveIds}). Unknown ids: 404, nothing removed.` }),
  indexKey: Type.Optional(IndexKeyField),
});
export const InferBody = Type.Object({
  image: ImageField,
  indexKey: Type.Optional(IndexKeyField),
  detThreshold: Type.Optional(Nullable(Type.Number({ minimum: DET_THRESHOLD.min, maximum: DET_THRESHOLD.max, description: `Detection threshold (default: the pipeline config, ${DET_THRESHOLD.default}).` }))),
  recThreshold: Type.Optional(Nullable(Type.Number({ description: `Recognition threshold (default: the pipeline config, ${REC_THRESHOLD.default}).` }))),
  topk: Type.Optional(Nullable(Type.Integer({ minimum: TOPK.min, maximum: TOPK.max, description: `Results per object, ${TOPK.min} to ${TOPK.max} (default: the pipeline config, ${TOPK.default}).` }))),
  returnImage: Type.Optional(Type.Boolean({ default: true, description: 'Extension: false leaves out the visualisation (image: null).' })),
});

export const EvalBody = (l: SchemaLimits) => Type.Object({
  indexKey: Type.Optional(Type.Unsafe<string | null>({ type: 'string', nullable: true, description: 'The gallery: an index of the store (default: the server\'s). Not with imageLabelPairs.' })),
  imageLabelPairs: Type.Optional(pairsOf(l.maxPairs, 'Gallery pictures with labels, embedded for this evaluation only')),
  queries: Type.Optional(pairsOf(l.maxPairs, 'queries', Label('The query\'s label; "-" (or a label not in the gallery): it should be rejected'))),
  leaveOneOut: Type.Optional(Type.Boolean({ description: 'No queries: each gallery entry against the rest of the gallery.' })),
  targetPrecision: Type.Optional(Type.Number({ exclusiveMinimum: EVAL.targetPrecision.min, maximum: EVAL.targetPrecision.max, default: EVAL.targetPrecision.default })),
  recThreshold: Type.Optional(Type.Number({ description: 'The threshold in use (default: the pipeline config\'s).' })),
  detThreshold: Type.Optional(Type.Number({ minimum: DET_THRESHOLD.min, maximum: DET_THRESHOLD.max })),
  topk: Type.Optional(Type.Integer({ minimum: EVAL.topk.min, maximum: EVAL.topk.max, default: EVAL.topk.default })),
  check: Type.Optional(Type.Boolean({ default: true, description: 'Also check the gallery (conflicts, duplicates, outliers).' })),
}, { additionalProperties: false });

const BuildResult = Type.Object({ indexKey: Type.String(), idMap: IdMap, skipped: Type.Optional(Skipped) });
const AddResult = Type.Object({ idMap: IdMap, skipped: Type.Optional(Skipped) });
const RemoveResult = Type.Object({ idMap: IdMap });

export type BuildRequest = Static<ReturnType<typeof BuildBody>>;
export type EvalRequest = Static<ReturnType<typeof EvalBody>>;
export type AddRequest = Static<ReturnType<typeof AddBody>>;
export type RemoveRequest = Static<ReturnType<typeof RemoveBody>>;
export type InferRequest = Static<typeof InferBody>;
export type BuildResult = Static<typeof BuildResult>;
export type AddResult = Static<typeof AddResult>;
export type RemoveResult = Static<typeof RemoveResult>;

const InferResult = Type.Object({
  detectedObjects: Type.Array(Type.Object({
    bbox: Type.Array(Type.Number(), { minItems: 4, maxItems: 4, description: '[x1, y1, x2, y2]' }),
    recResults: Type.Array(Type.Object({ label: Type.String(), score: Type.Number() }), { description: 'Best first; empty when the object matched nothing above recThreshold.' }),
    score: Type.Number({ description: 'Detection score.' }),
  })),
  image: Nullable(Type.String({ description: 'The visualisation, Base64 JPEG (null when returnImage is false).' })),
});
export type InferResult = Static<typeof InferResult>;

/** Fastify route schemas, with this server's limits. */
export function routeSchemas(l: SchemaLimits = SERVICE_LIMITS) {
  const auth: Array<Record<string, string[]>> = [{ bearer: [] }, { apiKey: [] }];
  return {
    build: {
      summary: 'buildIndex: build a feature-vector index', security: auth,
      body: BuildBody(l),
      response: { 200: envelope(BuildResult), ...errors(400, 401, 403, 413, 422, 500, 503, 504) },
    },
    add: {
      summary: 'addImagesToIndex: add images to an index', security: auth,
      body: AddBody(l),
      response: { 200: envelope(AddResult), ...errors(400, 401, 403, 404, 413, 422, 500, 503, 504) },
    },
    remove: {
      summary: 'removeImagesFromIndex: remove vectors from an index', security: auth,
      body: RemoveBody(l),
      response: { 200: envelope(RemoveResult), ...errors(400, 401, 403, 404, 413, 422, 500, 503) },
    },
    infer: {
      summary: 'infer: recognise the objects in an image', security: auth,
      body: InferBody,
      response: { 200: envelope(InferResult), ...errors(400, 401, 403, 404, 413, 415, 422, 500, 503, 504) },
    },
    evaluate: {
      summary: 'Evaluate a gallery: Recall@k, mAP, the rec_threshold sweep, per label; and check it', security: auth,
      body: EvalBody(l),
    },
  };
}

/** The OpenAPI document's head (@fastify/swagger adds the routes' schemas). */
export const OPENAPI_INFO = {
  openapi: '3.0.3',
  info: {
    title: 'shitu-node PP-ShiTuV2 service',
    description: 'General image recognition (main-body detection, feature extraction, vector retrieval), compatible with the PaddleX PP-ShiTuV2 serving API.',
    version: '0.1.0',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'API key (when the server has keys).' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API key (when the server has keys).' },
    },
  },
} as const;

// JSON schemas of the service's bodies (validated by Fastify's Ajv, and the
// source of the OpenAPI description served at /openapi.json).

export const envelope = (result: Record<string, unknown>) => ({
  type: 'object',
  required: ['logId', 'errorCode', 'errorMsg', 'result'],
  properties: {
    logId: { type: 'string', description: 'The UUID of the request.' },
    errorCode: { type: 'integer', description: 'Fixed at 0.' },
    errorMsg: { type: 'string', description: 'Fixed at "Success".' },
    result,
  },
});

export const errorBody = {
  type: 'object',
  required: ['logId', 'errorCode', 'errorMsg'],
  properties: {
    logId: { type: 'string', description: 'The UUID of the request.' },
    errorCode: { type: 'integer', description: 'Same as the HTTP status.' },
    errorMsg: { type: 'string', description: 'What went wrong; validation errors name the field.' },
  },
};

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), errorBody]));

const image = {
  type: 'string',
  minLength: 1,
  description: 'An http(s) URL of an image the server can fetch, or the Base64-encoded content of the image file.',
};
const indexKey = {
  type: 'string',
  description: 'The key of the index, as returned by /shitu-index-build. Optional when the server has a default index.',
};
export const idMap = {
  type: 'object',
  additionalProperties: { type: 'string' },
  description: 'Mapping from vector ids (as strings) to labels.',
};
const imageLabelPairs = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    required: ['image', 'label'],
    properties: { image, label: { type: 'string', minLength: 1, description: 'The label.' } },
  },
  description: 'Image-label pairs.',
};

export const buildSchema = {
  summary: 'buildIndex: build a feature-vector index',
  body: {
    type: 'object',
    required: ['imageLabelPairs'],
    properties: {
      imageLabelPairs,
      indexType: { type: 'string', enum: ['Flat', 'HNSW32', 'IVF'], default: 'Flat', description: 'Extension: FAISS index type (the reference always builds Flat).' },
      metricType: { type: 'string', enum: ['IP', 'L2'], default: 'IP', description: 'Extension: metric (the reference always uses IP).' },
    },
  },
  response: {
    200: envelope({
      type: 'object',
      required: ['indexKey', 'idMap'],
      properties: { indexKey: { type: 'string' }, idMap },
    }),
    ...errors(400, 413, 422, 500, 503),
  },
};

export const addSchema = {
  summary: 'addImagesToIndex: add images to an index',
  body: {
    type: 'object',
    required: ['imageLabelPairs'],
    properties: { imageLabelPairs, indexKey },
  },
  response: {
    200: envelope({ type: 'object', required: ['idMap'], properties: { idMap } }),
    ...errors(400, 404, 413, 422, 500, 503),
  },
};

export const removeSchema = {
  summary: 'removeImagesFromIndex: remove vectors from an index',
  body: {
    type: 'object',
    required: ['ids'],
    properties: {
      ids: { type: 'array', items: { type: 'integer' }, description: 'Ids of the vectors to remove. Unknown ids: 404, nothing removed.' },
      indexKey,
    },
  },
  response: {
    200: envelope({ type: 'object', required: ['idMap'], properties: { idMap } }),
    ...errors(400, 404, 413, 422, 500, 503),
  },
};

export const inferSchema = {
  summary: 'infer: recognise the objects in an image',
  body: {
    type: 'object',
    required: ['image'],
    properties: {
      image,
      indexKey,
      detThreshold: { type: 'number', minimum: 0, maximum: 1, description: 'Detection threshold (default: the pipeline config, 0.5).' },
      recThreshold: { type: 'number', description: 'Recognition threshold (default: the pipeline config, 0.5).' },
      topk: { type: 'integer', minimum: 1, maximum: 1000, description: 'Results per object (default: the pipeline config, 5).' },
      returnImage: { type: 'boolean', default: true, description: 'Extension: false leaves out the visualisation (image: null).' },
    },
  },
  response: {
    200: envelope({
      type: 'object',
      required: ['detectedObjects', 'image'],
      properties: {
        detectedObjects: {
          type: 'array',
          items: {
            type: 'object',
            required: ['bbox', 'recResults', 'score'],
            properties: {
              bbox: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4, description: '[x1, y1, x2, y2]' },
              recResults: {
                type: 'array',
                items: { type: 'object', required: ['label', 'score'], properties: { label: { type: 'string' }, score: { type: 'number' } } },
                description: 'Best first; empty when the object matched nothing above recThreshold.',
              },
              score: { type: 'number', description: 'Detection score.' },
            },
          },
        },
        image: { type: 'string', nullable: true, description: 'The visualisation, Base64 JPEG (null when returnImage is false).' },
      },
    }),
    ...errors(400, 404, 413, 422, 500, 503),
  },
};

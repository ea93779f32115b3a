// Read-only views of the service's indexes for the web app (and any client):
//   GET /indexes            the index keys, newest first
//   GET /indexes/:indexKey  one index: type, metric, size and its id map
// The PaddleX serving API has no such operations; the page needs them to pick
// a gallery and to show, filter and prune its entries.
import type { FastifyInstance } from 'fastify';
import type { IndexData } from '../../vector-index/index-data';
import { Type } from '@sinclair/typebox';
import { envelope, ErrorBody, IdMap } from '../schemas';
import type { IndexListEntry, IndexStore } from '../../store/index-store';
import { success } from '../context';

export type { IndexListEntry } from '../../store/index-store';

export interface IndexView {
  indexKey: string;
  indexType: string;
  metricType: string;
  dim: number;
  count: number;
  idMap: Record<string, string>;
}

async function readIndex(store: IndexStore, key: string): Promise<IndexView> {
  const k = store.checkKey(key);
  const index: IndexData = await store.get(k);
  const ids: Record<string, string> = {};
  for (const [id, label] of index.idMapEntries) ids[String(id)] = label;
  return { indexKey: k, indexType: String(index.indexType), metricType: index.metricType, dim: index.dim, count: index.count, idMap: ids };
}

const listSchema = {
  summary: 'Extension: the index keys, newest first',
  response: {
    200: envelope(Type.Object({
      indexes: Type.Array(Type.Object({ indexKey: Type.String(), modified: Type.String() })),
    })),
    401: ErrorBody,
    403: ErrorBody,
    500: ErrorBody,
  },
};

const readSchema = {
  summary: 'Extension: one index, its type, metric, size and id map',
  params: Type.Object({ indexKey: Type.String() }),
  response: {
    200: envelope(Type.Object({
      indexKey: Type.String(),
      indexType: Type.String(),
      metricType: Type.String(),
      dim: Type.Integer(),
      count: Type.Integer(),
      idMap: IdMap,
    })),
    401: ErrorBody,
    403: ErrorBody,
    404: ErrorBody,
    422: ErrorBody,
    500: ErrorBody,
  },
};

/** GET /indexes and GET /indexes/:indexKey (errors go through the server's error handler). */
export function indexReadRoutes(store: IndexStore) {
  return async function (r: FastifyInstance): Promise<void> {
    r.get('/indexes', { schema: listSchema, config: { scope: 'read' } }, async (request) =>
      success(request, { indexes: (await store.list()) satisfies IndexListEntry[] }));
    r.get<{ Params: { indexKey: string } }>('/indexes/:indexKey', { schema: readSchema, config: { scope: 'read' } }, async (request) =>
      success(request, await readIndex(store, request.params.indexKey)));
  };
}

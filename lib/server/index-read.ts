// Read-only views of the service's indexes for the web app (and any client):
//   GET /indexes            the index keys, newest first
//   GET /indexes/:indexKey  one index: type, metric, size and its id map
// The PaddleX serving API has no such operations; the page needs them to pick
// a gallery and to show, filter and prune its entries.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { IndexData } from '../vector-index/index-data';
import { Type } from '@sinclair/typebox';
import { envelope, ErrorBody, IdMap } from './schemas';
import { FileIndexStore } from '../store/file-store';
import { INDEX_KEY_RE, IndexStore } from '../store/index-store';

export interface IndexListEntry {
  indexKey: string;
  /** When the index was last saved (ISO 8601). */
  modified: string;
}

export interface IndexView {
  indexKey: string;
  indexType: string;
  metricType: string;
  dim: number;
  count: number;
  idMap: Record<string, string>;
}

// The two places these routes touch the store. A directory store is listed
// with each index's save time (newest first); other stores list their keys.
async function listIndexes(store: IndexStore): Promise<IndexListEntry[]> {
  if (!(store instanceof FileIndexStore)) return (await store.list()).map((indexKey) => ({ indexKey, modified: '' }));
  let names: string[];
  try {
    names = await fs.promises.readdir(store.dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: IndexListEntry[] = [];
  for (const name of names) {
    if (!INDEX_KEY_RE.test(name)) continue;
    const stat = await fs.promises.stat(path.join(store.dir, name, 'vector.index')).catch(() => undefined);
    if (stat?.isFile()) out.push({ indexKey: name.toLowerCase(), modified: stat.mtime.toISOString() });
  }
  return out.sort((a, b) => (a.modified < b.modified ? 1 : a.modified > b.modified ? -1 : a.indexKey.localeCompare(b.indexKey)));
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

/** Registers GET /indexes and GET /indexes/:indexKey (errors go through the server's error handler). */
export function registerIndexReadRoutes(r: FastifyInstance, store: IndexStore): void {
  r.get('/indexes', { schema: listSchema, config: { scope: 'read' } as Record<string, unknown> }, async (request) => ({
    logId: request.id, errorCode: 0, errorMsg: 'Success', result: { indexes: await listIndexes(store) },
  }));
  r.get<{ Params: { indexKey: string } }>('/indexes/:indexKey', { schema: readSchema, config: { scope: 'read' } as Record<string, unknown> }, async (request) => ({
    logId: request.id, errorCode: 0, errorMsg: 'Success', result: await readIndex(store, request.params.indexKey),
  }));
}

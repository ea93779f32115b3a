// `shitu serve`: the service in its own process, listening at once (/health
// answers, /ready waits for the models), running until SIGINT/SIGTERM, then draining.
import * as path from 'node:path';
import { loadApiKeys } from '../server/auth';
import { createServer } from '../server/app';
import { PipelineFlags, pipelineOptionsOf } from './options';

export interface ServeOptions extends Partial<PipelineFlags> {
  host?: string;
  port?: number;
  indexDir?: string;
  /** A postgresql:// URL: replicas share their indexes (else indexDir). */
  indexStore?: string;
  defaultIndexKey?: string;
  maxConcurrent?: number;
  maxQueue?: number;
  /** Dynamic batching: crops per feature-model Run across concurrent requests (default 0: off, see bench/REPORT.md §5b; when on, BATCHING.maxBatch.default unless given). */
  batchMax?: number;
  /** Dynamic batching: how long the first request waits for the others' crops (default BATCHING.maxWaitMs.default). */
  batchWaitMs?: number;
  bodyLimit?: number;
  /** API key file (see server-auth.ts); SHITU_API_KEYS adds keys from the environment. */
  apiKeys?: string;
  limitInputPixels?: number;
  imageFormats?: string[];
  /** CIDRs image URLs may reach although not public. */
  allowFetch?: string[];
  log?: boolean;
}

/**
 * serve's batching option from --batch-max / --batch-wait-ms: off unless one
 * is given (on CPU it measured no faster, bench/REPORT.md §5b); --batch-max 0 keeps it off.
 */
export function serveBatching(o: Pick<ServeOptions, 'batchMax' | 'batchWaitMs'>): false | { maxBatch?: number; maxWaitMs?: number } {
  if (o.batchMax === 0 || (o.batchMax === undefined && o.batchWaitMs === undefined)) return false;
  return { ...(o.batchMax !== undefined && { maxBatch: o.batchMax }), ...(o.batchWaitMs !== undefined && { maxWaitMs: o.batchWaitMs }) };
}

/** `shitu serve`: listens at once (/health answers, /ready waits for the models), runs until SIGINT/SIGTERM, then drains. */
export async function serve(o: ServeOptions): Promise<void> {
  const { createPipeline, resolveBatching } = await import('../pipeline/pipeline');
  const batching = serveBatching(o);
  resolveBatching(batching); // a bad --batch-max / --batch-wait-ms fails here, before listening
  const pipelineP = createPipeline(o.config ?? 'PP-ShiTuV2', pipelineOptionsOf({ config: o.config ?? 'PP-ShiTuV2', device: o.device ?? 'cpu', ...o }, { batching }));
  pipelineP.catch((e) => process.stderr.write(`error ${(e as { code?: string }).code ?? 'ERR_INTERNAL'}: ${(e as Error).message}\n`));
  const indexDir = path.resolve(o.indexDir ?? 'indexes');
  const apiKeys = loadApiKeys({ file: o.apiKeys });
  const app = createServer(pipelineP, {
    indexDir, indexStore: o.indexStore, defaultIndexKey: o.defaultIndexKey, maxConcurrent: o.maxConcurrent, maxQueue: o.maxQueue, bodyLimit: o.bodyLimit,
    apiKeys, limitInputPixels: o.limitInputPixels, imageFormats: o.imageFormats,
    fetch: o.allowFetch ? { guard: { allow: o.allowFetch } } : undefined,
    logger: o.log ? { level: 'info' } : false,
  });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8080 });
  process.stderr.write(`shitu serve: listening on ${address} (indexes in ${app.shitu.store.location}; ${apiKeys.length ? `${apiKeys.length} API key(s)` : 'no API keys: every route is open'})\n`);
  pipelineP.then(() => process.stderr.write('shitu serve: pipeline loaded, ready\n'), () => undefined);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.stderr.write(`shitu serve: ${sig}, draining\n`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await app.close();
  const p = await pipelineP.catch(() => undefined);
  await p?.close();
}

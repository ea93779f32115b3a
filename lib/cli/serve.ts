// `shitu serve`: the service in its own process, listening at once (/health
// answers, /ready waits for the models), running until SIGINT/SIGTERM, then
// draining within --shutdown-timeout; its lines are pino JSON on stdout.
import * as path from 'node:path';
import { loadApiKeys } from '../server/auth';
import { createServer } from '../server/app';
import type { ServerOptions } from '../server/options';
import { PIPELINE_LIMITS, SERVICE_LIMITS } from '../limits';
import { LOG_LEVELS, LogLevel } from './log-levels';
import { PipelineFlags, pipelineOptionsOf } from './options';

/**
 * `shitu serve`'s flags: createServer's options under the same names where the
 * flag is the option, plus what only the command has (address, key file,
 * batching, logging, shutdown).
 */
export interface ServeOptions extends Partial<PipelineFlags>,
  Pick<ServerOptions, 'indexDir' | 'defaultIndexKey' | 'maxConcurrent' | 'maxQueue' | 'bodyLimit' | 'allowedHosts' | 'healthPort' | 'maxConnectionsPerClient'> {
  host?: string;
  port?: number;
  /** A postgresql:// URL: replicas share their indexes (else indexDir). */
  indexStore?: string;
  /** --request-timeout: createServer's requestDeadlineMs. */
  requestTimeout?: ServerOptions['requestDeadlineMs'];
  /** Dynamic batching: crops per feature-model Run across concurrent requests (default 0: off, see bench/REPORT.md §5b; when on, BATCHING.maxBatch.default unless given). */
  batchMax?: number;
  /** Dynamic batching: how long the first request waits for the others' crops (default BATCHING.maxWaitMs.default). */
  batchWaitMs?: number;
  /** API key file (see server-auth.ts); SHITU_API_KEYS adds keys from the environment. */
  apiKeys?: string;
  limitInputPixels?: number;
  imageFormats?: string[];
  /** CIDRs image URLs may reach although not public. */
  allowFetch?: string[];
  /** --idempotency-ttl: createServer's idempotencyTtlMs (how long answers of writes with an Idempotency-Key are kept). */
  idempotencyTtl?: ServerOptions['idempotencyTtlMs'];
  /** --log-level: pino's level for the request and lifecycle lines (default info). */
  logLevel?: LogLevel;
  /** --shutdown-timeout: how long the drain after SIGTERM/SIGINT may take, in ms (default SERVICE_LIMITS.shutdownTimeoutMs). */
  shutdownTimeout?: number;
}

/**
 * serve's batching option from --batch-max / --batch-wait-ms: off unless one
 * is given (on CPU it measured no faster, bench/REPORT.md §5b); --batch-max 0 keeps it off.
 */
export function serveBatching(o: Pick<ServeOptions, 'batchMax' | 'batchWaitMs'>): false | { maxBatch?: number; maxWaitMs?: number } {
  if (o.batchMax === 0 || (o.batchMax === undefined && o.batchWaitMs === undefined)) return false;
  return { ...(o.batchMax !== undefined && { maxBatch: o.batchMax }), ...(o.batchWaitMs !== undefined && { maxWaitMs: o.batchWaitMs }) };
}

/** Exit statuses of `shitu serve` after a signal: drained in time, or not (see README "Observing the service"). */
export const EXIT_DRAINED = 0;
export const EXIT_DRAIN_TIMEOUT = 1;
/** A second signal exits at once, with the shell's status for death by that signal (128 + its number). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `shitu serve`: listens at once (/health answers, /ready waits for the models),
 * runs until SIGINT/SIGTERM, then drains: /ready answers 503 "draining", the
 * listener closes, the requests in flight finish within --shutdown-timeout, and
 * the process exits 0 (1 if the drain took longer; a second signal exits at once).
 * Every line it logs, requests and lifecycle, is pino JSON on stdout at --log-level.
 */
export async function serve(o: ServeOptions): Promise<void> {
  const logLevel = o.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new RangeError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const shutdownTimeout = o.shutdownTimeout ?? SERVICE_LIMITS.shutdownTimeoutMs;
  if (!Number.isInteger(shutdownTimeout) || shutdownTimeout < 0) throw new RangeError(`--shutdown-timeout must be a non-negative integer (ms), got ${JSON.stringify(shutdownTimeout)}`);
  const { createPipeline, resolveBatching } = require('../pipeline/pipeline') as typeof import('../pipeline/pipeline');
  const batching = serveBatching(o);
  resolveBatching(batching); // a bad --batch-max / --batch-wait-ms fails here, before listening
  const pipelineP = createPipeline(o.config ?? 'PP-ShiTuV2', pipelineOptionsOf({ config: o.config ?? 'PP-ShiTuV2', device: o.device ?? 'cpu', ...o }, { batching }));
  pipelineP.catch(() => undefined); // logged below, once the logger exists
  const indexDir = path.resolve(o.indexDir ?? 'indexes');
  const apiKeys = loadApiKeys({ file: o.apiKeys });
  const app = createServer(pipelineP, {
    indexDir, indexStore: o.indexStore, defaultIndexKey: o.defaultIndexKey, maxConcurrent: o.maxConcurrent, maxQueue: o.maxQueue, requestDeadlineMs: o.requestTimeout, bodyLimit: o.bodyLimit,
    apiKeys, limitInputPixels: o.limitInputPixels, imageFormats: o.imageFormats,
    fetch: o.allowFetch ? { guard: { allow: o.allowFetch } } : undefined,
    allowedHosts: o.allowedHosts, healthPort: o.healthPort, maxConnectionsPerClient: o.maxConnectionsPerClient, idempotencyTtlMs: o.idempotencyTtl,
    logger: { level: logLevel }, processMetrics: true,
  });
  const log = app.log;
  const t0 = performance.now();
  pipelineP.then(
    () => log.info({ event: 'ready', ms: Math.round(performance.now() - t0) }, 'models loaded, ready'),
    (e) => log.error({ event: 'pipeline-failed', code: (e as { code?: string }).code ?? 'ERR_INTERNAL', err: e }, `the pipeline failed to load: ${(e as Error).message}`),
  );
  // Exiting while a native job runs would tear ONNX Runtime down under the
  // addon's threads (SIGSEGV): first stop the pipeline's work at its next
  // boundary, waiting for the job running now (bounded by the pipeline's closeTimeoutMs).
  const stopWorkAndExit = async (code: number): Promise<never> => {
    const p = await Promise.race([pipelineP.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), PIPELINE_LIMITS.closeTimeoutMs.default).unref())]);
    await p?.close();
    process.exit(code);
  };
  // Registered before listening: a signal during start-up drains too.
  const signalled = new Promise<string>((resolve) => {
    const first = (sig: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const again = (sig2: string) => {
        log.warn({ event: 'exit', signal: sig2, code: SIGNAL_EXIT[sig2] }, `${sig2} again: exiting without waiting for the drain`);
        void stopWorkAndExit(SIGNAL_EXIT[sig2]);
      };
      process.once('SIGINT', () => again('SIGINT'));
      process.once('SIGTERM', () => again('SIGTERM'));
      resolve(sig);
    };
    const onInt = () => first('SIGINT');
    const onTerm = () => first('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8080 });
  const health = await app.shitu.healthAddress();
  log.info({
    event: 'listening', address, ...(health && { healthPort: health.port }), indexes: app.shitu.store.location, apiKeys: apiKeys.length,
  }, `listening on ${address} (indexes in ${app.shitu.store.location}; ${apiKeys.length ? `${apiKeys.length} API key(s)` : 'no API keys: every route is open'})`);

  const signal = await signalled;
  const { active, queued } = app.shitu.limiter.stats;
  log.info({ event: 'draining', signal, active, queued, timeoutMs: shutdownTimeout }, `${signal}: draining (${active} running, ${queued} queued; at most ${shutdownTimeout} ms)`);
  const drainStart = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    (async () => {
      await app.close();
      const p = await pipelineP.catch(() => undefined);
      await p?.close();
      return true;
    })(),
    new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), shutdownTimeout); }),
  ]);
  clearTimeout(timer);
  const code = drained ? EXIT_DRAINED : EXIT_DRAIN_TIMEOUT;
  if (drained) log.info({ event: 'exit', code, ms: Math.round(performance.now() - drainStart) }, 'drained, exiting');
  else {
    const left = app.shitu.limiter.stats;
    log.warn({ event: 'exit', code, active: left.active, queued: left.queued }, `the drain took longer than --shutdown-timeout ${shutdownTimeout} ms: exiting with ${left.active} request(s) still running`);
  }
  // A hung client or work still running must not hold the process.
  await stopWorkAndExit(code);
}

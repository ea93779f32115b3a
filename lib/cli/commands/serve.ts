// serve: the HTTP service's flags (the service itself: lib/cli/serve.ts).
import { Command, Option } from 'commander';
import { BATCHING, CONNECTION_LIMITS, IDEMPOTENCY, SERVICE_LIMITS } from '../../limits';
import { intArg, listArg, numberArg, pipelineFlags } from '../options';
import { LOG_LEVELS } from '../log-levels';

export function registerServeCommand(program: Command): void {
  // serve: HTTP service compatible with the PP-ShiTuV2 serving API (lib/server/app.ts).
  pipelineFlags(program.command('serve'))
    .description('HTTP service compatible with the PP-ShiTuV2 serving API (/shitu-index-build, -add, -remove, /shitu-infer)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', intArg(0, 65535), 8080)
    .option('--index-dir <dir>', 'directory holding the indexes (one per indexKey)', 'indexes')
    .option('--index-store <url>', 'postgresql://user@host:port/db: indexes in PostgreSQL, shared by replicas (instead of --index-dir)')
    .option('--default-index-key <key>', 'index used when a request has no indexKey')
    .option('--max-concurrent <n>', 'recognitions running at once', intArg(1), SERVICE_LIMITS.maxConcurrent)
    .option('--max-queue <n>', 'requests waiting; beyond it 503 + Retry-After', intArg(0), SERVICE_LIMITS.maxQueue)
    .option('--request-timeout <ms>', `deadline of a request's work (queueing, fetching, recognition, embedding); past it 504 ERR_TIMEOUT (default ${SERVICE_LIMITS.requestDeadlineMs})`, intArg(1, 2 ** 31 - 1))
    .option('--batch-max <n>', `dynamic batching: crops per feature-model run across concurrent requests (default off; when on, ${BATCHING.maxBatch.default})`, intArg(0))
    .option('--batch-wait-ms <ms>', `dynamic batching: longest wait for other requests' crops (default ${BATCHING.maxWaitMs.default}; turns batching on)`, numberArg())
    .option('--body-limit <bytes>', 'largest request body', intArg(1), SERVICE_LIMITS.bodyLimit)
    .option('--idempotency-ttl <ms>', `how long the answer of a write sent with an Idempotency-Key is kept for its retries (default ${IDEMPOTENCY.ttlMs}, 24 h)`, intArg(1, 2 ** 31 - 1))
    .option('--api-keys <file>', 'API keys, one "<key> <scopes: read,write,admin> [name] [indexes=N] [vectors=N]" per line (also: SHITU_API_KEYS)')
    .option('--limit-input-pixels <n>', 'refuse images declaring more pixels (413)', intArg(1))
    .option('--image-formats <list>', 'formats decoded, comma-separated (default jpeg,png,webp,tiff,bmp)', listArg)
    .option('--allow-fetch <cidrs>', 'non-public addresses image URLs may reach, comma-separated CIDRs', listArg)
    .option('--allowed-hosts <list>', 'Host header names answered, comma-separated (".example.com": subdomains too, "*": any; default: loopback names when bound to loopback, else any)', listArg)
    .option('--health-port <port>', 'also answer /health and /ready on this port, with connection slots of its own', intArg(0, 65535))
    .option('--max-connections-per-client <n>', `sockets open at once per client address (default ${CONNECTION_LIMITS.maxPerClient})`, intArg(1))
    .addOption(new Option('--log-level <level>', 'request and lifecycle lines (pino JSON on stdout) at this level or above').choices(LOG_LEVELS).default('info'))
    .option('--shutdown-timeout <ms>', `after SIGTERM/SIGINT, how long requests in flight may drain before the process exits anyway (status 1; a second signal exits at once)`, intArg(0, 2 ** 31 - 1), SERVICE_LIMITS.shutdownTimeoutMs)
    .action(async (o) => {
      const { serve } = require('../serve') as typeof import('../serve');
      await serve(o);
    });
}

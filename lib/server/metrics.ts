// The service's Prometheus metrics (GET /metrics, lib/server/routes/metrics.ts):
// a prom-client registry per server (several servers may share a process, as
// in the tests), never the global one. Requests are counted and timed by route
// pattern (never the raw URL: unbounded label values), recognitions by stage
// from their timings; queue depths, counters of the admission layers, index
// sizes and the PostgreSQL change feed are read from their owners on each scrape.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AdmissionStats } from '../pipeline/admission';
import type { StageTimings } from '../pipeline/result';
import type { IndexStore } from '../store/index-store';
import type { Limiter } from './limiter';

/** The stages of a recognition's timings observed by shitu_recognition_stage_duration_seconds. */
export const METRIC_STAGES: ReadonlyArray<keyof StageTimings> = [
  'decode', 'detPreprocess', 'detInference', 'detPostprocess', 'recPreprocess', 'recInference', 'recBatchWait', 'search', 'total', 'wall',
];

/** Seconds: from a fast cached recognition (a few ms) to a large build (a minute). */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface MetricsSources {
  limiter: Limiter;
  store: IndexStore;
  /** The pipeline's admission counters once it is loaded. */
  pipelineStats: () => AdmissionStats | undefined;
  /** Node's process metrics (process_*, nodejs_*) on this registry too (default false). */
  processMetrics?: boolean;
}

/**
 * A counter mirroring a monotonic count kept elsewhere: each scrape adds what
 * the source counted since the last one (prom-client counters only go up).
 */
function mirrored(c: Counter<string>, labels: Record<string, string>, seen: Map<string, number>, value: number): void {
  const key = JSON.stringify(labels);
  const delta = value - (seen.get(key) ?? 0);
  if (delta > 0) c.inc(labels, delta);
  seen.set(key, Math.max(value, seen.get(key) ?? 0));
}

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  private readonly stages: Histogram<'stage'>;
  private readonly aborted: Counter<'reason'>;

  constructor(src: MetricsSources) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'shitu_http_requests_total', help: 'HTTP requests answered, by route pattern and status (/health and /ready are answered before routing and not counted)', labelNames: ['method', 'route', 'status'], registers });
    this.duration = new Histogram({ name: 'shitu_http_request_duration_seconds', help: 'Time from a request\'s arrival to its response, by route pattern and status', labelNames: ['method', 'route', 'status'], buckets: REQUEST_BUCKETS, registers });
    this.stages = new Histogram({ name: 'shitu_recognition_stage_duration_seconds', help: 'Duration of each stage of the recognitions of /shitu-infer (total: inside the native call; wall: from the call to its result)', labelNames: ['stage'], buckets: STAGE_BUCKETS, registers });
    this.aborted = new Counter({ name: 'shitu_requests_aborted_total', help: 'Requests whose work was stopped: reason "timeout" (past the request deadline, 504) or "client" (the client went away)', labelNames: ['reason'], registers });
    for (const reason of ['timeout', 'client']) this.aborted.inc({ reason }, 0);

    const limiterSeen = new Map<string, number>();
    const limiterTotal = new Counter({
      name: 'shitu_service_admission_total', help: 'The service\'s admission of recognitions and embeddings: started, completed, rejected (503 busy), cancelled (client gone while queued)',
      labelNames: ['outcome'], registers,
      collect() { const s = src.limiter.stats; for (const outcome of ['started', 'completed', 'rejected', 'cancelled'] as const) mirrored(limiterTotal, { outcome }, limiterSeen, s[outcome]); },
    });
    new Gauge({ name: 'shitu_service_in_flight', help: 'Requests holding one of the service\'s recognition slots now', registers, collect() { this.set(src.limiter.stats.active); } });
    new Gauge({ name: 'shitu_service_queue_depth', help: 'Requests waiting for a recognition slot now', registers, collect() { this.set(src.limiter.stats.queued); } });

    const pipelineSeen = new Map<string, number>();
    const pipelineJobs = new Counter({
      name: 'shitu_pipeline_jobs_total', help: 'The pipeline\'s native jobs (recognitions, gallery batches, index writes) by outcome: completed, failed, aborted (cancelled, timed out, closed), rejected (ERR_BUSY)',
      labelNames: ['outcome'], registers,
      collect() { const s = src.pipelineStats(); if (s) for (const outcome of ['completed', 'failed', 'aborted', 'rejected'] as const) mirrored(pipelineJobs, { outcome }, pipelineSeen, s[outcome]); },
    });
    new Gauge({ name: 'shitu_pipeline_in_flight', help: 'The pipeline\'s native jobs running now', registers, collect() { this.set(src.pipelineStats()?.inFlight ?? 0); } });
    new Gauge({ name: 'shitu_pipeline_queue_depth', help: 'The pipeline\'s native jobs waiting for a slot now', registers, collect() { this.set(src.pipelineStats()?.queued ?? 0); } });

    if (src.store.loadedIndexes) {
      const loaded = src.store.loadedIndexes.bind(src.store);
      new Gauge({
        name: 'shitu_index_vectors', help: 'Vectors in each index held in process (at most the cache size of them), by indexKey', labelNames: ['index_key'], registers,
        async collect() {
          this.reset(); // evicted indexes disappear
          for (const { indexKey, count } of await loaded()) this.set({ index_key: indexKey }, count);
        },
      });
    }
    if (src.store.feedState) {
      const feed = src.store.feedState.bind(src.store);
      new Gauge({ name: 'shitu_store_feed_live', help: 'The PostgreSQL change feed: 1 connected, listening and caught up, 0 not', registers, collect() { this.set(feed().live ? 1 : 0); } });
      new Gauge({ name: 'shitu_store_feed_lag_seconds', help: 'How long the oldest change committed and notified has waited to be applied here (while the feed is down: at least the time since it went down); 0 when caught up', registers, collect() { this.set(feed().lagSeconds); } });
    }
    if (src.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** One recognition's stage timings (ms, as in StageTimings). */
  observeRecognition(t: StageTimings): void {
    for (const stage of METRIC_STAGES) if (Number.isFinite(t[stage]) && t[stage] >= 0) this.stages.observe({ stage }, t[stage] / 1000);
  }

  /** Counts and times every request Fastify answers, by route pattern, and the aborted ones. */
  attach(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? '(unmatched)', status: String(reply.statusCode) };
      this.requests.inc(labels);
      this.duration.observe(labels, reply.elapsedTime / 1000);
    });
    app.addHook('onError', async (_request, _reply, err) => {
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_TIMEOUT') this.aborted.inc({ reason: 'timeout' });
      else if (code === 'ERR_ABORTED') this.aborted.inc({ reason: 'client' });
    });
  }

  /** The text exposition (Prometheus 0.0.4). */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

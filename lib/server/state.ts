// What createServer returns: the Fastify instance with `shitu`, the service's
// own state (admission, store, readiness, connections, metrics) for callers
// and tests.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { IndexStore } from '../store/index-store';
import type { Limiter, LimiterStats } from './limiter';
import type { ServiceMetrics } from './metrics';
import type { ConnectionGuard } from './transport/connection-guard';

export interface ShituServerState {
  readonly limiter: Limiter;
  readonly store: IndexStore;
  /** True once the pipeline is loaded, false again while closing. */
  readonly ready: boolean;
  /** The health port's address, once it listens (after listen(); null without the healthPort option). */
  healthAddress(): Promise<AddressInfo | null>;
  readonly connections: ConnectionGuard;
  /** What GET /metrics exposes (its prom-client registry is this server's own). */
  readonly metrics: ServiceMetrics;
  stats(): LimiterStats;
}

export type ShituServer = FastifyInstance & { shitu: ShituServerState };

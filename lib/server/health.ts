// GET /health (the process is alive) and GET /ready (the pipeline is loaded,
// the store can serve and the server is not draining), answered from state
// alone: no request work, no store query, so that probes are never held up.
import * as crypto from 'node:crypto';
import type { IndexStore } from '../store/index-store';
import { publicMessage } from './error-status';
import type { Limiter } from './limiter';
import type { HealthAnswerer } from './transport/http-server';

/** Where the server stands, as /ready reports it. */
export interface Lifecycle {
  /** The pipeline, once loaded. */
  loaded(): boolean;
  /** Why the pipeline failed to load, if it did. */
  loadError(): Error | undefined;
  closing(): boolean;
}

export function healthAnswerer(store: IndexStore, limiter: Limiter, life: Lifecycle): HealthAnswerer {
  return (url) => {
    const p = (url ?? '').split('?')[0];
    const logId = crypto.randomUUID();
    if (p === '/health') return { status: 200, body: { logId, errorCode: 0, errorMsg: 'Success', result: { status: 'ok' } } };
    if (p !== '/ready') return null;
    // Not ready, with the reason and (result.status) which state: failed, draining, loading, store.
    const storeHealth = store.health?.() ?? { ready: true };
    const loadError = life.loadError();
    if (!life.loaded() || life.closing() || !storeHealth.ready) {
      const [status, why] = loadError ? ['failed', `the pipeline failed to load: ${publicMessage(loadError.message)}`]
        : life.closing() ? ['draining', 'the server is shutting down (draining the requests in flight)']
        : !life.loaded() ? ['loading', 'the pipeline is still loading']
        : ['store', publicMessage((storeHealth as { reason: string }).reason)];
      return { status: 503, body: { logId, errorCode: 503, errorMsg: why, result: { status } }, headers: { 'retry-after': '2' } };
    }
    return { status: 200, body: { logId, errorCode: 0, errorMsg: 'Success', result: { status: 'ready', ...limiter.stats } } };
  };
}

// A second listening socket that answers only /health and /ready (shitu serve
// --health-port), so that probes keep their own connection slots however the
// main port is loaded: clients that hold every slot of the main port, or the
// share of one address, leave these alone.
import * as http from 'node:http';
import { refusal } from '../error-status';
import { ConnectionGuard } from './connection-guard';

export interface HealthAnswer { status: number; body: Record<string, unknown>; headers?: Record<string, string> }

export interface HealthServerOptions {
  maxConnections: number;
  maxPerClient: number;
  maxPendingPerClient: number;
  /** Probes send one short request: its headers must come within this. */
  headersTimeoutMs: number;
}

export function createHealthServer(answer: (url: string | undefined) => HealthAnswer | null, o: HealthServerOptions): http.Server {
  const server = http.createServer({
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: o.headersTimeoutMs,
    keepAliveTimeout: 2000,
    connectionsCheckingInterval: Math.min(500, o.headersTimeoutMs),
  }, (req, res) => {
    const h = req.method === 'GET' ? answer(req.url) : null;
    const out: HealthAnswer = h ?? refusal('ERR_ROUTE_NOT_FOUND', 'this port answers GET /health and GET /ready only', '');
    res.writeHead(out.status, { 'content-type': 'application/json; charset=utf-8', ...out.headers });
    res.end(JSON.stringify(out.body));
  });
  server.maxConnections = o.maxConnections;
  new ConnectionGuard({ maxPerClient: o.maxPerClient, maxPendingPerClient: o.maxPendingPerClient, firstRequestTimeoutMs: o.headersTimeoutMs }).attach(server);
  return server;
}

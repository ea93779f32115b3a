// The service's sockets under Fastify: Node's HTTP server with the
// settings' timeouts and connection caps, /health and /ready answered before
// Fastify (so that probes never wait behind request bodies being read or
// parsed), the Host check (421 for names the server is not meant to be
// reached by: DNS rebinding), the idle keep-alive connections ended on close,
// and the optional second port for the probes.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { FastifyInstance, FastifyServerFactory } from 'fastify';
import { CONNECTION_LIMITS } from '../../limits';
import { refusal } from '../error-status';
import type { ServerSettings } from '../options';
import { ConnectionGuard } from './connection-guard';
import { createHealthServer, HealthAnswer } from './health-server';
import { HostAllowList } from './host-allow';

/** Answers GET /health and /ready (null: any other path). */
export type HealthAnswerer = (url: string | undefined) => HealthAnswer | null;

/** Fastify's serverFactory: the HTTP server the service listens with. */
export function httpServerFactory(s: ServerSettings, guard: ConnectionGuard, health: HealthAnswerer, closing: () => boolean): FastifyServerFactory {
  // Given, or decided from the bound address at the first request (listen() comes after this).
  let hosts: HostAllowList | undefined = s.allowedHosts !== undefined ? new HostAllowList(s.allowedHosts) : undefined;
  return (handler) => {
    const server = http.createServer({
      ...s.timeouts,
      // How often Node checks the two timeouts above (its default is 30 s).
      connectionsCheckingInterval: Math.min(1000, s.timeouts.headersTimeout),
    }, (req, res) => {
      const h = req.method === 'GET' ? health(req.url) : null;
      if (h) {
        res.writeHead(h.status, { 'content-type': 'application/json; charset=utf-8', ...h.headers, ...(closing() ? { connection: 'close' } : {}) });
        res.end(JSON.stringify(h.body));
        return;
      }
      hosts ??= HostAllowList.forBound((server.address() as AddressInfo | null)?.address);
      if (!hosts.allows(req.headers.host)) {
        const r = refusal('ERR_MISDIRECTED', `Host ${JSON.stringify(req.headers.host ?? '')} is not a name this server answers to (see --allowed-hosts)`, crypto.randomUUID());
        res.writeHead(r.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
        res.end(JSON.stringify(r.body));
        return;
      }
      return handler(req, res);
    });
    server.maxConnections = s.maxConnections;
    guard.attach(server);
    return server;
  };
}

/**
 * Counts the requests in flight per connection; the function returned ends
 * the idle ones. Node's own closeIdleConnections() can miss idle keep-alive
 * connections (a parser reused after an aborted request still looks busy),
 * which would hold close() for the keep-alive timeout.
 */
export function idleConnectionCloser(server: http.Server): () => void {
  const inFlight = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (inFlight.has(socket)) inFlight.set(socket, Math.max(0, inFlight.get(socket)! - 1));
    });
  });
  return () => {
    for (const [socket, busy] of inFlight) if (busy === 0) socket.destroy();
  };
}

/**
 * The health port (`healthPort`): listens on the main port's address as soon
 * as that listens, and closes with the app. Resolves with its address (null
 * without a health port).
 */
export function listenHealthPort(app: FastifyInstance, port: number | undefined, health: HealthAnswerer): Promise<AddressInfo | null> {
  if (port === undefined) return Promise.resolve(null);
  const healthServer = createHealthServer(health, CONNECTION_LIMITS.health);
  let started: (a: AddressInfo) => void, failed: (e: Error) => void;
  const listening = new Promise<AddressInfo | null>((resolve, reject) => { started = resolve; failed = reject; });
  listening.catch(() => undefined); // reported to whoever asks for the address
  app.server.once('listening', () => {
    const host = (app.server.address() as AddressInfo).address;
    healthServer.once('error', failed);
    healthServer.listen(port, host, () => { healthServer.off('error', failed); started(healthServer.address() as AddressInfo); });
  });
  app.addHook('onClose', async () => {
    healthServer.closeAllConnections();
    await new Promise<void>((r) => healthServer.close(() => r()));
  });
  return listening;
}

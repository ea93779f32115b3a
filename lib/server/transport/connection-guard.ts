// Fair shares of the connection slots. Node's server.maxConnections alone lets
// one client hold every slot with sockets that dribble a header line a second
// (the issue measured /health answering 0 of 19 probes). Per client address
// this caps the sockets open at once and the sockets that have not yet sent a
// complete request (the slow ones), and gives a socket a short deadline to
// send its first request's headers. Over a cap, the socket gets a 503 and is
// closed before anything of it is parsed.
import type * as http from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionGuardOptions {
  /** Sockets open at once per client address. */
  maxPerClient: number;
  /** Sockets per client address that have not yet sent a complete request. */
  maxPendingPerClient: number;
  /** A new socket must send its first request's headers within this. */
  firstRequestTimeoutMs: number;
}

interface Client { open: number; pending: number }

const refusal = (why: string) => {
  const body = JSON.stringify({ logId: '', errorCode: 503, errorMsg: why });
  return `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};

export class ConnectionGuard {
  private readonly clients = new Map<string, Client>();
  private readonly pendingSockets = new WeakSet<Socket>();
  refused = 0;
  timedOut = 0;

  constructor(private readonly o: ConnectionGuardOptions) {}

  /** Watches `server`'s connections (before Node parses anything of them) and first requests. */
  attach(server: http.Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (req: http.IncomingMessage) => this.started(req.socket));
  }

  /** Sockets open per client address, for figures. */
  get openByClient(): Record<string, number> {
    return Object.fromEntries([...this.clients].map(([a, c]) => [a, c.open]));
  }

  private admit(socket: Socket): void {
    const addr = socket.remoteAddress ?? '?';
    const c = this.clients.get(addr) ?? { open: 0, pending: 0 };
    if (c.open >= this.o.maxPerClient || c.pending >= this.o.maxPendingPerClient) {
      this.refused++;
      const why = c.open >= this.o.maxPerClient
        ? `too many connections from ${addr} (at most ${this.o.maxPerClient}); retry`
        : `too many connections from ${addr} that have not sent a request yet (at most ${this.o.maxPendingPerClient}); retry`;
      // Closed as soon as the answer is written: a refused socket must not hold one of
      // Node's maxConnections slots while its client takes its time to close.
      socket.end(refusal(why), () => socket.destroy());
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    c.open++;
    c.pending++;
    this.clients.set(addr, c);
    this.pendingSockets.add(socket);
    const deadline = setTimeout(() => {
      if (!this.pendingSockets.has(socket)) return;
      this.timedOut++;
      socket.destroy();
    }, this.o.firstRequestTimeoutMs);
    deadline.unref();
    socket.once('close', () => {
      clearTimeout(deadline);
      if (this.pendingSockets.delete(socket)) c.pending--;
      if (--c.open === 0) this.clients.delete(addr);
    });
  }

  private started(socket: Socket): void {
    if (!this.pendingSockets.delete(socket)) return;
    const c = this.clients.get(socket.remoteAddress ?? '?');
    if (c) c.pending--;
  }
}

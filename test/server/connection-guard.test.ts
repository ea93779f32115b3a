// Connection shares per client address (lib/server/transport/connection-guard.ts):
// sockets open at once, sockets that have not sent a complete request, and the
// deadline for a new socket's first request; other addresses are unaffected.
import t from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createServer } from '../../lib/server/app';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-conn-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A socket from `from`; `first()` resolves with the first bytes it receives (or '' when closed first). */
function socket(port: number, from = '127.0.0.1') {
  const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
  s.on('error', () => undefined);
  t.teardown(() => s.destroy());
  const first = new Promise<string>((resolve) => { s.once('data', (d) => resolve(String(d))); s.once('close', () => resolve('')); });
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  return { s, first, closed, ready: new Promise<void>((r) => s.once('connect', () => r())) };
}

const GET = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

t.test('sockets per address, sockets without a request, and the first-request deadline', async (t) => {
  const app = createServer(new Promise(() => undefined), { indexDir: tmp, maxConnectionsPerClient: 3, maxPendingPerClient: 2, firstRequestTimeoutMs: 500 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const { port } = app.server.address() as AddressInfo;
  // Three keep-alive sockets that each made a request: the address's share.
  const kept = [socket(port), socket(port), socket(port)];
  for (const k of kept) { await k.ready; k.s.write(GET); t.match(await k.first, /^HTTP\/1\.1 200/); }
  const fourth = socket(port);
  t.match(await fourth.first, /^HTTP\/1\.1 503[^]*too many connections from 127\.0\.0\.1 \(at most 3\)/, 'a fourth from the same address: 503');
  await fourth.closed;
  const other = socket(port, '127.0.0.2');
  await other.ready;
  other.s.write(GET);
  t.match(await other.first, /^HTTP\/1\.1 200/, 'another address is unaffected');
  for (const k of kept) k.s.destroy();
  await Promise.all(kept.map((k) => k.closed));
  for (let i = 0; i < 100 && app.shitu.connections.openByClient['127.0.0.1']; i++) await new Promise((r) => setTimeout(r, 10)); // the server's side closed too
  // Sockets that send nothing: two are let in, the third is refused; the two are cut at the deadline.
  const idle = [socket(port), socket(port)];
  await Promise.all(idle.map((i) => i.ready));
  await new Promise((r) => setTimeout(r, 50));
  const third = socket(port);
  t.match(await third.first, /^HTTP\/1\.1 503[^]*not sent a request yet \(at most 2\)/, 'a third silent socket: 503');
  const t0 = Date.now();
  await Promise.all(idle.map((i) => i.closed));
  t.ok(Date.now() - t0 < 3000, `silent sockets closed at the deadline (${Date.now() - t0} ms)`);
  t.equal(app.shitu.connections.timedOut, 2);
  t.ok(app.shitu.connections.refused >= 2);
  t.throws(() => createServer(new Promise(() => undefined), { indexDir: tmp, maxConnectionsPerClient: 0 }), /maxConnectionsPerClient must be a positive integer/);
});

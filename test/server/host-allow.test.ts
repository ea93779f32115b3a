// The Host header allow-list (lib/server/transport/host-allow.ts): a server bound
// to loopback answers loopback names only, so that a page whose DNS name was
// rebound to 127.0.0.1 gets 421 from a browser; --allowed-hosts replaces the
// default; /health and /ready answer whatever the Host.
import t from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { createServer, ServerOptions } from '../../lib/server/app';
import { HostAllowList, hostName } from '../../lib/server/transport/host-allow';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-host-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function start(host: string, o: Partial<ServerOptions> = {}): Promise<number> {
  // No pipeline is needed: the Host is checked before any route runs.
  const app = createServer(new Promise(() => undefined), { indexDir: fs.mkdtempSync(path.join(tmp, 'i-')), ...o });
  await app.listen({ host, port: 0 });
  t.teardown(() => app.close());
  return (app.server.address() as AddressInfo).port;
}

/** GET `route` on 127.0.0.1:port with a raw Host header (fetch would not let us set it); the status and body. */
function get(port: number, route: string, host: string | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('error', reject);
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.[01] (\d+)/.exec(data)?.[1] ?? 0), body: data.slice(data.indexOf('{'), data.lastIndexOf('}') + 1) }));
    s.end(`GET ${route} HTTP/1.${host === null ? '0' : '1'}\r\n${host === null ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`);
  });
}

t.test('bound to loopback: loopback names and addresses only, any port', async (t) => {
  const port = await start('127.0.0.1');
  for (const h of ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, '127.0.0.1', '127.0.0.2:80', `[::1]:${port}`, 'LOCALHOST', 'localhost.', 'app.localhost:3000'])
    t.equal((await get(port, '/openapi.json', h)).status, 200, `Host ${h}: answered`);
  for (const h of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', '10.0.0.1', '[::2]', 'local host', '[::1', '']) {
    const r = await get(port, '/openapi.json', h);
    t.equal(r.status, 421, `Host ${JSON.stringify(h)}: 421`);
    t.match(JSON.parse(r.body), { errorCode: 421, errorMsg: /is not a name this server answers to/ });
  }
  t.equal((await get(port, '/openapi.json', null)).status, 421, 'HTTP/1.0 without Host: refused');
  t.equal((await get(port, '/shitu-infer', 'evil.example')).status, 421, 'the API too, before its method is looked at');
  t.equal((await get(port, '/health', 'evil.example')).status, 200, '/health answers any Host');
  t.equal((await get(port, '/ready', 'evil.example')).status, 503, '/ready answers any Host (here: still loading)');
});

t.test('--allowed-hosts replaces the default; "*" allows any', async (t) => {
  const port = await start('127.0.0.1', { allowedHosts: ['shitu.example', '.corp.example'] });
  t.equal((await get(port, '/openapi.json', 'shitu.example:8080')).status, 200);
  t.equal((await get(port, '/openapi.json', 'a.b.corp.example')).status, 200, 'a subdomain');
  t.equal((await get(port, '/openapi.json', 'corp.example')).status, 200, 'the domain itself');
  t.equal((await get(port, '/openapi.json', 'localhost')).status, 421, 'loopback names are no longer implied');
  t.equal((await get(port, '/openapi.json', 'xcorp.example')).status, 421, 'a suffix matches on a dot only');
  const any = await start('127.0.0.1', { allowedHosts: ['*'] });
  t.equal((await get(any, '/openapi.json', 'evil.example')).status, 200);
  t.throws(() => createServer(new Promise(() => undefined), { indexDir: tmp, allowedHosts: ['http://x/'] }), /allowedHosts: "http:\/\/x\/" is not a host name/);
});

t.test('bound to a non-loopback address: any Host unless given', async (t) => {
  t.ok(HostAllowList.forBound('0.0.0.0').allows('evil.example'));
  t.ok(HostAllowList.forBound('10.1.2.3').allows('anything'));
  t.notOk(HostAllowList.forBound('::1').allows('evil.example'));
  t.ok(HostAllowList.forBound('::ffff:127.0.0.1').allows('localhost:1'));
  t.equal(hostName('[::1]:80'), '::1');
  t.equal(hostName('Example.COM.:443'), 'example.com');
  t.equal(hostName('a b'), null);
  t.equal(hostName('[zz]'), null);
  const port = await start('0.0.0.0');
  t.equal((await get(port, '/openapi.json', 'evil.example')).status, 200);
});

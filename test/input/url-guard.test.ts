// The SSRF guard (lib/input/url-guard.ts, lib/input/image-input.ts) against loopback
// canary servers: traffic only on 127.0.0.0/8. Every refused URL must leave
// the canaries untouched; redirects are checked per hop; the connection goes
// to the address that was checked (DNS rebinding); refused and unreachable
// targets give errors that do not tell an open port from a closed one.
import t from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { fetchImage } from '../../lib/input/fetch-image';
import { UrlGuard } from '../../lib/input/url-guard';
import { createPipeline, Pipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { img, STANDIN_CONFIG } from '../helpers/shared';

interface Canary { server: http.Server; port: number; hits: string[] }

async function canary(host: string, port = 0, respond?: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Canary> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (respond) return respond(req, res);
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.end(fs.readFileSync(img('misc', 'dog.jpg')));
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

async function fetchCode(url: string, o: Parameters<typeof fetchImage>[1]): Promise<string> {
  try {
    await fetchImage(url, o);
    return 'fetched';
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
}

t.test('address classes: only public unicast passes by default', async (t) => {
  const g = new UrlGuard();
  for (const a of ['127.0.0.1', '127.255.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '255.255.255.255', '224.0.0.1', '192.0.2.1', '::1', '::', 'fe80::1', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1',
    '::ffff:10.0.0.1', '2002:7f00:1::', '64:ff9b::7f00:1', '2001::1'])
    t.ok(g.refusal(a), `${a}: refused (${g.refusal(a)})`);
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001::1']) t.equal(g.refusal(a), null, `${a}: allowed`);
  const op = new UrlGuard({ allow: ['10.0.0.0/8', '127.0.0.1'], deny: ['10.9.0.0/16', '8.8.8.8'] });
  t.equal(op.refusal('10.1.1.1'), null, 'allowlisted range');
  t.equal(op.refusal('127.0.0.1'), null, 'allowlisted address');
  t.ok(op.refusal('127.0.0.2'), 'the rest of loopback stays refused');
  t.ok(op.refusal('10.9.1.1'), 'deny beats allow');
  t.ok(op.refusal('8.8.8.8'), 'deny applies to public addresses');
  t.throws(() => new UrlGuard({ allow: ['not-an-ip'] }), RangeError);
});

t.test('the service refuses internal URLs in every spelling, and the canary sees nothing', async (t) => {
  const c = await canary('127.0.0.1');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-ssrf-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pipeline: Pipeline = await createPipeline(STANDIN_CONFIG, { threads: 1, warmup: false });
  t.teardown(() => pipeline.close());
  const app = createServer(pipeline, { indexDir: dir });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const own = (app.server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${own}`;
  const p = c.port;
  const urls = [
    `http://127.0.0.1:${p}/a.jpg`, `http://localhost:${p}/a.jpg`, `http://127.1:${p}/a.jpg`, `http://2130706433:${p}/a.jpg`,
    `http://0x7f000001:${p}/a.jpg`, `http://017700000001:${p}/a.jpg`, `http://[::1]:${p}/a.jpg`, `http://[::ffff:127.0.0.1]:${p}/a.jpg`,
    `http://0.0.0.0:${p}/a.jpg`, `http://127.0.0.1:${own}/health`, 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/a.jpg',
    'http://192.168.0.1/a.jpg', 'http://[fe80::1]/a.jpg', 'http://224.0.0.1/a.jpg', `https://127.0.0.1:${p}/a.jpg`,
  ];
  for (const url of urls) {
    const build = await fetch(base + '/shitu-index-build', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ imageLabelPairs: [{ image: url, label: 'x' }] }) });
    const body = await build.json() as { errorCode: number; errorMsg: string };
    t.equal(build.status, 400, `${url}: 400`);
    t.match(body.errorMsg, /^imageLabelPairs\[0\]\.image: cannot fetch .*which image URLs may not reach$/, `${url}: ${body.errorMsg}`);
  }
  t.same(c.hits, [], 'no request reached the canary');
});

t.test('redirects are checked hop by hop; the library fetches what it is asked unless guarded', async (t) => {
  const target = await canary('127.0.0.1');
  const hop = await canary('127.0.0.2', 0, (req, res) => {
    res.writeHead(302, { location: req.url === '/name' ? `http://localhost:${target.port}/x.jpg` : `http://127.0.0.1:${target.port}/x.jpg` });
    res.end();
  });
  const guard = { allow: ['127.0.0.2'] };
  t.match(await fetchCode(`http://127.0.0.2:${hop.port}/ip`, { guard }), /^ERR_FETCH: .*resolves to a loopback address/);
  t.match(await fetchCode(`http://127.0.0.2:${hop.port}/name`, { guard }), /^ERR_FETCH: .*the host localhost resolves to a loopback address/);
  t.same(hop.hits, ['/ip', '/name'], 'the allowed first hop was fetched');
  t.same(target.hits, [], 'the redirect target was never contacted');
  // Without the guard (the library default) the same URL is fetched: callers own their URLs.
  t.equal(await fetchCode(`http://127.0.0.2:${hop.port}/ip`, {}), 'fetched');
  t.equal(target.hits.length, 1);
  t.match(await fetchCode(`http://127.0.0.1:${target.port}/x.jpg`, { guard: true }), /may not reach/);
  t.equal(target.hits.length, 1);
  t.match(await fetchCode(`file:///etc/passwd`, {}), /file: URLs are not fetched/);
});

t.test('the connection is pinned to the checked address (DNS rebinding)', async (t) => {
  const good = await canary('127.0.0.2');
  const evil = await canary('127.0.0.1', good.port).catch(() => null);
  if (!evil) { t.pass('port taken on 127.0.0.1; pinning still checked below'); }
  const answers: string[] = [];
  const resolve = async (host: string) => {
    const address = answers.length === 0 ? '127.0.0.2' : '127.0.0.1'; // first checked answer, then the rebinding one
    answers.push(`${host}->${address}`);
    return [{ address, family: 4 }];
  };
  t.equal(await fetchCode(`http://rebind.test:${good.port}/a.jpg`, { guard: { allow: ['127.0.0.2'], resolve } }), 'fetched');
  t.same(answers, ['rebind.test->127.0.0.2'], 'resolved once');
  t.same(good.hits, ['/a.jpg'], 'connected to the checked address');
  if (evil) t.same(evil.hits, [], 'never to a second resolution');
});

t.test('errors do not tell an open port from a closed one', async (t) => {
  // Refused addresses: never contacted, so open and closed read the same.
  const open = await canary('127.0.0.1');
  const closed = await new Promise<number>((r) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); }); });
  const msg = (s: string) => s.replace(/:\d+\//, ':PORT/');
  t.equal(msg(await fetchCode(`http://127.0.0.1:${open.port}/`, { guard: true })), msg(await fetchCode(`http://127.0.0.1:${closed}/`, { guard: true })));
  // Allowed addresses: a closed port and an open port that is not HTTP give the same error.
  const raw = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => raw.listen(0, '127.0.0.2', r));
  t.teardown(() => raw.close());
  const rawPort = (raw.address() as AddressInfo).port;
  const guard = { allow: ['127.0.0.2'] };
  const a = await fetchCode(`http://127.0.0.2:${rawPort}/`, { guard });
  const b = await fetchCode(`http://127.0.0.2:${closed}/`, { guard });
  t.equal(msg(a), msg(b), a);
  t.match(a, /no response \(connection failed or timed out\)$/);
});

// lib/models/download.ts against a real HTTP server on 127.0.0.1: the body is
// streamed to disk with progress lines, and a broken, refused or aborted
// transfer leaves neither the file nor its temporary part behind.
import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { downloadFile } from '../../lib/models/download';

const body = crypto.randomBytes(3 * 1024 * 1024 + 17);

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/model.tar`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir);
}

t.test('a complete download: the bytes on disk, progress lines on the way', async (t) => {
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    // In pieces, as a network delivers it.
    let off = 0;
    const push = () => {
      if (off >= body.length) return res.end();
      res.write(body.subarray(off, off + 256 * 1024));
      off += 256 * 1024;
      setImmediate(push);
    };
    push();
  });
  t.teardown(s.close);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-dl-'));
  const lines: string[] = [];
  const n = await downloadFile(s.url, path.join(dir, 'model.tar'), { log: (l) => lines.push(l) });
  t.equal(n, body.length);
  t.ok(fs.readFileSync(path.join(dir, 'model.tar')).equals(body), 'same bytes');
  t.same(leftovers(dir), ['model.tar'], 'no temporary part left');
  t.ok(lines.length >= 3, `${lines.length} progress lines`);
  t.match(lines[0], /^downloaded [\d.]+ of 3\.0 MB \(\d+ %\)$/);
});

t.test('a connection cut half way: ERR_FETCH, nothing left on disk', async (t) => {
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, body.length / 2), () => res.socket?.destroy());
  });
  t.teardown(s.close);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-dl-'));
  await t.rejects(downloadFile(s.url, path.join(dir, 'model.tar')), { code: 'ERR_FETCH', message: new RegExp(`cannot download ${s.url}`) });
  t.same(leftovers(dir), [], 'neither the file nor its part');
});

t.test('an HTTP error status: ERR_FETCH naming it, nothing written', async (t) => {
  const s = await serve((_req, res) => { res.writeHead(404); res.end('no'); });
  t.teardown(s.close);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-dl-'));
  await t.rejects(downloadFile(s.url, path.join(dir, 'model.tar')), { code: 'ERR_FETCH', message: /HTTP 404/ });
  t.same(leftovers(dir), []);
});

t.test('an abort mid-transfer stops it and cleans up', async (t) => {
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 1024 * 1024)); // and then nothing more
  });
  t.teardown(s.close);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-dl-'));
  const ac = new AbortController();
  const p = downloadFile(s.url, path.join(dir, 'model.tar'), { signal: ac.signal });
  setTimeout(() => ac.abort(), 200);
  await t.rejects(p, { code: 'ERR_FETCH' });
  t.same(leftovers(dir), []);
});

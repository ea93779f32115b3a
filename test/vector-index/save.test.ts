// Saving without a gap: a reader in another process during hundreds of saves
// always sees one complete version; kill -9 at random moments during saves
// leaves one complete version and no garbage once the index is next loaded;
// files follow the umask; checksums catch a changed vector.index.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { IndexData } from '../../lib/index';
import { versionIndex, versionOf } from '../helpers/index-versions';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-save-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const HELPER = path.join(__dirname, '..', 'helpers', 'index-versions.ts');

function child(args: string[]) {
  // The same TypeScript loader as this test process.
  return spawn(process.execPath, [...process.execArgv, HELPER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function save(v: number, dir: string) {
  const index = versionIndex(v);
  await index.lock.write(async () => undefined);
  await index.save(dir);
}

const leftovers = (parent: string, name: string) => fs.readdirSync(parent).filter((f) => f.startsWith(`.${name}.`));

t.test('a reader in another process during 300 saves sees complete versions only', async (t) => {
  const dir = path.join(tmp, 'gap');
  await save(0, dir);
  const stop = path.join(tmp, 'stop');
  const reader = child(['read-loop', dir, stop]);
  let out = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  reader.stdout.on('data', (c) => {
    out += c;
    if (out.startsWith('ready\n')) onReady();
  });
  const done = new Promise<number>((r) => reader.on('exit', (code) => r(code ?? -1)));
  await Promise.race([ready, done]);
  for (let v = 1; v <= 300; v++) await save(v, dir);
  fs.writeFileSync(stop, '');
  t.equal(await done, 0);
  const r = JSON.parse(out.trim().split('\n').pop()!);
  t.ok(r.loads > 20, `the reader loaded ${r.loads} times`);
  t.same(r.bad, [], 'never a missing, partial or mixed index');
  t.equal(versionOf(await IndexData.load(dir)), 300);
  t.same(leftovers(tmp, 'gap'), [], 'no temporary directories left');
});

t.test('kill -9 at random moments during saves leaves one complete version, then no garbage', async (t) => {
  const dir = path.join(tmp, 'killed');
  await save(0, dir);
  let from = 1;
  for (let round = 0; round < 8; round++) {
    const saver = child(['save-loop', dir, String(from), String(from + 1000)]);
    let last = from - 1;
    let started = false;
    await new Promise<void>((resolve) => {
      saver.stdout.on('data', (c: Buffer) => {
        last = Number(String(c).trim().split('\n').pop());
        if (!started) {
          started = true;
          setTimeout(() => saver.kill('SIGKILL'), Math.floor(Math.random() * 150));
        }
      });
      saver.on('exit', () => resolve());
    });
    const index = await IndexData.load(dir);
    const v = versionOf(index);
    t.ok(typeof v === 'number' && v >= last && v <= last + 1, `round ${round}: version ${v} (last reported ${last})`);
    t.same(leftovers(tmp, 'killed'), [], `round ${round}: the load removed what the killed save left`);
    from = last + 2;
  }
});

t.test('a symlinked index directory is replaced where it is; the link stays', async (t) => {
  const real = path.join(tmp, 'real-index');
  await save(5, real);
  const link = path.join(tmp, 'link-index');
  fs.symlinkSync(real, link);
  await save(6, link);
  t.ok(fs.lstatSync(link).isSymbolicLink());
  t.equal(versionOf(await IndexData.load(link)), 6);
  t.equal(versionOf(await IndexData.load(real)), 6);
});

t.test('files and directories follow the umask', async (t) => {
  for (const mask of [0o022, 0o027]) {
    const old = process.umask(mask);
    try {
      const dir = path.join(tmp, `umask-${mask.toString(8)}`);
      await save(1, dir);
      await save(2, dir); // the replacing save too
      t.equal(fs.statSync(dir).mode & 0o777, 0o777 & ~mask, `directory 0${(0o777 & ~mask).toString(8)}`);
      for (const f of ['vector.index', 'id_map.yaml']) t.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o666 & ~mask, f);
    } finally {
      process.umask(old);
    }
  }
});

t.test('leftovers of crashed saves are removed: on save, on load, and for a whole directory', async (t) => {
  const parent = path.join(tmp, 'left');
  fs.mkdirSync(parent);
  // A pid that is certainly dead: a child that has exited.
  const dead = await new Promise<number>((r) => { const c = spawn(process.execPath, ['-e', '']); c.on('exit', () => r(c.pid!)); });
  const junk = (name: string) => { fs.mkdirSync(path.join(parent, name)); fs.writeFileSync(path.join(parent, name, 'vector.index'), 'x'.repeat(1000)); };
  await save(1, path.join(parent, 'a'));
  junk(`.a.tmp-${dead}-0a1b2c`);
  junk(`.a.old-${dead}-0a1b2d`);
  junk(`.b.tmp-${dead}-0a1b2e`);
  junk(`.a.tmp-${process.ppid}-0a1b2f`); // a live process's save in progress: kept
  await IndexData.load(path.join(parent, 'a'));
  t.same(fs.readdirSync(parent).sort(), ['.a.tmp-' + process.ppid + '-0a1b2f', `.b.tmp-${dead}-0a1b2e`, 'a'].sort(), 'load removed the dead saves of its own index');
  junk(`.a.tmp-${dead}-0a1b30`);
  await save(2, path.join(parent, 'a'));
  t.notOk(fs.existsSync(path.join(parent, `.a.tmp-${dead}-0a1b30`)), 'save removed it too');
  const removed = await IndexData.removeSaveLeftovers(parent);
  t.same(removed.map((p) => path.basename(p)), [`.b.tmp-${dead}-0a1b2e`], 'the whole-directory sweep (server start) takes the rest');
});

t.test('the service removes leftovers in its index directory at start', async (t) => {
  const indexDir = path.join(tmp, 'served');
  fs.mkdirSync(indexDir);
  const dead = await new Promise<number>((r) => { const c = spawn(process.execPath, ['-e', '']); c.on('exit', () => r(c.pid!)); });
  const junk = path.join(indexDir, `.${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}.tmp-${dead}-abcdef`);
  fs.mkdirSync(junk);
  const { createServer } = require('../../lib/index') as typeof import('../../lib/index');
  const app = createServer(new Promise<never>(() => undefined), { indexDir });
  for (let i = 0; i < 200 && fs.existsSync(junk); i++) await new Promise((r) => setTimeout(r, 10));
  await app.close();
  t.notOk(fs.existsSync(junk), 'removed at createServer');
});

t.test('a save that died between the fallback renames: the next load puts the old index back', async (t) => {
  const parent = path.join(tmp, 'fallback');
  await save(3, path.join(parent, 'x'));
  const dead = await new Promise<number>((r) => { const c = spawn(process.execPath, ['-e', '']); c.on('exit', () => r(c.pid!)); });
  fs.renameSync(path.join(parent, 'x'), path.join(parent, `.x.old-${dead}-00ff00`));
  t.equal(versionOf(await IndexData.load(path.join(parent, 'x'))), 3);
  t.same(fs.readdirSync(parent), ['x']);
});

t.test('a vector.index that does not match its checksum is ERR_INDEX_CORRUPT', async (t) => {
  const dir = path.join(tmp, 'sum');
  await save(4, dir);
  const file = path.join(dir, 'vector.index');
  const b = fs.readFileSync(file);
  b[100] ^= 0x40; // inside the vectors (the vectors start at byte 82): structurally still fine
  fs.writeFileSync(file, b);
  await t.rejects(IndexData.load(dir), { code: 'ERR_INDEX_CORRUPT', message: /vector_sha256/ });
  // Without the checksum (as PaddleX rewrites id_map.yaml) the structural check decides: it loads.
  const meta = path.join(dir, 'id_map.yaml');
  fs.writeFileSync(meta, fs.readFileSync(meta, 'utf8').replace(/^vector_sha256:.*\n/m, ''));
  t.equal(versionOf(await IndexData.load(dir)), 4);
});

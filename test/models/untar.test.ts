// lib/models/untar.ts on archives made by the system's tar (ustar, GNU long
// names, pax) and on hand-made hostile ones: only the wanted base names are
// written, flat, inside the target directory.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import t from 'tap';
import { extractTar } from '../../lib/models/untar';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-untar-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const WANTED = new Set(['inference.pdmodel', 'inference.pdiparams', 'inference.yml']);

/** One hand-made ustar entry (header + padded data). */
function entry(name: string, data: Buffer, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}
const END = Buffer.alloc(1024);

for (const format of ['ustar', 'gnu', 'pax']) {
  t.test(`system tar, ${format} format, long directory names`, async (t) => {
    const base = path.join(tmp, `src-${format}`);
    const deep = path.join(base, 'a'.repeat(60), 'b'.repeat(60), 'PP-ShiTuV2_rec_infer');
    fs.mkdirSync(deep, { recursive: true });
    fs.writeFileSync(path.join(deep, 'inference.pdmodel'), 'program');
    fs.writeFileSync(path.join(deep, 'inference.pdiparams'), Buffer.alloc(70_000, 3));
    fs.writeFileSync(path.join(deep, 'inference.pdiparams.info'), 'not wanted');
    const tarFile = path.join(tmp, `${format}.tar`);
    execFileSync('tar', [`--format=${format}`, '-cf', tarFile, '-C', base, '.']);
    const out = path.join(tmp, `out-${format}`);
    fs.mkdirSync(out);
    const got = await extractTar(tarFile, out, WANTED);
    t.strictSame(got.sort(), ['inference.pdiparams', 'inference.pdmodel']);
    t.strictSame(fs.readdirSync(out).sort(), ['inference.pdiparams', 'inference.pdmodel']);
    t.ok(fs.readFileSync(path.join(out, 'inference.pdiparams')).equals(Buffer.alloc(70_000, 3)));
  });
}

t.test('hostile archives', async (t) => {
  const cases: [string, Buffer, RegExp][] = [
    ['truncated entry', Buffer.concat([entry('m/inference.pdmodel', Buffer.alloc(2000))]).subarray(0, 1024), /truncated/],
    ['no end marker', entry('m/inference.pdmodel', Buffer.from('x')), /truncated/],
    ['bad checksum', (() => { const b = Buffer.concat([entry('m/inference.pdmodel', Buffer.from('x')), END]); b[10] ^= 1; return b; })(), /checksum/],
    ['not a tar', Buffer.alloc(4096, 7), /checksum/],
    ['the same file twice', Buffer.concat([entry('a/inference.pdmodel', Buffer.from('1')), entry('b/inference.pdmodel', Buffer.from('2')), END]), /twice/],
    ['a size that is not octal', (() => { const e = entry('inference.pdmodel', Buffer.from('x')); e.write('99999999999', 124); return Buffer.concat([e, END]); })(), /checksum|octal/],
  ];
  for (const [what, bytes, message] of cases) {
    const f = path.join(tmp, 'hostile.tar');
    fs.writeFileSync(f, bytes);
    const out = fs.mkdtempSync(path.join(tmp, 'h-'));
    await t.rejects(extractTar(f, out, WANTED), { code: 'ERR_MODEL_INVALID', message }, what);
  }
  // paths that climb out, links and devices: only the base name is ever written, and links not at all
  const sneaky = Buffer.concat([
    entry('../../../evil/inference.pdmodel', Buffer.from('program')),
    entry('/etc/inference.yml', Buffer.from('cfg')),
    entry('x/inference.pdiparams', Buffer.alloc(0), '2'), // a symlink named like a wanted file
    END,
  ]);
  const f = path.join(tmp, 'sneaky.tar');
  fs.writeFileSync(f, sneaky);
  const out = path.join(tmp, 'sneaky-out');
  fs.mkdirSync(out);
  const got = await extractTar(f, out, WANTED);
  t.strictSame(got, ['inference.pdmodel', 'inference.yml']);
  t.strictSame(fs.readdirSync(out).sort(), ['inference.pdmodel', 'inference.yml']);
  t.notOk(fs.existsSync(path.join(tmp, 'evil')));
  t.equal(fs.readFileSync(path.join(out, 'inference.pdmodel'), 'utf8'), 'program');
});

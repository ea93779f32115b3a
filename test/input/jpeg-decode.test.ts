// JPEGs go straight through libjpeg-turbo (native/jpeg_decode.cc) instead of
// OpenCV's imdecode: the pixels must be the very same. Every case here is
// decoded twice: in this process (the direct path) and in a child process with
// SHITU_JPEG_DECODER=opencv (every JPEG through OpenCV, as before), and the two
// must agree byte for byte, or fail with the same code. Cases: every shared
// photo, each EXIF orientation 1-8 in both byte orders (one photo that already
// carries an iPhone's EXIF block, one without), grayscale, progressive, 4:4:4,
// CMYK (the direct path declines it), a truncated file (it declines that too:
// OpenCV keeps its own handling of corrupt data), and reduced decoding through
// the pipeline (1/2 and 1/4 scale, phone-sized pictures).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { IMAGES, STANDIN_CONFIG } from '../helpers/shared';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-jpeg-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const root = path.resolve(__dirname, '..', '..');

/** An APP1 segment holding "Exif\0\0" and a TIFF IFD 0 with one entry: the orientation. */
function exifSegment(orientation: number, little: boolean): Buffer {
  const tiff = Buffer.alloc(26);
  const u16 = (v: number, at: number) => (little ? tiff.writeUInt16LE(v, at) : tiff.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (little ? tiff.writeUInt32LE(v, at) : tiff.writeUInt32BE(v, at));
  tiff.write(little ? 'II' : 'MM', 0, 'latin1');
  u16(0x2a, 2);
  u32(8, 4); // IFD 0 right after the header
  u16(1, 8); // one entry
  u16(0x0112, 10); // Orientation
  u16(3, 12); // SHORT
  u32(1, 14); // one value
  u16(orientation, 18);
  u32(0, 22); // no next IFD
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/** The JPEG with `segment` right after its SOI marker (so it is the first APP1, the one decoders read). */
const withSegment = (jpeg: Buffer, segment: Buffer) => Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);

const cases: Array<{ name: string; file: string }> = [];
const add = (name: string, bytes: Buffer) => {
  const file = path.join(tmp, `${cases.length}.jpg`);
  fs.writeFileSync(file, bytes);
  cases.push({ name, file });
};

// Decodes each file with the addon and prints, per file, the picture's size and
// the SHA-256 of its pixels, or the error's code.
const DECODE_ALL = `
  const { native } = require(process.argv[1] + '/dist/lib/native/loader.js');
  const crypto = require('crypto'), fs = require('fs');
  (async () => {
    const out = [];
    for (const f of JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))) {
      try {
        const d = await native.decodeImage(f);
        out.push(d.width + 'x' + d.height + ' ' + crypto.createHash('sha256').update(d.data).digest('hex'));
      } catch (e) { out.push('error ' + (e.code || e.message)); }
    }
    console.log(JSON.stringify(out));
  })();`;

function decodeAll(decoder: 'turbo' | 'opencv'): string[] {
  const list = path.join(tmp, 'list.json');
  fs.writeFileSync(list, JSON.stringify(cases.map((c) => c.file)));
  const env = { ...process.env, SHITU_JPEG_DECODER: decoder === 'opencv' ? 'opencv' : '' };
  return JSON.parse(execFileSync(process.execPath, ['-e', DECODE_ALL, root, list], { env, encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n').pop()!);
}

t.before(async () => {
  const photos = (fs.readdirSync(IMAGES, { recursive: true }) as string[]).filter((f) => /\.jpe?g$/i.test(f)).sort();
  for (const f of photos) add(f, fs.readFileSync(path.join(IMAGES, f)));
  for (const base of ['misc/bus.jpg', 'misc/dog.jpg']) {
    const bytes = fs.readFileSync(path.join(IMAGES, base));
    for (let o = 1; o <= 8; o++) for (const little of [true, false]) add(`${base}, orientation ${o} (${little ? 'II' : 'MM'})`, withSegment(bytes, exifSegment(o, little)));
  }
  const src = path.join(IMAGES, 'misc', 'dog.jpg');
  add('grayscale', await sharp(src).grayscale().jpeg({ quality: 85 }).toBuffer());
  add('progressive', await sharp(src).jpeg({ quality: 85, progressive: true }).toBuffer());
  add('4:4:4 chroma', await sharp(src).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer());
  add('CMYK', await sharp(src).toColourspace('cmyk').jpeg({ quality: 85 }).toBuffer());
  const whole = fs.readFileSync(path.join(IMAGES, 'misc', 'bus.jpg'));
  add('truncated at 60 %', whole.subarray(0, Math.floor(whole.length * 0.6)));
  add('only the headers', whole.subarray(0, 700));
});

t.test('the direct libjpeg-turbo path gives OpenCV\'s pixels, byte for byte', async (t) => {
  const turbo = decodeAll('turbo');
  const opencv = decodeAll('opencv');
  t.equal(turbo.length, cases.length);
  cases.forEach((c, i) => t.equal(turbo[i], opencv[i], `${c.name}: ${opencv[i].slice(0, 24)}`));
  // The orientations really turn the picture: 5-8 swap its sides.
  const sizeOf = (name: string) => turbo[cases.findIndex((c) => c.name === name)].split(' ')[0];
  t.equal(sizeOf('misc/dog.jpg, orientation 1 (II)'), '768x576');
  t.equal(sizeOf('misc/dog.jpg, orientation 6 (MM)'), '576x768');
  t.not(turbo[cases.findIndex((c) => c.name === 'misc/dog.jpg, orientation 3 (II)')], turbo[cases.findIndex((c) => c.name === 'misc/dog.jpg, orientation 1 (II)')], 'orientation 3 is the picture turned');
});

t.test('reduced decoding (1/2 and 1/4 scale) gives the same recognitions either way', async (t) => {
  const phone = path.join(tmp, 'phone.jpg');
  await sharp(path.join(IMAGES, 'product_demo', 'query', 'anmuxi.jpg')).resize(2400, 2400, { kernel: 'lanczos3' }).jpeg({ quality: 90 }).toFile(phone);
  const files = [phone, path.join(IMAGES, 'drink_test_images', 'mosilian.jpeg')];
  const script = `
    const { createPipeline } = require(process.argv[1] + '/dist/lib/index.js');
    (async () => {
      const p = await createPipeline(process.argv[2], { threads: 1, concurrency: 1, warmup: false });
      const out = [];
      for (const f of JSON.parse(process.argv[3])) out.push((await p.recognize(f, { reducedDecode: true })).json.res.boxes);
      await p.close();
      console.log(JSON.stringify(out));
    })();`;
  const run = (decoder: string) => JSON.parse(execFileSync(process.execPath, ['-e', script, root, STANDIN_CONFIG, JSON.stringify(files)],
    { env: { ...process.env, SHITU_JPEG_DECODER: decoder }, encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n').pop()!);
  const turbo = run(''), opencv = run('opencv');
  t.ok(turbo[0].length > 0, `the phone-sized picture has boxes (${turbo[0].length})`);
  t.same(turbo, opencv, 'the same boxes, scores and labels, to the last bit');
});

// Image limits before decode: pixel bombs of every container are refused from
// their headers (ERR_IMAGE_TOO_LARGE) without the picture being allocated,
// formats outside the allowlist are refused (ERR_IMAGE_FORMAT) unless enabled,
// ordinary pictures still decode, and the limits reach the pipeline.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import { callNative, ShituError } from '../../lib/errors';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { DEFAULT_MAX_INPUT_PIXELS } from '../../lib/limits';
import { resolveDecodeLimits } from '../../lib/input/decode-limits';
import { img, STANDIN_CONFIG } from '../helpers/shared';
import * as bombs from '../helpers/bombs';

const limits = resolveDecodeLimits({});
const decode = (src: unknown, o: Record<string, unknown> = limits as unknown as Record<string, unknown>) => callNative(() => native.decodeImage(src, o));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return (e as ShituError).code ?? String(e);
  }
}

t.test('pixel bombs are refused from the header, before any large allocation', async (t) => {
  const smallJpeg: Buffer = await callNative(() => native.encodeImage({ data: new Uint8Array(16 * 16 * 3).fill(90), width: 16, height: 16, channels: 3 }, '.jpg', 90));
  const cases: Array<[string, Buffer]> = [
    ['PNG 30000x30000', bombs.pngBomb(30000, 30000)],
    ['JPEG SOF0 30000x30000', bombs.jpegBomb(smallJpeg, 30000, 30000)],
    ['JPEG SOF2 (progressive) 30000x30000', bombs.jpegBomb(smallJpeg, 30000, 30000, 0xc2)],
    ['JPEG SOF9 (arithmetic) 30000x30000', bombs.jpegBomb(smallJpeg, 30000, 30000, 0xc9)],
    ['TIFF 30000x30000', bombs.tiffBomb([[30000, 30000]])],
    ['TIFF, small first page, huge second page', bombs.tiffBomb([[16, 16], [30000, 30000]])],
    ['WebP VP8X 16777216x4096', bombs.webpBomb('VP8X', 16777216, 4096)],
    ['WebP VP8L 16384x16384', bombs.webpBomb('VP8L', 16384, 16384)],
    ['BMP 30000x-30000 (top-down)', bombs.bmpBomb(30000, -30000)],
  ];
  const rss0 = process.memoryUsage().rss;
  for (const [name, bytes] of cases) {
    t.ok(bytes.length < 200_000, `${name}: a ${bytes.length}-byte file`);
    let err: ShituError | undefined;
    try {
      await decode(bytes);
    } catch (e) {
      err = e as ShituError;
    }
    t.equal(err?.code, 'ERR_IMAGE_TOO_LARGE', `${name}: ERR_IMAGE_TOO_LARGE`);
    t.match(err?.message, /pixels\), over the limit of 50000000 pixels/, `${name}: the message names the size and the limit`);
  }
  // Nothing was decoded: the bombs together would have taken tens of GB.
  const grown = process.memoryUsage().rss - rss0;
  t.ok(grown < 200 * 1024 * 1024, `RSS grew ${Math.round(grown / 1048576)} MB over ${cases.length} bombs`);
});

t.test('the limit is the pixel count, configurable; images within it decode', async (t) => {
  const png = bombs.pngImage(300, 200);
  const ok = await decode(png);
  t.same([ok.width, ok.height, ok.channels], [300, 200, 3]);
  t.equal(await code(decode(png, { ...limits, maxPixels: 60_000 })), 'resolved', 'exactly at the limit: decoded');
  t.equal(await code(decode(png, { ...limits, maxPixels: 59_999 })), 'ERR_IMAGE_TOO_LARGE', 'one pixel over: refused');
  // A real photo (810x1080) against a small limit, and raw pixels too.
  t.equal(await code(decode(img('misc', 'bus.jpg'), { ...limits, maxPixels: 810 * 1080 - 1 })), 'ERR_IMAGE_TOO_LARGE');
  t.equal(await code(decode(img('misc', 'bus.jpg'))), 'resolved');
  const raw = { data: new Uint8Array(100 * 100 * 3), width: 100, height: 100, channels: 3 };
  t.equal(await code(decode(raw, { ...limits, maxPixels: 9_999 })), 'ERR_IMAGE_TOO_LARGE', 'raw pixels obey the limit');
  t.equal(DEFAULT_MAX_INPUT_PIXELS, 50_000_000);
  t.throws(() => resolveDecodeLimits({ limitInputPixels: -1 }), RangeError);
  t.throws(() => resolveDecodeLimits({ limitInputPixels: Number.NaN }), RangeError);
  t.throws(() => resolveDecodeLimits({ imageFormats: ['gif'] }), /unknown format "gif"/);
  t.same(resolveDecodeLimits({ limitInputPixels: false }).maxPixels, 0, 'false: no limit of ours');
});

t.test('formats outside the allowlist are refused unless enabled, and then limited too', async (t) => {
  const optIn: Array<[string, string, Buffer]> = [
    ['jp2', 'JPEG 2000 codestream 20000x20000 (90 bytes)', bombs.j2kBomb(20000, 20000)],
    ['pnm', 'PPM 30000x30000', bombs.pnmBomb(30000, 30000)],
    ['pfm', 'PFM 30000x30000', bombs.pfmBomb(30000, 30000)],
    ['hdr', 'Radiance HDR 30000x30000', bombs.hdrBomb(30000, 30000)],
    ['sunras', 'Sun raster 30000x30000', bombs.sunBomb(30000, 30000)],
    ['exr', 'OpenEXR 30000x30000', bombs.exrBomb(30000, 30000)],
  ];
  for (const [fmt, name, bytes] of optIn) {
    let err: ShituError | undefined;
    try { await decode(bytes); } catch (e) { err = e as ShituError; }
    t.equal(err?.code, 'ERR_IMAGE_FORMAT', `${name}: refused by default`);
    t.match(err?.message, new RegExp(`${fmt} images are not enabled \\(allowed: jpeg, png, webp, tiff, bmp\\)`));
    const enabled = resolveDecodeLimits({ imageFormats: [...limits.formats, fmt] });
    t.equal(await code(decode(bytes, enabled as unknown as Record<string, unknown>)), 'ERR_IMAGE_TOO_LARGE', `${name}: enabled, still limited`);
  }
  // A small PPM decodes once enabled.
  const ppm = Buffer.concat([Buffer.from('P6\n4 3\n255\n'), Buffer.alloc(4 * 3 * 3, 200)]);
  t.equal(await code(decode(ppm)), 'ERR_IMAGE_FORMAT');
  const r = await decode(ppm, resolveDecodeLimits({ imageFormats: ['pnm'] }) as unknown as Record<string, unknown>);
  t.same([r.width, r.height], [4, 3]);
  // A PNG is refused when only JPEG is allowed; unknown content is undecodable, as before.
  t.equal(await code(decode(bombs.pngImage(8, 8), resolveDecodeLimits({ imageFormats: ['jpeg'] }) as unknown as Record<string, unknown>)), 'ERR_IMAGE_FORMAT');
  t.equal(await code(decode(Buffer.from('GIF89a....'))), 'ERR_IMAGE_DECODE');
  // Truncated and malformed headers are coded decode errors.
  t.equal(await code(decode(bombs.pngBomb(10, 10).subarray(0, 20))), 'ERR_IMAGE_DECODE');
  t.equal(await code(decode(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2]))), 'ERR_IMAGE_DECODE', 'scan before frame header');
  t.equal(await code(decode(bombs.tiffBomb([[0, 10]]))), 'ERR_IMAGE_DECODE', 'TIFF page without width');
});

t.test('the pipeline applies its limits (per pipeline and per call)', async (t) => {
  const p = await createPipeline(STANDIN_CONFIG, { threads: 1, warmup: false, limitInputPixels: 1_000_000 });
  t.teardown(() => p.close());
  t.same(p.decodeLimits, { maxPixels: 1_000_000, formats: ['jpeg', 'png', 'webp', 'tiff', 'bmp'] });
  const photo = fs.readFileSync(img('misc', 'bus.jpg')); // 810x1080 = 874800 pixels
  const ok = await p.recognize(photo);
  t.ok(Array.isArray(ok.boxes));
  t.equal(await code(p.recognize(photo, { limitInputPixels: 800_000 })), 'ERR_IMAGE_TOO_LARGE', 'per call');
  t.equal(await code(p.recognize(bombs.pngBomb(30000, 30000))), 'ERR_IMAGE_TOO_LARGE');
  t.equal(await code(p.recognize(bombs.j2kBomb(100, 100))), 'ERR_IMAGE_FORMAT');
  // A gallery with a bomb: the build names it, nothing else is lost.
  let err: ShituError | undefined;
  try {
    await p.buildIndex({ galleryImgs: [photo, bombs.tiffBomb([[30000, 30000]])], galleryLabel: ['bus', 'bomb'], indexType: 'Flat' });
  } catch (e) { err = e as ShituError; }
  t.equal(err?.code, 'ERR_GALLERY');
  t.match((err?.details as Array<{ image: string; code: string }>)[0], { image: '#1', code: 'ERR_IMAGE_TOO_LARGE' });
  // An opt-in format is recognised and drawn (drawing decodes the input again, with the same limits).
  const ppm = Buffer.concat([Buffer.from('P6\n64 48\n255\n'), Buffer.alloc(64 * 48 * 3, 120)]);
  t.equal(await code(p.recognize(ppm)), 'ERR_IMAGE_FORMAT');
  const withPnm = await p.recognize(ppm, { imageFormats: ['jpeg', 'pnm'] });
  const drawn = await withPnm.image('.png');
  t.same([...drawn.subarray(1, 4)], [...Buffer.from('PNG')], 'drawn');
});

t.test('a failed native allocation is ERR_OUT_OF_MEMORY, not a crash', async (t) => {
  // A child process with its address space capped a little above what it needs
  // to start, decoding a 20000x20000 PNG with our limit off.
  const child = path.join(__dirname, '..', 'helpers', 'oom-child.js');
  const { vmKb } = JSON.parse(execFileSync(process.execPath, [child, '--probe'], { encoding: 'utf8' }));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-oom-')), 'bomb.png');
  fs.writeFileSync(file, bombs.pngBomb(20000, 20000));
  t.teardown(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
  const capKb = vmKb + 400 * 1024; // the picture needs 1.2 GB
  const out = execFileSync('bash', ['-c', `ulimit -v ${capKb} && exec "$0" "$@"`, process.execPath, child, file], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  t.equal(r.code, 'ERR_OUT_OF_MEMORY', `coded: ${r.message}`);
});

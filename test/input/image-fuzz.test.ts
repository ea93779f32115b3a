// Image fuzz campaign: mutated JPEG/PNG/WebP/TIFF/BMP seeds (and the opt-in
// formats' headers) through the native decode path, in child processes that
// each take a batch, so that a crash or a hang is a failure with its case
// saved, not a lost run. 4000 cases by default; SHITU_FUZZ_CASES=N for more
// (e.g. SHITU_FUZZ_CASES=100000 npx tap test/input/image-fuzz.test.ts).
// The summary (inputs, decoded, coded errors, crashes, hangs, uncoded errors,
// peak memory) is printed as a test comment.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../lib/native/loader';
import { callNative } from '../../lib/errors';
import { resolveDecodeLimits } from '../../lib/input/decode-limits';
import { IMAGE_FORMATS } from '../../lib/limits';
import * as bombs from '../helpers/bombs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { mutate } = require('../helpers/image-mutate.js') as { mutate: (seeds: Buffer[], n: number) => Buffer };

const CASES = Number(process.env.SHITU_FUZZ_CASES ?? 4000);
const BATCH = 250;
const BATCH_TIMEOUT_MS = 180_000; // a batch normally takes a few seconds; beyond this it hangs
const CHILD = path.join(__dirname, '..', 'helpers', 'image-fuzz-child.js');

interface Outcome { decoded: number; coded: Record<string, number>; uncoded: Array<{ n: number; code: string; message: string }>; maxRssKb: number }

async function seeds(dir: string): Promise<void> {
  const raw = { data: new Uint8Array(64 * 48 * 3).map((_, i) => (i * 7) % 251), width: 64, height: 48, channels: 3 };
  for (const ext of ['.jpg', '.png', '.webp', '.tiff', '.bmp'])
    fs.writeFileSync(path.join(dir, `seed${ext}`), await callNative(() => native.encodeImage(raw, ext, 90)));
  fs.writeFileSync(path.join(dir, 'seed-gray.png'), bombs.pngImage(40, 30));
  fs.writeFileSync(path.join(dir, 'seed-2page.tif'), bombs.tiffBomb([[16, 16], [32, 8]]));
  fs.writeFileSync(path.join(dir, 'seed-vp8x.webp'), bombs.webpBomb('VP8X', 64, 48));
  // Opt-in formats (enabled in this campaign, so their header readers are fuzzed too).
  fs.writeFileSync(path.join(dir, 'seed.ppm'), Buffer.concat([Buffer.from('P6\n8 6\n255\n'), Buffer.alloc(8 * 6 * 3, 77)]));
  fs.writeFileSync(path.join(dir, 'seed.pam'), Buffer.concat([Buffer.from('P7\nWIDTH 4\nHEIGHT 4\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n'), Buffer.alloc(48, 9)]));
  fs.writeFileSync(path.join(dir, 'seed.hdr'), bombs.hdrBomb(8, 8));
  fs.writeFileSync(path.join(dir, 'seed.j2k'), bombs.j2kBomb(16, 16));
  fs.writeFileSync(path.join(dir, 'seed.exr'), bombs.exrBomb(8, 8));
  fs.writeFileSync(path.join(dir, 'seed.ras'), bombs.sunBomb(8, 8));
}

function runBatch(seedDir: string, from: number, to: number, progress: string, limits: object): Promise<{ outcome?: Outcome; signal?: string | null; code?: number | null; hung: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, seedDir, String(from), String(to), progress], {
      env: { ...process.env, SHITU_FUZZ_LIMITS: JSON.stringify(limits), OMP_WAIT_POLICY: 'PASSIVE' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '', hung = false;
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); }); // OpenCV's warnings about corrupt data
    const timer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, BATCH_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let outcome: Outcome | undefined;
      try { outcome = JSON.parse(out.trim().split('\n').pop() ?? ''); } catch { outcome = undefined; }
      resolve({ outcome, code, signal, hung, stderr: err });
    });
  });
}

// Larger campaigns outlast tap's default file timeout: allow ~20 ms per case.
if (CASES * 20 > 300_000) t.setTimeout(CASES * 20 + 60_000);

t.test(`image fuzz: ${CASES} mutated images in child processes`, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-fuzz-'));
  const seedDir = path.join(work, 'seeds');
  fs.mkdirSync(seedDir);
  await seeds(seedDir);
  const seedBufs = fs.readdirSync(seedDir).sort().map((f) => fs.readFileSync(path.join(seedDir, f)));
  const saved = path.join(os.tmpdir(), 'shitu-fuzz-crashes');
  const limits = resolveDecodeLimits({ imageFormats: [...IMAGE_FORMATS] });
  const total = { inputs: 0, decoded: 0, coded: {} as Record<string, number>, crashes: [] as string[], hangs: [] as string[], uncoded: [] as string[], peakRssMb: 0 };
  const t0 = Date.now();
  for (let from = 0; from < CASES;) {
    const to = Math.min(CASES, from + BATCH);
    const progress = path.join(work, `progress-${from}`);
    const r = await runBatch(seedDir, from, to, progress, limits);
    if (r.outcome) {
      total.inputs += to - from;
      total.decoded += r.outcome.decoded;
      for (const [k, v] of Object.entries(r.outcome.coded)) total.coded[k] = (total.coded[k] ?? 0) + v;
      total.uncoded.push(...r.outcome.uncoded.map((u) => `case ${u.n}: ${u.code}: ${u.message}`));
      total.peakRssMb = Math.max(total.peakRssMb, Math.round(r.outcome.maxRssKb / 1024));
      from = to;
      continue;
    }
    // The child died or hung: the progress file names the case; save it and go on after it.
    const n = Number(fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trim() : from);
    fs.mkdirSync(saved, { recursive: true });
    const file = path.join(saved, `case-${n}.bin`);
    fs.writeFileSync(file, mutate(seedBufs, n));
    const what = `case ${n} (saved as ${file}): ${r.hung ? 'hung' : `exit ${r.code} signal ${r.signal}`}; stderr: ${r.stderr.slice(-300)}`;
    (r.hung ? total.hangs : total.crashes).push(what);
    total.inputs += n - from + 1;
    from = n + 1;
  }
  t.comment(`image fuzz: ${total.inputs} inputs in ${Math.round((Date.now() - t0) / 1000)} s; decoded ${total.decoded}; coded errors ${JSON.stringify(total.coded)}; ` +
    `crashes ${total.crashes.length}; hangs ${total.hangs.length}; uncoded errors ${total.uncoded.length}; peak RSS of a batch process ${total.peakRssMb} MB`);
  t.equal(total.inputs, CASES, 'every case ran');
  t.same(total.crashes, [], 'no crash');
  t.same(total.hangs, [], 'no hang');
  t.same(total.uncoded, [], 'every failure is a coded error, no picture over the limit');
  t.ok(total.decoded > 0 && Object.keys(total.coded).length > 0, 'the campaign reached both the decoders and the refusals');
  t.ok(total.peakRssMb < 2048, `peak RSS ${total.peakRssMb} MB`);
  fs.rmSync(work, { recursive: true, force: true });
});

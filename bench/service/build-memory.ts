// RSS of one build request: 24 near-limit PNGs (7000 x 7000,
// 49 MP each, a few hundred KB of flat color) posted to /shitu-index-build as
// Base64, with the service's per-request pixel budget (maxPixelsInFlight,
// default 64 MP) and without it (the pipeline's 2 x 16 images in flight). Each
// mode runs in a fresh process; the peak RSS over the request is sampled every 10 ms.
//
//   node dist/bench/service/build-memory.js [--images N]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { AddressInfo } from 'node:net';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { createServer } from '../../lib/server/app';
import { GALLERY_PIXELS_IN_FLIGHT } from '../../lib/limits';
import { ROOT } from '../lib/paths';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : def; };
const images = arg('--images', 24);
const W = 7000, H = 7000;

/** A valid W x H RGB PNG of one color (compresses to a few hundred KB). */
function flatPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(W, 0); ihdr.writeUInt32BE(H, 4); ihdr[8] = 8; ihdr[9] = 2;
  const row = Buffer.alloc(W * 3 + 1, 0x60); row[0] = 0;
  const raw = Buffer.concat(Array.from({ length: H }, () => row));
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

function crc32(b: Buffer): number {
  let c = ~0;
  for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
  return ~c >>> 0;
}

async function child(mode: 'budget' | 'none', bodyFile: string) {
  const pipeline = await createPipeline(path.join(ROOT, 'models', 'standin.yaml'), { threads: 1, warmup: false });
  const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-buildmem-'));
  const app = createServer(pipeline, { indexDir, maxPixelsInFlight: mode === 'budget' ? undefined : false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const body = fs.readFileSync(bodyFile);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/shitu-index-build`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const status = r.status;
  await r.arrayBuffer();
  const ms = performance.now() - t0;
  clearInterval(timer);
  console.log(JSON.stringify({ mode, status, ms: Math.round(ms), rssBeforeMiB: Math.round(rss0 / 2 ** 20), peakDeltaMiB: Math.round((peak - rss0) / 2 ** 20) }));
  await app.close();
  await pipeline.close();
  fs.rmSync(indexDir, { recursive: true, force: true });
}

async function main() {
  if (process.argv[2] === '--child') return child(process.argv[3] as 'budget' | 'none', process.argv[4]);
  const png = flatPng().toString('base64');
  const file = path.join(os.tmpdir(), `shitu-buildmem-${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify({ imageLabelPairs: Array.from({ length: images }, (_, i) => ({ image: png, label: `p${i}` })) }));
  console.log(`${images} PNGs of ${W}x${H} (${(W * H / 1e6).toFixed(0)} MP), body ${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB; budget ${GALLERY_PIXELS_IN_FLIGHT / 1e6} MP`);
  for (const mode of ['budget', 'none']) {
    const r = spawnSync(process.execPath, ['--expose-gc', __filename, '--child', mode, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { mode: string; status: number; ms: number; peakDeltaMiB: number };
    console.log(`${mode === 'budget' ? 'with the pixel budget' : 'without (2 x 16 in flight)'}: HTTP ${res.status}, ${res.ms} ms, peak RSS +${res.peakDeltaMiB} MiB`);
  }
  fs.rmSync(file, { force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });

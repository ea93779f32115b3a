// The "embedded" section's host application: what a new user
// writes to put recognition in a latency-sensitive server. One Fastify app, one
// pipeline created at start with its defaults (stand-in models), an index built
// at start from the bench gallery, and `POST /recognize` taking the raw image as
// the body. Run as its own process by bench/sections/embedded.ts (so the load generator's
// JS does not share this event loop); prints `{"port": N}` on stdout once ready.
//
// Beside the load it measures what the host feels, between
// `POST /bench/window/start` and `POST /bench/window/stop` (which answers the
// figures): event-loop delay (perf_hooks.monitorEventLoopDelay), a 3 KB
// fs.readFile issued every 20 ms (libuv's thread pool, as the host's fs, dns,
// crypto and zlib use it) and RSS.
//
//   node dist/bench/lib/embedded-app.js        (SHITU_ADDON_PATH picks another addon build)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify from 'fastify';
import { createPipeline } from '../../lib/pipeline/pipeline';
import { galleryEntries, quantile, STANDIN_CONFIG } from './util';

/** The probe beside the load: bytes read and how often a read is issued. */
export const READ_PROBE = { bytes: 3072, everyMs: 20 } as const;

/** What `POST /bench/window/stop` answers. */
export interface WindowFigures {
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  readFile: { n: number; p50Ms: number; p99Ms: number; maxMs: number };
  rssMB: number;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const rssMB = () => round(process.memoryUsage().rss / 2 ** 20, 1);

class Window {
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });
  private readonly reads: number[] = [];
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly file: string) {}

  start(): void {
    this.delay.reset();
    this.delay.enable();
    this.reads.length = 0;
    // Issued on schedule whether or not the previous read has answered: a read
    // stuck behind busy pool threads must not hide the ones after it.
    this.timer = setInterval(() => {
      const t0 = performance.now();
      const p = fs.promises.readFile(this.file).then((b) => {
        if (b.length !== READ_PROBE.bytes) throw new Error('short read');
        this.reads.push(performance.now() - t0);
      }).finally(() => this.pending.delete(p));
      this.pending.add(p);
    }, READ_PROBE.everyMs);
  }

  async stop(): Promise<WindowFigures> {
    clearInterval(this.timer);
    this.delay.disable();
    await Promise.all([...this.pending]); // reads still waiting count with their full wait
    const s = [...this.reads].sort((a, b) => a - b);
    return {
      eventLoopDelayP99Ms: round(this.delay.percentile(99) / 1e6),
      eventLoopDelayMaxMs: round(this.delay.max / 1e6),
      readFile: { n: s.length, p50Ms: round(quantile(s, 0.5)), p99Ms: round(quantile(s, 0.99)), maxMs: round(s[s.length - 1] ?? NaN) },
      rssMB: rssMB(),
    };
  }
}

async function main(): Promise<void> {
  const pipeline = await createPipeline(STANDIN_CONFIG);
  const gallery = galleryEntries();
  const index = await pipeline.buildIndex({ galleryImgs: gallery.map((g) => g.image), galleryLabel: gallery.map((g) => g.label) });
  const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-embedded-'));
  const probe = path.join(probeDir, 'probe.bin');
  fs.writeFileSync(probe, Buffer.alloc(READ_PROBE.bytes, 1));
  let window: Window | undefined;

  const app = Fastify({ bodyLimit: 32 * 1024 * 1024 });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post('/recognize', async (req) => {
    const r = await pipeline.recognize(req.body as Buffer, { index });
    return r.json.res;
  });
  app.post('/bench/window/start', async () => {
    window = new Window(probe);
    window.start();
    return { rssMB: rssMB() };
  });
  app.post('/bench/window/stop', async () => {
    if (!window) throw new Error('no window started');
    const figures = await window.stop();
    window = undefined;
    return figures;
  });
  app.get('/bench/info', async () => ({ rssMB: rssMB(), settings: pipeline.settings, galleryImages: gallery.length }));

  const close = async () => {
    await app.close();
    await pipeline.close();
    fs.rmSync(probeDir, { recursive: true, force: true });
  };
  process.once('SIGTERM', () => { close().then(() => process.exit(0), () => process.exit(1)); });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}

// Child process for the peer pipeline (see peer-impl.ts for why it cannot
// share a process with this package's addon). Commands over IPC:
//   {cmd: 'init', threads, stripInitializers, gallery: [{image, label}], shaped?: {det, rec}} -> {ok, loadMs, indexMs}
//       (shaped: the converted PP-ShiTuV2 programs' ONNX files instead of the stand-ins)
//   {cmd: 'bench', image, warmup, iters} -> {lat: number[], timings: PeerTimings[], boxes}
//   {cmd: 'throughput', images, count, concurrency} -> {seconds, count}
//   {cmd: 'rss'} -> {rss}
import { PeerPipeline } from './peer-impl';
import { DET_ONNX, FEAT_ONNX } from './util';

let peer: PeerPipeline | undefined;

async function handle(msg: any): Promise<any> {
  switch (msg.cmd) {
    case 'init': {
      const t0 = performance.now();
      peer = await PeerPipeline.create({ detOnnx: msg.shaped?.det ?? DET_ONNX, featOnnx: msg.shaped?.rec ?? FEAT_ONNX, threads: msg.threads, stripInitializers: !!msg.stripInitializers, noSpin: !!msg.noSpin, shaped: !!msg.shaped });
      const loadMs = performance.now() - t0;
      // Warm-up, like createPipeline's.
      const t1 = performance.now();
      await peer.buildIndex(msg.gallery.map((g: any) => g.image), msg.gallery.map((g: any) => g.label));
      return { ok: true, loadMs, indexMs: performance.now() - t1 };
    }
    case 'bench': {
      for (let i = 0; i < msg.warmup; i++) await peer!.recognize(msg.image);
      const lat: number[] = [], timings: any[] = [];
      let last: any;
      for (let i = 0; i < msg.iters; i++) {
        const t0 = performance.now();
        last = await peer!.recognize(msg.image);
        lat.push(performance.now() - t0);
        timings.push(last.timings);
      }
      return { lat, timings, boxes: last.boxes, width: last.width, height: last.height };
    }
    case 'throughput': {
      const images: string[] = msg.images;
      let next = 0;
      const t0 = performance.now();
      const lat: number[] = [];
      await Promise.all(Array.from({ length: msg.concurrency }, async () => {
        for (;;) {
          const i = next++;
          if (i >= msg.count) return;
          const a = performance.now();
          await peer!.recognize(images[i % images.length]);
          lat.push(performance.now() - a);
        }
      }));
      return { seconds: (performance.now() - t0) / 1000, count: msg.count, lat };
    }
    case 'rss':
      return { rss: process.memoryUsage().rss };
    case 'exit':
      setImmediate(() => process.exit(0));
      return { ok: true };
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

process.on('message', (msg: any) => {
  handle(msg).then(
    (r) => process.send!({ id: msg.id, ok: true, result: r }),
    (e) => process.send!({ id: msg.id, ok: false, error: String(e?.stack ?? e) }),
  );
});

// process.exit() while recognitions run on the addon's own threads exits with
// the code asked for: the loader stops the pool on process 'exit' (running jobs
// stop at their next stage boundary, the threads are joined) before the C
// library's exit() destroys ONNX Runtime's environment and the other statics
// under them. Without it, about one exit in two here died of SIGSEGV (139).
import t from 'tap';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { STANDIN_CONFIG, img } from '../helpers/shared';

const root = path.resolve(__dirname, '..', '..');
const child = `
  const { createPipeline } = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'index.js'))});
  (async () => {
    const p = await createPipeline(${JSON.stringify(STANDIN_CONFIG)}, { warmup: false, concurrency: 2 });
    for (let i = 0; i < 6; i++) p.recognize(${JSON.stringify(img('misc', 'bus.jpg'))}).catch(() => {});
    setTimeout(() => process.exit(3), Number(process.argv[1]));
  })();
`;

t.test('process.exit() with recognitions in flight exits with its code, no crash', async (t) => {
  // Delays that land in decoding, detection and feature extraction of the first jobs.
  for (const delay of [5, 20, 40, 70, 100, 150, 220, 300]) {
    const r = spawnSync(process.execPath, ['-e', child, String(delay)], { encoding: 'utf8', env: process.env, timeout: 60_000 });
    t.same({ status: r.status, signal: r.signal }, { status: 3, signal: null }, `exit after ${delay} ms`);
  }
});

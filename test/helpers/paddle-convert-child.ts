// Converts one Paddle model in a process of its own, so that its peak RSS is
// the conversion's: argv = model dir, output .onnx, inputShapes JSON ('' for none).
// Prints { ms, baseRssMiB, peakRssMiB, bytes } as JSON.
import { readPaddleModelDir } from '../../lib/models/paddle/read-program';
import { convertProgram } from '../../lib/models/paddle/convert/convert';

const MIB = 1024 * 1024;

(async () => {
  const [dir, output, shapes] = process.argv.slice(2);
  global.gc?.();
  const baseRssMiB = process.resourceUsage().maxRSS / 1024;
  const t0 = process.hrtime.bigint();
  const m = await readPaddleModelDir(dir);
  const r = await convertProgram(m.program, m.params, { output, ...(shapes ? { inputShapes: JSON.parse(shapes) as Record<string, number[]> } : {}) });
  await m.params.close();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ ms, baseRssMiB, peakRssMiB, bytes: r.bytes, heapMiB: process.memoryUsage().heapUsed / MIB }));
})().catch((e: Error & { code?: string }) => {
  process.stdout.write(JSON.stringify({ error: e.message, code: e.code }));
  process.exitCode = 1;
});

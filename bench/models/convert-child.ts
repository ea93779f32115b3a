// Converts one Paddle model dir to ONNX in a process of its own, so that the
// peak RSS it reports is the conversion's (VmHWM of /proc/self/status:
// getrusage's maxRSS would carry the parent's high-water mark into the child).
// Then, outside the measured span, counts the converted graph's parameters and
// multiply-adds from the converter's own inferred shapes.
// argv: model dir, output .onnx, inputShapes JSON. Prints one JSON object.
import * as fs from 'node:fs';
import { readPaddleModelDir } from '../../lib/models/paddle/read-program';
import { buildGraph, convertProgram } from '../../lib/models/paddle/convert/convert';
import { graphCounts } from './graph';

function hwmMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const [dir, output, shapes] = process.argv.slice(2);
  const inputShapes = JSON.parse(shapes) as Record<string, number[]>;
  const baseRssMiB = hwmMiB();
  const t0 = process.hrtime.bigint();
  const m = await readPaddleModelDir(dir);
  const r = await convertProgram(m.program, m.params, { output, inputShapes });
  await m.params.close();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const peakRssMiB = hwmMiB();
  const again = await readPaddleModelDir(dir);
  try {
    // Counted at batch 1: a size left to run time (-1) would leave every shape unknown.
    const batch1 = Object.fromEntries(Object.entries(inputShapes).map(([k, v]) => [k, v.map((d) => (d < 0 ? 1 : d))]));
    const counts = graphCounts(buildGraph(again.program, again.params, { inputShapes: batch1 }));
    process.stdout.write(JSON.stringify({ ms, baseRssMiB, peakRssMiB, bytes: r.bytes, counts }));
  } finally {
    await again.params.close();
  }
}

main().catch((e: Error & { code?: string }) => {
  process.stdout.write(JSON.stringify({ error: e.message, code: e.code }));
  process.exitCode = 1;
});

// Converts one Paddle model in a process of its own, so that its peak RSS is
// the conversion's. Plain JS on dist/ (run `npx tsc -p tsconfig.json` first):
// ts-node's compiler would raise the process's high-water mark above the
// conversion's own. argv = model dir, output .onnx, inputShapes JSON ('' for none).
// Prints { ms, baseRssMiB, peakRssMiB, bytes } as JSON.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', '..', 'dist', 'lib', 'models', 'paddle');
const { readPaddleModelDir } = require(path.join(dist, 'read-program.js'));
const { convertProgram } = require(path.join(dist, 'convert', 'convert.js'));

/**
 * This process's peak RSS (VmHWM): getrusage's maxRSS would not do, as Linux
 * carries the parent's high-water mark into a spawned child.
 */
function hwmMiB() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

(async () => {
  const [dir, output, shapes] = process.argv.slice(2);
  const baseRssMiB = hwmMiB();
  const t0 = process.hrtime.bigint();
  const m = await readPaddleModelDir(dir);
  const r = await convertProgram(m.program, m.params, { output, ...(shapes ? { inputShapes: JSON.parse(shapes) } : {}) });
  await m.params.close();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const peakRssMiB = hwmMiB();
  process.stdout.write(JSON.stringify({ ms, baseRssMiB, peakRssMiB, bytes: r.bytes }));
})().catch((e) => {
  process.stdout.write(JSON.stringify({ error: e.message, code: e.code }));
  process.exitCode = 1;
});

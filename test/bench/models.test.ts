// The benchmark's PP-ShiTuV2 timing models (bench/models/generate.ts): the
// real programs of shared/models/pp-shituv2-programs with seeded weights,
// converted by this package's converter. Checked: the parameter counts are the
// programs' own, the multiply-adds counted on the converted graph equal those
// computed independently from the programs' declared var shapes, the cache is
// reused (and its conversion re-measured on request), the conversion's peak
// RSS growth stays under 3x the weights, and the detector's weight recipe
// gives what the bench relies on: boxes that pass multiclass_nms3 but not the
// pipeline's threshold, so a recognition embeds one crop, the whole image.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureProgramModels, PROGRAMS_DIR, DET_SIZE } from '../../bench/models/generate';
import { readPdmodel } from '../../lib/models/paddle/read-pdmodel';
import type { PaddleVar } from '../../lib/models/paddle/program';
import { native } from '../../lib/native/loader';
import { createPipeline } from '../../lib/index';
import { img } from '../helpers/shared';

/** Multiply-adds of conv2d / depthwise_conv2d / matmul from the program's declared shapes (batch dim dropped). */
async function programMacs(dir: string): Promise<number> {
  const p = await readPdmodel(path.join(PROGRAMS_DIR, dir, 'inference.pdmodel'));
  const vars = new Map<string, PaddleVar>();
  for (const b of p.blocks) for (const [n, v] of b.vars) vars.set(n, v);
  const prod = (s: number[]) => s.reduce((a, d) => a * d, 1);
  let macs = 0;
  for (const op of p.blocks.flatMap((b) => b.ops)) {
    if (/conv2d$/.test(op.type)) macs += prod(vars.get(op.outputs.Output[0])!.shape.slice(1)) * prod(vars.get(op.inputs.Filter[0])!.shape.slice(1));
    // The detector's matmuls project [N, 8] box distributions onto 0..7: N x 8 products.
    if (op.type === 'matmul' || op.type === 'matmul_v2') {
      const x = vars.get(op.inputs.X[0])!.shape;
      macs += prod(vars.get(op.outputs.Out[0])!.shape) * x[x.length - 1];
    }
  }
  return macs;
}

t.test('the converted programs: exact parameters, independent multiply-adds, cached, conversion measured', async (t) => {
  const a = await ensureProgramModels();
  t.equal(a.label, 'PP-ShiTuV2 program, random weights: timing only');
  t.equal(a.det.paddleParams, 6_633_116, 'detector: 6.63 M parameters');
  t.equal(a.rec.paddleParams, 4_575_616, 'feature model: 4.58 M parameters');
  for (const m of [a.det, a.rec]) {
    t.equal(m.counts.params, m.paddleParams, `${m.name}: every weight of the program is in the ONNX graph`);
    t.equal(m.counts.uncounted, 0, `${m.name}: every convolution's shape is known`);
    t.equal(m.counts.macs, await programMacs(path.basename(m.program)), `${m.name}: ${m.counts.macs} multiply-adds, as the program's declared shapes give`);
    t.equal(m.conversion.weightBytes, fs.statSync(path.join(m.paddleDir, 'inference.pdiparams')).size);
    t.ok(m.conversion.ms > 0 && m.conversion.peakRssMiB >= m.conversion.baseRssMiB, `${m.name}: conversion measured`);
    const growthMiB = m.conversion.peakRssMiB - m.conversion.baseRssMiB;
    t.ok(growthMiB < 3 * (m.conversion.weightBytes / 2 ** 20), `${m.name}: peak RSS growth ${growthMiB.toFixed(0)} MiB < 3x the weights`);
  }
  const mtime = fs.statSync(a.det.file).mtimeMs;
  const b = await ensureProgramModels({ measure: true });
  t.equal(b.key, a.key, 'same cache key');
  t.equal(fs.statSync(b.det.file).mtimeMs, mtime, 'the cached file is reused');
  t.notSame(b.det.conversion, a.det.conversion, 'the conversion was measured again');
  t.same(fs.readdirSync(path.dirname(path.dirname(b.det.file))).filter((f) => f.endsWith('.onnx')), [], 'no scratch file left');
});

t.test("the detector's weight recipe: boxes pass NMS's 0.025, none the pipeline's 0.5", async (t) => {
  const info = await ensureProgramModels();
  const m = await native.loadModel(info.det.file, { intraOpThreads: 1 });
  const image = new Float32Array(3 * DET_SIZE * DET_SIZE);
  for (let i = 0; i < image.length; i++) image[i] = Math.sin(i * 0.01);
  const out = await m.run({
    image: { data: image, dims: [1, 3, DET_SIZE, DET_SIZE] },
    im_shape: { data: Float32Array.from([DET_SIZE, DET_SIZE]), dims: [1, 2] },
    scale_factor: { data: Float32Array.from([1, 1]), dims: [1, 2] },
  });
  const [boxes, count] = Object.values(out);
  const n = count.data[0];
  t.ok(n > 0 && n <= 100, `${n} boxes kept`);
  const scores = Array.from({ length: n }, (_, i) => boxes.data[i * 6 + 1]);
  t.ok(scores.every((s) => s > 0.025 && s < 0.5), `scores in (0.025, 0.5): ${Math.min(...scores).toFixed(3)}..${Math.max(...scores).toFixed(3)}`);

  const pipeline = await createPipeline(info.config, { threads: 1, warmup: false });
  t.teardown(() => pipeline.close());
  const photo = img('misc', 'bus.jpg');
  const { width, height } = await native.decodeImage(photo);
  const r = await pipeline.recognize(photo);
  t.equal(r.boxes.length, 1, 'one crop embedded');
  t.same(r.boxes[0].coordinate, [0, 0, width, height], 'the whole image (no box reaches 0.5)');
});

// get-pipeline-config, demo, models fetch, models convert, models quantize.
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { getPipelineConfig } from '../../pipeline/config';
import { findSharedDir } from '../../util/shared-dir';
import { packageRoot } from '../../util/package-root';
import { intArg, progressBar } from '../options';

function defaultSharedDir(): string {
  return findSharedDir() ?? path.resolve(packageRoot(), '..', 'shared');
}

/** --input-shape name=d1,d2,... (repeatable) into one map. */
function collectShape(value: string, prev: Record<string, number[]> | undefined): Record<string, number[]> {
  const m = /^([^=]+)=(-?\d+(?:,-?\d+)*)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected name=d1,d2,... (integers, -1 for a run-time size)');
  return { ...(prev ?? {}), [m[1]]: m[2].split(',').map(Number) };
}

export function registerMiscCommands(program: Command): void {
  program
    .command('get-pipeline-config')
    .description('write the default PP-ShiTuV2 pipeline config')
    .argument('[name]', 'pipeline name', 'PP-ShiTuV2')
    .option('--save-path <path>', 'file or directory to write (default: print)')
    .action(async (name: string, o: { savePath?: string }) => {
      const c = getPipelineConfig(name, o.savePath);
      if (!o.savePath) process.stdout.write(JSON.stringify(c, null, 2) + '\n');
      else process.stderr.write(`written: ${o.savePath}\n`);
    });
  program
    .command('demo')
    .description('the quick start on the shared stand-in models: build an index, recognise, write JSON and pictures')
    .option('--shared <dir>', 'the shared data directory (default: $SHITU_SHARED_DIR, else ../shared beside the package)', defaultSharedDir())
    .option('--out <dir>', 'output directory', 'output')
    .action(async (o) => {
      const { runDemo } = require('../demo') as typeof import('../demo');
      await runDemo(o.shared, o.out);
    });
  const models = program.command('models').description('model management');
  models
    .command('fetch')
    .description('download an official PP-ShiTuV2 model and convert it to ONNX in this process (needs network; no Python)')
    .argument('<name>', 'PP-ShiTuV2_det | PP-ShiTuV2_rec | PP-ShiTuV2_rec_CLIP_vit_base | PP-ShiTuV2_rec_CLIP_vit_large')
    .option('--url <url>', 'download the Paddle inference archive (.tar) from this URL instead (a mirror or a local copy)')
    .action(async (name: string, o: { url?: string }) => {
      // The converter (protobufjs, the op registry) is loaded only by the commands that use it.
      const { fetchModel } = require('../../models/fetch') as typeof import('../../models/fetch');
      const dir = await fetchModel(name, (msg) => process.stderr.write(msg + '\n'), o.url !== undefined ? { url: o.url } : {});
      process.stderr.write(`installed: ${dir}\n`);
    });
  models
    .command('convert')
    .description('convert a Paddle inference model directory (inference.pdmodel / model.pdmodel / inference.json + .pdiparams) to an ONNX model directory')
    .argument('<paddle_model_dir>', 'the unpacked Paddle inference model')
    .requiredOption('--out <dir>', 'the model directory to write (inference.onnx + inference.yml); must not exist or be empty')
    .option('--check <image>', 'run the converted model once on this image and print its output shapes')
    .option('--input-shape <name=dims>', 'fix a feed\'s sizes, e.g. x=1,3,48,-1 (-1: decided at run time); repeatable (default: batch 1 for detectors, else as the program declares)', collectShape)
    .action(async (src: string, o: { out: string; check?: string; inputShape?: Record<string, number[]> }) => {
      const { convertPaddleModel } = require('../../models/paddle/convert-dir') as typeof import('../../models/paddle/convert-dir');
      const r = await convertPaddleModel(src, o.out, {
        onProgress: (msg) => process.stderr.write(msg + '\n'),
        ...(o.check !== undefined ? { check: o.check } : {}),
        ...(o.inputShape !== undefined ? { inputShapes: o.inputShape } : {}),
      });
      const dims = (d?: (number | string)[]) => `[${(d ?? []).join(', ')}]`;
      const lines = [`${r.onnxFile} (${r.task} model, ${(r.bytes / 1e6).toFixed(1)} MB)`];
      for (const i of r.inputs) lines.push(`input   ${i.name} ${i.dtype} ${dims(i.dims)}`);
      for (const out of r.outputs) lines.push(`output  ${out.name} ${out.dtype} ${dims(out.dims)}`);
      for (const c of r.check ?? []) lines.push(`checked ${c.name} ${dims(c.dims)}${c.finite ? '' : ' NOT FINITE'}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
  models
    .command('quantize')
    .description('write a static INT8 (QDQ) copy of an FP32 feature model, calibrated on a gallery, only if it retrieves like the FP32 model there')
    .argument('<model_dir>', 'the FP32 feature model directory (card.yaml or inference.yml, and its .onnx file)')
    .requiredOption('--calibrate <gallery_dir>', 'pictures to calibrate and check on (labels: their folders)')
    .option('--out <dir>', 'output model directory (default: <model_dir>-int8)')
    .option('--threads <n>', 'ONNX Runtime threads', intArg(1, 1024))
    .action(async (modelDir: string, o: { calibrate: string; out?: string; threads?: number }) => {
      const { quantizeFeatureModel } = require('../../onnx/quantize') as typeof import('../../onnx/quantize');
      const bars = { calibrate: progressBar('calibrate'), check: progressBar('check') };
      const r = await quantizeFeatureModel({ modelDir, galleryDir: o.calibrate, outDir: o.out, threads: o.threads, onProgress: (stage, p) => bars[stage](p) });
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    });
}

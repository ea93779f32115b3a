// get-pipeline-config, demo, models fetch, models quantize.
import * as path from 'node:path';
import { Command } from 'commander';
import { getPipelineConfig } from '../../pipeline/config';
import { fetchModel } from '../../models/fetch';
import { findSharedDir } from '../../util/shared-dir';
import { packageRoot } from '../../util/package-root';
import { intArg, progressBar } from '../options';

function defaultSharedDir(): string {
  return findSharedDir() ?? path.resolve(packageRoot(), '..', 'shared');
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
    .description('download an official PP-ShiTuV2 model and convert it to ONNX (needs network and paddle2onnx)')
    .argument('<name>', 'PP-ShiTuV2_det | PP-ShiTuV2_rec | PP-ShiTuV2_rec_CLIP_vit_base | PP-ShiTuV2_rec_CLIP_vit_large')
    .action(async (name: string) => {
      const dir = await fetchModel(name, (msg) => process.stderr.write(msg + '\n'));
      process.stderr.write(`installed: ${dir}\n`);
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

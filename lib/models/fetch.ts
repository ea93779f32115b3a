// `shitu models fetch NAME`: downloads the official Paddle inference archive
// (streamed to a staging directory, lib/models/download.ts) and converts it to
// ONNX with paddle2onnx. These machines are often offline
// and paddle2onnx is a Python tool: every failure says exactly what to do.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { ShituError } from '../errors';
import { modelHome } from './resolve';
import { packageRoot } from '../util/package-root';
import { downloadFile } from './download';

export const FETCHABLE = ['PP-ShiTuV2_det', 'PP-ShiTuV2_rec', 'PP-ShiTuV2_rec_CLIP_vit_base', 'PP-ShiTuV2_rec_CLIP_vit_large'];

function archiveUrl(name: string): string {
  const card = path.join(packageRoot(), 'models', `${name}.yaml`);
  if (fs.existsSync(card)) {
    const src = YAML.parse(fs.readFileSync(card, 'utf8'))?.source;
    if (typeof src === 'string' && src.startsWith('http')) return src;
  }
  return `https://paddle-model-ecology.bj.bcebos.com/paddlex/official_inference_model/paddle3.0.0/${name}_infer.tar`;
}

export async function fetchModel(name: string, log: (m: string) => void): Promise<string> {
  if (!FETCHABLE.includes(name)) throw new ShituError('ERR_MODEL_NOT_FOUND', `unknown model '${name}' (known: ${FETCHABLE.join(', ')})`);
  const dest = path.join(modelHome(), name);
  const url = archiveUrl(name);
  const manual =
    `To install it by hand: download ${url} on a machine with network access, unpack it, run\n` +
    `  paddle2onnx --model_dir ${name}_infer --model_filename inference.json --params_filename inference.pdiparams --save_file ${dest}/inference.onnx\n` +
    `and copy ${name}_infer/inference.yml to ${dest}/ (pip install paddle2onnx provides the converter).`;
  const hasConverter = spawnSync('paddle2onnx', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!hasConverter) throw new ShituError('ERR_MODEL_NOT_FOUND', `paddle2onnx is not installed, so ${name} cannot be converted here.\n${manual}`);
  // Everything happens in a staging directory beside the destination, renamed
  // into place at the end: a failed download or conversion never leaves a
  // half-installed model that resolveModel would then try to load.
  fs.mkdirSync(modelHome(), { recursive: true });
  const staging = fs.mkdtempSync(path.join(modelHome(), `.${name}.partial-`));
  try {
    const tarPath = path.join(staging, `${name}_infer.tar`);
    log(`downloading ${url}`);
    try {
      await downloadFile(url, tarPath, { log, signal: AbortSignal.timeout(600_000) });
    } catch (e) {
      throw new ShituError('ERR_MODEL_NOT_FOUND', `${(e as Error).message} (offline?).\n${manual}`, { cause: e });
    }
    execFileSync('tar', ['-xf', tarPath, '-C', staging]);
    fs.rmSync(tarPath, { force: true });
    const src = path.join(staging, `${name}_infer`);
    const modelFile = fs.existsSync(path.join(src, 'inference.json')) ? 'inference.json' : 'inference.pdmodel';
    log('converting with paddle2onnx');
    execFileSync('paddle2onnx', ['--model_dir', src, '--model_filename', modelFile, '--params_filename', 'inference.pdiparams',
      '--save_file', path.join(staging, 'inference.onnx')], { stdio: 'inherit' });
    fs.copyFileSync(path.join(src, 'inference.yml'), path.join(staging, 'inference.yml'));
    fs.rmSync(src, { recursive: true, force: true });
    // A model installed before is replaced only now that its successor is whole.
    if (fs.existsSync(dest)) fs.rmSync(dest, { recursive: true, force: true });
    fs.renameSync(staging, dest);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  return dest;
}

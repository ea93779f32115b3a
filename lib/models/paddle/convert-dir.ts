// A Paddle inference model directory -> an ONNX model directory the package
// loads as it is: `inference.onnx`, plus the archive's own pre-processing
// config as `inference.yml` (PaddleX 3 / PaddleClas `inference.yml`, or
// PaddleDetection's `infer_cfg.yml`, whose Preprocess list parseInferenceYml
// reads too), so that resolveModel finds both and merges the project's card of
// the same name when there is one.
//
// Atomic: everything is written to a staging directory beside `outDir` and
// renamed into place at the end; a failure (an unsupported op, broken weights,
// an abort) leaves `outDir` as it was.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ShituError } from '../../errors';
import { parseInferenceYml, defaultPreprocess, type PreprocessCard } from '../card';
import { readPaddleModelDir } from './read-program';
import { convertProgram } from './convert/convert';
import { checkOnnx, type CheckOutput } from './check-onnx';
import type { PaddleProgram } from './program';
import type { GraphIO } from './convert/graph';

export interface ConvertPaddleModelOptions {
  /** One line per step. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
  /** An image to run the converted model on once (output shapes in the result). */
  check?: string;
  /** Replace a non-empty `outDir` (default: refused, so a typo cannot wipe a directory). */
  replace?: boolean;
  /**
   * Fixed feed sizes by feed name (convertProgram's inputShapes). Default: a
   * detection program's feeds get batch 1 (its post-processing loops over the
   * batch, which must then be known; the package's detector runs one image at
   * a time), other programs keep -1 as a symbolic size.
   */
  inputShapes?: Record<string, number[]>;
}

export interface ConvertPaddleModelResult {
  outDir: string;
  onnxFile: string;
  /** The config written beside it (`inference.yml`), when the archive had one. */
  configFile?: string;
  task: 'detection' | 'feature';
  format: PaddleProgram['format'];
  inputs: GraphIO[];
  outputs: GraphIO[];
  bytes: number;
  weights: number;
  check?: CheckOutput[];
}

/** Batch 1 for every feed whose first dimension is unknown. */
export function batchOne(program: PaddleProgram): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const f of program.feeds) if (f.shape[0] === -1) shapes[f.name] = [1, ...f.shape.slice(1)];
  return shapes;
}

/** Detection programs end in an NMS or take the detector's extra inputs. */
export function taskOf(program: PaddleProgram): 'detection' | 'feature' {
  const nms = program.blocks.some((b) => b.ops.some((o) => /^multiclass_nms|^matrix_nms/.test(o.type)));
  return nms || program.feeds.some((f) => f.name === 'im_shape' || f.name === 'scale_factor') ? 'detection' : 'feature';
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ShituError('ERR_ABORTED', 'model conversion aborted');
}

/** Converts the Paddle model in `srcDir` into `outDir` (see the file comment). */
export async function convertPaddleModel(srcDir: string, outDir: string, o: ConvertPaddleModelOptions = {}): Promise<ConvertPaddleModelResult> {
  const log = o.onProgress ?? (() => {});
  const dest = path.resolve(outDir);
  if (!o.replace && fs.existsSync(dest) && (!fs.statSync(dest).isDirectory() || fs.readdirSync(dest).length > 0)) {
    throw new ShituError('ERR_CONFIG', `${dest} exists and is not an empty directory (choose another output directory, or remove it first)`);
  }
  aborted(o.signal);
  log(`reading ${srcDir}`);
  const model = await readPaddleModelDir(srcDir);
  // Made with mkdir, not mkdtemp: the directory renamed into place keeps the
  // usual mode (0777 less the umask), where mkdtemp's 0700 would hide the model
  // from other users of a shared model home.
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const staging = path.join(path.dirname(dest), `.${path.basename(dest)}.partial-${process.pid}-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(staging);
  try {
    const { program, params } = model;
    const task = taskOf(program);
    let weightBytes = 0;
    for (const p of params.params.values()) weightBytes += p.byteLength;
    log(
      `${model.programFile}: ${program.format} program, ${program.blocks.reduce((n, b) => n + b.ops.length, 0)} ops in ${program.blocks.length} block(s), ` +
        `${params.params.size} weights (${(weightBytes / 1e6).toFixed(1)} MB), a ${task} model`,
    );
    // The config first: a broken one fails before minutes of conversion.
    let pre: PreprocessCard = defaultPreprocess(task);
    let configFile: string | undefined;
    if (model.configFile !== undefined) {
      const text = fs.readFileSync(model.configFile, 'utf8');
      pre = parseInferenceYml(model.configFile, text, task).preprocess;
      configFile = path.join(staging, 'inference.yml');
      fs.writeFileSync(configFile, text);
      log(`pre-processing from ${path.basename(model.configFile)}: ${pre.width || 'any'}x${pre.height || 'any'}, mean [${pre.mean.join(', ')}], std [${pre.std.join(', ')}]`);
    } else {
      log('no inference.yml / infer_cfg.yml in the model directory: the model needs a card (models/<name>.yaml or card.yaml) to be used');
    }
    aborted(o.signal);
    log('converting to ONNX');
    const onnxFile = path.join(staging, 'inference.onnx');
    const inputShapes = o.inputShapes ?? (task === 'detection' ? batchOne(program) : undefined);
    if (inputShapes !== undefined) log(`feed sizes: ${Object.entries(inputShapes).map(([k, v]) => `${k} [${v.join(', ')}]`).join(', ')}`);
    const r = await convertProgram(program, params, { output: onnxFile, ...(inputShapes !== undefined ? { inputShapes } : {}) });
    log(`wrote inference.onnx: ${(r.bytes / 1e6).toFixed(1)} MB, ${r.nodes} nodes, ${r.weights} weights`);
    aborted(o.signal);
    let check: CheckOutput[] | undefined;
    if (o.check !== undefined) {
      log(`checking on ${o.check}`);
      check = await checkOnnx(onnxFile, o.check, pre);
      for (const c of check) log(`  ${c.name}: [${c.dims.join(', ')}]${c.finite ? '' : ' (NOT all finite)'}`);
      if (check.some((c) => !c.finite)) throw new ShituError('ERR_MODEL_INVALID', `${model.programFile}: the converted model computes NaN or infinity on ${o.check}`);
    }
    aborted(o.signal);
    install(staging, dest);
    log(`installed ${dest}`);
    return {
      outDir: dest,
      onnxFile: path.join(dest, 'inference.onnx'),
      ...(configFile !== undefined ? { configFile: path.join(dest, 'inference.yml') } : {}),
      task,
      format: program.format,
      inputs: r.inputs,
      outputs: r.outputs,
      bytes: r.bytes,
      weights: r.weights,
      ...(check !== undefined ? { check } : {}),
    };
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  } finally {
    await model.params.close();
  }
}

/** Renames `staging` to `dest`; a directory already there is moved aside first and removed only once the new one is in place. */
function install(staging: string, dest: string): void {
  let old: string | undefined;
  if (fs.existsSync(dest)) {
    old = `${staging}.old`;
    fs.renameSync(dest, old);
  }
  try {
    fs.renameSync(staging, dest);
  } catch (e) {
    if (old !== undefined) fs.renameSync(old, dest);
    throw e;
  }
  if (old !== undefined) fs.rmSync(old, { recursive: true, force: true });
}

// The benchmark's PP-ShiTuV2 timing models: the two real PP-ShiTuV2 inference
// programs of shared/models/pp-shituv2-programs (published without weights),
// given seeded random .pdiparams and converted to ONNX by this package's own
// Paddle converter into the git-ignored bench/.models/, with a pipeline config
// that runs them through the package's model cards (models/PP-ShiTuV2_det.yaml,
// PP-ShiTuV2_rec.yaml). Random weights: the times are the real programs'
// arithmetic, the detections and labels mean nothing.
//   node dist/bench/models/generate.js   (the bench calls ensureProgramModels itself)
// The cache is keyed by each program's sha256, the converter's code and this
// file's weight recipe, so a changed program or converter rebuilds it.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readPdmodel } from '../../lib/models/paddle/read-pdmodel';
import { seededParams, writeParams, ParamTensor } from '../../lib/models/paddle/write-params';
import type { PaddleProgram } from '../../lib/models/paddle/program';
import { BENCH_DIR, ROOT, SHARED } from '../lib/paths';
import { GraphCounts, programParams } from './graph';

export const PROGRAMS_DIR = path.join(SHARED, 'models', 'pp-shituv2-programs');
export const MODELS_DIR = path.join(BENCH_DIR, '.models');
export const PROGRAM_LABEL = 'PP-ShiTuV2 program, random weights: timing only';
/** Bumped whenever the weight recipe below changes. */
const RECIPE = 1;
const SEED = 2024;
export const DET_SIZE = 640;
export const REC_SIZE = 224;

/**
 * Detector weights beyond the seeded ones. Random weights put every anchor's
 * score near 0.5 (the class logits wash out to ~0 +- 0.2), so NMS would keep
 * 100 boxes and the pipeline embed 100 crops. The class-logit bias of each
 * head level sets the work instead: strides 8 and 16 (8000 anchors) at -30
 * (score ~0), strides 32 and 64 (500 anchors, ~6 %) at -2.2 (score ~0.1):
 * those reach multiclass_nms3's 0.025 threshold and none the pipeline's 0.5,
 * so each recognition embeds one crop (the whole-image fallback), as the
 * published per-image rec time assumes. The box-distribution projection is
 * PicoDet's 0..7 (as trained models have it), so boxes have sizes and NMS
 * has overlaps to suppress.
 */
const DET_PROJECTION = 'dygraph_tmp_4';
const LEVEL_CLASS_BIAS = [-30, -30, -2.2, -2.2];

interface Spec {
  name: 'PP-ShiTuV2_det' | 'PP-ShiTuV2_rec';
  program: string;
  inputShapes: Record<string, number[]>;
  publishedMB: number;
  architecture: string;
}

const SPECS: Spec[] = [
  {
    name: 'PP-ShiTuV2_det', program: 'picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer',
    // Fixed sizes: the program's post-processing loops over the batch, which the converter unrolls only at a known size.
    inputShapes: { image: [1, 3, DET_SIZE, DET_SIZE], im_shape: [1, 2], scale_factor: [1, 2] },
    publishedMB: 27.5,
    architecture: `PP-PicoDet on PP-LCNet x2.5 (mainbody lite v1.0), ${DET_SIZE}x${DET_SIZE}, 1 class, multiclass_nms3 in the graph`,
  },
  {
    name: 'PP-ShiTuV2_rec', program: 'general_PPLCNetV2_base_pretrained_v1.0_infer',
    inputShapes: { x: [-1, 3, REC_SIZE, REC_SIZE] },
    publishedMB: 16.3,
    architecture: `PP-LCNetV2_base (general pretrained v1.0), ${REC_SIZE}x${REC_SIZE}, 512-d feature`,
  },
];

export interface Conversion {
  ms: number;
  /** VmHWM of the converting process before it read anything, and at the end (MiB). */
  baseRssMiB: number;
  peakRssMiB: number;
  /** The .pdiparams it read (bytes). */
  weightBytes: number;
}

export interface ProgramModelInfo {
  name: string;
  /** The Paddle program converted, relative to the shared dir. */
  program: string;
  programSha256: string;
  /** The program with its seeded .pdiparams, as converted. */
  paddleDir: string;
  file: string;
  bytes: number;
  /** Elements of the weights the program declares (its .pdiparams). */
  paddleParams: number;
  counts: GraphCounts;
  inputShapes: Record<string, number[]>;
  conversion: Conversion;
  /** The published inference model size (MB). */
  publishedMB: number;
  architecture: string;
}

export interface ProgramModels {
  key: string;
  label: string;
  config: string;
  seed: number;
  det: ProgramModelInfo;
  rec: ProgramModelInfo;
}

/**
 * The conversion always runs the compiled converter (dist/), also when this
 * file runs under ts-node (the tests): so the cache key and the peak RSS are
 * those of one converter, and ts-node's compiler does not raise the child's
 * high-water mark above the conversion's own.
 */
const DIST_CONVERTER = path.join(ROOT, 'dist', 'lib', 'models', 'paddle');
const DIST_CHILD = path.join(ROOT, 'dist', 'bench', 'models', 'convert-child.js');

/** Hash of the compiled converter's code. */
function converterHash(): string {
  if (!fs.existsSync(DIST_CHILD) || !fs.existsSync(DIST_CONVERTER)) throw new Error(`the compiled converter is missing (${DIST_CHILD}): run npx tsc -p tsconfig.json`);
  const h = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name.endsWith('.js')) h.update(e.name).update(fs.readFileSync(f));
    }
  };
  walk(DIST_CONVERTER);
  return h.digest('hex');
}

const sha256 = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** The class-logit bias of each detector head level: the add whose output the head splits [1 class, 32 box]. */
export function detClassBiases(program: PaddleProgram): string[] {
  const ops = program.blocks[0].ops;
  return ops
    .filter((o) => o.type === 'split' && JSON.stringify(o.attrs.sections) === '[1,32]')
    .map((s) => ops.find((o) => o.type === 'elementwise_add' && o.outputs.Out[0] === s.inputs.X[0])?.inputs.Y[0])
    .filter((n): n is string => !!n);
}

function* weights(spec: Spec, program: PaddleProgram): Generator<ParamTensor> {
  const overrides = new Map<string, number[]>();
  if (spec.name === 'PP-ShiTuV2_det') {
    overrides.set(DET_PROJECTION, [0, 1, 2, 3, 4, 5, 6, 7]);
    const biases = detClassBiases(program);
    if (biases.length !== LEVEL_CLASS_BIAS.length) throw new Error(`detector program: ${biases.length} head levels, expected ${LEVEL_CLASS_BIAS.length}`);
    biases.forEach((b, i) => overrides.set(b, [LEVEL_CLASS_BIAS[i]]));
  }
  for (const p of seededParams(program, SEED)) {
    const v = overrides.get(p.name);
    if (!v) {
      yield p;
      continue;
    }
    // A class bias keeps its 32 seeded box entries; only entry 0 (the class logit) is set.
    const data = Buffer.from(p.data);
    v.forEach((x, i) => data.writeFloatLE(x, i * 4));
    yield { ...p, data };
  }
}

function convertInChild(dir: string, output: string, inputShapes: Record<string, number[]>): Omit<Conversion, 'weightBytes'> & { bytes: number; counts: GraphCounts } {
  const r = spawnSync(process.execPath, [DIST_CHILD, dir, output, JSON.stringify(inputShapes)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  let out: { error?: string } & ReturnType<typeof convertInChild>;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    throw new Error(`converting ${dir}: the child printed ${JSON.stringify(r.stdout)} (status ${r.status})`);
  }
  if (out.error) throw new Error(`converting ${dir}: ${out.error}`);
  return out;
}

async function build(spec: Spec): Promise<ProgramModelInfo> {
  const srcDir = path.join(PROGRAMS_DIR, spec.program);
  const pdmodel = path.join(srcDir, 'inference.pdmodel');
  const programSha256 = sha256(pdmodel);
  const paddleDir = path.join(MODELS_DIR, 'paddle', spec.name);
  fs.rmSync(paddleDir, { recursive: true, force: true });
  fs.mkdirSync(paddleDir, { recursive: true });
  fs.copyFileSync(pdmodel, path.join(paddleDir, 'inference.pdmodel'));
  const program = await readPdmodel(pdmodel);
  const pdiparams = path.join(paddleDir, 'inference.pdiparams');
  await writeParams(pdiparams, weights(spec, program));
  const outDir = path.join(MODELS_DIR, spec.name);
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'inference.onnx');
  const c = convertInChild(paddleDir, file, spec.inputShapes);
  return {
    name: spec.name,
    program: path.relative(SHARED, srcDir),
    programSha256,
    paddleDir,
    file,
    bytes: c.bytes,
    paddleParams: programParams(program),
    counts: c.counts,
    inputShapes: spec.inputShapes,
    conversion: { ms: c.ms, baseRssMiB: c.baseRssMiB, peakRssMiB: c.peakRssMiB, weightBytes: fs.statSync(pdiparams).size },
    publishedMB: spec.publishedMB,
    architecture: spec.architecture,
  };
}

function writeConfig(config: string): void {
  fs.writeFileSync(config, [
    `# ${PROGRAM_LABEL}. Generated by bench/models/generate.ts.`,
    'pipeline_name: PP-ShiTuV2',
    'index: null',
    'det_threshold: 0.5',
    'rec_threshold: 0.5',
    'rec_topk: 5',
    'SubModules:',
    '  Detection:',
    '    module_name: object_detection',
    '    model_name: PP-ShiTuV2_det',
    '    model_dir: ./PP-ShiTuV2_det',
    '    batch_size: 1',
    '  Recognition:',
    '    module_name: image_feature',
    '    model_name: PP-ShiTuV2_rec',
    '    model_dir: ./PP-ShiTuV2_rec',
    '    batch_size: 8',
    '',
  ].join('\n'));
}

/** Converts a cached model's Paddle dir again into a scratch file: this run's conversion time and peak RSS. */
function remeasure(m: ProgramModelInfo): ProgramModelInfo {
  const scratch = path.join(MODELS_DIR, `${m.name}.remeasure.onnx`);
  try {
    const c = convertInChild(m.paddleDir, scratch, m.inputShapes);
    return { ...m, conversion: { ...m.conversion, ms: c.ms, baseRssMiB: c.baseRssMiB, peakRssMiB: c.peakRssMiB } };
  } finally {
    fs.rmSync(scratch, { force: true });
  }
}

/**
 * The converted models, built unless the cache matches the programs, the
 * converter and the recipe. With `measure`, a cached model is converted once
 * more (into a scratch file) so that the conversion figures are this run's.
 */
export async function ensureProgramModels(o: { measure?: boolean } = {}): Promise<ProgramModels> {
  for (const s of SPECS) {
    if (!fs.existsSync(path.join(PROGRAMS_DIR, s.program, 'inference.pdmodel'))) throw new Error(`the PP-ShiTuV2 program ${s.program} is not in ${PROGRAMS_DIR} (set SHITU_SHARED_DIR)`);
  }
  const convHash = converterHash();
  const key = crypto.createHash('sha256')
    .update(JSON.stringify({ recipe: RECIPE, seed: SEED, bias: LEVEL_CLASS_BIAS, programs: SPECS.map((s) => sha256(path.join(PROGRAMS_DIR, s.program, 'inference.pdmodel'))), converter: convHash }))
    .digest('hex');
  const infoFile = path.join(MODELS_DIR, 'models.json');
  if (fs.existsSync(infoFile)) {
    const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as ProgramModels;
    if (info.key === key && [info.det, info.rec].every((m) => m && fs.existsSync(m.file) && fs.existsSync(path.join(m.paddleDir ?? '', 'inference.pdiparams'))) && fs.existsSync(info.config)) {
      return o.measure ? { ...info, det: remeasure(info.det), rec: remeasure(info.rec) } : info;
    }
  }
  fs.mkdirSync(MODELS_DIR, { recursive: true });
  const det = await build(SPECS[0]);
  const rec = await build(SPECS[1]);
  const config = path.join(MODELS_DIR, 'pp-shituv2-programs.yaml');
  writeConfig(config);
  const info: ProgramModels = { key, label: PROGRAM_LABEL, config, seed: SEED, det, rec };
  fs.writeFileSync(infoFile, JSON.stringify(info, null, 2) + '\n');
  return info;
}

if (require.main === module) {
  ensureProgramModels().then((i) => console.log(JSON.stringify(i, null, 2)), (e) => {
    console.error(e);
    process.exitCode = 1;
  });
}

// Finding a model (directory + ONNX file + card) and loading it into native
// Detector / FeatureExtractor objects.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { callNative, callNativeSync, ShituError } from '../errors';
import { ModelCard, parseCard, parseInferenceYml, PreprocessCard } from './card';
import type { NativeDetector, NativeFeatureExtractor, NativeModel } from '../native/binding';
import { optimizedModel } from '../onnx/graph-pass/cache';
import { native } from '../native/loader';
import { packageRoot } from '../util/package-root';
import { DET_THRESHOLD } from '../limits';

/** Where named models live: $SHITU_MODEL_HOME, else ~/.shitu/models. */
export function modelHome(): string {
  return process.env.SHITU_MODEL_HOME || path.join(os.homedir(), '.shitu', 'models');
}

/** This package's own model cards (models/*.yaml). */
function projectCardsDir(): string {
  return path.join(packageRoot(), 'models');
}

export interface ResolvedModel {
  name: string;
  dir: string;
  onnxFile: string;
  card: ModelCard;
}

export interface ModelRef {
  modelName: string;
  modelDir?: string | null;
  task: 'detection' | 'feature';
}

function readCard(ref: ModelRef, dir: string): ModelCard {
  const own = path.join(dir, 'card.yaml');
  if (fs.existsSync(own)) return parseCard(own, fs.readFileSync(own, 'utf8'));
  for (const f of ['inference.yml', 'inference.yaml']) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) {
      const card = parseInferenceYml(p, fs.readFileSync(p, 'utf8'), ref.task);
      // Our card for the same model fills in what inference.yml doesn't say (output names, contract).
      const projectCard = path.join(projectCardsDir(), `${ref.modelName}.yaml`);
      if (fs.existsSync(projectCard)) {
        const base = parseCard(projectCard, fs.readFileSync(projectCard, 'utf8'));
        card.detection = base.detection ? { ...base.detection, ...stripUndefined(card.detection ?? {}) } : card.detection;
        card.feature = base.feature ? { ...base.feature, ...stripUndefined(card.feature ?? {}) } : card.feature;
        card.modelFile = base.modelFile;
      }
      return card;
    }
  }
  const projectCard = path.join(projectCardsDir(), `${ref.modelName}.yaml`);
  if (fs.existsSync(projectCard)) return parseCard(projectCard, fs.readFileSync(projectCard, 'utf8'));
  throw new ShituError(
    'ERR_MODEL_CONTRACT',
    `no model card for '${ref.modelName}': ${dir} has no card.yaml or inference.yml and ${projectCard} does not exist`,
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function resolveModel(ref: ModelRef): ResolvedModel {
  let dir = ref.modelDir ? path.resolve(ref.modelDir) : path.join(modelHome(), ref.modelName);
  let onnxFile: string | undefined;
  if (dir.endsWith('.onnx')) {
    onnxFile = dir;
    dir = path.dirname(dir);
  }
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ShituError(
      'ERR_MODEL_NOT_FOUND',
      ref.modelDir
        ? `model directory not found: ${dir}`
        : `model '${ref.modelName}' is not installed under ${modelHome()} (set SHITU_MODEL_HOME, give model_dir, or run: shitu models fetch ${ref.modelName})`,
    );
  }
  const card = readCard(ref, dir);
  if (!onnxFile) {
    const named = card.modelFile ? path.resolve(dir, path.basename(card.modelFile)) : undefined;
    const candidates = [named, path.join(dir, 'inference.onnx'), path.join(dir, 'model.onnx')].filter(
      (p): p is string => !!p && fs.existsSync(p),
    );
    if (candidates.length) onnxFile = candidates[0];
    else {
      const all = fs.readdirSync(dir).filter((f) => f.endsWith('.onnx'));
      if (all.length === 1) onnxFile = path.join(dir, all[0]);
      else
        throw new ShituError(
          'ERR_MODEL_NOT_FOUND',
          all.length === 0
            ? `no .onnx file in ${dir}`
            : `${dir} holds several .onnx files (${all.join(', ')}); name one with model_file in the card`,
        );
    }
  }
  return { name: ref.modelName, dir, onnxFile, card };
}

export interface SessionOptions {
  device?: string;
  intraOpThreads?: number;
  graphOptimization?: 'disable' | 'basic' | 'extended' | 'all';
  tensorrt?: boolean;
  tensorrtCacheDir?: string;
  /** Let ONNX Runtime's pool threads busy-wait between runs (default off). */
  spinning?: boolean;
  /** Run on the process-wide intra-op pool (one thread per core) instead of a pool per session. */
  sharedThreadPool?: boolean;
  /** Rewrite the graph before the session is created (lib/onnx/graph-pass/; default true). */
  optimizeGraph?: boolean;
}

/**
 * Where graph-pass rewrites of a model are kept: under the model home, else
 * beside the model (a model home that cannot be created or written, e.g. a
 * read-only home directory in a container).
 */
export function graphCacheDirs(m: ResolvedModel): string[] {
  return [path.join(modelHome(), '.cache', 'graph-pass'), path.join(m.dir, '.shitu-cache', 'graph-pass')];
}

/** The ONNX Runtime session of a model: from the graph pass's rewrite, or from the file as it is. */
async function openSession(m: ResolvedModel, opts: SessionOptions): Promise<NativeModel> {
  const { optimizeGraph, ...sessionOpts } = opts;
  const rewritten = optimizeGraph === false ? null : optimizedModel(m.onnxFile, graphCacheDirs(m));
  // The rewrite already has no initializers among its inputs: native's own strip would only walk it again.
  if (rewritten) return callNative(() => native.loadModel(m.onnxFile, { ...sessionOpts, stripInitializerInputs: false }, rewritten.bytes));
  return callNative(() => native.loadModel(m.onnxFile, sessionOpts));
}

function preprocessSpec(p: PreprocessCard) {
  return { ...p };
}

export interface LoadedDetector {
  model: ResolvedModel;
  native: NativeDetector;
  labels?: string[];
}

export async function loadDetector(m: ResolvedModel, opts: SessionOptions, threshold?: number): Promise<LoadedDetector> {
  if (m.card.task !== 'detection') throw new ShituError('ERR_MODEL_CONTRACT', `model '${m.name}' is a ${m.card.task} model, not a detector`);
  const session = await openSession(m, opts);
  const d = m.card.detection ?? { contract: 'auto' };
  const spec = {
    preprocess: preprocessSpec(m.card.preprocess),
    contract: d.contract,
    strides: d.strides,
    regMax: d.regMax,
    nmsIou: d.nmsIou,
    maxDetections: d.maxDetections,
    boxesOutput: d.boxesOutput,
    countOutput: d.countOutput,
    threshold: threshold ?? d.threshold ?? DET_THRESHOLD.default,
    wholeImageFallback: true,
  };
  const det = callNativeSync(() => native.createDetector(session, spec));
  return { model: m, native: det, labels: d.labels };
}

export interface LoadedExtractor {
  model: ResolvedModel;
  native: NativeFeatureExtractor;
  dim: number;
}

export async function loadExtractor(m: ResolvedModel, opts: SessionOptions, batchSize?: number): Promise<LoadedExtractor> {
  if (m.card.task !== 'feature') throw new ShituError('ERR_MODEL_CONTRACT', `model '${m.name}' is a ${m.card.task} model, not a feature model`);
  const session = await openSession(m, opts);
  const f = m.card.feature ?? {};
  const spec = {
    preprocess: preprocessSpec(m.card.preprocess),
    inputName: f.input,
    outputName: f.output,
    maxBatch: f.maxBatch ?? Math.max(batchSize ?? 0, 32),
  };
  const ex = callNativeSync(() => native.createFeatureExtractor(session, spec));
  return { model: m, native: ex, dim: ex.dim };
}

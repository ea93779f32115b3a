// A model card: what a model expects and returns, read from the model's
// directory (PaddleX/PaddleClas/PaddleDetection `inference.yml`, or our own
// `card.yaml`) or from this project's `models/<name>.yaml`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { ShituError } from '../errors';
import type { Static } from '@sinclair/typebox';
import { CardFile, checkCard, INTERPOLATIONS, Preprocess } from './card-schema';

export type Interpolation = (typeof INTERPOLATIONS)[number];

/** The resolved pre-processing (its one definition is card-schema.ts's Preprocess; width/height 0: from the model's input shape). */
export type PreprocessCard = Static<typeof Preprocess>;

export interface DetectionCard {
  contract: 'auto' | 'nms' | 'gfl';
  strides?: number[];
  regMax?: number;
  nmsIou?: number;
  maxDetections?: number;
  threshold?: number;
  labels?: string[];
  boxesOutput?: string;
  countOutput?: string;
}

export interface FeatureCard {
  output?: string;
  input?: string;
  maxBatch?: number;
}

export interface ModelCard {
  name: string;
  task: 'detection' | 'feature';
  /** The ONNX file, absolute (resolved against the card's directory or the model dir). */
  modelFile?: string;
  source?: string;
  preprocess: PreprocessCard;
  detection?: DetectionCard;
  feature?: FeatureCard;
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export function defaultPreprocess(task: 'detection' | 'feature'): PreprocessCard {
  return {
    width: 0,
    height: 0,
    keepRatio: false,
    interpolation: task === 'detection' ? 'cubic' : 'linear',
    scale: 1 / 255,
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    channelOrder: 'rgb',
  };
}

function bad(file: string, what: string): never {
  throw new ShituError('ERR_MODEL_CARD', `model card ${file}: ${what}`);
}

function triple(file: string, key: string, v: unknown): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number'))
    bad(file, `${key} must be 3 numbers`);
  return v as [number, number, number];
}

const CV_INTERP: Record<number, Interpolation> = { 0: 'nearest', 1: 'linear', 2: 'cubic', 3: 'area', 4: 'lanczos' };

function interp(v: unknown, fallback: Interpolation): Interpolation {
  if (typeof v === 'number') return CV_INTERP[v] ?? fallback;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s.includes('cubic')) return 'cubic';
    if (s.includes('linear')) return 'linear';
    if (s.includes('area')) return 'area';
    if (s.includes('nearest')) return 'nearest';
    if (s.includes('lanczos')) return 'lanczos';
  }
  return fallback;
}

/** Our own card format (models/*.yaml, or card.yaml in a model directory). */
export function parseCard(file: string, text: string): ModelCard {
  const doc = parseYaml(file, text);
  checkCard(CardFile, doc, file);
  const task = doc.task;
  const pre = defaultPreprocess(task);
  const p = doc.preprocess ?? {};
  if (p.resize) {
    pre.width = Number(p.resize.width ?? 0);
    pre.height = Number(p.resize.height ?? 0);
    pre.keepRatio = Boolean(p.resize.keep_ratio ?? false);
    pre.interpolation = interp(p.resize.interpolation, pre.interpolation);
  }
  if (p.scale !== undefined) pre.scale = Number(p.scale);
  if (p.mean !== undefined) pre.mean = triple(file, 'preprocess.mean', p.mean);
  if (p.std !== undefined) pre.std = triple(file, 'preprocess.std', p.std);
  if (p.channel_order !== undefined) {
    if (p.channel_order !== 'rgb' && p.channel_order !== 'bgr') bad(file, 'preprocess.channel_order must be rgb or bgr');
    pre.channelOrder = p.channel_order;
  }
  const card: ModelCard = { name: String(doc.name ?? path.basename(file, path.extname(file))), task, preprocess: pre, source: doc.source };
  const dir = path.dirname(file);
  if (typeof doc.model_file === 'string') card.modelFile = path.resolve(dir, doc.model_file);
  if (task === 'detection') {
    const d = doc.detection ?? {};
    card.detection = {
      contract: d.contract ?? 'auto',
      strides: d.strides,
      regMax: d.reg_max,
      nmsIou: d.nms_iou,
      maxDetections: d.max_detections,
      threshold: d.threshold,
      boxesOutput: d.boxes_output,
      countOutput: d.count_output,
    };
    if (typeof d.labels_file === 'string') {
      const lf = path.resolve(dir, d.labels_file);
      if (fs.existsSync(lf)) card.detection.labels = fs.readFileSync(lf, 'utf8').split(/\r?\n/).filter((l) => l.trim());
    } else if (Array.isArray(d.labels)) card.detection.labels = d.labels.map(String);
  } else {
    const f = doc.feature ?? {};
    card.feature = { output: f.output, input: f.input, maxBatch: f.max_batch };
  }
  checkCard(Preprocess, card.preprocess, file, 'preprocess.');
  return card;
}

/**
 * A mapping of a foreign inference.yml: its shape is the exporter's, not ours, so
 * it is read field by field with explicit conversions, and the card it gives is
 * checked by checkCard before use. The one `any` of lib/, on purpose.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type YamlMap = Record<string, any>;

function parseYaml(file: string, text: string): YamlMap {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    bad(file, `not valid YAML: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) bad(file, 'not a YAML mapping');
  return doc as YamlMap;
}

/**
 * The reference's `inference.yml` (PaddleX / PaddleDetection / PaddleClas
 * exports): pre-processing ops and, for detectors, thresholds.
 */
export function parseInferenceYml(file: string, text: string, task: 'detection' | 'feature'): ModelCard {
  const doc = parseYaml(file, text);
  const pre = defaultPreprocess(task);
  // PaddleDetection: Preprocess: [{type: Resize, ...}]; PaddleClas/PaddleX: PreProcess.transform_ops: [{ResizeImage: {...}}]
  const ops: Array<{ type: string; args: YamlMap }> = [];
  for (const op of doc.Preprocess ?? []) if (op && typeof op === 'object') ops.push({ type: String(op.type), args: op });
  for (const op of doc.PreProcess?.transform_ops ?? []) {
    if (op && typeof op === 'object') for (const [k, v] of Object.entries(op)) ops.push({ type: k, args: (v ?? {}) as YamlMap });
  }
  for (const { type, args } of ops) {
    if (type === 'Resize' || type === 'DetResize' || type === 'ResizeImage') {
      const size = args.target_size ?? args.size;
      if (Array.isArray(size)) {
        // Detection target_size is [h, w]; PaddleClas size is [w, h].
        const [a, b] = size.map(Number);
        if (type === 'ResizeImage') { pre.width = a; pre.height = b; } else { pre.height = a; pre.width = b; }
      } else if (typeof size === 'number') {
        pre.width = pre.height = size;
      }
      if (args.keep_ratio !== undefined) pre.keepRatio = Boolean(args.keep_ratio);
      pre.interpolation = interp(args.interp ?? args.interpolation, pre.interpolation);
    } else if (type === 'NormalizeImage') {
      if (args.mean) pre.mean = triple(file, 'NormalizeImage.mean', args.mean);
      if (args.std) pre.std = triple(file, 'NormalizeImage.std', args.std);
      if (args.is_scale === false) pre.scale = 1;
      if (typeof args.scale === 'number') pre.scale = args.scale;
      else if (typeof args.scale === 'string') {
        const m = /^\s*1(?:\.0*)?\s*\/\s*([\d.]+)\s*$/.exec(args.scale);
        pre.scale = m ? 1 / Number(m[1]) : Number(args.scale);
      }
    }
  }
  const name = String(doc.Global?.model_name ?? doc.arch ?? path.basename(path.dirname(file)));
  const card: ModelCard = { name, task, preprocess: pre };
  if (task === 'detection') {
    card.detection = { contract: 'auto', threshold: typeof doc.draw_threshold === 'number' ? doc.draw_threshold : undefined };
    if (Array.isArray(doc.label_list)) card.detection.labels = doc.label_list.map(String);
  } else {
    card.feature = {};
  }
  // What the ops gave, checked before it reaches the native readers (e.g. target_size: [abc, 640] would be NaN).
  checkCard(Preprocess, card.preprocess, file, 'pre-processing read from its ops: ');
  return card;
}

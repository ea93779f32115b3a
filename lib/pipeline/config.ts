// The pipeline configuration (PP-ShiTuV2.yaml): the reference's keys and
// defaults, snake_case in YAML, validated against one TypeBox schema (limits
// from lib/limits.ts) with the failing key's path named.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import YAML from 'yaml';
import { ShituError } from '../errors';
import { BATCH_SIZE, DET_THRESHOLD, REC_THRESHOLD, TOPK } from '../limits';
import { describeValue, pointerToKey } from '../util/json-path';

// The reference writes None for "no value".
const NullableString = Type.Union([Type.String(), Type.Null()]);
const SubModuleFile = Type.Object({
  module_name: Type.Optional(Type.String()),
  model_name: Type.Optional(Type.String({ minLength: 1 })),
  model_dir: Type.Optional(NullableString),
  batch_size: Type.Optional(Type.Integer({ minimum: BATCH_SIZE.min, maximum: BATCH_SIZE.max })),
}, { additionalProperties: false });

/** The config file as written (every key optional: defaults fill the rest). */
export const PipelineConfigFile = Type.Object({
  pipeline_name: Type.Optional(Type.Literal('PP-ShiTuV2')),
  index: Type.Optional(NullableString),
  det_threshold: Type.Optional(Type.Number({ minimum: DET_THRESHOLD.min, maximum: DET_THRESHOLD.max })),
  rec_threshold: Type.Optional(Type.Number({ minimum: REC_THRESHOLD.min, maximum: REC_THRESHOLD.max })),
  rec_topk: Type.Optional(Type.Integer({ minimum: TOPK.min, maximum: TOPK.max })),
  SubModules: Type.Optional(Type.Object({
    Detection: Type.Optional(SubModuleFile),
    Recognition: Type.Optional(SubModuleFile),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export interface SubModuleConfig {
  module_name?: string;
  model_name: string;
  model_dir: string | null;
  batch_size: number;
}

export interface PipelineConfig {
  pipeline_name: 'PP-ShiTuV2';
  index: string | null;
  det_threshold: number;
  rec_threshold: number;
  rec_topk: number;
  SubModules: { Detection: SubModuleConfig; Recognition: SubModuleConfig };
}

export const DEFAULT_CONFIG: PipelineConfig = {
  pipeline_name: 'PP-ShiTuV2',
  index: null,
  det_threshold: DET_THRESHOLD.default,
  rec_threshold: REC_THRESHOLD.default,
  rec_topk: TOPK.default,
  SubModules: {
    Detection: { module_name: 'text_detection', model_name: 'PP-ShiTuV2_det', model_dir: null, batch_size: BATCH_SIZE.default },
    Recognition: { module_name: 'text_recognition', model_name: 'PP-ShiTuV2_rec', model_dir: null, batch_size: BATCH_SIZE.default },
  },
};

function fail(where: string, what: string): never {
  throw new ShituError('ERR_CONFIG', `config ${where}: ${what}`);
}

function checkKeys(where: string, o: Record<string, unknown>, allowed: string[]) {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}${k}`, `unknown key (allowed: ${allowed.join(', ')})`);
}

function num(where: string, v: unknown, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `must be a number, got ${JSON.stringify(v)}`);
  if (integer && !Number.isInteger(v)) fail(where, `must be an integer, got ${v}`);
  if (v < min || v > max) fail(where, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

function strOrNull(where: string, v: unknown): string | null {
  if (v === null || v === undefined || v === 'None') return null; // the reference writes None
  if (typeof v !== 'string') fail(where, `must be a string or null, got ${JSON.stringify(v)}`);
  return v;
}

/** `${VAR}` and `${VAR:-default}` from the environment. */
function expandEnv(s: string): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, def?: string) => process.env[name] || def || '');
}

function subModule(where: string, v: unknown, def: SubModuleConfig, baseDir: string): SubModuleConfig {
  if (v === undefined) return { ...def };
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(where, 'must be a mapping');
  const o = v as Record<string, unknown>;
  checkKeys(`${where}.`, o, ['module_name', 'model_name', 'model_dir', 'batch_size']);
  const out: SubModuleConfig = { ...def };
  if (o.module_name !== undefined) {
    if (typeof o.module_name !== 'string') fail(`${where}.module_name`, 'must be a string');
    out.module_name = o.module_name;
  }
  if (o.model_name !== undefined) {
    if (typeof o.model_name !== 'string' || !o.model_name) fail(`${where}.model_name`, 'must be a non-empty string');
    out.model_name = o.model_name;
  }
  if (o.model_dir !== undefined) {
    const d = strOrNull(`${where}.model_dir`, o.model_dir);
    out.model_dir = d === null ? null : path.resolve(baseDir, expandEnv(d));
  }
  if (o.batch_size !== undefined) out.batch_size = num(`${where}.batch_size`, o.batch_size, BATCH_SIZE.min, BATCH_SIZE.max, true);
  return out;
}

/** Validates a parsed config object; relative paths resolve against baseDir. */
export function validateConfig(raw: unknown, baseDir = process.cwd()): PipelineConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('(root)', 'must be a mapping');
  const first = Value.Errors(PipelineConfigFile, raw).First();
  if (first) {
    const what = first.message === 'Unexpected property' ? 'unknown key' : first.message.toLowerCase();
    fail(pointerToKey(first.path), `${what}, got ${describeValue(first.value)}`);
  }
  const o = raw as Record<string, unknown>;
  checkKeys('', o, ['pipeline_name', 'index', 'det_threshold', 'rec_threshold', 'rec_topk', 'SubModules']);
  const c: PipelineConfig = JSON.parse(JSON.stringify(DEFAULT_CONFIG));
  if (o.pipeline_name !== undefined && o.pipeline_name !== 'PP-ShiTuV2')
    fail('pipeline_name', `must be "PP-ShiTuV2", got ${JSON.stringify(o.pipeline_name)}`);
  if (o.index !== undefined) {
    const idx = strOrNull('index', o.index);
    c.index = idx === null ? null : path.resolve(baseDir, expandEnv(idx));
  }
  if (o.det_threshold !== undefined) c.det_threshold = num('det_threshold', o.det_threshold, DET_THRESHOLD.min, DET_THRESHOLD.max);
  if (o.rec_threshold !== undefined) c.rec_threshold = num('rec_threshold', o.rec_threshold, REC_THRESHOLD.min, REC_THRESHOLD.max);
  if (o.rec_topk !== undefined) c.rec_topk = num('rec_topk', o.rec_topk, TOPK.min, TOPK.max, true);
  if (o.SubModules !== undefined) {
    if (!o.SubModules || typeof o.SubModules !== 'object') fail('SubModules', 'must be a mapping');
    const s = o.SubModules as Record<string, unknown>;
    checkKeys('SubModules.', s, ['Detection', 'Recognition']);
    c.SubModules.Detection = subModule('SubModules.Detection', s.Detection, DEFAULT_CONFIG.SubModules.Detection, baseDir);
    c.SubModules.Recognition = subModule('SubModules.Recognition', s.Recognition, DEFAULT_CONFIG.SubModules.Recognition, baseDir);
  }
  return c;
}

/** 'PP-ShiTuV2' (the defaults) or a YAML file path. */
export function loadPipelineConfig(nameOrPath: string): PipelineConfig {
  if (nameOrPath === 'PP-ShiTuV2') return JSON.parse(JSON.stringify(DEFAULT_CONFIG));
  if (!fs.existsSync(nameOrPath)) throw new ShituError('ERR_CONFIG', `config file not found: ${nameOrPath} (or use the name "PP-ShiTuV2")`);
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(nameOrPath, 'utf8'));
  } catch (e) {
    throw new ShituError('ERR_CONFIG', `config ${nameOrPath} is not valid YAML: ${(e as Error).message}`);
  }
  return validateConfig(raw, path.dirname(path.resolve(nameOrPath)));
}

/** Writes the named pipeline's default config as YAML (like the reference's get_pipeline_config). */
export function getPipelineConfig(name: string, savePath?: string): PipelineConfig {
  const c = loadPipelineConfig(name);
  if (savePath) {
    const file = savePath.endsWith('.yaml') || savePath.endsWith('.yml') ? savePath : path.join(savePath, 'PP-ShiTuV2.yaml');
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, YAML.stringify(c));
  }
  return c;
}

// The pipeline configuration (PP-ShiTuV2.yaml): the reference's keys and
// defaults, snake_case in YAML, validated against one TypeBox schema (limits
// from lib/limits.ts) with the failing key's path named.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Static, Type } from '@sinclair/typebox';
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

/** `${VAR}` and `${VAR:-default}` from the environment. */
function expandEnv(s: string): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, def?: string) => process.env[name] || def || '');
}

/** A path key: null (or the reference's None) stays null, anything else resolves against baseDir. */
function pathOrNull(v: string | null, baseDir: string): string | null {
  return v === null || v === 'None' ? null : path.resolve(baseDir, expandEnv(v));
}

/**
 * Validates a parsed config object; relative paths resolve against baseDir.
 * The schema is the whole check (types, ranges, unknown keys); what follows
 * only lays the given keys over the defaults.
 */
export function validateConfig(raw: unknown, baseDir = process.cwd()): PipelineConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('(root)', 'must be a mapping');
  const first = Value.Errors(PipelineConfigFile, raw).First();
  if (first) {
    const what = first.message === 'Unexpected property' ? 'unknown key' : first.message.toLowerCase();
    fail(pointerToKey(first.path), `${what}, got ${describeValue(first.value)}`);
  }
  const o = raw as Static<typeof PipelineConfigFile>;
  const c: PipelineConfig = JSON.parse(JSON.stringify(DEFAULT_CONFIG));
  if (o.index !== undefined) c.index = pathOrNull(o.index, baseDir);
  if (o.det_threshold !== undefined) c.det_threshold = o.det_threshold;
  if (o.rec_threshold !== undefined) c.rec_threshold = o.rec_threshold;
  if (o.rec_topk !== undefined) c.rec_topk = o.rec_topk;
  for (const name of ['Detection', 'Recognition'] as const) {
    const given = o.SubModules?.[name];
    if (!given) continue;
    const sub = c.SubModules[name];
    if (given.module_name !== undefined) sub.module_name = given.module_name;
    if (given.model_name !== undefined) sub.model_name = given.model_name;
    if (given.model_dir !== undefined) sub.model_dir = pathOrNull(given.model_dir, baseDir);
    if (given.batch_size !== undefined) sub.batch_size = given.batch_size;
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

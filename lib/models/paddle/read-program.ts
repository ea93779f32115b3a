// A Paddle inference model directory -> its program, its weights index and its
// pre-processing config. The file names are the ones PaddlePaddle's exporters
// write: `inference.pdmodel` (PaddleClas / PaddleDetection / PaddleOCR 2.x),
// `model.pdmodel` (PaddleSeg), `inference.json` (PIR, PaddleX 3 / Paddle 3),
// each beside a `.pdiparams` of the same stem; the config is `inference.yml`
// (PaddleX 3, PaddleClas) or `infer_cfg.yml` (PaddleDetection).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ShituError } from '../../errors';
import { readPdmodel } from './read-pdmodel';
import { readPir } from './read-pir';
import { openParams } from './params';
import type { PaddleProgram, ParamTable } from './program';

/** Program files looked for, in this order (a legacy program wins when an archive ships both). */
export const PROGRAM_FILES = ['inference.pdmodel', 'model.pdmodel', 'inference.json'] as const;
/** Pre-processing configs looked for, in this order. */
export const CONFIG_FILES = ['inference.yml', 'infer_cfg.yml'] as const;

export interface PaddleModelDir {
  program: PaddleProgram;
  /** Open on the weights file: close() it when done. */
  params: ParamTable;
  programFile: string;
  /** The archive's pre-processing config, when it has one. */
  configFile?: string;
}

/** Reads the Paddle model in `dir` (ERR_MODEL_NOT_FOUND naming what was looked for; ERR_MODEL_INVALID for broken files). */
export async function readPaddleModelDir(dir: string): Promise<PaddleModelDir> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    throw new ShituError('ERR_MODEL_NOT_FOUND', `${dir}: cannot read the Paddle model directory (${(e as Error).message})`, { cause: e });
  }
  const has = new Set(entries);
  const programName = PROGRAM_FILES.find((f) => has.has(f));
  const stem = programName?.replace(/\.(pdmodel|json)$/, '');
  const allParams = entries.filter((f) => f.endsWith('.pdiparams'));
  const paramsName = stem !== undefined && has.has(`${stem}.pdiparams`) ? `${stem}.pdiparams` : allParams.length === 1 ? allParams[0] : undefined;
  if (programName === undefined || paramsName === undefined) {
    throw new ShituError(
      'ERR_MODEL_NOT_FOUND',
      `${dir}: no Paddle inference model: looked for a program (${PROGRAM_FILES.join(', ')}) beside its weights (<same name>.pdiparams, or the only *.pdiparams); found ${
        programName ?? 'no program'
      } and ${allParams.length === 0 ? 'no .pdiparams' : allParams.join(', ')}`,
    );
  }
  const programFile = join(dir, programName);
  const program = programName.endsWith('.json') ? await readPir(programFile) : await readPdmodel(programFile);
  const params = await openParams(join(dir, paramsName), program);
  const config = CONFIG_FILES.find((f) => has.has(f));
  return { program, params, programFile, ...(config !== undefined ? { configFile: join(dir, config) } : {}) };
}

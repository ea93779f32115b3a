// The per-stage milliseconds of one recognition as a Server-Timing header
// (W3C Server Timing): the JSON body keeps the reference's shape, and a browser
// or any client reads the stages from the header.
import type { StageTimings } from '../pipeline/result';
import { STAGE_NAMES, StageName } from '../native/stage-names';

// Keyed by STAGE_NAMES, so a stage added there cannot be left out here.
const DESCRIPTIONS: Record<StageName | 'wall', string> = {
  decode: 'decode',
  detPreprocess: 'detection pre-processing',
  detInference: 'detection inference',
  detPostprocess: 'detection post-processing',
  recPreprocess: 'recognition pre-processing',
  recInference: 'recognition inference',
  recBatchWait: 'recognition batch wait',
  search: 'vector search',
  total: 'native total',
  wall: 'pipeline wall time',
};
const STAGES = [...STAGE_NAMES, 'wall' as const].map((k) => [k, DESCRIPTIONS[k]] as const);

export function serverTiming(t: StageTimings): string {
  return STAGES.filter(([k]) => Number.isFinite(t[k]))
    .map(([k, desc]) => `${k};dur=${t[k].toFixed(2)};desc="${desc}"`)
    .join(', ');
}

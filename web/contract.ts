// The page's enums and limits come from the library's own definitions, bundled
// in at build time (scripts/build-web.js: esbuild follows these imports), not
// written a second time in index.html: the index types and metrics the service
// accepts, its default shape, and the ranges of the query settings. Both
// imported modules are plain data with no Node.js imports.
import { DET_THRESHOLD, EVAL, REC_THRESHOLD, TOPK } from '../lib/limits';
import { INDEX_TYPES, METRIC_TYPES, SERVICE_INDEX_SHAPE } from '../lib/vector-index/index-types';
import { byId } from './dom';

const METRIC_NAMES: Record<string, string> = { IP: 'IP (inner product)', L2: 'L2 (squared distance)' };

function range(id: string, r: { min: number; max: number; default: number }, o: { minAbove?: boolean } = {}): void {
  const input = byId<HTMLInputElement>(id);
  // An exclusive minimum (targetPrecision) cannot be typed as min=; its step is the smallest allowed.
  input.min = String(o.minAbove ? r.min + Number(input.step || '0.01') : r.min);
  input.max = String(r.max);
  input.value = String(r.default);
}

function options(id: string, values: readonly string[], selected: string, label: (v: string) => string = (v) => v): void {
  const select = byId<HTMLSelectElement>(id);
  select.replaceChildren(...values.map((v) => {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = label(v);
    o.selected = v === selected;
    return o;
  }));
}

/** Fills the controls whose choices and ranges the service defines; call before any view reads them. */
export function applyContract(): void {
  range('det-threshold', DET_THRESHOLD);
  range('topk', TOPK);
  range('eval-target', EVAL.targetPrecision, { minAbove: true });
  byId<HTMLInputElement>('rec-threshold').value = String(REC_THRESHOLD.default); // any number: its range depends on the metric
  options('index-type', INDEX_TYPES, SERVICE_INDEX_SHAPE.indexType);
  options('metric-type', METRIC_TYPES, SERVICE_INDEX_SHAPE.metricType, (m) => METRIC_NAMES[m] ?? m);
}

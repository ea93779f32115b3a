// An index that searches somewhere other than this process's FAISS (e.g. in
// PostgreSQL with pgvector): predict() then takes the features out of the
// native recognition and asks the searcher for the neighbours of each box.
import type { MetricType, SearchHit } from './index-data';

export interface IndexSearcher {
  readonly dim: number;
  readonly metricType: MetricType;
  /** k nearest entries for each of the nq query vectors (nq*dim values), FAISS's score conventions. */
  search(queries: Float32Array, k: number): Promise<SearchHit[][]>;
}

export function isIndexSearcher(x: unknown): x is IndexSearcher {
  return typeof x === 'object' && x !== null && typeof (x as IndexSearcher).search === 'function' && typeof (x as IndexSearcher).dim === 'number'
    && !('native' in x);
}

/** Whether a top-1 score passes rec_threshold, following the metric's direction. */
export function passesThreshold(metric: MetricType, score: number, threshold: number): boolean {
  return metric === 'L2' ? score <= threshold : score >= threshold;
}

// Retrieval metrics with PaddleClas's definitions (ppcls/metric/metrics.py,
// PaddlePaddle/PaddleClas, classes Recallk and mAP):
//  - Recall@k (Recallk): the share of queries whose k best gallery entries hold
//    at least one entry of the query's label. PaddleClas divides by
//    `real_query_num`, the queries that have a relevant entry in the gallery at
//    all; here that is the known queries (label present in the gallery).
//  - mAP (class mAP): per query, AP = sum_i(rel_i * P@i) / sum_i(rel_i) over the
//    ranked list, P@i = relevant entries among the first i / i; queries with no
//    relevant entry in the list are left out (its `num_rel > 0` filter) and the
//    rest averaged. PaddleClas ranks the whole gallery; a pipeline searches the
//    top-k only, so this is mAP@k: the same formula over the k entries searched.
//    A known query none of whose k entries is relevant counts AP 0 (the full
//    list would hold its relevant entry further down, where PaddleClas's AP is
//    small but not left out), so mAP@k never exceeds what misses deserve.
// Entries are gallery entries (not distinct labels), as in PaddleClas, where
// every gallery image is one row of the ranking.

/** A query's ranked gallery entries: whether each carries the query's label, best first. */
export type Relevance = readonly boolean[];

/** Recall@k over known queries (each a ranked relevance list); NaN when there is none. */
export function recallAtK(ranked: readonly Relevance[], k: number): number {
  if (!ranked.length) return NaN;
  let hit = 0;
  for (const r of ranked) if (r.slice(0, k).some(Boolean)) hit++;
  return hit / ranked.length;
}

/** PaddleClas's AP over one ranked list cut at k (0 when nothing relevant is in it). */
export function averagePrecision(ranked: Relevance, k: number): number {
  let rel = 0;
  let sum = 0;
  ranked.slice(0, k).forEach((r, i) => {
    if (!r) return;
    rel++;
    sum += rel / (i + 1);
  });
  return rel ? sum / rel : 0;
}

/** mAP@k over known queries; NaN when there is none. */
export function meanAveragePrecision(ranked: readonly Relevance[], k: number): number {
  if (!ranked.length) return NaN;
  return ranked.reduce((s, r) => s + averagePrecision(r, k), 0) / ranked.length;
}

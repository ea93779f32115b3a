// The index types and metrics a gallery index can have, and the defaults of
// each entry point: plain data, no Node.js imports, so the web page's bundle
// reads the same lists the library validates against (web/contract.ts) and
// test/native/contracts.test.ts can hold them against the native type table.
/**
 * The reference's three types, plus two compressed ones for large galleries
 * (bytes per 512-d vector, ids included: README "Compressed index types"):
 * HNSW32_SQ8 (HNSW32 over 8-bit scalar-quantised vectors), IVF_PQ (IVF over
 * 64-byte product-quantised codes) and IVF_PQ_RERANK (IVF_PQ whose candidates
 * are re-scored exactly against stored float vectors: full memory again).
 */
export type IndexType = 'HNSW32' | 'IVF' | 'Flat' | 'HNSW32_SQ8' | 'IVF_PQ' | 'IVF_PQ_RERANK';
export type MetricType = 'IP' | 'L2';
export const INDEX_TYPES: readonly IndexType[] = ['HNSW32', 'IVF', 'Flat', 'HNSW32_SQ8', 'IVF_PQ', 'IVF_PQ_RERANK'];
/** Types whose FAISS index cannot delete: removal hides ids (tombstones) until the next save compacts. */
export const TOMBSTONE_INDEX_TYPES: readonly string[] = ['HNSW32', 'HNSW32_SQ8', 'IVF_PQ_RERANK'];
export const METRIC_TYPES: readonly MetricType[] = ['IP', 'L2'];
/** What the library and the CLI build when not told (PaddleX's create_index defaults). */
export const DEFAULT_INDEX_SHAPE = { indexType: 'HNSW32', metricType: 'IP' } as const satisfies { indexType: IndexType; metricType: MetricType };
/** What the service builds when not told: PaddleX's serving always builds Flat + IP. */
export const SERVICE_INDEX_SHAPE = { indexType: 'Flat', metricType: 'IP' } as const satisfies { indexType: IndexType; metricType: MetricType };


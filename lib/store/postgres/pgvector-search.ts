// `search: pgvector`: nearest neighbours found by PostgreSQL itself, for
// galleries larger than a replica's memory. One partial expression index per
// gallery (the shared `vector` column has no fixed dimension; pgvector indexes
// `embedding::vector(dim)` restricted to the gallery's key). Scores follow
// FAISS's conventions so results read the same as the in-process search:
// IP = the inner product (pgvector's <#> is its negation), L2 = the squared
// distance (pgvector's <-> is the distance).
import { ShituError } from '../../errors';
import type { IndexType, MetricType, SearchHit } from '../../vector-index/index-data';
import { PGVECTOR_MAX_INDEXED_DIM, SqlClient } from './schema';

// pgvector's Node helpers (text form in and out), typed by its own declarations
// (behind its package "exports"). 0.2.1, the last CommonJS release: 0.3.0 is ESM
// only, which require() loads without a flag only from Node 20.19 and 22.12.
import { fromSql, toSql } from 'pgvector';

export interface PgSearchOptions {
  /** HNSW candidate list (hnsw.ef_search, default 40 = pgvector's default; at least k). */
  efSearch?: number;
  /** IVFFlat lists probed (ivfflat.probes, default 1 as FAISS's nprobe here). */
  nprobe?: number;
}

/** Bound on building a pgvector index (one hour). */
const INDEX_BUILD_TIMEOUT_MS = 3600_000;

const OPS: Record<MetricType, { op: string; opclass: string }> = {
  IP: { op: '<#>', opclass: 'vector_ip_ops' },
  L2: { op: '<->', opclass: 'vector_l2_ops' },
};

/** Keys are validated UUIDs: safe to name an index after and to inline (a literal lets the planner match the partial index). */
function ident(key: string): string {
  return `shitu_ann_${key.replace(/-/g, '')}`;
}

/**
 * The index pgvector searches: HNSW32 -> hnsw with pgvector's defaults (m 16,
 * ef_construction 64: pgvector refuses FAISS's M 32 / efConstruction 40, it
 * needs ef_construction >= 2 m), IVF -> ivfflat (sqrt(n) lists), Flat -> none (exact scan).
 * The compressed types map to their family (HNSW32_SQ8 -> hnsw, IVF_PQ and IVF_PQ_RERANK -> ivfflat): pgvector
 * keeps full vectors either way.
 */
export async function createAnnIndex(c: SqlClient, key: string, dim: number, indexType: IndexType | string, metric: MetricType, rows: number): Promise<void> {
  if (indexType === 'Flat') return;
  if (dim > PGVECTOR_MAX_INDEXED_DIM)
    throw new ShituError('ERR_INDEX_UNSUPPORTED', `search: pgvector indexes at most ${PGVECTOR_MAX_INDEXED_DIM} dimensions, this index has ${dim} (use Flat or search: faiss)`);
  const { opclass } = OPS[metric];
  const method = String(indexType).startsWith('IVF')
    ? `ivfflat ((embedding::vector(${dim})) ${opclass}) WITH (lists = ${Math.max(1, Math.round(Math.sqrt(Math.max(1, rows))))})`
    : `hnsw ((embedding::vector(${dim})) ${opclass}) WITH (m = 16, ef_construction = 64)`;
  // Building the graph of a large gallery takes minutes: not bound by the store's per-statement timeout.
  // (node-postgres reads query_timeout per query; its type declarations do not list it.)
  const build = { text: `CREATE INDEX IF NOT EXISTS ${ident(key)} ON shitu_vector USING ${method} WHERE index_key = '${key}'`, query_timeout: INDEX_BUILD_TIMEOUT_MS };
  await c.query(build);
  // Fresh statistics, or the planner may scan the table instead (measured in
  // bench/service/pgstore.ts, 200 000 rows of two galleries: exact results at 55-67 ms
  // per query without them, 2-3 ms through the HNSW index with them).
  await c.query({ text: 'ANALYZE shitu_vector', query_timeout: INDEX_BUILD_TIMEOUT_MS });
}

/** k nearest entries for each query, in one transaction (the search settings are local to it). */
export async function searchInDatabase(c: SqlClient, key: string, dim: number, metric: MetricType, queries: Float32Array, k: number,
                                       o: PgSearchOptions = {}): Promise<SearchHit[][]> {
  if (queries.length % dim !== 0)
    throw new ShituError('ERR_INDEX_DIM', `query length ${queries.length} is not a multiple of the index dimension ${dim}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const { op } = OPS[metric];
  const expr = `embedding::vector(${dim})`;
  const sql = `SELECT id, label, ${expr} ${op} $1::vector(${dim}) AS d FROM shitu_vector WHERE index_key = '${key}' ORDER BY ${expr} ${op} $1::vector(${dim}) LIMIT ${k}`;
  const out: SearchHit[][] = [];
  await c.query('BEGIN');
  try {
    await c.query(`SET LOCAL hnsw.ef_search = ${Math.max(k, o.efSearch ?? 40)}`);
    await c.query(`SET LOCAL ivfflat.probes = ${Math.max(1, o.nprobe ?? 1)}`);
    for (let q = 0; q < queries.length / dim; q++) {
      const v = queries.subarray(q * dim, (q + 1) * dim);
      const r = await c.query<{ id: string; label: string; d: number }>(sql, [vectorLiteral(v)]);
      out.push(r.rows.map((row) => ({
        id: Number(row.id),
        label: row.label,
        score: metric === 'IP' ? -row.d : row.d * row.d,
      })));
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return out;
}

/** pgvector's text form; float32 values widen to doubles exactly, so they round-trip bit for bit. */
export function vectorLiteral(v: Float32Array | number[]): string {
  return toSql(Array.from(v)) as string;
}

/** pgvector's text form back into floats. */
export function parseVector(text: string): number[] {
  return fromSql(text) as number[];
}

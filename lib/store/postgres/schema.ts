// The PostgreSQL store's tables, created on first connect (idempotent, under an
// advisory lock so that replicas starting together do not race on the DDL).
//   shitu_index   one row per index: shape, metric, next_id, version (the
//                 number of the last committed write), search mode, IVF centroids
//   shitu_vector  one row per gallery entry: id, label, pgvector embedding
//   shitu_change  one row per committed write (index_key, version): what the
//                 replicas replay to update their in-process FAISS copies
//   shitu_owner   one row per index an API key built or is building (quotas,
//                 write rights; lib/store/postgres/pg-ownership.ts)
//   shitu_idempotency  one row per (owner, Idempotency-Key): the request's
//                 digest and, once its write committed, the answer (written in
//                 the write's own transaction; lib/store/idempotency/pg-keys.ts)

/**
 * What the store's helpers need of a connection; pg's Client and PoolClient
 * satisfy it. Declared here instead of imported from pg so that the published
 * .d.ts files do not need @types/pg (a devDependency) in a user's project
 * (test/packaging/consumer-types.test.ts).
 */
export interface SqlClient {
  /** R: the row shape the caller's SQL selects (pg does not check it either). */
  query<R extends Record<string, unknown> = Record<string, unknown>>(text: string | { text: string; query_timeout?: number }, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** Where an index searches: in process over a FAISS copy, or in the database (pgvector); the shitu_index.search column. */
export type SearchMode = 'faiss' | 'pgvector';

/** The NOTIFY channel; the payload is "<indexKey>:<version>". */
export const CHANGE_CHANNEL = 'shitu_index_change';

/** pgvector's limit for HNSW / IVFFlat indexes on `vector` columns. */
export const PGVECTOR_MAX_INDEXED_DIM = 2000;

const SCHEMA_LOCK = 0x5348_4954; // "SHIT": any constant shared by every replica

const DDL = `
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS shitu_index (
  key uuid PRIMARY KEY,
  dim integer NOT NULL CHECK (dim > 0),
  index_type text NOT NULL,
  metric_type text NOT NULL CHECK (metric_type IN ('IP', 'L2')),
  search text NOT NULL CHECK (search IN ('faiss', 'pgvector')),
  next_id bigint NOT NULL CHECK (next_id >= 0),
  version bigint NOT NULL,
  -- IVF: the trained, empty FAISS index (its centroids), so that every replica's
  -- copy has the same lists as the one built first, whenever it is loaded.
  quantizer bytea,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS shitu_vector (
  index_key uuid NOT NULL REFERENCES shitu_index (key) ON DELETE CASCADE,
  id bigint NOT NULL,
  label text NOT NULL,
  embedding vector NOT NULL,
  PRIMARY KEY (index_key, id)
);
CREATE TABLE IF NOT EXISTS shitu_change (
  index_key uuid NOT NULL REFERENCES shitu_index (key) ON DELETE CASCADE,
  version bigint NOT NULL,
  op text NOT NULL CHECK (op IN ('add', 'remove')),
  ids bigint[] NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (index_key, version)
);
-- No foreign key to shitu_index: a row is written (reserved) before its index exists.
CREATE TABLE IF NOT EXISTS shitu_owner (
  index_key uuid PRIMARY KEY,
  owner text NOT NULL,
  -- While the index is being built: until when the reservation counts without it.
  reserved_until timestamptz
);
CREATE INDEX IF NOT EXISTS shitu_owner_by_owner ON shitu_owner (owner);
CREATE TABLE IF NOT EXISTS shitu_idempotency (
  owner text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  token uuid NOT NULL,
  -- While the write runs (no answer yet): until when the claim holds if its replica vanished.
  running_until timestamptz,
  status integer,
  body text,
  -- Until the answer is recorded: claim + ttl_ms; then: the answer's recording + ttl_ms.
  expires_at timestamptz NOT NULL,
  ttl_ms bigint NOT NULL,
  PRIMARY KEY (owner, key)
);
-- Expired keys are deleted in bounded batches by this index, never by a scan per request.
CREATE INDEX IF NOT EXISTS shitu_idempotency_expiry ON shitu_idempotency (expires_at);
`;

export async function ensureSchema(c: SqlClient): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await c.query(DDL);
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

// The compressed index types in the PostgreSQL store (lib/store/postgres/): an
// index built as HNSW32_SQ8 / IVF_PQ / IVF_PQ_RERANK is stored, comes back in
// another store (another replica) with its type, and follows appends and removes
// there. A real PostgreSQL 15 + pgvector cluster started by the test.
import t from 'tap';
import { IndexData, IndexType } from '../../lib/vector-index/index-data';
import { PgIndexStore } from '../../lib/store/postgres/pg-index-store';
import { startCluster, TestCluster } from '../helpers/postgres';
import { unitVectors } from '../../bench/lib/util';


let cluster: TestCluster;
t.before(async () => { cluster = await startCluster(); });
t.teardown(() => cluster?.destroy());

const DIM = 32;
for (const type of ['HNSW32_SQ8', 'IVF_PQ', 'IVF_PQ_RERANK'] as IndexType[]) {
  t.test(`${type} in PostgreSQL: stored, copied by another replica, appended to and removed from`, async (t) => {
    const a = new PgIndexStore(cluster.url);
    const b = new PgIndexStore(cluster.url);
    t.teardown(async () => { await a.close(); await b.close(); });
    const index = IndexData.create(DIM, type, 'IP');
    const v = unitVectors(600, DIM, 3);
    await index.add(v, Array.from({ length: 600 }, (_, i) => `l${i % 50}`));
    const key = await a.create(index);
    const copy = await b.get(key);
    t.equal(copy.indexType, type, 'type kept');
    t.equal(copy.count, 600);
    t.same(copy.idMapEntries, index.idMapEntries);
    // The copy holds the same entries: each stored vector is its own best match.
    const self = await copy.native.search(v.subarray(0, 50 * DIM), 1, { nprobe: 1024, efSearch: 64 });
    const found = Array.from(self.ids as BigInt64Array, Number).filter((id, i) => id === i).length;
    t.ok(found >= 40, `${found}/50 stored vectors find themselves in the copy`);

    const added = await a.append(key, (ix) => ix.add(unitVectors(5, DIM, 9), ['n0', 'n1', 'n2', 'n3', 'n4']));
    t.same(added.slice(-5).map(([id]) => id), [600, 601, 602, 603, 604], 'appended with fresh ids');
    await a.remove(key, [0, 601]);
    // Replica b follows the change feed.
    const deadline = Date.now() + 20_000;
    let followed = await b.get(key);
    // (count and labels change on either side of the native call's await: wait for both)
    while ((followed.count !== 603 || followed.labelOf(0) !== undefined) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      followed = await b.get(key);
    }
    t.equal(followed.count, 603, 'replica applied the add and the remove');
    t.equal(followed.labelOf(0), undefined);
    t.equal(followed.labelOf(602), 'n2');
    const hits = await followed.search(unitVectors(5, DIM, 9), 3);
    t.notOk(hits.some((row) => row.some((h) => h.id === 0 || h.id === 601)), 'removed ids never answer');
  });
}

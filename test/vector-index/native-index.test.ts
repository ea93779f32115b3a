// The native FAISS vector index (native/vector_index_*.cc, js_vector_index.cc):
// building, searching, removing (real and tombstones), persistence, error codes,
// the real PaddleClas drink index, and searches racing an add.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { native } from '../../lib/native/loader';

const VectorIndex = native.VectorIndex;
import { SHARED as sharedDir } from '../helpers/shared';
const drinkIndex = path.join(sharedDir, 'data/paddleclas_drink_index/vector.index');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-vector-index-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Deterministic random L2-normalised vectors (mulberry32 + Box-Muller).
function randomVectors(n: number, dim: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const g = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
      out[i * dim + j] = g;
      norm += g * g;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j] /= norm;
  }
  return out;
}

// Non-sequential ids, so a wrong id mapping cannot pass by accident.
function makeIds(n: number, start = 1000, step = 3): BigInt64Array {
  return BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i * step));
}

function row(v: Float32Array, i: number, dim: number): Float32Array {
  return v.slice(i * dim, (i + 1) * dim);
}

// HNSW is approximate; an efSearch covering the whole (small) test set makes
// "each vector finds itself" exact, and exercises the efSearch parameter.
function paramsFor(type: string, n: number) {
  return type.startsWith('HNSW') ? { efSearch: Math.max(n, 16) } : undefined;
}

// Every vector i's first hit is ids[i] with the self-score of its metric.
async function assertSelfFound(t: any, index: any, vecs: Float32Array, ids: BigInt64Array, dim: number, params?: object) {
  const k = 3;
  const r = await index.search(vecs, k, params);
  t.equal(r.ids.length, ids.length * k);
  t.equal(r.scores.length, ids.length * k);
  let wrongId = 0;
  let wrongScore = 0;
  const selfScore = index.metric() === 'IP' ? 1 : 0;
  for (let i = 0; i < ids.length; i++) {
    if (r.ids[i * k] !== ids[i]) wrongId++;
    if (Math.abs(r.scores[i * k] - selfScore) > 1e-4) wrongScore++;
  }
  t.equal(wrongId, 0, 'every vector finds itself first');
  t.equal(wrongScore, 0, `self-score ~${selfScore}`);
}

const DIM = 32;

for (const type of ['Flat', 'IVF', 'HNSW32']) {
  for (const metric of ['IP', 'L2']) {
    t.test(`${type} / ${metric}: build and find each vector`, async (t) => {
      const n = 200;
      const vecs = randomVectors(n, DIM, 7);
      const ids = makeIds(n);
      const index = new VectorIndex(DIM, type, metric);
      t.equal(index.type(), type);
      t.equal(index.metric(), metric);
      t.equal(index.dim(), DIM);
      t.equal(index.count(), 0);
      await index.add(vecs, ids);
      t.equal(index.count(), n);
      t.strictSame(Array.from(index.ids()), Array.from(ids));
      await assertSelfFound(t, index, vecs, ids, DIM, paramsFor(type, n));
      if (type === 'IVF') await assertSelfFound(t, index, vecs, ids, DIM, { nprobe: 1000 }); // clamped to nlist
      const v = index.reconstruct(ids[5]);
      t.ok(v instanceof Float32Array);
      t.strictSame(Array.from(v), Array.from(row(vecs, 5, DIM)), 'reconstruct returns the stored vector');
      t.strictSame(Array.from(index.reconstruct(Number(ids[6]))), Array.from(row(vecs, 6, DIM)), 'number ids work');
    });
  }
}

t.test('IVF with 1, 3 and 7 vectors (the reference fails below 8)', async (t) => {
  for (const n of [1, 3, 7]) {
    for (const metric of ['IP', 'L2']) {
      const vecs = randomVectors(n, DIM, 100 + n);
      const ids = makeIds(n, 0, 1);
      const index = new VectorIndex(DIM, 'IVF', metric);
      await index.add(vecs, ids);
      t.equal(index.count(), n);
      await assertSelfFound(t, index, vecs, ids, DIM);
      // A later add goes into the lists chosen by the first one.
      const more = randomVectors(20, DIM, 200 + n);
      const moreIds = makeIds(20, 500, 1);
      await index.add(more, moreIds);
      t.equal(index.count(), n + 20);
      await assertSelfFound(t, index, more, moreIds, DIM);
    }
  }
});

t.test('k larger than the count pads with -1', async (t) => {
  const index = new VectorIndex(4, 'Flat', 'IP');
  await index.add(new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]), new BigInt64Array([10n, 20n]));
  const r = await index.search(new Float32Array([0, 1, 0, 0, 1, 0, 0, 0]), 4);
  t.strictSame(Array.from(r.ids), [20n, 10n, -1n, -1n, 10n, 20n, -1n, -1n]);
  const empty = new VectorIndex(4, 'HNSW32', 'L2');
  const e = await empty.search(new Float32Array([0, 1, 0, 0]), 2);
  t.strictSame(Array.from(e.ids), [-1n, -1n]);
  const none = await index.search(new Float32Array(0), 3);
  t.equal(none.ids.length, 0);
});

for (const type of ['Flat', 'IVF']) {
  t.test(`${type}: remove really removes, survivors keep their ids`, async (t) => {
    const n = 160;
    const vecs = randomVectors(n, DIM, 11);
    const ids = makeIds(n);
    const index = new VectorIndex(DIM, type, 'L2');
    await index.add(vecs, ids);
    const gone = [ids[0], ids[17], ids[80], ids[159]];
    t.equal(await index.remove(BigInt64Array.from([...gone, ids[17]])), 4, 'duplicates in the list count once');
    t.equal(index.count(), n - 4);
    t.equal(index.tombstones(), 0);
    const live = Array.from(ids).filter((id) => !gone.includes(id));
    t.strictSame(Array.from(index.ids()), live);
    // Removed vectors are no longer returned, even for their own query.
    const r = await index.search(vecs, 5, { nprobe: 1000 });
    t.notOk(Array.from(r.ids).some((id) => gone.includes(id as bigint)), 'removed ids never come back');
    // Every survivor still maps to its own id (FAISS's IndexIDMap2 over IVF gets
    // this wrong after remove_ids; the index renumbers the lists itself).
    const liveVecs = new Float32Array(live.length * DIM);
    live.forEach((id, j) => liveVecs.set(row(vecs, Array.from(ids).indexOf(id), DIM), j * DIM));
    await assertSelfFound(t, index, liveVecs, BigInt64Array.from(live), DIM);
    t.throws(() => index.reconstruct(ids[0]), { code: 'ERR_INDEX_ID' });
    t.strictSame(Array.from(index.reconstruct(ids[1])), Array.from(row(vecs, 1, DIM)), 'reconstruct after remove');
    // More adds after a removal still map correctly.
    const more = randomVectors(10, DIM, 12);
    const moreIds = makeIds(10, 90000, 1);
    await index.add(more, moreIds);
    await assertSelfFound(t, index, more, moreIds, DIM);
    t.equal(await index.remove(new BigInt64Array(0)), 0);
  });
}

t.test('remove of an unknown id fails with ERR_INDEX_ID and removes nothing', async (t) => {
  const index = new VectorIndex(DIM, 'Flat', 'IP');
  const vecs = randomVectors(10, DIM, 3);
  const ids = makeIds(10);
  await index.add(vecs, ids);
  await t.rejects(index.remove(BigInt64Array.from([ids[0], 5n, 6n])), {
    code: 'ERR_INDEX_ID',
    message: /5, 6/,
  });
  t.equal(index.count(), 10);
  t.strictSame(Array.from(index.ids()), Array.from(ids));
  await assertSelfFound(t, index, vecs, ids, DIM);
  const ivf = new VectorIndex(DIM, 'IVF', 'IP');
  await t.rejects(ivf.remove(BigInt64Array.from([1n])), { code: 'ERR_INDEX_ID' }, 'IVF before its first add');
});

t.test('HNSW: remove needs tombstones; tombstones are filtered and compacted away', async (t) => {
  const n = 120;
  const vecs = randomVectors(n, DIM, 21);
  const ids = makeIds(n);
  const index = new VectorIndex(DIM, 'HNSW32', 'IP');
  await index.add(vecs, ids);
  await t.rejects(index.remove(BigInt64Array.from([ids[3]])), {
    code: 'ERR_INDEX_UNSUPPORTED',
    message: /HNSW32 indexes cannot remove ids/,
  });
  t.equal(index.count(), n);
  await t.rejects(index.remove(BigInt64Array.from([ids[3], 7n]), true), { code: 'ERR_INDEX_ID' });
  t.equal(index.tombstones(), 0);

  const gone = Array.from(ids).filter((_, i) => i % 4 === 0);
  t.equal(await index.remove(BigInt64Array.from(gone), true), gone.length);
  t.equal(index.tombstones(), gone.length);
  t.equal(index.count(), n - gone.length);
  const live = Array.from(ids).filter((id) => !gone.includes(id));
  t.strictSame(Array.from(index.ids()), live);
  t.throws(() => index.reconstruct(gone[0]), { code: 'ERR_INDEX_ID' });
  await t.rejects(index.remove(BigInt64Array.from([gone[0]]), true), { code: 'ERR_INDEX_ID' }, 'already removed');
  await t.rejects(index.add(row(vecs, 0, DIM), BigInt64Array.from([gone[0]])), { code: 'ERR_INDEX_ID' });

  const k = 10;
  const r = await index.search(vecs, k, { efSearch: n });
  t.notOk(Array.from(r.ids).some((id) => gone.includes(id as bigint)), 'tombstoned ids are filtered');
  t.notOk(Array.from(r.ids).includes(-1n), 'still k hits per query');
  const liveVecs = new Float32Array(live.length * DIM);
  live.forEach((id, j) => liveVecs.set(row(vecs, Array.from(ids).indexOf(id), DIM), j * DIM));
  await assertSelfFound(t, index, liveVecs, BigInt64Array.from(live), DIM, { efSearch: n });

  await index.compact();
  t.equal(index.tombstones(), 0);
  t.equal(index.count(), live.length);
  t.equal(index.type(), 'HNSW32');
  t.strictSame(Array.from(index.ids()), live, 'compact keeps the survivors and their ids');
  await assertSelfFound(t, index, liveVecs, BigInt64Array.from(live), DIM, { efSearch: n });
  const saved = await VectorIndex.fromBuffer(await index.toBuffer());
  t.equal(saved.type(), 'HNSW32', 'the rebuilt index is a real HNSW32 again');
  t.strictSame(Array.from(saved.ids()), live);
  // Once compacted the ids are free again.
  await index.add(row(vecs, 0, DIM), BigInt64Array.from([gone[0]]));
  t.equal(index.count(), live.length + 1);
});

t.test('wrong dimension: ERR_INDEX_DIM', async (t) => {
  const index = new VectorIndex(8, 'Flat', 'L2');
  await t.rejects(index.add(new Float32Array(12), BigInt64Array.from([1n, 2n])), {
    code: 'ERR_INDEX_DIM',
    message: /12.*16/,
  });
  await t.rejects(index.add(new Float32Array(16), BigInt64Array.from([1n])), { code: 'ERR_INDEX_DIM' });
  await t.rejects(index.search(new Float32Array(12), 1), { code: 'ERR_INDEX_DIM', message: /12.*8/ });
  t.equal(index.count(), 0);
});

t.test('duplicate and negative ids: ERR_INDEX_ID, nothing added', async (t) => {
  const index = new VectorIndex(4, 'Flat', 'IP');
  await index.add(new Float32Array([1, 0, 0, 0]), BigInt64Array.from([5n]));
  await t.rejects(index.add(new Float32Array([0, 1, 0, 0]), BigInt64Array.from([5n])), {
    code: 'ERR_INDEX_ID',
    message: /id 5 already in the index/,
  });
  await t.rejects(index.add(new Float32Array(8), BigInt64Array.from([6n, 6n])), { code: 'ERR_INDEX_ID' });
  await t.rejects(index.add(new Float32Array(8), BigInt64Array.from([7n, -1n])), { code: 'ERR_INDEX_ID' });
  t.equal(index.count(), 1);
  t.strictSame(Array.from(index.ids()), [5n]);
});

t.test('bad arguments throw TypeError / RangeError synchronously', async (t) => {
  t.throws(() => new VectorIndex('8', 'Flat', 'IP'), TypeError);
  t.throws(() => new VectorIndex(0, 'Flat', 'IP'), RangeError);
  t.throws(() => new VectorIndex(8.5, 'Flat', 'IP'), RangeError);
  t.throws(() => new VectorIndex(8, 'Flat', 'cosine'), RangeError);
  t.throws(() => new VectorIndex(8, '', 'IP'), RangeError);
  t.throws(() => new VectorIndex(8, 'NotAFactoryString', 'IP'), { code: 'ERR_INDEX_UNSUPPORTED' });
  const index = new VectorIndex(2, 'Flat', 'IP');
  t.throws(() => index.add([1, 2], BigInt64Array.from([1n])), TypeError);
  t.throws(() => index.add(new Float32Array(2), [1]), TypeError);
  t.throws(() => index.add(new Float32Array([1, NaN]), BigInt64Array.from([1n])), RangeError);
  t.throws(() => index.search(new Float32Array([1, Infinity]), 1), RangeError);
  t.throws(() => index.search(new Float32Array(2), 0), RangeError);
  t.throws(() => index.search(new Float32Array(2), 1.5), RangeError);
  t.throws(() => index.search(new Float32Array(2), 1, { nprobe: 0 }), RangeError);
  t.throws(() => index.search(new Float32Array(2), 1, { efSearch: 'many' }), TypeError);
  t.throws(() => index.remove(BigInt64Array.from([1n]), 'yes'), TypeError);
  t.throws(() => index.reconstruct(1.5), RangeError);
  t.throws(() => VectorIndex.fromBuffer('bytes'), TypeError);
  t.throws(() => VectorIndex.readFile(42), TypeError);
  t.throws(() => VectorIndex(2, 'Flat', 'IP'), TypeError, 'needs new');
});

t.test('factory strings pass through', async (t) => {
  const index = new VectorIndex(DIM, 'IVF4,Flat', 'L2');
  t.equal(index.type(), 'IVF4,Flat');
  const vecs = randomVectors(100, DIM, 31);
  const ids = makeIds(100);
  await index.add(vecs, ids);
  await assertSelfFound(t, index, vecs, ids, DIM, { nprobe: 4 });
  t.equal(await index.remove(BigInt64Array.from([ids[0]])), 1);
  t.equal(index.count(), 99);
  const copy = await VectorIndex.fromBuffer(await index.toBuffer());
  t.equal(copy.type(), 'IVF', 'an IVF,Flat reads back as IVF');
  t.equal(copy.count(), 99);
});

for (const type of ['Flat', 'IVF', 'HNSW32']) {
  t.test(`${type}: writeFile/readFile and toBuffer/fromBuffer round-trip`, async (t) => {
    const n = 100;
    const vecs = randomVectors(n, DIM, 41);
    const ids = makeIds(n);
    const index = new VectorIndex(DIM, type, 'IP');
    await index.add(vecs, ids);
    const params = paramsFor(type, n);
    const before = await index.search(vecs, 5, params);

    const file = path.join(tmp, `${type}.index`);
    await index.writeFile(file);
    const fromFile = await VectorIndex.readFile(file);
    const buf = await index.toBuffer();
    t.ok(Buffer.isBuffer(buf));
    t.strictSame(buf, fs.readFileSync(file), 'same bytes either way');
    const fromBuf = await VectorIndex.fromBuffer(buf);
    const view = await VectorIndex.fromBuffer(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    for (const copy of [fromFile, fromBuf, view]) {
      t.equal(copy.type(), type);
      t.equal(copy.metric(), 'IP');
      t.equal(copy.dim(), DIM);
      t.equal(copy.count(), n);
      t.strictSame(Array.from(copy.ids()), Array.from(ids));
      const after = await copy.search(vecs, 5, params);
      t.strictSame(Array.from(after.ids), Array.from(before.ids), 'same search results');
      t.strictSame(Array.from(after.scores), Array.from(before.scores));
      t.strictSame(Array.from(copy.reconstruct(ids[9])), Array.from(row(vecs, 9, DIM)));
    }
  });
}

t.test('an IVF saved before its first add still picks nlist at that add', async (t) => {
  const index = new VectorIndex(DIM, 'IVF', 'L2');
  const copy = await VectorIndex.fromBuffer(await index.toBuffer());
  t.equal(copy.type(), 'IVF');
  t.equal(copy.metric(), 'L2');
  t.equal(copy.count(), 0);
  const vecs = randomVectors(3, DIM, 51);
  const ids = makeIds(3);
  await copy.add(vecs, ids);
  await assertSelfFound(t, copy, vecs, ids, DIM);
});

t.test('saving an HNSW index with tombstones compacts it first', async (t) => {
  const n = 60;
  const vecs = randomVectors(n, DIM, 61);
  const ids = makeIds(n);
  const index = new VectorIndex(DIM, 'HNSW32', 'L2');
  await index.add(vecs, ids);
  await index.remove(BigInt64Array.from([ids[1], ids[2]]), true);
  const file = path.join(tmp, 'tomb.index');
  await index.writeFile(file);
  t.equal(index.tombstones(), 0);
  const loaded = await VectorIndex.readFile(file);
  t.equal(loaded.count(), n - 2);
  t.notOk(Array.from(loaded.ids()).includes(ids[1]), 'removed vectors do not come back');
});

t.test('I/O failures: ERR_INDEX_IO; bytes that are no index: ERR_INDEX_CORRUPT', async (t) => {
  await t.rejects(VectorIndex.readFile(path.join(tmp, 'missing.index')), {
    code: 'ERR_INDEX_IO',
    message: /missing\.index.*No such file/,
  });
  const junk = path.join(tmp, 'junk.index');
  fs.writeFileSync(junk, Buffer.from(randomVectors(64, 4, 71).buffer));
  // Bytes that are not an index are ERR_INDEX_CORRUPT (structural check, faiss_file_check.cc).
  await t.rejects(VectorIndex.readFile(junk), { code: 'ERR_INDEX_CORRUPT', message: /junk\.index/ });
  await t.rejects(VectorIndex.fromBuffer(fs.readFileSync(junk)), { code: 'ERR_INDEX_CORRUPT' });
  await t.rejects(VectorIndex.fromBuffer(Buffer.alloc(0)), { code: 'ERR_INDEX_CORRUPT' });

  const index = new VectorIndex(DIM, 'Flat', 'L2');
  await index.add(randomVectors(20, DIM, 72), makeIds(20));
  const good = await index.toBuffer();
  await t.rejects(VectorIndex.fromBuffer(good.subarray(0, good.length - 100)), { code: 'ERR_INDEX_CORRUPT' }, 'truncated');
  await t.rejects(index.writeFile(path.join(tmp, 'no/such/dir/x.index')), {
    code: 'ERR_INDEX_IO',
    message: /no\/such\/dir/,
  });
  if (fs.existsSync('/dev/full')) {
    await t.rejects(index.writeFile('/dev/full'), { code: 'ERR_INDEX_IO', message: /No space left/ });
  }
  t.equal(index.count(), 20, 'the index is intact after failed writes');
});

t.test('the PaddleClas drink index loads and finds its own vectors', async (t) => {
  const index = await VectorIndex.readFile(drinkIndex);
  t.equal(index.count(), 987);
  t.equal(index.dim(), 512);
  t.equal(index.type(), 'HNSW32');
  t.equal(index.metric(), 'IP');
  t.equal(index.ids().length, 987);
  for (const id of [0n, 1n, 123n, 500n, 986n]) {
    const v = index.reconstruct(id);
    t.equal(v.length, 512);
    const r = await index.search(v, 5);
    // The gallery holds a few duplicate images: accept an exact tie at the top.
    const tied = Array.from(r.ids).filter((_, j) => Math.abs(r.scores[j] - r.scores[0]) < 1e-5);
    t.ok(tied.includes(id), `id ${id} is the first hit`);
    t.ok(Math.abs(r.scores[0] - 1) < 1e-3, 'features are L2-normalised (IP self-score ~1)');
  }
  await t.rejects(index.remove(BigInt64Array.from([0n])), { code: 'ERR_INDEX_UNSUPPORTED' });

  // Tombstones, then a rebuild of the real graph keeps ids and parameters.
  const gone = BigInt64Array.from([3n, 400n, 986n]);
  const kept = index.reconstruct(123n);
  t.equal(await index.remove(gone, true), 3);
  t.equal(index.count(), 984);
  await index.compact();
  t.equal(index.count(), 984);
  t.equal(index.tombstones(), 0);
  t.notOk(Array.from(index.ids()).some((id) => gone.includes(id as bigint)));
  const copy = await VectorIndex.fromBuffer(await index.toBuffer());
  t.equal(copy.type(), 'HNSW32');
  t.equal(copy.metric(), 'IP');
  t.equal(copy.count(), 984);
  const r = await copy.search(kept, 1);
  t.equal(r.ids[0], 123n);
});

t.test('50 searches while an add is running all resolve correctly', async (t) => {
  const dim = 64;
  const base = randomVectors(500, dim, 81);
  const baseIds = makeIds(500, 0, 1);
  const index = new VectorIndex(dim, 'Flat', 'IP');
  await index.add(base, baseIds);

  const extra = randomVectors(40000, dim, 82);
  const extraIds = makeIds(40000, 100000, 1);
  const extraCopy = extra.slice();
  const adding = index.add(extra, extraIds);
  extra.fill(0); // the add copied its input: the caller may reuse the array at once
  extraIds.fill(-5n);
  const searches = Array.from({ length: 50 }, (_, i) => index.search(row(base, i * 10, dim), 1));
  t.ok(index.count() >= 500, 'count() answers while the add runs');
  const results = await Promise.all(searches);
  await adding;
  results.forEach((r, i) => t.equal(r.ids[0], baseIds[i * 10]));
  t.equal(index.count(), 40500);
  const check = await index.search(extraCopy.subarray(0, 10 * dim), 1);
  t.strictSame(Array.from(check.ids), Array.from(makeIds(10, 100000, 1)), 'added vectors are the originals');
});

t.test('the process stays healthy after errors', async (t) => {
  const index = new VectorIndex(4, 'HNSW32', 'IP');
  for (let i = 0; i < 20; i++) {
    await t.rejects(index.search(new Float32Array(3), 1), { code: 'ERR_INDEX_DIM' });
    await t.rejects(VectorIndex.readFile(path.join(tmp, 'nope')), { code: 'ERR_INDEX_IO' });
    await t.rejects(index.remove(BigInt64Array.from([1n])), { code: 'ERR_INDEX_UNSUPPORTED' });
  }
  await index.add(new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]), BigInt64Array.from([1n, 2n]));
  const r = await index.search(new Float32Array([0, 1, 0, 0]), 1);
  t.equal(r.ids[0], 2n);
});

t.test('efConstruction sets the HNSW graph build beam, HNSW types only', async (t) => {
  const dim = 32, n = 4000, nq = 200, k = 10;
  let s = 1;
  const r = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  const v = Float32Array.from({ length: n * dim }, r), q = Float32Array.from({ length: nq * dim }, r);
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
  const flat = new VectorIndex(dim, 'Flat', 'L2');
  await flat.add(v, ids);
  const truth = (await flat.search(q, k)).ids as BigInt64Array;
  const recallOf = async (options?: { efConstruction: number }) => {
    const h = new VectorIndex(dim, 'HNSW32', 'L2', options);
    await h.add(v, ids);
    const got = (await h.search(q, k, { efSearch: 10 })).ids as BigInt64Array;
    let hit = 0;
    for (let i = 0; i < nq; i++) {
      const want = new Set(truth.subarray(i * k, (i + 1) * k));
      for (const x of got.subarray(i * k, (i + 1) * k)) if (want.has(x)) hit++;
    }
    return hit / (nq * k);
  };
  const byDefault = await recallOf(), narrow = await recallOf({ efConstruction: 1 });
  // A 1-wide build beam links each vector to nearly arbitrary neighbours: the graph is far worse.
  t.ok(narrow < 0.5 * byDefault, `efConstruction 1: recall ${narrow} vs ${byDefault} with FAISS's default 40`);
  t.ok(await recallOf({ efConstruction: 200 }) > 2 * narrow, 'a wide beam builds a good graph again');
  t.throws(() => new VectorIndex(dim, 'Flat', 'L2', { efConstruction: 8 }), { code: 'ERR_INDEX_UNSUPPORTED', message: /HNSW index types only/ });
  for (const bad of [0, 1.5, 2 ** 21, NaN]) t.throws(() => new VectorIndex(dim, 'HNSW32', 'L2', { efConstruction: bad }), RangeError, `efConstruction ${bad}`);
  t.throws(() => new VectorIndex(dim, 'HNSW32', 'L2', { efConstruction: '8' as any }), TypeError);
});

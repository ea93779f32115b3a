// Index directories move between PaddleX and this package without loss: files
// saved here are loaded, searched, appended to and removed from by PaddleX's own
// operations (its FAISS calls replayed by test/helpers/paddlex-faiss.cc, its
// YAML through real PyYAML), with correct ids and identical labels; files that
// PaddleX and PaddleClas write load here, the tiny and the corrupt IVF included.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { Test } from 'tap';
import { IndexData } from '../../lib/index';
import { paddlexLoadIndexInfo, paddlexSaveIndexInfo } from '../helpers/pyyaml';
import { faissOp, faissOpFails, haveNumpy, paddlexSearch, writeFloats, writePaddleClasIdMap } from '../helpers/paddlex';
import { TRICKY_LABELS } from '../helpers/labels';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-paddlex-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
if (!haveNumpy()) throw new Error('python3 with PyYAML and numpy is needed (scripts/setup.sh installs python3-yaml and python3-numpy)');

const D = 16;
function vectors(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296) - 0.5;
  const v = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < D; j++) { v[i * D + j] = rnd(); norm += v[i * D + j] ** 2; }
    for (let j = 0; j < D; j++) v[i * D + j] /= Math.sqrt(norm);
  }
  return v;
}
const row = (v: Float32Array, i: number) => v.slice(i * D, (i + 1) * D);
let dirs = 0;
const newDir = () => path.join(tmp, `d${dirs++}`);

// PaddleX: IndexData.load (PyYAML + read_index), then its search, top-1 id per query.
// `info`: PaddleX's id map in memory, when it has not been saved yet.
function paddlexTop1(t: Test, dir: string, queries: Float32Array, info = paddlexLoadIndexInfo(path.join(dir, 'id_map.yaml'))) {
  const r = paddlexSearch(path.join(dir, 'vector.index'), queries, D, 1, tmp);
  t.equal(r.ntotal, Object.keys(info.id_map).length, 'PaddleX: index.ntotal == len(id_map)');
  return { ids: r.ids, labels: r.ids.map((id) => info.id_map[String(id)]), info };
}

// PaddleX's save of an id map after its own append/remove (IndexData.save's YAML half).
function paddlexWriteIdMap(dir: string, info: { index_type: string; metric_type: string; id_map: Record<string, string> }) {
  const spec = path.join(tmp, `spec-${dirs++}.json`);
  fs.writeFileSync(spec, JSON.stringify(info));
  paddlexSaveIndexInfo(spec, path.join(dir, 'id_map.yaml'));
}

for (const type of ['Flat', 'IVF', 'HNSW32'] as const) {
  for (const metric of ['IP', 'L2'] as const) {
    t.test(`${type}/${metric} saved here: PaddleX loads, searches, appends${type === 'HNSW32' ? '' : ', removes'}`, async (t) => {
      const n = 48;
      const v = vectors(n, 11);
      const labels = Array.from({ length: n }, (_, i) => TRICKY_LABELS[i % TRICKY_LABELS.length] + (i >= TRICKY_LABELS.length ? ` #${i}` : ''));
      const index = IndexData.create(D, type, metric);
      await index.add(v, labels);
      const dir = newDir();
      await index.save(dir);

      const px = paddlexTop1(t, dir, v);
      const self = px.ids.filter((id, i) => id === i).length;
      if (type === 'HNSW32') t.ok(self >= n - 2, `PaddleX finds (almost) every vector itself: ${self}/${n}`);
      else t.equal(self, n, 'PaddleX finds every vector itself');
      t.same(Object.entries(px.info.id_map).map(([k, l]) => [Number(k), l]), labels.map((l, i) => [i, l]), 'PaddleX reads every label identically');

      // PaddleX appends (ids from max+1, as FaissBuilder._add_gallery) and saves.
      const more = vectors(10, 12);
      faissOp('append', path.join(dir, 'vector.index'), writeFloats(path.join(tmp, `m${dirs++}.f32`), more), '10', String(n), path.join(dir, 'vector.index'));
      for (let i = 0; i < 10; i++) px.info.id_map[String(n + i)] = `new ${i}`;
      let expected = new Map(labels.map((l, i) => [i, l] as [number, string]));
      for (let i = 0; i < 10; i++) expected.set(n + i, `new ${i}`);

      if (type !== 'HNSW32') {
        // PaddleX removes (index.remove_ids on the loaded index; HNSW32 it refuses by name).
        const gone = [0, 5, 17, 30, n + 3];
        faissOp('remove', path.join(dir, 'vector.index'), gone.join(','), path.join(dir, 'vector.index'));
        for (const id of gone) { delete px.info.id_map[String(id)]; expected.delete(id); }
        const after = paddlexTop1(t, dir, v, px.info);
        const wrong = after.ids.map((id, i) => [i, id]).filter(([i, id]) => (gone.includes(i) ? id === i : id !== i));
        t.same(wrong, [], 'after PaddleX removes, PaddleX still answers every survivor with its own id');
      }
      paddlexWriteIdMap(dir, px.info);

      // Back here: the same ids and labels.
      const back = await IndexData.load(dir);
      t.same(back.idMapEntries, [...expected].sort((a, b) => a[0] - b[0]));
      const all = new Float32Array([...v, ...more]);
      const hits = await back.search(all, 1);
      let right = 0;
      for (let i = 0; i < n + 10; i++) if (expected.has(i) && hits[i][0]?.id === i && hits[i][0].label === expected.get(i)) right++;
      if (type === 'HNSW32') t.ok(right >= expected.size - 2, `found here: ${right}/${expected.size}`);
      else t.equal(right, expected.size, 'every surviving vector is found here with its id and label');
      t.equal(back.nextId, n + 10, 'next id follows the highest id');
    });

    t.test(`${type}/${metric}: an empty index saved here takes PaddleX's append`, async (t) => {
      const dir = newDir();
      await IndexData.create(D, type, metric).save(dir);
      const info = paddlexLoadIndexInfo(path.join(dir, 'id_map.yaml'));
      t.same(info.id_map, {});
      const v = vectors(9, 13);
      faissOp('append', path.join(dir, 'vector.index'), writeFloats(path.join(tmp, `e${dirs++}.f32`), v), '9', '0', path.join(dir, 'vector.index'));
      paddlexWriteIdMap(dir, { ...info, id_map: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [String(i), `e${i}`])) });
      t.same(paddlexTop1(t, dir, v).ids, [0, 1, 2, 3, 4, 5, 6, 7, 8], 'PaddleX finds what it appended');
      const back = await IndexData.load(dir);
      t.same((await back.search(v, 1)).map((h) => h[0].label), Array.from({ length: 9 }, (_, i) => `e${i}`));
    });

    t.test(`${type}/${metric} built by PaddleX loads and searches here`, async (t) => {
      const n = type === 'IVF' ? 40 : 30;
      const v = vectors(n, 14);
      const dir = newDir();
      fs.mkdirSync(dir);
      faissOp('build', type, metric, writeFloats(path.join(tmp, `b${dirs++}.f32`), v), String(n), String(D), path.join(dir, 'vector.index'));
      paddlexWriteIdMap(dir, { index_type: type, metric_type: metric, id_map: Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), TRICKY_LABELS[i]])) });
      const index = await IndexData.load(dir);
      t.same([index.indexType, index.metricType, index.count], [type, metric, n]);
      const hits = await index.search(v, 1);
      const right = hits.filter((h, i) => h[0]?.id === i && h[0].label === TRICKY_LABELS[i]).length;
      t.ok(right >= n - (type === 'HNSW32' ? 2 : 0), `found with id and label: ${right}/${n}`);
    });
  }
}

t.test("PaddleX's tiny IVF (nlist 0, fewer than 8 images) loads; searches answer, without an error", async (t) => {
  const v = vectors(5, 15);
  const dir = newDir();
  fs.mkdirSync(dir);
  faissOp('build', 'IVF', 'IP', writeFloats(path.join(tmp, 'tiny.f32'), v), '5', String(D), path.join(dir, 'vector.index'));
  t.match(faissOpFails('search', path.join(dir, 'vector.index'), writeFloats(path.join(tmp, 'tq.f32'), v), '5', '1'), /nprobe > 0/, 'PaddleX itself cannot search it');
  paddlexWriteIdMap(dir, { index_type: 'IVF', metric_type: 'IP', id_map: { 0: 'a', 1: 'b', 2: 'c', 3: 'd', 4: 'e' } });
  const index = await IndexData.load(dir);
  t.equal(index.count, 5);
  t.match(index.warnings.join('\n'), /stored none of its 5 vectors/);
  t.same(await index.search(v, 3), [[], [], [], [], []], 'no hits: FAISS stored none of the vectors');
  await t.rejects(index.add(vectors(1, 16), ['f']), { code: 'ERR_INDEX_UNSUPPORTED', message: /rebuild/ });
});

t.test("an IVF after PaddleX's own removal (FAISS's IndexIDMap2 bug) is refused, naming the problem", async (t) => {
  const n = 46;
  const v = vectors(n, 17);
  const dir = newDir();
  fs.mkdirSync(dir);
  faissOp('build', 'IVF', 'IP', writeFloats(path.join(tmp, 'c.f32'), v), String(n), String(D), path.join(dir, 'vector.index'));
  faissOp('remove', path.join(dir, 'vector.index'), '3,20', path.join(dir, 'vector.index'));
  const idMap = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `l${i}`]).filter(([k]) => k !== '3' && k !== '20'));
  paddlexWriteIdMap(dir, { index_type: 'IVF', metric_type: 'IP', id_map: idMap });
  // What PaddleX answers from it: most vectors come back under another id.
  const px = paddlexTop1(t, dir, v);
  const wrongInPaddleX = px.ids.filter((id, i) => i !== 3 && i !== 20 && id !== i).length;
  t.ok(wrongInPaddleX > 20, `PaddleX answers ${wrongInPaddleX} of 44 with the wrong id`);
  await t.rejects(IndexData.load(dir), { code: 'ERR_INDEX_CORRUPT', message: /internal ids outside 0\.\.43.*IndexIDMap2/s });
});

t.test('PaddleClas id_map.pkl: the label is everything after the first tab', async (t) => {
  const v = vectors(4, 18);
  const dir = newDir();
  fs.mkdirSync(dir);
  faissOp('build', 'Flat', 'IP', writeFloats(path.join(tmp, 'p.f32'), v), '4', String(D), path.join(dir, 'vector.index'));
  const labels = ['plain', 'with\ttab', '\tleading', '可口\t可乐\t'];
  writePaddleClasIdMap(path.join(dir, 'id_map.pkl'), labels.map((l, i) => [i, `gallery/img${i}.jpg\t${l}`]));
  const index = await IndexData.load(dir);
  t.same(index.idMapEntries, labels.map((l, i) => [i, l]));
  t.same((await index.search(v, 1)).map((h) => h[0].label), labels);
});

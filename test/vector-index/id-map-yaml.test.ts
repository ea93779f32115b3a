// id_map.yaml labels round-trip exactly between this package and PaddleX's
// PyYAML reading/writing (real PyYAML), and the reader's PyYAML id rules.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { formatIdMapYaml, parseIdMapYaml, yaml11Int } from '../../lib/vector-index/formats/id-map-yaml';
import { havePyYaml, paddlexLoadIndexInfo, paddlexSaveIndexInfo } from '../helpers/pyyaml';
import { TRICKY_LABELS } from '../helpers/labels';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shitu-idmap-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

// PaddleX's side is real PyYAML (python3-yaml, installed by scripts/setup.sh): without it this is a failure, not a skip.
t.ok(havePyYaml(), 'PyYAML is installed (scripts/setup.sh installs python3-yaml)');

const idMapOf = (labels: string[]) => new Map(labels.map((l, i) => [i * 7 + (i % 3), l] as [number, string]));

t.test('written by this package, read by PaddleX (PyYAML FullLoader): identical strings', async (t) => {
  const idMap = idMapOf(TRICKY_LABELS);
  const file = path.join(tmp, 'ours.yaml');
  fs.writeFileSync(file, formatIdMapYaml({ idMap, indexType: 'IVF', metricType: 'IP', nextId: 10_000 }));
  const px = paddlexLoadIndexInfo(file);
  t.same([px.index_type, px.metric_type], ['IVF', 'IP']);
  t.equal(Object.keys(px.id_map).length, idMap.size);
  const wrong: string[] = [];
  for (const [id, label] of idMap) {
    if (px.types[String(id)] !== 'str' || px.id_map[String(id)] !== label) wrong.push(`${id} ${JSON.stringify(label)} -> ${px.types[String(id)]} ${JSON.stringify(px.id_map[String(id)])}`);
  }
  t.same(wrong, [], 'every label comes back from PyYAML as the same str');
  // And through this package's own reader.
  const back = await parseIdMapYaml(fs.readFileSync(file, 'utf8'), file);
  t.same([...back.idMap], [...idMap]);
  t.same([back.indexType, back.metricType, back.nextId], ['IVF', 'IP', 10_000]);
});

t.test('written by PaddleX (yaml.dump), read here: identical strings', async (t) => {
  const idMap = idMapOf(TRICKY_LABELS);
  const spec = path.join(tmp, 'spec.json');
  fs.writeFileSync(spec, JSON.stringify({ index_type: 'HNSW32', metric_type: 'L2', id_map: Object.fromEntries(idMap) }));
  const file = path.join(tmp, 'paddlex.yaml');
  paddlexSaveIndexInfo(spec, file);
  const back = await parseIdMapYaml(fs.readFileSync(file, 'utf8'), file);
  // The reference is what PaddleX itself reads from that file: PyYAML keeps every
  // label but NEL (U+0085), which its own writer emits as a raw line break.
  const px = paddlexLoadIndexInfo(file);
  const wrong = [...idMap].filter(([id]) => back.idMap.get(id) !== px.id_map[String(id)])
    .map(([id, l]) => `${id} ${JSON.stringify(l)} -> ${JSON.stringify(back.idMap.get(id))}, PyYAML ${JSON.stringify(px.id_map[String(id)])}`);
  t.same(wrong, [], 'every label PaddleX wrote reads back as PaddleX reads it');
  const changedByPyYaml = [...idMap].filter(([id, l]) => px.id_map[String(id)] !== l).map(([, l]) => l);
  t.same(changedByPyYaml, ['\x85nel'], 'PyYAML itself round-trips everything else');
  t.equal(back.idMap.size, idMap.size);
  t.same([back.indexType, back.metricType, back.nextId], ['HNSW32', 'L2', undefined]);
});

t.test('ids follow PyYAML int rules; labels stay text', async (t) => {
  t.same(['0', '010', '0x1f', '0b11', '1_000', '1:20', '-5', '+3', '0o17', '1e3', '1.0', '0b', 'x'].map(yaml11Int),
    [0, 8, 31, 3, 1000, 80, -5, 3, undefined, undefined, undefined, undefined, undefined]);
  const f = await parseIdMapYaml('# hand written\nid_map:\n  010: yes\n  0x10: 1e3   # comment\n  \'20\': \'it\'\'s\'\n  1_000: a\n    folded\n\n    line\nindex_type: Flat\nmetric_type: IP\nnext_id: 2000\n', 'f');
  t.same([...f.idMap], [[8, 'yes'], [16, '1e3'], [20, "it's"], [1000, 'a folded\nline']]);
  t.same(await parseIdMapYaml('id_map: {}\nindex_type: Flat\n', 'f').then((r) => r.idMap.size), 0);
  // A layout the fast reader does not handle goes to the full parser.
  const flow = await parseIdMapYaml('id_map: {1: a, 2: "b"}\nindex_type: Flat\nnext_id: 3\n', 'f');
  t.same([...flow.idMap], [[1, 'a'], [2, 'b']]);
  t.equal(flow.nextId, 3);
});

t.test('bad id maps are ERR_INDEX_CORRUPT naming what is wrong', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['id_map:\n  1: a\n  1: b\n', /id 1 appears twice/],
    ['id_map:\n  x: a\n', /id "x" is not an integer/],
    ['id_map:\n  -1: a\n', /not a safe non-negative integer/],
    ['id_map:\n  99999999999999999999: a\n', /not a safe non-negative integer/],
    ['id_map:\n  1: a\nnext_id: .inf\n', /next_id ".inf"/],
    ['id_map:\n  1: a\nnext_id: 1e308\n', /next_id "1e308"/],
    ['id_map:\n  1: "unterminated\n', /unterminated/],
    ['id_map:\n  1: "bad \\q escape"\n', /unknown escape/],
    ['index_type: Flat\n', /no id_map/],
    ['id_map: [1, 2]\n', /id_map is not a mapping/],
    ['id_map:\n  1: [a, b]\n', /label of id 1 is not a string/],
    ['- a\n- b\n', /not a YAML mapping/],
    ['id_map:\n  1: &x a\n  2: *x\n  3: !!binary aGk=\n  4: {a: 1}\n', /not a string/],
  ];
  for (const [text, msg] of bad) await t.rejects(parseIdMapYaml(text, 'f'), { code: 'ERR_INDEX_CORRUPT', message: msg }, JSON.stringify(text));
});

t.test('10^5 labels: parsed in slices, the event loop keeps turning', async (t) => {
  const idMap = new Map<number, string>();
  for (let i = 0; i < 100_000; i++) idMap.set(i, `label ${i} 标签`);
  const text = formatIdMapYaml({ idMap, indexType: 'Flat', metricType: 'IP', nextId: 100_000 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const parsed = await parseIdMapYaml(text, 'big');
  clearInterval(timer);
  t.equal(parsed.idMap.size, 100_000);
  t.equal(parsed.idMap.get(99_999), 'label 99999 标签');
  t.ok(ticks > 0, 'timers ran while the file was parsed');
});

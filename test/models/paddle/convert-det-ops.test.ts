// The detector's selection and grid ops on hand-made programs, against values
// worked out by hand: gather (index [N] and [N, 1]), top_k_v2 (attribute and
// run-time K, largest and smallest), reverse, and
// range / meshgrid on run-time inputs (folded to constants when the inputs are
// known, as in the real detector: convert-det-program.test.ts).
import t from 'tap';
import { ProgramMaker, convertAndRun } from '../../helpers/paddle-program';

t.test('gather (index [N] and [N, 1]), top_k_v2, reverse', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [3, 4]);
  m.param('i1', [2], [2, 0], 'int64');
  m.param('i2', [2, 1], [3, 1], 'int64');
  m.v('g0', [2, 4]);
  m.v('g1', [3, 2]);
  m.v('tv', [3, 2]);
  m.v('ti', [3, 2], 'int64');
  m.v('rv', [3, 4]);
  m.op('gather', { X: 'x', Index: 'i1' }, { Out: 'g0' }, { axis: 0 });
  m.op('gather', { X: 'x', Index: 'i2' }, { Out: 'g1' }, { axis: 1 });
  m.op('top_k_v2', { X: 'x' }, { Out: 'tv', Indices: 'ti' }, { k: 2, axis: -1, largest: true, sorted: true });
  m.op('reverse', { X: 'x' }, { Out: 'rv' }, { axis: [0, 1] });
  for (const f of ['g0', 'g1', 'tv', 'ti', 'rv']) m.fetch(f);
  const x = [5, 1, 7, 3, 0, 9, 2, 8, 6, 4, 11, 10];
  const [g0, g1, tv, ti, rv] = await convertAndRun(m, { x: { dims: [3, 4], data: x } });
  t.same(g0.data, [6, 4, 11, 10, 5, 1, 7, 3]);
  t.same(g1.data, [3, 1, 8, 9, 10, 4]);
  t.same(tv.data, [7, 5, 9, 8, 11, 10]);
  t.same(ti.data, [2, 0, 1, 3, 2, 3]);
  t.same(rv.data, [...x].reverse());
});

t.test('range and meshgrid on run-time inputs (the folded case is the detector\'s anchor grid)', async (t) => {
  const m = new ProgramMaker();
  m.feed('start', [1]);
  m.feed('end', [1]);
  m.feed('step', [1]);
  m.feed('ys', [2]);
  m.v('r', [-1]);
  m.v('gy', [2, -1]);
  m.v('gx', [2, -1]);
  m.op('range', { Start: 'start', End: 'end', Step: 'step' }, { Out: 'r' });
  m.op('meshgrid', { X: ['ys', 'r'] }, { Out: ['gy', 'gx'] });
  for (const f of ['r', 'gy', 'gx']) m.fetch(f);
  const [r, gy, gx] = await convertAndRun(m, {
    start: { dims: [1], data: [0.5] }, end: { dims: [1], data: [3] }, step: { dims: [1], data: [1] }, ys: { dims: [2], data: [10, 20] },
  });
  t.same(r.data, [0.5, 1.5, 2.5]);
  t.same(gy.dims, [2, 3]);
  t.same(gy.data, [10, 10, 10, 20, 20, 20]);
  t.same(gx.data, [0.5, 1.5, 2.5, 0.5, 1.5, 2.5]);
});


t.test('top_k_v2 with a run-time K, smallest first, on axis 0', async (t) => {
  const m = new ProgramMaker();
  m.feed('x', [3, 2]);
  m.feed('k', [1], 'int64');
  m.v('v', [-1, 2]);
  m.v('i', [-1, 2], 'int64');
  m.op('top_k_v2', { X: 'x', K: 'k' }, { Out: 'v', Indices: 'i' }, { axis: 0, largest: false, sorted: true });
  m.fetch('v');
  m.fetch('i');
  const [v, i] = await convertAndRun(m, { x: { dims: [3, 2], data: [5, 1, 2, 9, 7, 4] }, k: { dims: [1], data: [2], dtype: 'int64' } });
  t.same(v.dims, [2, 2]);
  t.same(v.data, [2, 1, 5, 4]);
  t.same(i.data, [1, 0, 0, 2]);
});

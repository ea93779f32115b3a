// The one LRU map of the index stores: order by use, eviction over the bound,
// busy entries and the newest one never evicted.
import t from 'tap';
import { LruMap } from '../../lib/util/lru-map';

t.test('evicts the least recently used over the bound; get() refreshes, peek() does not', async (t) => {
  const m = new LruMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  t.equal(m.get('a'), 1); // a is now the most recent
  m.set('c', 3);
  t.same([...m.keys()], ['a', 'c'], 'b was the least recently used');
  t.equal(m.peek('a'), 1);
  m.set('d', 4);
  t.same([...m.keys()], ['c', 'd'], 'peek did not refresh a');
});

t.test('a busy entry is skipped; with every other entry busy the map stays over its bound', async (t) => {
  const m = new LruMap<string, number>(1);
  const busy = new Set(['a']);
  m.set('a', 1);
  m.set('b', 2, (k) => busy.has(k));
  t.same([...m.keys()], ['a', 'b'], 'a is busy and b is the newest: both stay');
  busy.clear();
  m.set('c', 3, (k) => busy.has(k));
  t.same([...m.keys()], ['c']);
  t.throws(() => new LruMap(0), RangeError);
});

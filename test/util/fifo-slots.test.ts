// The FIFO wait under the pipeline's admission and the service's limiter
// (lib/util/fifo-slots.ts): slots handed over in arrival order, a waiter that
// gives up leaves at once, a late give-up changes nothing, dropAll and idle.
import t from 'tap';
import { FifoSlots } from '../../lib/util/fifo-slots';

const tick = () => new Promise((r) => setImmediate(r));

t.test('slots go to waiters in arrival order, handed over on release', async (t) => {
  const s = new FifoSlots(2);
  t.ok(s.tryTake() && s.tryTake(), 'two free slots taken');
  t.notOk(s.tryTake(), 'no third');
  const order: string[] = [];
  const waits = ['a', 'b', 'c'].map((name) => s.wait().then(() => { order.push(name); }));
  t.same([s.active, s.queued], [2, 3]);
  s.release();
  await tick();
  t.same(order, ['a'], 'one release: the first waiter');
  t.same([s.active, s.queued], [2, 2], 'the slot was handed over, not freed');
  t.notOk(s.tryTake(), 'a newcomer cannot take the handed-over slot');
  s.release(); s.release();
  await Promise.all(waits);
  t.same(order, ['a', 'b', 'c']);
  s.release(); s.release();
  t.same([s.active, s.queued], [0, 0]);
  t.ok(s.tryTake(), 'free again');
});

t.test('a waiter that gives up leaves the queue; a give-up after the hand-over does nothing', async (t) => {
  const s = new FifoSlots(1);
  s.tryTake();
  let giveUpA!: (reason: unknown) => boolean;
  let giveUpB!: (reason: unknown) => boolean;
  let unsubscribed = 0;
  const a = s.wait((g) => { giveUpA = g; return () => { unsubscribed++; }; });
  const b = s.wait((g) => { giveUpB = g; return () => { unsubscribed++; }; });
  t.equal(giveUpA(new Error('gone')), true, 'a gives up while waiting');
  await t.rejects(a, /gone/, 'its wait rejects with the reason');
  t.equal(s.queued, 1, 'only b waits');
  s.release();
  await b;
  t.equal(giveUpB(new Error('late')), false, 'b got the slot: its give-up is refused');
  t.equal(s.active, 1, 'b holds the slot');
  t.equal(unsubscribed, 2, 'each wait unsubscribed once it ended');
  s.release();
  t.equal(s.active, 0);
});

t.test('dropAll rejects every waiter; idle resolves when nothing holds or waits', async (t) => {
  const s = new FifoSlots(1);
  await s.idle();
  s.tryTake();
  const waits = [s.wait(), s.wait()];
  let idle = false;
  const idleP = s.idle().then(() => { idle = true; });
  t.equal(s.dropAll(new Error('closed')), 2, 'two dropped');
  for (const w of waits) await t.rejects(w, /closed/);
  await tick();
  t.notOk(idle, 'a slot is still held: not idle');
  s.release();
  await idleP;
  t.ok(idle, 'idle once released');
});

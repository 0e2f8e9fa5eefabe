// The lane gate (issue 11 §3): a place per request in flight, waiters served first come first
// served, a waiter given up at its deadline, a release counted once; and the rate guard that cuts
// an answer moving slower than limits.min_read_rate. Time is a manual clock: no waiting.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { Gate, type StartTimer } from '../../src/server/lanes.js';
import { guardRate, TOO_SLOW } from '../../src/server/rate-guard.js';

/** Timers that fire only when the test advances the clock. */
function manualClock(): { timer: StartTimer; advance(ms: number): void; pending(): number } {
  let now = 0;
  let timers: { at: number; fire: () => void }[] = [];
  return {
    timer: (ms, fire) => {
      const entry = { at: now + ms, fire };
      timers.push(entry);
      return () => (timers = timers.filter((x) => x !== entry));
    },
    advance(ms) {
      now += ms;
      const due = timers.filter((x) => x.at <= now);
      timers = timers.filter((x) => x.at > now);
      for (const x of due) x.fire();
    },
    pending: () => timers.length,
  };
}

const settled = async <T>(p: Promise<T>): Promise<'resolved' | 'rejected' | 'pending'> => {
  let state: 'resolved' | 'rejected' | 'pending' = 'pending';
  p.then(() => (state = 'resolved'), () => (state = 'rejected'));
  await new Promise((r) => setImmediate(r));
  return state;
};

t.test('a full gate makes the next request wait, and hands a freed place to the longest waiter', async (t) => {
  const clock = manualClock();
  const gate = new Gate(2, clock.timer);
  const a = await gate.acquire(1000);
  await gate.acquire(1000);
  t.equal(gate.inUse, 2);
  const first = gate.acquire(1000);
  const second = gate.acquire(1000);
  t.equal(await settled(first), 'pending', 'the third waits');
  a();
  t.equal(await settled(first), 'resolved', 'the longest waiter gets the freed place');
  t.equal(await settled(second), 'pending', 'the next still waits');
  a();
  t.equal(await settled(second), 'pending', 'a second release of the same place frees nothing');
  t.equal(gate.inUse, 2);
  t.equal(clock.pending(), 1, "the served waiter's deadline was cancelled");
});

t.test('a waiter is given up at its deadline, and a place freed later goes back to the gate', async (t) => {
  const clock = manualClock();
  const gate = new Gate(1, clock.timer);
  const held = await gate.acquire(1000);
  const waiting = gate.acquire(500);
  clock.advance(499);
  t.equal(await settled(waiting), 'pending');
  clock.advance(1);
  t.equal(await settled(waiting), 'rejected', 'no place within its time: given up');
  t.equal(gate.waiting, 0);
  held();
  t.equal(gate.inUse, 0, 'the place is free again, not handed to the gone waiter');
});

t.test('the rate guard cuts an answer slower than the minimum, and leaves a fast one alone', async (t) => {
  const clock = manualClock();
  const slow = new PassThrough();
  let cut = 0;
  guardRate(slow, 1024, 1000, () => cut++, clock.timer);
  slow.write(Buffer.alloc(2048));
  clock.advance(1000);
  t.equal(cut, 0, 'the first window moved 2 KiB: enough');
  slow.write(Buffer.alloc(100));
  const error = new Promise<Error>((r) => slow.once('error', r));
  clock.advance(1000);
  t.equal(cut, 1, 'the second moved 100 bytes: cut');
  t.equal((await error).message, TOO_SLOW, 'the body is destroyed with the reason');

  const fast = new PassThrough();
  const stop = guardRate(fast, 1024, 1000, () => cut++, clock.timer);
  for (let i = 0; i < 5; i++) {
    fast.write(Buffer.alloc(4096));
    clock.advance(1000);
  }
  t.equal(cut, 1, 'a steady 4 KiB a second is never cut');
  stop();
  t.equal(clock.pending(), 0, 'stopping cancels its timer');
});

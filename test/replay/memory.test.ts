import t from 'tap';
import { MemoryLedger } from '../../src/replay/memory.js';
import { Denial } from '../../src/reasons.js';
import { Metrics } from '../../src/server/metrics.js';

const key = (jti: string) => ({ iss: 'sab.test', jti, op: 0 });

// Issue 11 §6: the ledger holds each use until exp + skew; it is bounded, and full means fail
// closed (a live use forgotten early could run again), never forget.
t.test('bounded: full with live uses fails closed; expired uses make room', async (t) => {
  let now = 1000;
  const ledger = new MemoryLedger({ now: () => now, maxEntries: 3, sweepMs: 3_600_000 });
  t.teardown(() => ledger.close());
  for (const jti of ['a', 'b', 'c']) (await ledger.reserve(key(jti), 1, 1000, 1000 + 930)).commit();
  t.equal(ledger.entries(), 3);
  const full = await ledger.reserve(key('d'), 1, 1000, 1000 + 930).catch((e: unknown) => e);
  t.ok(full instanceof Denial && full.code === 'replay_unavailable', 'full: replay_unavailable');
  const spent = await ledger.reserve(key('a'), 1, 1000, 1000 + 930).catch((e: unknown) => e);
  t.ok(spent instanceof Denial && spent.code === 'replay', 'a spent use is still remembered');

  now = 1000 + 931;
  (await ledger.reserve(key('d'), 1, 1000, now + 930)).commit();
  t.equal(ledger.entries(), 1, 'the expired uses were dropped to make room');
});

t.test('seb_replay_entries reports the ledger size', async (t) => {
  const ledger = new MemoryLedger({ now: () => 1000 });
  t.teardown(() => ledger.close());
  const metrics = new Metrics();
  metrics.observeLedger(ledger);
  (await ledger.reserve(key('x'), 1, 1000, 2000)).commit();
  (await ledger.reserve(key('y'), 2, 1000, 2000)).commit();
  t.match(await metrics.registry.metrics(), /^seb_replay_entries 2$/m);
});

import t from 'tap';
import { FreshnessWatch, freshness } from '../../src/authority/freshness-watch.js';
import type { AuthoritySnapshot } from '../../src/authority/state.js';
import { Metrics } from '../../src/server/metrics.js';

const at = (seq: number, iat: number): AuthoritySnapshot => ({ seq, iat, max_age: 300, policy_epoch: 1, revocation_epoch: 0 });

t.test('freshness by age against max_age', async (t) => {
  const table: [AuthoritySnapshot | null, number, string][] = [
    [null, 1000, 'none'],
    [at(1, 1000), 1000, 'fresh'],
    [at(1, 1000), 1150, 'fresh'],
    [at(1, 1000), 1150.5, 'overdue'],
    [at(1, 1000), 1300, 'overdue'],
    [at(1, 1000), 1300.5, 'stale'],
  ];
  for (const [state, now, want] of table) t.equal(freshness(state, now), want, `seq ${state?.seq ?? '-'} at ${now}`);
});

// Issue 11 §6: a missed republish must show long before certified requests start failing.
t.test('warns once when a republish is missed, once on expiry, and not while republished in time', async (t) => {
  let now = 1000;
  let state: AuthoritySnapshot | null = at(1, 1000);
  const logs: string[] = [];
  const watch = new FreshnessWatch({ snapshot: () => state }, { now: () => now, log: (l) => logs.push(l) });

  for (const step of [60, 60, 60]) {
    now += step;
    state = at(state.seq + 1, now);
    t.equal(watch.check(), 'fresh');
  }
  t.same(logs, [], 'republished every 60 s: silent');

  now += 151;
  t.equal(watch.check(), 'overdue');
  now += 5;
  t.equal(watch.check(), 'overdue');
  t.equal(logs.length, 1, 'one warning per state, at half its max_age');
  t.match(logs[0], /warning: authority state seq 4 .*republish was missed.* in 149 s/);

  now += 150;
  t.equal(watch.check(), 'stale');
  t.equal(watch.check(), 'stale');
  t.equal(logs.length, 2);
  t.match(logs[1], /seq 4 expired/);

  state = at(5, now);
  t.equal(watch.check(), 'fresh');
  t.equal(logs.length, 2, 'a fresh state logs nothing here (the authority logs its acceptance)');
});

t.test('seb_authority_overdue follows the same rule', async (t) => {
  const metrics = new Metrics();
  const gauge = async () => Number(/^seb_authority_overdue (\S+)/m.exec(await metrics.registry.metrics())?.[1]);
  const now = Date.now() / 1000;
  let state: AuthoritySnapshot | null = null;
  metrics.observeAuthority({ snapshot: () => state, rejected: 0 });
  t.equal(await gauge(), 1, 'no state yet');
  state = at(1, now - 10);
  t.equal(await gauge(), 0);
  state = at(1, now - 200);
  t.equal(await gauge(), 1, 'past half its max_age');
});

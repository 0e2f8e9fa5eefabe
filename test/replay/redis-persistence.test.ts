// Which Redis settings the shared ledger refuses (issue 11 §4, src/replay/redis-persistence.ts).
import t from 'tap';
import { persistenceProblems } from '../../src/replay/redis-persistence.js';

const SAFE = { appendonly: 'yes', appendfsync: 'always', 'maxmemory-policy': 'noeviction' };

t.test('only appendonly yes, appendfsync always and noeviction pass', async (t) => {
  t.same(persistenceProblems(SAFE), []);
  const cases: [string, Record<string, string>, string[]][] = [
    ["Redis's defaults (RDB snapshots)", { appendonly: 'no', appendfsync: 'everysec', 'maxmemory-policy': 'noeviction' }, ['appendonly is "no", not "yes"', 'appendfsync is "everysec", not "always"']],
    ['AOF fsynced every second', { ...SAFE, appendfsync: 'everysec' }, ['appendfsync is "everysec", not "always"']],
    ['AOF left to the OS', { ...SAFE, appendfsync: 'no' }, ['appendfsync is "no", not "always"']],
    ['an eviction policy that takes keys with a TTL', { ...SAFE, 'maxmemory-policy': 'volatile-lru' }, ['maxmemory-policy is "volatile-lru", not "noeviction"']],
    ['settings not reported (a proxy that hides them)', {}, ['appendonly is not reported, not "yes"', 'appendfsync is not reported, not "always"', 'maxmemory-policy is not reported, not "noeviction"']],
  ];
  for (const [name, settings, want] of cases) t.same(persistenceProblems(settings), want, name);
});

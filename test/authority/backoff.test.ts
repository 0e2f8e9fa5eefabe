// The authority sources' retry delays: full jitter that grows from 0.1 s and never passes 5 s,
// since the cap is also how long a broker stays stale after its source is back.
import t from 'tap';
import { Backoff } from '../../src/authority/backoff.js';

t.test('grows from 100 ms, is capped at 5 s, and starts again after reset', async (t) => {
  const b = new Backoff();
  const first = Array.from({ length: 200 }, () => new Backoff().next());
  t.ok(first.every((d) => d >= 0 && d < 100), 'the first delay is under 100 ms');
  const delays = Array.from({ length: 1_000 }, () => b.next());
  t.ok(delays.every((d) => d >= 0 && d < 5_000), `never 5 s or more (max ${Math.max(...delays).toFixed(0)} ms)`);
  t.ok(delays.slice(100).some((d) => d > 2_500), 'long failures do reach the cap region');
  b.reset();
  t.ok(b.next() < 100, 'after a success the next failure waits little again');
});

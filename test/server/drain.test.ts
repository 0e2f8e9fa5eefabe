// A draining listener (README "Shutdown"): no new connections, requests in flight finish, and
// whatever is still open at the deadline is cut. The drain's polls run on a manual clock: the tests
// assert which waits it asks for and what has happened before and after each, never a duration.
import t from 'tap';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CUT_WAIT_MS, ListenerDrain, POLL_MS } from '../../src/server/drain.js';
import { ManualClock } from '../helpers/manual-clock.js';

interface Listener {
  readonly port: number;
  readonly drain: ListenerDrain;
  readonly clock: ManualClock;
  /** Resolves once the handler holds a request. */
  readonly holding: Promise<void>;
  /** Releases the requests the handler is holding (each answers 200 then). */
  release(): void;
}

/** A server whose handler holds every request until release(). */
async function listener(): Promise<Listener> {
  const held: ServerResponse[] = [];
  let holds!: () => void;
  const holding = new Promise<void>((resolve) => (holds = resolve));
  const server = createServer();
  const clock = new ManualClock();
  const drain = new ListenerDrain(server, clock);
  server.on(
    'request',
    drain.requests((_req: IncomingMessage, res: ServerResponse) => {
      held.push(res);
      holds();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    drain,
    clock,
    holding,
    release: () => {
      for (const res of held.splice(0)) res.end('done');
    },
  };
}

interface Answer {
  readonly status: number | null;
  readonly error: string | null;
}

function get(port: number): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? null, error: null }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: null, error: err.code ?? err.message }));
    req.end();
  });
}

/**
 * Wakes each wait the drain asks for, `step` ms at a time, while `more()` holds and the drain has
 * not resolved; answers whether it resolved. Each step first lets pending I/O (a socket's close)
 * through, as real time would. Bounded: a drain that never settles fails the test.
 */
async function advance(clock: ManualClock, drained: Promise<boolean>, step: number, more = () => true): Promise<boolean> {
  let done = false;
  void drained.then(() => (done = true));
  for (let i = 0; i < 1_000 && !done && more(); i++) {
    await Promise.race([clock.sleeping(1), drained]);
    await new Promise((r) => setImmediate(r));
    if (!done) clock.advance(step);
  }
  return done;
}

t.test('requests in flight finish; new connections are refused', async (t) => {
  const l = await listener();
  const inFlight = get(l.port);
  await l.holding;
  const drained = l.drain.drain(l.clock.now() + 5_000);
  t.match(await get(l.port), { status: null, error: 'ECONNREFUSED' }, 'no new connection once draining');
  await l.clock.sleeping(1);
  t.same(l.clock.asked, [POLL_MS], 'the drain polls while the request is in flight');
  l.release();
  t.match(await inFlight, { status: 200 }, 'the request in flight was answered');
  t.ok(await advance(l.clock, drained, POLL_MS), 'the drain ended');
  t.equal(await drained, true, 'drained cleanly');
  t.ok(l.clock.now() < 5_000, 'before the deadline');
});

t.test('what is still open at the deadline is cut', async (t) => {
  const l = await listener();
  const hung = get(l.port);
  await l.holding;
  const drained = l.drain.drain(l.clock.now() + 300);
  t.notOk(await advance(l.clock, drained, POLL_MS, () => l.clock.now() < 250), 'still open 50 ms before the deadline');
  await l.clock.sleeping(1);
  t.same(l.clock.asked, [POLL_MS, POLL_MS, POLL_MS, POLL_MS, POLL_MS, POLL_MS], 'polled every POLL_MS up to the deadline');
  t.ok(await advance(l.clock, drained, POLL_MS / 5), 'the drain ended');
  t.equal(await drained, false, 'not clean');
  t.ok(l.clock.now() >= 300 && l.clock.now() < 300 + CUT_WAIT_MS, `cut at the deadline (${l.clock.now()} ms)`);
  t.match(await hung, { status: null, error: /ECONNRESET|socket hang up/ }, 'the held request was cut');
});

t.test('a second drain with a closer deadline brings the cut forward', async (t) => {
  const l = await listener();
  const hung = get(l.port);
  await l.holding;
  const first = l.drain.drain(l.clock.now() + 60_000);
  await l.clock.sleeping(1);
  const second = l.drain.drain(l.clock.now());
  t.ok(await advance(l.clock, second, POLL_MS / 5), 'the drain ended');
  t.equal(await second, false, 'not clean');
  t.equal(await first, false, 'the same drain');
  t.ok(l.clock.now() < POLL_MS + CUT_WAIT_MS, `cut at the next poll, not at the first deadline (${l.clock.now()} ms)`);
  t.match(await hung, { status: null });
});

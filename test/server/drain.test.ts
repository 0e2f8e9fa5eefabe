// A draining listener (README "Shutdown"): no new connections, requests in flight finish, and
// whatever is still open at the deadline is cut.
import t from 'tap';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListenerDrain } from '../../src/server/drain.js';

interface Listener {
  readonly port: number;
  readonly drain: ListenerDrain;
  /** Releases the requests the handler is holding (each answers 200 then). */
  release(): void;
}

/** A server whose handler holds every request until release(). */
async function listener(): Promise<Listener> {
  const held: ServerResponse[] = [];
  const server = createServer();
  const drain = new ListenerDrain(server);
  server.on('request', drain.requests((_req: IncomingMessage, res: ServerResponse) => void held.push(res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    drain,
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

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('requests in flight finish; new connections are refused', async (t) => {
  const l = await listener();
  const inFlight = get(l.port);
  await tick(50);
  const drained = l.drain.drain(Date.now() + 5_000);
  await tick(50);
  t.match(await get(l.port), { status: null, error: 'ECONNREFUSED' }, 'no new connection once draining');
  l.release();
  t.match(await inFlight, { status: 200 }, 'the request in flight was answered');
  t.equal(await drained, true, 'drained cleanly, before the deadline');
});

t.test('what is still open at the deadline is cut', async (t) => {
  const l = await listener();
  const hung = get(l.port);
  await tick(50);
  const started = Date.now();
  t.equal(await l.drain.drain(Date.now() + 300), false, 'not clean');
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 250 && elapsed < 2_000, `cut at the deadline (${elapsed} ms)`);
  t.match(await hung, { status: null, error: /ECONNRESET|socket hang up/ }, 'the held request was cut');
});

t.test('a second drain with a closer deadline brings the cut forward', async (t) => {
  const l = await listener();
  const hung = get(l.port);
  await tick(50);
  const first = l.drain.drain(Date.now() + 60_000);
  await tick(50);
  const started = Date.now();
  t.equal(await l.drain.drain(Date.now()), false, 'not clean');
  t.equal(await first, false, 'the same drain');
  t.ok(Date.now() - started < 1_000, 'cut at once');
  t.match(await hung, { status: null });
});

// The HTTP URL authority source against real loopback servers: push (SSE), long-poll and plain
// polling with ETags, reconnects, replays, bounded bodies. Its waits (poll interval, backoff,
// Retry-After, the start-up wait) run on a ManualClock: a test moves time past each wait and asserts
// the requests that follow, and "pushed, not polled" is shown by the waits the source asked for.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startAuthorityFeed } from '../../src/authority/feed-server.js';
import { FIRST_STATE_MS, POLL_MS, watchAuthorityUrl } from '../../src/authority/url-source.js';
import { TrustStore } from '../../src/certificate/trust.js';
import { issueAuthority, makeKey, writeKey, TEST_ISS } from '../helpers/pki.js';
import { observedAuthority } from '../helpers/authority.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-authority-url-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const issuer = makeKey();
const trust = await TrustStore.load([{ iss: TEST_ISS, jwks: writeKey(dir, issuer).jwksPath }]);
const state = (seq: number, revokedJti: string[] = []) => issueAuthority(issuer, { seq, revokedJti });

/** A scripted server: `reply` answers each request; every request's headers are kept. */
async function scripted(t: Test, reply: (res: ServerResponse, headers: IncomingHttpHeaders, n: number) => void) {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    reply(res, req.headers, seen.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/state?token=secret`, seen };
}

/** A source following `url` on a ManualClock, closed at the end of the test. */
async function watching(t: Test, url: string) {
  const w = observedAuthority(trust);
  const clock = new ManualClock();
  const source = await watchAuthorityUrl(url, w.authority, w.problem, { clock });
  t.teardown(() => source.close());
  // The first wait is the start-up one (FIRST_STATE_MS); then one per request, in order.
  let seen = 1;
  /** The next wait the source asks for, once it has. */
  const asked = async (): Promise<number> => {
    if (!(await until(() => clock.asked.length > seen))) throw new Error(`the source asked for no wait after ${clock.asked.join(', ')}`);
    return clock.asked[seen++]!;
  };
  /** The next wait, woken: the request after it goes. */
  const wake = async (): Promise<number> => {
    const ms = await asked();
    clock.advance(ms);
    return ms;
  };
  return { ...w, clock, source, asked, wake };
}

t.test('push (SSE): the first state before start resolves, each publish pushed, one connection', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'sse' });
  t.teardown(() => feed.close());
  feed.publish(await state(1));
  const w = await watching(t, feed.url);
  t.equal(w.authority.snapshot()?.seq, 1, 'the current state was in force when start resolved');
  feed.publish(await state(2, ['c-1']));
  t.ok(await until(() => w.authority.snapshot()?.seq === 2), 'pushed');
  t.same(w.clock.asked, [FIRST_STATE_MS], 'no wait asked for but the start-up one: pushed, not polled');
  t.equal(feed.requests, 1, 'one stream');
  t.same(w.problems, []);
});

t.test('push (SSE): a replayed old state is refused and logged; the current one stays', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'sse' });
  t.teardown(() => feed.close());
  const old = await state(4);
  feed.publish(await state(5, ['c-2']));
  const w = await watching(t, feed.url);
  feed.publish(old);
  t.ok(await until(() => w.logs.some((l) => /refused: seq 4 is below the current 5/.test(l))), 'logged');
  t.equal(w.authority.snapshot()?.seq, 5);
  t.equal(w.authority.rejected, 1, 'counted');
});

t.test('push (SSE): a stream that ends is opened again after a short backoff', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'sse' });
  feed.publish(await state(1));
  const port = Number(new URL(feed.url).port);
  const w = await watching(t, feed.url);
  await feed.close();
  const first = await w.wake();
  t.ok(first < 100, `the ended stream is opened again after a short backoff (${first} ms)`);
  t.ok(await until(() => w.problems.length === 1), 'nothing listens: the failed reconnect is reported');
  const again = await startAuthorityFeed({ mode: 'sse', port });
  t.teardown(() => again.close());
  again.publish(await state(2));
  await w.wake();
  t.ok(await until(() => w.authority.snapshot()?.seq === 2), 'reconnected and read the current state');
  t.match(w.problems[0], /ECONNREFUSED|closed|socket/i);
  t.notOk(w.problems.some((p) => p.includes('secret')), 'the query is never logged');
});

t.test('long-poll: a held request answers at the next publish; no polling in between', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'long-poll' });
  t.teardown(() => feed.close());
  feed.publish(await state(1));
  const w = await watching(t, feed.url);
  // The server says it holds requests (Preference-Applied): after a new state the next request
  // goes at once (a wait of 0), and is held there until the next publish.
  for (const seq of [2, 3, 4]) {
    t.equal(await w.wake(), 0, `after seq ${seq - 1}, asked again at once`);
    t.ok(await until(() => feed.requests === seq), 'and the request is held');
    feed.publish(await state(seq));
    t.ok(await until(() => w.authority.snapshot()?.seq === seq), `seq ${seq} taken at its publish`);
  }
  t.notOk(w.clock.asked.includes(POLL_MS), 'never a poll interval');
});

t.test('poll: If-None-Match with the last ETag, 304 keeps the state, a new ETag is offered', async (t) => {
  let body = await state(1);
  let etag = '"v1"';
  const server = await scripted(t, (res, headers) => {
    if (headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': 'application/jose', etag }).end(body);
  });
  const w = await watching(t, server.url);
  t.equal(w.authority.snapshot()?.seq, 1);
  t.match(server.seen[0], { accept: /text\/event-stream.*application\/jose/ });
  t.equal(server.seen[0]!['if-none-match'], undefined);
  t.equal(await w.wake(), POLL_MS, 'the next request after the poll interval');
  t.ok(await until(() => server.seen.length === 2));
  t.match(server.seen[1], { 'if-none-match': '"v1"', prefer: 'wait=30' }, 'conditional, and offers to be held');
  body = await state(2);
  etag = '"v2"';
  t.equal(await w.wake(), POLL_MS, '304: the next interval');
  t.ok(await until(() => w.authority.snapshot()?.seq === 2), 'the next poll brings the new state');
  t.equal(await w.asked(), POLL_MS);
  w.clock.advance(POLL_MS - 1);
  await new Promise((r) => setImmediate(r));
  t.equal(server.seen.length, 3, 'no request before the interval is over');
  w.clock.advance(1);
  t.ok(await until(() => server.seen.length === 4), 'one when it is');
  t.same(w.problems, []);
});

t.test('failures are reported and retried with backoff; the state stays', async (t) => {
  let failing = true;
  const good = await state(3);
  const server = await scripted(t, (res, _h, n) => {
    if (n === 1) return void res.writeHead(200, { 'content-type': 'application/jose' }).end(good);
    if (failing) return void res.writeHead(500).end('boom');
    res.writeHead(200, { 'content-type': 'application/jose' }).end(good);
  });
  const w = await watching(t, server.url);
  t.equal(await w.wake(), POLL_MS);
  t.ok(await until(() => w.problems.length === 1));
  const first = await w.wake();
  t.ok(first < POLL_MS, `retried after a backoff (${first} ms)`);
  t.ok(await until(() => w.problems.length === 2), 'and reported again');
  t.match(w.problems[0], /^authority url http:\/\/127\.0\.0\.1:\d+\/state: HTTP 500$/);
  t.equal(w.authority.snapshot()?.seq, 3, 'the good state stays');
  failing = false;
  await w.wake();
  t.ok(await until(() => server.seen.length === 4));
  t.equal(Math.round(await w.asked()), POLL_MS, 'recovered: back to the poll interval (measured on a clock moved by fractional backoffs)');
  t.equal(w.problems.length, 2, 'nothing more reported');
});

t.test('a 503 with Retry-After is retried after that delay, not after a grown backoff', async (t) => {
  // A broker started before its SAB has published: the feed answers 503 "retry-after: 1" until
  // then. However many refusals came before, the first state is taken at the server's delay.
  let published: string | null = null;
  const server = await scripted(t, (res) => {
    if (published === null) return void res.writeHead(503, { 'retry-after': '1' }).end('no state yet');
    res.writeHead(200, { 'content-type': 'application/jose' }).end(published);
  });
  const w = await watching(t, server.url);
  for (let n = 1; n <= 6; n++) {
    t.ok(await until(() => w.problems.length === n), `refusal ${n} reported`);
    if (n < 6) t.equal(await w.wake(), 1_000, 'asked again after the server\'s second');
  }
  t.match(w.problems[0], /HTTP 503$/);
  published = await state(1);
  t.equal(await w.wake(), 1_000, 'the server\'s delay again, not a grown backoff');
  t.ok(await until(() => w.authority.snapshot()?.seq === 1), 'the first state is taken');
});

t.test('bodies are bounded: an oversized state is a failure, not a read to the end', async (t) => {
  const server = await scripted(t, (res) => {
    res.writeHead(200, { 'content-type': 'application/jose' });
    res.end(Buffer.alloc(2 * 1024 * 1024, 'a'));
  });
  const w = await watching(t, server.url);
  t.match(w.problems[0], /over 1048576 bytes/);
  t.equal(w.authority.snapshot(), null);

  const stream = await scripted(t, (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${'a'.repeat(1024 * 1024 + 10)}\n\n`);
  });
  const w2 = await watching(t, stream.url);
  t.match(w2.problems[0], /over 1048576 bytes/);
});

t.test('close stops all requests', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'poll' });
  t.teardown(() => feed.close());
  feed.publish(await state(1));
  const w = await watching(t, feed.url);
  await w.asked();
  await w.source.close();
  const count = feed.requests;
  t.equal(w.clock.pending, 0, 'close ends every wait');
  w.clock.advance(10 * POLL_MS);
  await new Promise((r) => setImmediate(r));
  t.equal(feed.requests, count, 'and no request follows');
});

// The HTTP URL authority source against real loopback servers: push (SSE), long-poll and plain
// polling with ETags, reconnects, replays, bounded bodies.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startAuthorityFeed } from '../../src/authority/feed-server.js';
import { watchAuthorityUrl } from '../../src/authority/url-source.js';
import { TrustStore } from '../../src/certificate/trust.js';
import { issueAuthority, makeKey, writeKey, TEST_ISS } from '../helpers/pki.js';
import { observedAuthority } from '../helpers/authority.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-authority-url-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const issuer = makeKey();
const trust = await TrustStore.load([{ iss: TEST_ISS, jwks: writeKey(dir, issuer).jwksPath }]);
const state = (seq: number, revokedJti: string[] = []) => issueAuthority(issuer, { seq, revokedJti });

const world = () => observedAuthority(trust);

/** A scripted server: `reply` answers each request; every request's headers are kept. */
async function scripted(reply: (res: ServerResponse, headers: IncomingHttpHeaders, n: number) => void) {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    reply(res, req.headers, seen.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/state?token=secret`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

t.test('push (SSE): the first state before start resolves, each publish within milliseconds, one connection', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'sse' });
  t.teardown(() => feed.close());
  feed.publish(await state(1));
  const w = world();
  const source = await watchAuthorityUrl(feed.url, w.authority, w.problem);
  t.teardown(() => source.close());
  t.equal(w.authority.snapshot()?.seq, 1, 'the current state was in force when start resolved');
  const published = Date.now();
  feed.publish(await state(2, ['c-1']));
  t.ok(await until(() => w.authority.snapshot()?.seq === 2, 3_000), 'pushed');
  t.ok(Date.now() - published < 900, `in ${Date.now() - published} ms, before any 1 s poll`);
  await sleep(1200);
  t.equal(feed.requests, 1, 'one stream, no polling');
  t.same(w.problems, []);
});

t.test('push (SSE): a replayed old state is refused and logged; the current one stays', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'sse' });
  t.teardown(() => feed.close());
  const old = await state(4);
  feed.publish(await state(5, ['c-2']));
  const w = world();
  const source = await watchAuthorityUrl(feed.url, w.authority, w.problem);
  t.teardown(() => source.close());
  feed.publish(old);
  t.ok(await until(() => w.logs.some((l) => /refused: seq 4 is below the current 5/.test(l))), 'logged');
  t.equal(w.authority.snapshot()?.seq, 5);
  t.equal(w.authority.rejected, 1, 'counted');
});

t.test('push (SSE): a stream that ends is opened again after a short backoff', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'sse' });
  feed.publish(await state(1));
  const port = Number(new URL(feed.url).port);
  const w = world();
  const source = await watchAuthorityUrl(feed.url, w.authority, w.problem);
  t.teardown(() => source.close());
  await feed.close();
  await sleep(300);
  const again = await startAuthorityFeed({ mode: 'sse', port });
  t.teardown(() => again.close());
  again.publish(await state(2));
  t.ok(await until(() => w.authority.snapshot()?.seq === 2, 10_000), 'reconnected and read the current state');
  t.ok(w.problems.some((p) => /ECONNREFUSED|closed|socket/i.test(p)), 'the failed reconnects were reported');
  t.notOk(w.problems.some((p) => p.includes('secret')), 'the query is never logged');
});

t.test('long-poll: a held request answers at the next publish; no polling in between', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'long-poll' });
  t.teardown(() => feed.close());
  feed.publish(await state(1));
  const w = world();
  const source = await watchAuthorityUrl(feed.url, w.authority, w.problem);
  t.teardown(() => source.close());
  await sleep(2500);
  t.ok(feed.requests <= 2, `held, not polled (${feed.requests} requests)`);
  // A burst: the server says it holds requests (Preference-Applied), so each new state is followed
  // by the next request at once, not after a poll interval.
  for (const seq of [2, 3, 4]) {
    const published = Date.now();
    feed.publish(await state(seq));
    t.ok(await until(() => w.authority.snapshot()?.seq === seq, 3_000));
    t.ok(Date.now() - published < 700, `seq ${seq} in ${Date.now() - published} ms, not at the next 1 s poll`);
  }
});

t.test('poll: If-None-Match with the last ETag, 304 keeps the state, a new ETag is offered', async (t) => {
  let body = await state(1);
  let etag = '"v1"';
  const server = await scripted((res, headers) => {
    if (headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': 'application/jose', etag }).end(body);
  });
  t.teardown(() => server.close());
  const w = world();
  const source = await watchAuthorityUrl(server.url, w.authority, w.problem);
  t.teardown(() => source.close());
  t.equal(w.authority.snapshot()?.seq, 1);
  t.match(server.seen[0], { accept: /text\/event-stream.*application\/jose/ });
  t.equal(server.seen[0]!['if-none-match'], undefined);
  await until(() => server.seen.length >= 3, 4000);
  t.match(server.seen[1], { 'if-none-match': '"v1"', prefer: 'wait=30' }, 'conditional, and offers to be held');
  body = await state(2);
  etag = '"v2"';
  t.ok(await until(() => w.authority.snapshot()?.seq === 2, 3000), 'the next poll brings the new state');
  const before = server.seen.length;
  await sleep(2100);
  const polls = server.seen.length - before;
  t.ok(polls >= 1 && polls <= 3, `about one poll a second (${polls} in 2.1 s)`);
  t.same(w.problems, []);
});

t.test('failures are reported and retried with backoff; the state stays', async (t) => {
  let failing = true;
  const good = await state(3);
  const server = await scripted((res, _h, n) => {
    if (n === 1) return void res.writeHead(200, { 'content-type': 'application/jose' }).end(good);
    if (failing) return void res.writeHead(500).end('boom');
    res.writeHead(200, { 'content-type': 'application/jose' }).end(good);
  });
  t.teardown(() => server.close());
  const w = world();
  const source = await watchAuthorityUrl(server.url, w.authority, w.problem);
  t.teardown(() => source.close());
  t.ok(await until(() => w.problems.length >= 2, 5000));
  t.match(w.problems[0], /^authority url http:\/\/127\.0\.0\.1:\d+\/state: HTTP 500$/);
  t.equal(w.authority.snapshot()?.seq, 3, 'the good state stays');
  failing = false;
  const count = w.problems.length;
  await sleep(2500);
  t.ok(w.problems.length <= count + 1, 'recovered');
});

t.test('a 503 with Retry-After is retried after that delay, not after a grown backoff', async (t) => {
  // A broker started before its SAB has published: the feed answers 503 "retry-after: 1" until
  // then. However many refusals came before, the first state is taken within about a second.
  let published: string | null = null;
  const server = await scripted((res) => {
    if (published === null) return void res.writeHead(503, { 'retry-after': '1' }).end('no state yet');
    res.writeHead(200, { 'content-type': 'application/jose' }).end(published);
  });
  t.teardown(() => server.close());
  const w = world();
  const source = await watchAuthorityUrl(server.url, w.authority, w.problem);
  t.teardown(() => source.close());
  t.ok(await until(() => w.problems.length >= 6, 10_000), 'refused, asked again each second');
  t.match(w.problems[0], /HTTP 503$/);
  published = await state(1);
  const at = Date.now();
  t.ok(await until(() => w.authority.snapshot()?.seq === 1, 3_000), 'the first state is taken');
  t.ok(Date.now() - at < 2_000, `within the server's delay (${Date.now() - at} ms)`);
});

t.test('bodies are bounded: an oversized state is a failure, not a read to the end', async (t) => {
  const server = await scripted((res) => {
    res.writeHead(200, { 'content-type': 'application/jose' });
    res.end(Buffer.alloc(2 * 1024 * 1024, 'a'));
  });
  t.teardown(() => server.close());
  const w = world();
  const source = await watchAuthorityUrl(server.url, w.authority, w.problem);
  t.teardown(() => source.close());
  t.match(w.problems[0], /over 1048576 bytes/);
  t.equal(w.authority.snapshot(), null);

  const stream = await scripted((res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${'a'.repeat(1024 * 1024 + 10)}\n\n`);
  });
  t.teardown(() => stream.close());
  const w2 = world();
  const source2 = await watchAuthorityUrl(stream.url, w2.authority, w2.problem);
  t.teardown(() => source2.close());
  t.match(w2.problems[0], /over 1048576 bytes/);
});

t.test('close stops all requests', async (t) => {
  const feed = await startAuthorityFeed({ mode: 'poll' });
  t.teardown(() => feed.close());
  feed.publish(await state(1));
  const w = world();
  const source = await watchAuthorityUrl(feed.url, w.authority, w.problem);
  await source.close();
  const count = feed.requests;
  await sleep(1500);
  t.equal(feed.requests, count);
});

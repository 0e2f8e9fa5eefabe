// The URL authority source's timing with a manual clock (no wall-clock waits): the poll interval,
// a server's Retry-After over the backoff (capped), failures backing off, the start-up wait for a
// server that holds the first request, and close. Asserts the waits asked for and the order of
// requests; the source against the real feed server is in url-source.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { watchAuthorityUrl } from '../../src/authority/url-source.js';
import { TrustStore } from '../../src/certificate/trust.js';
import { issueAuthority, makeKey, writeKey, TEST_ISS } from '../helpers/pki.js';
import { observedAuthority } from '../helpers/authority.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-authority-url-clock-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const issuer = makeKey();
const trust = await TrustStore.load([{ iss: TEST_ISS, jwks: writeKey(dir, issuer).jwksPath }]);
const FIRST_STATE_MS = 5_000;
const POLL_MS = 1_000;

/** A loopback server whose `reply` answers each request (null: hold it unanswered). */
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
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/state`, seen };
}

t.test('poll: the next request comes after POLL_MS, conditional on the ETag, and not before', async (t) => {
  const body = await issueAuthority(issuer, { seq: 1 });
  const server = await scripted(t, (res, headers) => {
    if (headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
    res.writeHead(200, { 'content-type': 'application/jose', etag: '"v1"' }).end(body);
  });
  const clock = new ManualClock();
  const w = observedAuthority(trust);
  const source = await watchAuthorityUrl(server.url, w.authority, w.problem, { clock });
  t.teardown(() => source.close());
  t.equal(w.authority.snapshot()?.seq, 1, 'the first state is in force when start resolves');
  await clock.sleeping(2);
  t.same(clock.asked, [FIRST_STATE_MS, POLL_MS], 'start-up wait, then one poll interval');
  t.equal(server.seen.length, 1, 'no second request before the interval');
  clock.advance(POLL_MS);
  t.ok(await until(() => server.seen.length === 2), 'the interval over, the next request');
  t.equal(server.seen[1]!['if-none-match'], '"v1"', 'conditional on the last ETag');
  await clock.sleeping(2);
  t.same(clock.asked, [FIRST_STATE_MS, POLL_MS, POLL_MS], '304: the next interval');
  t.same(w.problems, []);
});

t.test("a 503's Retry-After is believed over the backoff and capped at 30 s; a 500 backs off", async (t) => {
  const server = await scripted(t, (res, _h, n) => {
    if (n === 1) return void res.writeHead(503, { 'retry-after': '1' }).end();
    if (n === 2) return void res.writeHead(503, { 'retry-after': '999999' }).end();
    res.writeHead(500).end();
  });
  const clock = new ManualClock();
  const w = observedAuthority(trust);
  const source = await watchAuthorityUrl(server.url, w.authority, w.problem, { clock });
  t.teardown(() => source.close());
  await clock.sleeping(2);
  t.same(clock.asked, [FIRST_STATE_MS, 1_000], 'Retry-After: 1');
  clock.advance(1_000);
  await until(() => clock.asked.length === 3);
  t.equal(clock.asked[2], 30_000, 'Retry-After past the cap waits the cap');
  clock.advance(30_000);
  await until(() => clock.asked.length === 4);
  t.ok(clock.asked[3]! >= 0 && clock.asked[3]! < 100, 'a 500 waits the first backoff step');
  t.same(w.problems.map((p) => p.replace(/^.*: /, '')), ['HTTP 503', 'HTTP 503', 'HTTP 500'], 'each failure reported, in order');
  t.equal(server.seen.length, 3);
});

t.test('start-up waits FIRST_STATE_MS for a server that holds the request, then returns', async (t) => {
  const server = await scripted(t, () => {});
  const clock = new ManualClock();
  const w = observedAuthority(trust);
  let started = false;
  const starting = watchAuthorityUrl(server.url, w.authority, w.problem, { clock }).then((s) => ((started = true), s));
  await clock.sleeping(1);
  t.ok(await until(() => server.seen.length === 1), 'the first request is out');
  t.notOk(started, 'start has not resolved while the server holds the request');
  clock.advance(FIRST_STATE_MS);
  const source = await starting;
  t.teardown(() => source.close());
  t.equal(w.authority.snapshot(), null, 'started without a state (requests fail closed until one comes)');
});

t.test('close: no request after it, however far the clock moves', async (t) => {
  const body = await issueAuthority(issuer, { seq: 1 });
  const server = await scripted(t, (res) => res.writeHead(200, { 'content-type': 'application/jose' }).end(body));
  const clock = new ManualClock();
  const w = observedAuthority(trust);
  const source = await watchAuthorityUrl(server.url, w.authority, w.problem, { clock });
  await clock.sleeping(2);
  await source.close();
  t.equal(clock.pending, 0, 'close wakes every wait');
  clock.advance(60_000);
  await new Promise((r) => setImmediate(r));
  t.equal(server.seen.length, 1, 'one request, none after close');
});

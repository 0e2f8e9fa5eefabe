// Issuer key rotation without a restart: JWKS URLs refreshed on an unknown kid (with a cool-down)
// and on an interval, JWKS files re-read on change, removed keys refused at once, keys imported once
// per version. Time is a ManualClock: the tests move it past each bound and assert what follows.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TrustStore, URL_REFRESH_MS } from '../../src/certificate/trust.js';
import { DEBOUNCE_MS } from '../../src/certificate/watch-file.js';
import { CertificateVerifier } from '../../src/certificate/verify.js';
import { Denial } from '../../src/reasons.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { awsOp, issueCert, makeKey, TEST_AUD, TEST_ISS, type TestKey } from '../helpers/pki.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-trust-rotation-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const OP = awsOp({ service: 's3', operation: 'PutObject', resource: 'arn:aws:s3:::b/k' });
const jwks = (...keys: TestKey[]) => JSON.stringify({ keys: keys.map((k) => k.publicJwk) });

/** A JWKS endpoint on loopback that answers conditional GETs and counts what it served. */
async function jwksServer(initial: string) {
  let body = initial;
  const counts = { fetches: 0, notModified: 0 };
  const server = createServer((req, res) => {
    counts.fetches++;
    const etag = `"${hash(body)}"`;
    if (req.headers['if-none-match'] === etag) {
      counts.notModified++;
      return void res.writeHead(304, { etag }).end();
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json', etag }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    counts,
    set(next: string) {
      body = next;
    },
  };
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return h;
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof Denial ? err.code : `threw ${String(err)}`;
  }
}

/** A trust store following a JWKS URL that serves `keys`, on a ManualClock. */
async function servedTrust(...keys: TestKey[]) {
  const server = await jwksServer(jwks(...keys));
  const clock = new ManualClock(1_000_000);
  const trust = await TrustStore.load([{ iss: TEST_ISS, jwks: server.url }], { clock });
  return { server, clock, trust };
}

function verifier(trust: TrustStore) {
  return new CertificateVerifier({ trust, audience: TEST_AUD, principals: null, maxValidity: 900, skew: 30 });
}

t.test('an unknown kid refreshes the JWKS URL: a rotated-in key verifies on first use', async (t) => {
  const k1 = makeKey();
  const k2 = makeKey();
  const { server, clock, trust } = await servedTrust(k1);
  t.equal(server.counts.fetches, 1);
  server.set(jwks(k1, k2));
  clock.advance(31_000);
  const v = verifier(trust);
  t.equal(await reason(v.verify((await issueCert(k2, [OP])).jws)), 'ok', 'refreshed, then verified');
  t.equal(server.counts.fetches, 2);
  t.equal(await reason(v.verify((await issueCert(k1, [OP])).jws)), 'ok', 'the old key still verifies');
  t.equal(server.counts.fetches, 2, 'known kids never fetch');
});

t.test('a flood of made-up kids costs the issuer one fetch per cool-down', async (t) => {
  const k1 = makeKey();
  const { server, clock, trust } = await servedTrust(k1);
  const v = verifier(trust);
  const bogus = async (i: number) => (await issueCert(makeKey(`bogus-${i}`), [OP])).jws;
  const certs = await Promise.all(Array.from({ length: 200 }, (_, i) => bogus(i)));

  clock.advance(31_000);
  // 200 at once: they share the one refresh the first started.
  const reasons = await Promise.all(certs.slice(0, 100).map((c) => reason(v.verify(c))));
  t.ok(reasons.every((r) => r === 'untrusted_issuer'));
  t.equal(server.counts.fetches, 2, 'one refresh for 100 concurrent unknown kids');
  // And one after another within the cool-down: none.
  for (const c of certs.slice(100)) t.equal(await reason(v.verify(c)), 'untrusted_issuer');
  t.equal(server.counts.fetches, 2, 'none for 100 more inside the cool-down');

  clock.advance(29_000);
  await reason(v.verify(await bogus(1000)));
  t.equal(server.counts.fetches, 2, 'still inside the cool-down');
  clock.advance(2_000);
  await reason(v.verify(await bogus(1001)));
  t.equal(server.counts.fetches, 3, 'one more once it has passed');
  t.equal(server.counts.notModified, 2, 'and the refreshes were conditional (304)');
});

t.test('a removed key is refused at once after the refresh, even for a certificate verified before', async (t) => {
  const k1 = makeKey();
  const k2 = makeKey();
  const { server, clock, trust } = await servedTrust(k1);
  const v = verifier(trust);
  const old = (await issueCert(k1, [OP])).jws;
  t.equal(await reason(v.verify(old)), 'ok', 'verified (and cached)');
  const before = trust.key(TEST_ISS, k1.kid);

  // Rotation: k2 replaces k1. The first certificate under k2 brings the new JWKS in.
  server.set(jwks(k2));
  clock.advance(31_000);
  t.equal(await reason(v.verify((await issueCert(k2, [OP])).jws)), 'ok');
  t.equal(trust.key(TEST_ISS, k1.kid), undefined);
  t.equal(await reason(v.verify(old)), 'untrusted_issuer', 'the cached certificate under the removed key is refused');
  t.ok(before, 'k1 was there before');
});

t.test('an unchanged key keeps its imported object across versions (no re-import, cache stays valid)', async (t) => {
  const k1 = makeKey();
  const k2 = makeKey();
  const { server, clock, trust } = await servedTrust(k1);
  const first = trust.key(TEST_ISS, k1.kid);
  server.set(jwks(k2, k1));
  clock.advance(31_000);
  await trust.resolve(TEST_ISS, k2.kid);
  t.equal(trust.key(TEST_ISS, k1.kid), first, 'same object');
  t.ok(trust.key(TEST_ISS, k2.kid));
});

t.test('a failed or unusable refresh keeps the current keys and is reported', async (t) => {
  const k1 = makeKey();
  const server = await jwksServer(jwks(k1));
  const clock = new ManualClock(1_000_000);
  const errors: string[] = [];
  const logs: string[] = [];
  const trust = await TrustStore.load([{ iss: TEST_ISS, jwks: server.url }], {
    clock,
    log: (m) => logs.push(m),
    onRefreshError: (iss) => errors.push(iss),
  });
  for (const bad of ['{', JSON.stringify({ keys: [] }), JSON.stringify({ keys: [{ ...k1.publicJwk, x: 'AAAA' }] })]) {
    server.set(bad);
    clock.advance(31_000);
    t.equal(await trust.resolve(TEST_ISS, 'unknown'), undefined);
    t.ok(trust.key(TEST_ISS, k1.kid), 'k1 stays');
  }
  t.same(errors, [TEST_ISS, TEST_ISS, TEST_ISS]);
  t.match(logs.join('\n'), /not JSON; the current keys stay/);
});

t.test('JWKS over the size bound: refused at start', async (t) => {
  const server = await jwksServer(JSON.stringify({ keys: [makeKey().publicJwk], pad: 'x'.repeat(300 * 1024) }));
  await t.rejects(TrustStore.load([{ iss: TEST_ISS, jwks: server.url }]), { message: /larger than 262144 bytes/ });
});

t.test('a JWKS file is re-read on change: a new key verifies, a removed one is refused', async (t) => {
  const k1 = makeKey();
  const k2 = makeKey();
  const path = join(dir, 'issuer.jwks.json');
  writeFileSync(path, jwks(k1));
  const clock = new ManualClock(1_000_000);
  const trust = await TrustStore.load([{ iss: TEST_ISS, jwks: path }], { clock });
  const follow = await trust.follow();
  t.teardown(() => follow.close());
  const v = verifier(trust);
  const old = (await issueCert(k1, [OP])).jws;
  t.equal(await reason(v.verify(old)), 'ok');

  // Replaced atomically, as a Secret or ConfigMap volume update does.
  writeFileSync(`${path}.tmp`, jwks(k2));
  renameSync(`${path}.tmp`, path);
  // The watch's event is real file I/O; its debounced read waits on the clock.
  t.ok(
    await until(() => {
      if (trust.key(TEST_ISS, k2.kid) !== undefined) return true;
      clock.advance(DEBOUNCE_MS);
      return false;
    }),
    'picked up',
  );
  t.equal(await reason(v.verify((await issueCert(k2, [OP])).jws)), 'ok');
  t.equal(await reason(v.verify(old)), 'untrusted_issuer', 'the removed key is refused at once');
});

t.test('a JWKS URL is re-fetched on its interval: a key removed there stops verifying without an unknown kid', async (t) => {
  const k1 = makeKey();
  const k2 = makeKey();
  const { server, clock, trust } = await servedTrust(k1);
  const follow = await trust.follow();
  t.same(clock.asked, [URL_REFRESH_MS], 'one wait: the interval');
  server.set(jwks(k2));
  clock.advance(URL_REFRESH_MS - 1);
  await new Promise((r) => setImmediate(r));
  t.equal(server.counts.fetches, 1, 'not re-fetched before the interval');
  clock.advance(1);
  t.ok(await until(() => trust.key(TEST_ISS, k1.kid) === undefined), 'at the interval, the new JWKS replaced the old');
  t.equal(server.counts.fetches, 2);
  t.ok(trust.key(TEST_ISS, k2.kid));
  t.equal(clock.pending, 1, 'and the next interval waits');
  follow.close();
  t.equal(clock.pending, 0, 'close stops it');
});

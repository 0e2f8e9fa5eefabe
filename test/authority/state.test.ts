import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CompactSign } from 'jose';
import { Authority } from '../../src/authority/state.js';
import { TrustStore } from '../../src/certificate/trust.js';
import type { Certificate } from '../../src/certificate/types.js';

const NOW = 1_800_000_000;
const sab = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const dir = mkdtempSync(join(tmpdir(), 'seb-authority-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const jwks = (k: KeyObject, kid: string) => {
  const path = join(dir, `${kid}.json`);
  writeFileSync(path, JSON.stringify({ keys: [{ ...k.export({ format: 'jwk' }), kid }] }));
  return path;
};
const trust = await TrustStore.load([
  { iss: 'sab.test', jwks: jwks(sab.publicKey, 'sab-1') },
  { iss: 'other.test', jwks: jwks(other.publicKey, 'other-1') },
]);

function state(over: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: KeyObject = sab.privateKey) {
  const claims = {
    iss: 'sab.test', seq: 1, iat: NOW, max_age: 30, policy_epoch: 5, revocation_epoch: 2,
    revoked: { jti: [], sub: [] }, ...over,
  };
  return new CompactSign(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'EdDSA', typ: 'seb-authority+jwt', kid: 'sab-1', ...header })
    .sign(key);
}

function cert(over: Partial<Certificate> = {}): Certificate {
  return {
    kid: 'k', iss: 'sab.test', sub: 'agent:7', aud: ['a'], jti: 'cert-1', iat: NOW, nbf: NOW, exp: NOW + 300,
    policy_epoch: 5, revocation_epoch: 2, execution_identity: 'x', contract: { id: 'c', evidence: '', ops: [] }, ...over,
  };
}

function authority(clock: { now: number }, logs: string[] = []) {
  return new Authority({ trust, iss: 'sab.test', maxAgeCap: 300, skew: 30, maxValidity: 900, now: () => clock.now, log: (m) => logs.push(m) });
}

t.test('no state: stale, fails closed', async (t) => {
  const a = authority({ now: NOW });
  t.equal(a.fresh(), false);
  t.equal(a.snapshot(), null);
  t.throws(() => a.check(cert()), { code: 'authority_stale' });
});

t.test('a good state is accepted and checked in order', async (t) => {
  const a = authority({ now: NOW });
  t.same(await a.offer(await state({ revoked: { jti: ['bad-jti'], sub: ['agent:evil'] } })), { accepted: true });
  t.ok(a.fresh());
  t.same(a.snapshot(), { seq: 1, iat: NOW, max_age: 30, policy_epoch: 5, revocation_epoch: 2 });
  t.doesNotThrow(() => a.check(cert()));
  const cases: [string, Partial<Certificate>, string][] = [
    ['policy epoch lower', { policy_epoch: 4 }, 'policy_epoch_mismatch'],
    ['policy epoch higher', { policy_epoch: 6 }, 'policy_epoch_mismatch'],
    ['revoked jti', { jti: 'bad-jti' }, 'revoked'],
    ['revoked sub', { sub: 'agent:evil' }, 'revoked'],
    ['revocation epoch below', { revocation_epoch: 1 }, 'revoked'],
    ['policy mismatch wins over revoked', { policy_epoch: 4, jti: 'bad-jti' }, 'policy_epoch_mismatch'],
  ];
  for (const [name, over, code] of cases) t.throws(() => a.check(cert(over)), { code }, name);
  t.doesNotThrow(() => a.check(cert({ revocation_epoch: 3 })), 'revocation epoch above is fine');
});

t.test('stale after max_age', async (t) => {
  const clock = { now: NOW };
  const a = authority(clock);
  await a.offer(await state());
  clock.now = NOW + 30;
  t.doesNotThrow(() => a.check(cert()), 'exactly max_age old is fresh');
  clock.now = NOW + 31;
  t.equal(a.fresh(), false);
  t.throws(() => a.check(cert()), { code: 'authority_stale' });
  t.throws(() => a.check(cert({ policy_epoch: 0 })), { code: 'authority_stale' }, 'stale wins over epoch');
  t.same(await a.offer(await state({ seq: 2, iat: NOW + 31 })), { accepted: true });
  t.doesNotThrow(() => a.check(cert()), 'a fresh state lifts it');
});

t.test('refused states never replace the good one, and are counted', async (t) => {
  const logs: string[] = [];
  const a = authority({ now: NOW }, logs);
  await a.offer(await state({ seq: 10, revoked: { jti: [], sub: ['agent:x'] } }));
  const cases: [string, Promise<string> | string, RegExp][] = [
    ['seq rollback', state({ seq: 9 }), /rollback/],
    ['equal seq, other content', state({ seq: 10, policy_epoch: 6, revoked: { jti: [], sub: ['agent:x'] } }), /other content/],
    ['future iat', state({ seq: 11, iat: NOW + 31 }), /future/],
    ['max_age over cap', state({ seq: 11, max_age: 301 }), /max_age_cap/],
    ['wrong issuer (trusted, but not authority.iss)', state({ seq: 11, iss: 'other.test' }, { kid: 'other-1' }, other.privateKey), /authority\.iss/],
    ['signed by a stranger', state({ seq: 11 }, {}, other.privateKey), /bad signature/],
    ['unknown kid', state({ seq: 11 }, { kid: 'nope' }), /unknown kid/],
    ['certificate typ', state({ seq: 11 }, { typ: 'seb-cert+jwt' }), /typ/],
    ['jwk header', state({ seq: 11 }, { jwk: { kty: 'OKP' } }), /jwk/],
    ['unknown claim', state({ seq: 11, extra: 1 }), /unknown claim/],
    ['missing revoked', state({ seq: 11, revoked: undefined }), /missing claim revoked/],
    ['revoked with extra list', state({ seq: 11, revoked: { jti: [], sub: [], iss: [] } }), /revoked/],
    ['revoked jti not strings', state({ seq: 11, revoked: { jti: [1], sub: [] } }), /revoked\.jti/],
    ['max_age zero', state({ seq: 11, max_age: 0 }), /max_age/],
    ['seq negative', state({ seq: -1 }), /seq/],
    ['revocation epoch rollback', state({ seq: 11, revocation_epoch: 1 }), /revocation_epoch/],
    ['not a JWS', 'garbage', /compact/],
  ];
  let refused = 0;
  for (const [name, jws, reason] of cases) {
    const result = await a.offer(await jws);
    t.match(result, { accepted: false, reason }, name);
    refused++;
    t.equal(a.rejected, refused, `${name}: counted`);
  }
  t.same(a.snapshot(), { seq: 10, iat: NOW, max_age: 30, policy_epoch: 5, revocation_epoch: 2 }, 'still the good state');
  t.throws(() => a.check(cert({ sub: 'agent:x' })), { code: 'revoked' });
  t.equal(logs.filter((l) => l.includes('refused')).length, cases.length, 'each refusal logged');
});

t.test('equal seq with identical content is accepted (re-read, list order aside)', async (t) => {
  const a = authority({ now: NOW });
  await a.offer(await state({ seq: 3, revoked: { jti: ['a', 'b'], sub: [] } }));
  t.same(await a.offer(await state({ seq: 3, revoked: { jti: ['b', 'a'], sub: [] } })), { accepted: true });
  t.equal(a.rejected, 0);
});

t.test('a dropped jti stays revoked for max_validity + skew; a dropped sub is lifted', async (t) => {
  const clock = { now: NOW };
  const a = authority(clock);
  await a.offer(await state({ seq: 1, revoked: { jti: ['j1'], sub: ['s1'] } }));
  clock.now = NOW + 10;
  await a.offer(await state({ seq: 2, iat: clock.now, revoked: { jti: [], sub: [] } }));
  t.throws(() => a.check(cert({ jti: 'j1' })), { code: 'revoked' }, 'jti still revoked');
  t.doesNotThrow(() => a.check(cert({ sub: 's1' })), 'sub lifted');
  clock.now = NOW + 930; // first seen + 900 + 30: last second of retention
  await a.offer(await state({ seq: 3, iat: clock.now }));
  t.throws(() => a.check(cert({ jti: 'j1' })), { code: 'revoked' }, 'at the edge');
  clock.now = NOW + 931;
  await a.offer(await state({ seq: 4, iat: clock.now }));
  t.doesNotThrow(() => a.check(cert({ jti: 'j1' })), 'retention over');
});

t.test('a jti re-listed keeps its first-seen time; one still listed never expires', async (t) => {
  const clock = { now: NOW };
  const a = authority(clock);
  await a.offer(await state({ seq: 1, revoked: { jti: ['j1'], sub: [] } }));
  clock.now = NOW + 5000;
  await a.offer(await state({ seq: 2, iat: clock.now, revoked: { jti: ['j1'], sub: [] } }));
  t.throws(() => a.check(cert({ jti: 'j1' })), { code: 'revoked' });
});

import { generateKeyPairSync, sign as edSign, createHmac, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CompactSign } from 'jose';
import { TrustStore } from '../../src/certificate/trust.js';
import { CertificateVerifier } from '../../src/certificate/verify.js';

const NOW = 1_800_000_000;
const AUD = 'seb:test:pod-1';

function keyPair(kid: string, alg: 'EdDSA' | 'ES256') {
  const { privateKey, publicKey } =
    alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg } };
}

const ed = keyPair('ed-1', 'EdDSA');
const es = keyPair('es-1', 'ES256');
const stranger = keyPair('ed-1', 'EdDSA');

const dir = mkdtempSync(join(tmpdir(), 'seb-verify-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const jwksPath = join(dir, 'jwks.json');
writeFileSync(jwksPath, JSON.stringify({ keys: [ed.publicJwk, es.publicJwk] }));
const trust = await TrustStore.load([{ iss: 'sab.test', jwks: jwksPath }]);

const op = {
  target: 'aws', service: 's3', region: 'us-east-1', operation: 'PutObject',
  resource: 'arn:aws:s3:::reports/q3.csv', params: {}, headers: { 'content-type': 'text/csv' },
  body: { sha256: 'a'.repeat(64) }, pre_state: null, max_uses: 1,
};

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: 'sab.test', sub: 'agent:7', aud: AUD, jti: 'cert-1', iat: NOW, nbf: NOW, exp: NOW + 300,
    policy_epoch: 1, revocation_epoch: 0, execution_identity: 's3-writer',
    contract: { id: 'c-1', evidence: '', ops: [op] }, ...over,
  };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** An Ed25519-signed JWS over arbitrary header and payload text (jose would refuse to make most of these). */
function raw(header: unknown, payload: unknown, key: KeyObject = ed.privateKey): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${edSign(null, Buffer.from(input), key).toString('base64url')}`;
}

const H = { alg: 'EdDSA', typ: 'seb-cert+jwt', kid: 'ed-1' };

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A signed certificate with segment `i` (0 header, 1 payload) spelled with other spare bits in its
 * last character: Buffer decodes it to the same bytes. Headers and evidence of other lengths are
 * tried until the segment has spare bits (a length that is not a multiple of 4).
 */
function respelled(i: 0 | 1): string {
  for (let n = 0; n < 12; n++) {
    const header = { ...H, typ: n % 2 ? 'application/seb-cert+jwt' : 'seb-cert+jwt' };
    const parts = raw(header, claims({ contract: { id: 'c-1', evidence: 'e'.repeat(n), ops: [op] } })).split('.');
    const segment = parts[i]!;
    if (segment.length % 4 === 0) continue;
    const last = BASE64URL.indexOf(segment.at(-1)!);
    parts[i] = segment.slice(0, -1) + BASE64URL[last ^ 1];
    if (Buffer.from(parts[i], 'base64url').equals(Buffer.from(segment, 'base64url'))) return parts.join('.');
  }
  throw new Error('no header or evidence length gave the segment spare bits');
}

function verifier(over: Partial<ConstructorParameters<typeof CertificateVerifier>[0]> = {}, now = NOW) {
  return new CertificateVerifier({ trust, audience: AUD, principals: null, maxValidity: 900, skew: 30, now: () => now, ...over });
}

t.test('a well-formed certificate verifies (EdDSA and ES256)', async (t) => {
  const edCert = await verifier().verify(raw(H, claims()));
  t.equal(edCert.jti, 'cert-1');
  t.same(edCert.aud, [AUD]);
  t.equal(edCert.kid, 'ed-1');
  t.equal(edCert.contract.ops.length, 1);
  const esJws = await new CompactSign(Buffer.from(JSON.stringify(claims({ aud: ['other', AUD] }))))
    .setProtectedHeader({ alg: 'ES256', typ: 'application/SEB-CERT+JWT', kid: 'es-1' })
    .sign(es.privateKey);
  const esCert = await verifier().verify(esJws);
  t.same(esCert.aud, ['other', AUD]);
});

t.test('hostile certificates are refused with the SPEC §4 reason', async (t) => {
  const good = raw(H, claims());
  const [gh, gp, gs] = good.split('.') as [string, string, string];
  const hmacWithPublicKey = (() => {
    const input = `${b64({ alg: 'HS256', typ: 'seb-cert+jwt', kid: 'ed-1' })}.${b64(claims())}`;
    const secret = JSON.stringify(ed.publicJwk);
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  })();
  const cases: [string, string, string][] = [
    ['oversized', raw(H, claims({ contract: { id: 'c', evidence: 'x'.repeat(17000), ops: [op] } })), 'malformed_certificate'],
    ['not compact (2 parts)', `${gh}.${gp}`, 'malformed_certificate'],
    ['not compact (bad chars)', `${gh}.${gp}.${gs}=`, 'malformed_certificate'],
    ['header not JSON', `${b64('{nope')}.${gp}.${gs}`, 'malformed_certificate'],
    ['header duplicate key', `${b64('{"alg":"EdDSA","alg":"EdDSA","typ":"seb-cert+jwt","kid":"ed-1"}')}.${gp}.${gs}`, 'malformed_certificate'],
    ['alg none', `${b64({ alg: 'none', typ: 'seb-cert+jwt', kid: 'ed-1' })}.${gp}.AA`, 'malformed_certificate'],
    ['HS256 signed with the public key', hmacWithPublicKey, 'malformed_certificate'],
    ['RS256', raw({ ...H, alg: 'RS256' }, claims()), 'malformed_certificate'],
    ['wrong typ', raw({ ...H, typ: 'JWT' }, claims()), 'malformed_certificate'],
    ['no typ', raw({ alg: 'EdDSA', kid: 'ed-1' }, claims()), 'malformed_certificate'],
    ['authority typ', raw({ ...H, typ: 'seb-authority+jwt' }, claims()), 'malformed_certificate'],
    ['missing kid', raw({ alg: 'EdDSA', typ: 'seb-cert+jwt' }, claims()), 'malformed_certificate'],
    ['jku header', raw({ ...H, jku: 'https://evil.example/jwks' }, claims()), 'malformed_certificate'],
    ['jwk header', raw({ ...H, jwk: stranger.publicJwk }, claims(), stranger.privateKey), 'malformed_certificate'],
    ['x5u header', raw({ ...H, x5u: 'https://evil.example/c' }, claims()), 'malformed_certificate'],
    ['x5c header', raw({ ...H, x5c: ['AAAA'] }, claims()), 'malformed_certificate'],
    ['crit header', raw({ ...H, crit: ['exp'] }, claims()), 'malformed_certificate'],
    ['payload not an object', raw(H, [1, 2]), 'malformed_certificate'],
    ['payload not JSON', raw(H, 'not json'), 'malformed_certificate'],
    ['payload duplicate claim', raw(H, JSON.stringify(claims()).replace('{"iss":"sab.test"', '{"iss":"evil","iss":"sab.test"')), 'malformed_certificate'],
    ['missing claim exp', raw(H, { ...claims(), exp: undefined }), 'malformed_certificate'],
    ['missing claim contract', raw(H, { ...claims(), contract: undefined }), 'malformed_certificate'],
    ['unknown claim', raw(H, claims({ scope: 'admin' })), 'malformed_certificate'],
    ['iat is a string', raw(H, claims({ iat: String(NOW) })), 'malformed_certificate'],
    ['nbf after exp', raw(H, claims({ iat: NOW, nbf: NOW + 301, exp: NOW + 300 })), 'malformed_certificate'],
    ['nbf after exp, signed by a stranger (shape is checked first)', raw(H, claims({ nbf: NOW + 301, exp: NOW + 300 }), stranger.privateKey), 'malformed_certificate'],
    ['policy_epoch not integer', raw(H, claims({ policy_epoch: 1.5 })), 'malformed_certificate'],
    ['aud empty array', raw(H, claims({ aud: [] })), 'malformed_certificate'],
    ['aud number', raw(H, claims({ aud: 7 })), 'malformed_certificate'],
    ['jti bad char', raw(H, claims({ jti: 'a/b' })), 'malformed_certificate'],
    ['jti too long', raw(H, claims({ jti: 'a'.repeat(129) })), 'malformed_certificate'],
    ['jti empty', raw(H, claims({ jti: '' })), 'malformed_certificate'],
    ['contract extra field', raw(H, claims({ contract: { id: 'c', evidence: '', ops: [op], x: 1 } })), 'malformed_certificate'],
    ['contract no evidence', raw(H, claims({ contract: { id: 'c', ops: [op] } })), 'malformed_certificate'],
    ['contract zero ops', raw(H, claims({ contract: { id: 'c', evidence: '', ops: [] } })), 'malformed_certificate'],
    ['contract 33 ops', raw(H, claims({ contract: { id: 'c', evidence: '', ops: Array(33).fill(op) } })), 'malformed_certificate'],
    ['op missing field', raw(H, claims({ contract: { id: 'c', evidence: '', ops: [{ ...op, headers: undefined }] } })), 'malformed_certificate'],
    ['op unknown field', raw(H, claims({ contract: { id: 'c', evidence: '', ops: [{ ...op, action: 's3:*' }] } })), 'malformed_certificate'],
    ['unknown iss', raw(H, claims({ iss: 'other.test' })), 'untrusted_issuer'],
    ['unknown kid', raw({ ...H, kid: 'ed-9' }, claims()), 'untrusted_issuer'],
    ['signed by a stranger under a trusted kid', raw(H, claims(), stranger.privateKey), 'bad_signature'],
    ['tampered payload', `${gh}.${b64(claims({ sub: 'agent:root' }))}.${gs}`, 'bad_signature'],
    ['truncated signature', `${gh}.${gp}.${gs.slice(0, 20)}`, 'bad_signature'],
    ['ES256 header under an EdDSA kid', raw({ ...H, alg: 'ES256' }, claims()), 'bad_signature'],
    // The signature covers the segments' text, so no other spelling of the same bytes verifies.
    ['header re-spelled in its spare bits (same JSON)', respelled(0), 'bad_signature'],
    ['payload re-spelled in its spare bits (same claims)', respelled(1), 'bad_signature'],
    ['a fourth segment', `${good}.${gs}`, 'malformed_certificate'],
    ['an empty segment', `${gh}..${gs}`, 'malformed_certificate'],
    ['whitespace inside', `${gh} .${gp}.${gs}`, 'malformed_certificate'],
    ['padding on the payload', `${gh}.${gp}=.${gs}`, 'malformed_certificate'],
    ['base64 (not url) alphabet', `${gh}.${gp}.${gs.replace(/-/g, '+').replace(/_/g, '/')}x+`, 'malformed_certificate'],
    ['wrong aud', raw(H, claims({ aud: 'seb:other' })), 'wrong_audience'],
    ['aud array without us', raw(H, claims({ aud: ['a', 'b'] })), 'wrong_audience'],
  ];
  for (const [name, jws, code] of cases) {
    await t.rejects(verifier().verify(jws), { name: 'Denial', code }, name);
  }
});

t.test('principals: sub must be listed when set', async (t) => {
  const jws = raw(H, claims());
  await t.resolves(verifier({ principals: ['agent:7'] }).verify(jws));
  await t.rejects(verifier({ principals: ['agent:8'] }).verify(jws), { code: 'wrong_audience' });
});

t.test('time claims with a frozen clock (skew 30, max_validity 900)', async (t) => {
  const cases: [string, Record<string, unknown>, number, string | null][] = [
    ['iat exactly now + skew', { iat: NOW + 30, nbf: NOW, exp: NOW + 300 }, NOW, null],
    ['iat beyond now + skew', { iat: NOW + 31, nbf: NOW, exp: NOW + 300 }, NOW, 'not_yet_valid'],
    ['nbf - skew == now', { iat: NOW, nbf: NOW + 30, exp: NOW + 300 }, NOW, null],
    ['nbf - skew > now', { iat: NOW, nbf: NOW + 31, exp: NOW + 300 }, NOW, 'not_yet_valid'],
    ['now just before exp + skew', { iat: NOW - 300, nbf: NOW - 300, exp: NOW - 29 }, NOW, null],
    ['now == exp + skew', { iat: NOW - 300, nbf: NOW - 300, exp: NOW - 30 }, NOW, 'expired'],
    ['long expired', { iat: NOW - 9000, nbf: NOW - 9000, exp: NOW - 8000 }, NOW, 'expired'],
    ['exp - iat == max_validity', { iat: NOW, nbf: NOW, exp: NOW + 900 }, NOW, null],
    ['exp - iat > max_validity', { iat: NOW, nbf: NOW, exp: NOW + 901 }, NOW, 'validity_too_long'],
    ['fractional NumericDate', { iat: NOW + 0.5, nbf: NOW, exp: NOW + 10.25 }, NOW, null],
    // exp before iat (what `seb cert issue` signs when told to issue an expired certificate) is
    // left to the window: iat <= now + skew makes it expired, or within the skew of expiring.
    ['exp before iat, long past', { iat: NOW, nbf: NOW - 600, exp: NOW - 300 }, NOW, 'expired'],
    ['exp before iat, within the skew', { iat: NOW, nbf: NOW - 60, exp: NOW - 10 }, NOW, null],
    // A window that closes before it opens is impossible from one issuer clock, even within the skew.
    ['nbf after exp', { iat: NOW, nbf: NOW + 20, exp: NOW + 10 }, NOW, 'malformed_certificate'],
    ['exp == iat == nbf (an empty window, skew aside)', { iat: NOW, nbf: NOW, exp: NOW }, NOW, null],
  ];
  for (const [name, times, now, code] of cases) {
    const p = verifier({}, now).verify(raw(H, claims(times)));
    if (code === null) await t.resolves(p, name);
    else await t.rejects(p, { code }, name);
  }
});

t.test('a cached certificate is still checked against the clock on every call', async (t) => {
  let now = NOW;
  const v = verifier({ now: () => now });
  const jws = raw(H, claims());
  await t.resolves(v.verify(jws));
  now = NOW + 330;
  await t.rejects(v.verify(jws), { code: 'expired' });
});

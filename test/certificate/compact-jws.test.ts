// Parse once (issue 12): per request the certificate is split, base64url-decoded and strictly
// JSON-parsed exactly once, however many stages read it (the AWS carrier's `typ`, the verifier's
// header and claims, a denial's claimed `jti`). The strict parser is replaced by one that counts
// what it is given, so a second decoding of either segment anywhere on the path is seen.
import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseStrictJson } from '../../src/lib/strict-json.js';
import { TrustStore } from '../../src/certificate/trust.js';

const NOW = 1_800_000_000;
const AUD = 'seb:test:pod-1';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const dir = mkdtempSync(join(tmpdir(), 'seb-parse-once-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const jwksPath = join(dir, 'jwks.json');
writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ed-1', alg: 'EdDSA' }] }));
const trust = await TrustStore.load([{ iss: 'sab.test', jwks: jwksPath }]);

/** Every text the strict parser was given, in order. */
const parsed: string[] = [];
const counting = {
  parseStrictJson: (input: Buffer | string) => {
    parsed.push(typeof input === 'string' ? input : input.toString('utf8'));
    return parseStrictJson(input);
  },
};
// Mocks reach only the modules that import them by name, so the counted parser goes into
// compact-jws.ts, and that module into the carrier and the verifier. They are keyed by the .ts
// path: tsx (the tests' loader) turns each `.js` specifier into the `.ts` file before tap's mock
// loader sees it.
const compact = await t.mockImport<typeof import('../../src/certificate/compact-jws.js')>('../../src/certificate/compact-jws.js', {
  '../../src/lib/strict-json.ts': counting,
});
const COMPACT = { '../../src/certificate/compact-jws.ts': compact };
const carrier = await t.mockImport<typeof import('../../src/certificate/carrier.js')>('../../src/certificate/carrier.js', COMPACT);
const verify = await t.mockImport<typeof import('../../src/certificate/verify.js')>('../../src/certificate/verify.js', COMPACT);
const verifier = new verify.CertificateVerifier({ trust, audience: AUD, principals: null, maxValidity: 900, skew: 30, now: () => NOW });

const HEADER = JSON.stringify({ alg: 'EdDSA', typ: 'seb-cert+jwt', kid: 'ed-1' });
function claims(jti: string): string {
  const op = {
    target: 'aws', service: 's3', region: 'us-east-1', operation: 'PutObject', resource: 'arn:aws:s3:::reports/q3.csv',
    params: {}, headers: {}, body: null, pre_state: null, max_uses: 1,
  };
  return JSON.stringify({
    iss: 'sab.test', sub: 'agent:7', aud: AUD, jti, iat: NOW, nbf: NOW, exp: NOW + 300, policy_epoch: 1, revocation_epoch: 0,
    execution_identity: 's3-writer', contract: { id: 'c-1', evidence: '', ops: [op] },
  });
}
function token(header: string, payload: string, signed = true): string {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  const signature = signed ? edSign(null, Buffer.from(input), privateKey) : Buffer.alloc(64);
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * One request's certificate path as the runner walks it: carrier, verifier, and on a denial the
 * claimed jti. JSON.parse is counted too while it runs, so a lenient second reading is seen as well.
 */
async function request(headers: Record<string, string>): Promise<{ reason: string | null; jti: string | null }> {
  const lenient = JSON.parse;
  JSON.parse = (text: string, reviver?: Parameters<typeof JSON.parse>[1]) => (parsed.push(text), lenient(text, reviver));
  try {
    const jws = carrier.awsCarrier(headers);
    if (jws === null) return { reason: 'no_certificate', jti: null };
    try {
      return { reason: null, jti: (await verifier.verify(jws)).jti };
    } catch (err) {
      return { reason: (err as { code: string }).code, jti: carrier.claimedJti(jws) };
    }
  } finally {
    JSON.parse = lenient;
  }
}

function count(text: string): number {
  return parsed.filter((p) => p === text).length;
}

t.beforeEach(() => void (parsed.length = 0));

t.test('a certificate in the session token: the carrier and the verifier share one decoding of each segment', async (t) => {
  const cert = token(HEADER, claims('once-1'));
  t.same(await request({ 'x-amz-security-token': cert }), { reason: null, jti: 'once-1' });
  t.equal(count(HEADER), 1, 'header parsed once, though the carrier read its typ and the verifier its alg and kid');
  t.equal(count(claims('once-1')), 1, 'claims parsed once');
  t.equal(parsed.length, 2, 'nothing else was parsed');
  // The next request with the same certificate: the verifier's cache holds its claims, and the
  // carrier's typ peek is that request's one decoding of the header.
  parsed.length = 0;
  t.same(await request({ 'x-amz-security-token': cert }), { reason: null, jti: 'once-1' });
  t.same(parsed, [HEADER]);
  parsed.length = 0;
  t.same(await request({ 'x-seb-certificate': cert }), { reason: null, jti: 'once-1' });
  t.same(parsed, [], 'an explicit carrier of a verified certificate decodes nothing');
});

t.test('a denied certificate: the jti a denial names comes from the verifier\'s reading', async (t) => {
  const forged = token(HEADER, claims('once-2'), false);
  t.same(await request({ 'x-amz-security-token': forged }), { reason: 'bad_signature', jti: 'once-2' });
  t.equal(count(HEADER), 1);
  t.equal(count(claims('once-2')), 1);
  t.equal(parsed.length, 2);
});

t.test('a header the verifier refuses: the claims are decoded once, for the denial only', async (t) => {
  const header = JSON.stringify({ alg: 'HS256', typ: 'seb-cert+jwt', kid: 'ed-1' });
  t.same(await request({ 'x-seb-certificate': token(header, claims('once-3')) }), { reason: 'malformed_certificate', jti: 'once-3' });
  t.same(parsed, [header, claims('once-3')]);
});

t.test('a segment that is not strict JSON is refused the same way on every read, decoded once', async (t) => {
  const jws = new compact.CompactJws(`${Buffer.from('{"typ":1,"typ":2}').toString('base64url')}.e30.c2ln`);
  t.throws(() => jws.header(), { code: 'malformed_certificate' });
  t.throws(() => jws.header(), { code: 'malformed_certificate' });
  t.same(jws.payload(), {});
  t.equal(jws.payload(), jws.payload(), 'one decoded object, handed out again');
  t.equal(jws.signature(), jws.signature());
  t.equal(new compact.CompactJws(`e30.e30.${'A'.repeat(85)}B`).signature(), null, 'a non-canonical signature spelling has no bytes');
});

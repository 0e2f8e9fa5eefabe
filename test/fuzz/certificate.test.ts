/**
 * Fuzz: certificate and authority decoding (src/certificate/{carrier,verify,op-schema}.ts,
 * src/authority/state.ts). Arbitrary strings and every single-character edit of a valid token
 * never verify and never throw anything but a Denial (or, for authority states, a refusal);
 * ops round-trip through the op schema, and any op with a field missing, added or mistyped is
 * malformed.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { Authority } from '../../src/authority/state.js';
import { awsCarrier, kubeCarrier } from '../../src/certificate/carrier.js';
import { parseOp } from '../../src/contract/op-schema.js';
import { TrustStore } from '../../src/certificate/trust.js';
import { CertificateVerifier } from '../../src/certificate/verify.js';
import { check, Coverage, outcome, outcomeAsync } from './harness.js';
import { applyEdit, b64, edit, jcsValue, jwsChar, jwsLike, type Edit } from './arbitraries.js';
import { ManualClock } from '../helpers/manual-clock.js';

const TARGET = 'certificate';
const NOW = 1_800_000_000;
const AUD = 'seb:fuzz:pod';
const ISS = 'sab.fuzz';

function keyPair(kid: string, alg: 'EdDSA' | 'ES256') {
  const { privateKey, publicKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg } };
}
const KEYS = [keyPair('ed', 'EdDSA'), keyPair('es', 'ES256')] as const;

const dir = mkdtempSync(join(tmpdir(), 'seb-fuzz-cert-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const jwksPath = join(dir, 'jwks.json');
writeFileSync(jwksPath, JSON.stringify({ keys: KEYS.map((k) => k.publicJwk) }));
// The clock stands still, so an unknown kid never triggers a JWKS refresh mid-property.
const trust = await TrustStore.load([{ iss: ISS, jwks: jwksPath }], { clock: new ManualClock(NOW * 1000) });
const verifier = new CertificateVerifier({ trust, audience: AUD, principals: null, maxValidity: 900, skew: 30, now: () => NOW });

/** A compact JWS over exactly these header and payload texts. */
function jws(header: unknown, payload: unknown, key: { alg: string; privateKey: KeyObject }): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  const sig =
    key.alg === 'EdDSA'
      ? sign(null, Buffer.from(input), key.privateKey)
      : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

const awsOp = fc.record({
  target: fc.constant('aws'),
  service: fc.constantFrom('s3', 'iam', 'dynamodb'),
  region: fc.constantFrom('us-east-1', null),
  operation: fc.constantFrom('PutObject', 'CreateRole'),
  resource: fc.constantFrom('arn:aws:s3:::b/k', '*'),
  params: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
  headers: fc.dictionary(fc.constantFrom('content-type', 'x-amz-acl'), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
  body: fc.constantFrom(null, { sha256: 'a'.repeat(64) }, { any: true }),
  pre_state: fc.constantFrom(null, { absent: true }, { etag: '"e"' }),
  max_uses: fc.integer({ min: 1, max: 100 }),
});
const k8sOp = fc.record({
  target: fc.constant('k8s'),
  verb: fc.constantFrom('create', 'patch', 'delete'),
  group: fc.constantFrom('', 'apps'),
  version: fc.constant('v1'),
  resource: fc.constantFrom('pods', 'deployments'),
  subresource: fc.constantFrom(null, 'scale', 'exec'),
  path_suffix: fc.constantFrom(null, '', '/x'),
  namespace: fc.constantFrom('', 'web'),
  name: fc.constantFrom(null, 'api'),
  generate_name: fc.constantFrom(null, 'job-'),
  params: fc.dictionary(fc.constantFrom('command', 'dryRun', '__proto__'), fc.array(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 3 }), { maxKeys: 2 }),
  content_type: fc.constant('application/json'),
  body: fc.constantFrom({ jcs_sha256: 'b'.repeat(64) }, { sha256: 'c'.repeat(64) }, { any: true }),
  pre_state: fc.constantFrom(null, { resource_version: '7' }, { jcs_sha256: 'd'.repeat(64), fields: ['spec'] }, { absent: true }),
  max_uses: fc.integer({ min: 1, max: 100 }),
});
const op = fc.oneof(awsOp, k8sOp);

const claims = fc.record({
  iss: fc.constant(ISS),
  sub: fc.string({ minLength: 1, maxLength: 12 }),
  aud: fc.oneof(fc.constant(AUD), fc.constant([AUD, 'other'])),
  jti: fc.string({ unit: fc.constantFrom(...'abcXYZ019._:-'), minLength: 1, maxLength: 20 }),
  iat: fc.constant(NOW - 10),
  nbf: fc.constant(NOW - 10),
  exp: fc.constant(NOW + 300),
  policy_epoch: fc.nat(5),
  revocation_epoch: fc.nat(5),
  execution_identity: fc.constantFrom('s3-writer', 'deployer'),
  contract: fc.record({ id: fc.string({ minLength: 1, maxLength: 8 }), evidence: fc.string({ maxLength: 8 }), ops: fc.array(op, { minLength: 1, maxLength: 3 }) }),
});
const header = (kid: string, alg: string) => fc.constantFrom({ alg, typ: 'seb-cert+jwt', kid }, { typ: 'application/SEB-CERT+JWT', kid, alg });

const validCert = fc.tuple(fc.constantFrom(...KEYS), claims).chain(([key, c]) => header(key.kid, key.alg).map((h) => jws(h, c, key)));

t.test('a valid certificate verifies; every single-character edit of it does not', async (t) => {
  const cov = new Coverage();
  const edits = fc.array(edit(jwsChar), { minLength: 1, maxLength: 3 });
  await check(t, TARGET, 'certificate edits', fc.asyncProperty(validCert, edits, async (token, es) => {
    const ok = await outcomeAsync(() => verifier.verify(token));
    if (!ok.ok) throw new Error(`a valid certificate was denied: ${ok.denial.message}`);
    for (const e of es) {
      const changed = applyEdit(token, e);
      if (changed === token) continue;
      const got = await outcomeAsync(() => verifier.verify(changed));
      if (got.ok) throw new Error(`an edited certificate verified: ${JSON.stringify(e)}`);
      cov.hit(got.code);
    }
    return true;
  }));
  t.ok(cov.count('bad_signature') > 0 && cov.count('malformed_certificate') > 0, `denials: ${['bad_signature', 'malformed_certificate', 'untrusted_issuer'].map((c) => `${c} ${cov.count(c)}`).join(', ')}`);
});

/** Edits of the signature segment only, weighted to its last characters (base64url's spare bits). */
function signatureEdit(token: string, at: number, ch: string): Edit {
  const dot = token.lastIndexOf('.');
  const tail = token.length - dot - 1;
  return { kind: 'replace', at: dot + 1 + (tail - 1 - (at % Math.min(4, tail))), ch };
}

t.test('the signature segment has exactly one spelling', async (t) => {
  await check(t, TARGET, 'signature spellings', fc.asyncProperty(validCert, fc.nat(), jwsChar, async (token, at, ch) => {
    const changed = applyEdit(token, signatureEdit(token, at, ch));
    if (changed === token) return true;
    const got = await outcomeAsync(() => verifier.verify(changed));
    return !got.ok;
  }));
});

t.test('arbitrary carriers and JWS-like strings never verify and never crash', async (t) => {
  await check(t, TARGET, 'arbitrary tokens', fc.asyncProperty(jwsLike, fc.constantFrom('x-seb-certificate', 'x-amz-security-token', 'authorization'), async (s, where) => {
    const headers: Record<string, string> = Object.assign(Object.create(null), { [where]: where === 'authorization' ? `Bearer ${s}` : s });
    const aws = outcome(() => awsCarrier(headers));
    const kube = outcome(() => kubeCarrier(headers));
    for (const c of [aws, kube]) if (!c.ok && c.code !== 'malformed_certificate') return false;
    const got = await outcomeAsync(() => verifier.verify(s));
    return !got.ok;
  }));
});

t.test('certificates signed over arbitrary claims are verified or denied, never crash', async (t) => {
  const key = KEYS[0];
  const payload = fc.oneof(jcsValue, claims.chain((c) => fc.constantFrom(...Object.keys(c)).chain((k) => jcsValue.map((v) => ({ ...c, [k]: v })))));
  await check(t, TARGET, 'arbitrary claims', fc.asyncProperty(payload, async (p) => {
    const got = await outcomeAsync(() => verifier.verify(jws({ alg: 'EdDSA', typ: 'seb-cert+jwt', kid: key.kid }, p, key)));
    // A claim replaced by another valid value may still verify; anything else is a Denial (outcomeAsync
    // rethrows every other error, which fails the property).
    return got.ok || got.code !== undefined;
  }));
});

// --- op schema ------------------------------------------------------------------------------------

t.test('ops round-trip through the op schema; a missing, extra or mistyped field is malformed', async (t) => {
  const change = fc.record({ how: fc.constantFrom('delete', 'add', 'retype'), at: fc.nat(), value: fc.oneof(fc.constant(undefined), fc.integer(), fc.string({ maxLength: 3 }), fc.constant([]), fc.constant(true)) });
  await check(t, TARGET, 'op schema', fc.property(op, change, (o, c) => {
    const parsed = outcome(() => parseOp(JSON.parse(JSON.stringify(o)), 'op'));
    if (!parsed.ok || JSON.stringify(parsed.value) !== JSON.stringify(o)) return false;
    const keys = Object.keys(o);
    const copy: Record<string, unknown> = JSON.parse(JSON.stringify(o));
    const key = keys[c.at % keys.length]!;
    if (c.how === 'delete') delete copy[key];
    if (c.how === 'add') copy[`extra_${key}`] = c.value ?? null;
    if (c.how === 'retype') {
      // A value of another JSON type than the field's own.
      const own = copy[key];
      const other = [0, 'x', [], true, {}].find((v) => typeof v !== typeof own || Array.isArray(v) !== Array.isArray(own));
      if (own === null || key === 'region' || key === 'pre_state') return true;
      copy[key] = other;
    }
    const bad = outcome(() => parseOp(copy, 'op'));
    return !bad.ok && bad.code === 'malformed_certificate';
  }));
});

t.test('arbitrary JSON is an op or a malformed certificate, never a crash', async (t) => {
  await check(t, TARGET, 'op schema on anything', fc.property(fc.oneof(jcsValue, op.chain((o) => jcsValue.map((v) => ({ ...o, [Object.keys(o)[0]!]: v })))), (v) => {
    const got = outcome(() => parseOp(v, 'op'));
    return got.ok || got.code === 'malformed_certificate';
  }));
});

// --- authority state --------------------------------------------------------------------------------

const state = fc.record({
  iss: fc.constant(ISS),
  seq: fc.integer({ min: 1, max: 1000 }),
  iat: fc.constant(NOW - 5),
  max_age: fc.integer({ min: 1, max: 300 }),
  policy_epoch: fc.nat(5),
  revocation_epoch: fc.nat(5),
  revoked: fc.record({ jti: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), sub: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }) }),
});

t.test('authority states: a valid one is accepted; an edited one or any string is refused, never thrown', async (t) => {
  const edits = fc.array(edit(jwsChar), { minLength: 1, maxLength: 3 });
  await check(t, TARGET, 'authority edits', fc.asyncProperty(fc.constantFrom(...KEYS), state, edits, jwsLike, async (key, s, es, junk) => {
    const authority = new Authority({ trust, iss: ISS, maxAgeCap: 300, skew: 30, maxValidity: 900, now: () => NOW });
    const token = jws({ alg: key.alg, typ: 'seb-authority+jwt', kid: key.kid }, s, key);
    for (const candidate of [...es.map((e) => applyEdit(token, e)), junk]) {
      if (candidate === token) continue;
      const got = await authority.offer(candidate);
      if (got.accepted) throw new Error(`an edited authority state was accepted: ${candidate}`);
    }
    const good = await authority.offer(token);
    if (!good.accepted) throw new Error(`a valid authority state was refused: ${good.reason}`);
    return authority.snapshot()?.seq === s.seq;
  }));
});

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same token with its last character spelled differently but decoding to the same bytes. */
function respelled(token: string): string {
  const v = B64URL.indexOf(token.at(-1)!);
  return token.slice(0, -1) + B64URL[(v & 0b110000) | ((v + 1) & 0b1111)];
}

t.test('pinned: a signature with spare bits set is refused (one signed token, one spelling)', async (t) => {
  for (const key of KEYS) {
    const token = jws({ alg: key.alg, typ: 'seb-cert+jwt', kid: key.kid }, fc.sample(claims, { numRuns: 1, seed: 7 })[0], key);
    t.ok((await outcomeAsync(() => verifier.verify(token))).ok, `${key.alg}: the token verifies`);
    const other = respelled(token);
    t.equal(Buffer.from(other.split('.')[2]!, 'base64url').equals(Buffer.from(token.split('.')[2]!, 'base64url')), true, 'same signature bytes');
    const got = await outcomeAsync(() => verifier.verify(other));
    t.equal(got.ok ? 'ok' : got.code, 'bad_signature', `${key.alg}: the respelled token is refused`);
    const authority = new Authority({ trust, iss: ISS, maxAgeCap: 300, skew: 30, maxValidity: 900, now: () => NOW });
    const st = jws({ alg: key.alg, typ: 'seb-authority+jwt', kid: key.kid }, { iss: ISS, seq: 1, iat: NOW, max_age: 30, policy_epoch: 1, revocation_epoch: 0, revoked: { jti: [], sub: [] } }, key);
    t.equal((await authority.offer(respelled(st))).accepted, false, `${key.alg}: a respelled authority state is refused`);
    t.equal((await authority.offer(st)).accepted, true, `${key.alg}: the state itself is accepted`);
  }
});

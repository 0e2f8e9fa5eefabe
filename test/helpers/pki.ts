/**
 * Keys, certificates and authority states made by the tests themselves (an in-test issuer), so no
 * test depends on a fixture key.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign } from 'jose';

export interface TestKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
  readonly privateJwk: Record<string, unknown>;
}

export function makeKey(kid = `k-${randomUUID().slice(0, 8)}`): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' };
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' };
  return { kid, privateKey, publicJwk, privateJwk };
}

/** Writes `private.jwk.json` and `public.jwks.json` as `seb keys generate` does. */
export function writeKey(dir: string, key: TestKey): { privatePath: string; jwksPath: string } {
  mkdirSync(dir, { recursive: true });
  const privatePath = join(dir, 'private.jwk.json');
  const jwksPath = join(dir, 'public.jwks.json');
  writeFileSync(privatePath, JSON.stringify(key.privateJwk), { mode: 0o600 });
  writeFileSync(jwksPath, JSON.stringify({ keys: [key.publicJwk] }));
  return { privatePath, jwksPath };
}

export async function signJws(key: TestKey, header: Record<string, unknown>, payload: unknown): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, ...header })
    .sign(key.privateKey);
}

export interface CertOptions {
  readonly iss?: string;
  readonly aud?: string | string[];
  readonly sub?: string;
  readonly identity?: string;
  readonly jti?: string;
  readonly ttl?: number;
  readonly iat?: number;
  readonly nbf?: number;
  readonly exp?: number;
  readonly policyEpoch?: number;
  readonly revocationEpoch?: number;
  readonly header?: Record<string, unknown>;
  readonly extraClaims?: Record<string, unknown>;
}

export const TEST_ISS = 'sab.test';
export const TEST_AUD = 'seb:test:agents';

/** A full AWS op with every field present (SPEC §2.1), from the fields a test cares about. */
export function awsOp(fields: Record<string, unknown>): Record<string, unknown> {
  return { target: 'aws', region: 'us-east-1', params: {}, headers: {}, body: null, pre_state: null, max_uses: 1, ...fields };
}

export async function issueCert(key: TestKey, ops: unknown[], o: CertOptions = {}): Promise<{ jws: string; jti: string }> {
  const now = Math.floor(Date.now() / 1000);
  const iat = o.iat ?? now;
  const jti = o.jti ?? `c-${randomUUID()}`;
  const claims = {
    iss: o.iss ?? TEST_ISS,
    sub: o.sub ?? 'agent:test',
    aud: o.aud ?? TEST_AUD,
    jti,
    iat,
    nbf: o.nbf ?? iat,
    exp: o.exp ?? iat + (o.ttl ?? 300),
    policy_epoch: o.policyEpoch ?? 1,
    revocation_epoch: o.revocationEpoch ?? 0,
    execution_identity: o.identity ?? 'all',
    contract: { id: 'contract-test', evidence: '', ops },
    ...o.extraClaims,
  };
  return { jws: await signJws(key, { typ: 'seb-cert+jwt', ...o.header }, claims), jti };
}

export interface AuthorityOptions {
  readonly seq?: number;
  readonly iat?: number;
  readonly maxAge?: number;
  readonly policyEpoch?: number;
  readonly revocationEpoch?: number;
  readonly revokedJti?: string[];
  readonly revokedSub?: string[];
  readonly iss?: string;
}

/** An authority state that stays fresh for a whole test file, even one slowed down by a busy machine. */
export const LONG_MAX_AGE_S = 3600;

export async function issueAuthority(key: TestKey, o: AuthorityOptions = {}): Promise<string> {
  return signJws(
    key,
    { typ: 'seb-authority+jwt' },
    {
      iss: o.iss ?? TEST_ISS,
      seq: o.seq ?? 1,
      iat: o.iat ?? Math.floor(Date.now() / 1000),
      max_age: o.maxAge ?? 300,
      policy_epoch: o.policyEpoch ?? 1,
      revocation_epoch: o.revocationEpoch ?? 0,
      revoked: { jti: o.revokedJti ?? [], sub: o.revokedSub ?? [] },
    },
  );
}

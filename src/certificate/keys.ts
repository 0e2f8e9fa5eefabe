/**
 * Loading a private signing JWK (the issuer side of `seb cert issue` / `seb authority issue`, and
 * the broker's record-signing key, SPEC §8). A bad key file is configuration: the Error names the
 * file and the problem.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import { jwkAlg, type TrustedAlg } from './trust.js';

export interface PrivateSigningKey {
  readonly kid: string;
  readonly alg: TrustedAlg;
  readonly key: KeyObject;
  /** The public half, with `kid`, `alg` and `use: sig`, as `public.jwks.json` holds it. */
  readonly publicJwk: JWK;
}

export async function loadPrivateJwk(path: string): Promise<PrivateSigningKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not JSON`);
  }
  return privateKeyFromJwk(jwk, path);
}

/** The same checks for a JWK already in memory (`seb keys generate`, `seb dev`). */
export function privateKeyFromJwk(jwk: unknown, where: string): PrivateSigningKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Error(`${where}: must be one JWK object`);
  const fields = jwk as Record<string, unknown>;
  const kid = fields['kid'];
  if (typeof kid !== 'string' || kid === '') throw new Error(`${where}: missing "kid"`);
  if (typeof fields['d'] !== 'string') throw new Error(`${where}: not a private key (no "d")`);
  const alg = jwkAlg(fields, where);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: fields as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new Error(`${where}: cannot import: ${(err as Error).message}`);
  }
  const publicJwk: JWK = { ...(createPublicKey(key).export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return Object.freeze({ kid, alg, key, publicJwk: Object.freeze(publicJwk) });
}

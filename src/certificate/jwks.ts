/**
 * Reading one issuer's JWKS document into verification keys (SPEC §2: EdDSA or ES256 public keys,
 * each with a `kid`). Pure apart from the key import: no I/O, no clock. A document is either taken
 * whole or refused whole, so a half-broken JWKS never silently drops some of an issuer's keys.
 */
import { KeyObject, verify } from 'node:crypto';
import { importJWK, type JWK } from 'jose';

export type TrustedAlg = 'EdDSA' | 'ES256';

export interface TrustedKey {
  readonly alg: TrustedAlg;
  /**
   * Checks a JWS signature (raw bytes, RFC 7518 form) over its signing input. jose imports and
   * vets the key once; the per-request check is node:crypto's synchronous verify, since jose on
   * Node verifies through WebCrypto, a promise and a thread-pool hop per call.
   */
  readonly verify: (signingInput: Buffer, signature: Buffer) => boolean;
}

/** An imported key set, with each key's identity so the next version can reuse unchanged keys. */
export interface KeySet {
  readonly keys: ReadonlyMap<string, TrustedKey>;
  /** kid -> canonical text of its JWK. */
  readonly fingerprints: ReadonlyMap<string, string>;
}

export const EMPTY_KEY_SET: KeySet = { keys: new Map(), fingerprints: new Map() };

/**
 * Imports `document` (already JSON-parsed). A key whose JWK is unchanged from `previous` keeps its
 * imported object: no re-import, and certificates verified with it stay verified (the verifier's
 * cache compares key objects). Throws an Error naming `where` and the bad key.
 */
export async function importJwks(document: unknown, where: string, previous: KeySet): Promise<KeySet> {
  const list = (document as { keys?: unknown } | null)?.keys;
  if (typeof document !== 'object' || document === null || !Array.isArray(list) || list.length === 0) {
    throw new Error(`${where}: must be an object with a non-empty "keys" array`);
  }
  const keys = new Map<string, TrustedKey>();
  const fingerprints = new Map<string, string>();
  for (const [i, jwk] of list.entries()) {
    const at = `${where}: keys[${i}]`;
    const alg = publicKeyAlg(jwk, at);
    const kid = (jwk as JWK).kid!;
    if (keys.has(kid)) throw new Error(`${at}: duplicate kid ${kid}`);
    const fingerprint = canonical(jwk as Record<string, unknown>);
    const kept = previous.fingerprints.get(kid) === fingerprint ? previous.keys.get(kid) : undefined;
    keys.set(kid, kept ?? (await importOne(jwk as JWK, alg, at)));
    fingerprints.set(kid, fingerprint);
  }
  return { keys, fingerprints };
}

async function importOne(jwk: JWK, alg: TrustedAlg, at: string): Promise<TrustedKey> {
  let imported: Awaited<ReturnType<typeof importJWK>>;
  try {
    imported = await importJWK(jwk, alg);
  } catch (err) {
    throw new Error(`${at}: cannot import: ${(err as Error).message}`);
  }
  if (imported instanceof Uint8Array) throw new Error(`${at}: symmetric keys are not allowed`);
  const key = imported instanceof KeyObject ? imported : KeyObject.from(imported);
  const check =
    alg === 'EdDSA'
      ? (input: Buffer, signature: Buffer) => signature.length === 64 && verify(null, input, key, signature)
      : (input: Buffer, signature: Buffer) => signature.length === 64 && verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature);
  return Object.freeze({ alg, verify: check });
}

/** Member order does not change a key; the sorted members identify it. */
function canonical(jwk: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(jwk).sort().map((name) => [name, jwk[name]]));
}

/** A public JWK with a `kid`, usable only for signatures: a JWKS is public, so a `d` is a mistake. */
function publicKeyAlg(jwk: unknown, at: string): TrustedAlg {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Error(`${at}: must be a JWK object`);
  const { kid, d, use } = jwk as Record<string, unknown>;
  if (typeof kid !== 'string' || kid === '') throw new Error(`${at}: missing "kid"`);
  if (d !== undefined) throw new Error(`${at}: holds a private key; publish only the public half`);
  if (use !== undefined && use !== 'sig') throw new Error(`${at}: "use" must be "sig"`);
  return jwkAlg(jwk as Record<string, unknown>, at);
}

/**
 * The algorithm a JWK signs or verifies with: `alg` when given (EdDSA or ES256 only, matching the
 * key type), else inferred from an Ed25519 OKP or P-256 EC key. Anything else is refused, so a key
 * is never used with an algorithm it was not meant for (RFC 8725 §3.1).
 */
export function jwkAlg(jwk: Readonly<Record<string, unknown>>, at: string): TrustedAlg {
  const { alg, kty, crv } = jwk;
  const inferred: TrustedAlg | null =
    kty === 'OKP' && crv === 'Ed25519' ? 'EdDSA' : kty === 'EC' && crv === 'P-256' ? 'ES256' : null;
  if (inferred === null) throw new Error(`${at}: must be an Ed25519 (OKP) or P-256 (EC) key`);
  if (alg !== undefined && alg !== inferred) {
    throw new Error(`${at}: "alg" ${String(alg)} does not fit a ${String(kty)} ${String(crv)} key (want ${inferred})`);
  }
  return inferred;
}

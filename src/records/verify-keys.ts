import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/** A record signature check for one key: true when `sig` (base64url) signs `data`. */
export type SigCheck = (data: string, sig: string) => 'ok' | 'bad' | 'malformed';

// Both Ed25519 and ES256 (raw r||s, RFC 7518 §3.4) signatures are 64 bytes: 86 base64url characters,
// the last of which carries 2 bits of the signature and 4 spare bits that must be zero (RFC 4648
// §3.5): otherwise 16 spellings of one `sig` verify, and a last record, which no later `prev` covers,
// could be altered undetected (found by test/fuzz/records.test.ts).
const SIG64 = /^[A-Za-z0-9_-]{85}[AQgw]$/;

/**
 * Record-signing public keys by kid, from the broker's JWKS (`GET /keys`, `public.jwks.json`).
 * Ed25519 and EC P-256 keys are used; keys of other types are ignored (a JWKS may hold them).
 * Throws on a kid given twice or on no usable key: either would make the check ambiguous or empty.
 */
export function importVerifyKeys(jwks: unknown): Map<string, SigCheck> {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new TypeError('the key file is not a JWKS ({"keys": [...]})');
  }
  const out = new Map<string, SigCheck>();
  for (const jwk of (jwks as { keys: unknown[] }).keys) {
    if (typeof jwk !== 'object' || jwk === null) throw new TypeError('a JWKS entry is not an object');
    const { kid, kty, crv, alg } = jwk as JsonWebKey;
    if (typeof kid !== 'string' || kid === '') throw new TypeError('a JWKS key has no kid');
    let check: SigCheck;
    if (kty === 'OKP' && crv === 'Ed25519' && (alg === undefined || alg === 'EdDSA' || alg === 'Ed25519')) {
      const key = publicKey(jwk as JsonWebKey, kid);
      check = (data, sig) => (SIG64.test(sig) ? (verify(null, Buffer.from(data), key, Buffer.from(sig, 'base64url')) ? 'ok' : 'bad') : 'malformed');
    } else if (kty === 'EC' && crv === 'P-256' && (alg === undefined || alg === 'ES256')) {
      const key = publicKey(jwk as JsonWebKey, kid);
      check = (data, sig) =>
        SIG64.test(sig)
          ? verify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'))
            ? 'ok'
            : 'bad'
          : 'malformed';
    } else {
      continue;
    }
    if (out.has(kid)) throw new TypeError(`the JWKS holds kid ${JSON.stringify(kid)} twice`);
    out.set(kid, check);
  }
  if (out.size === 0) throw new TypeError('the JWKS holds no Ed25519 or P-256 key');
  return out;
}

function publicKey(jwk: JsonWebKey, kid: string): KeyObject {
  // Only the public members: a private JWK given by mistake must not be needed or kept.
  const { kty, crv, x, y } = jwk;
  try {
    return createPublicKey({ key: y === undefined ? { kty, crv, x } : { kty, crv, x, y }, format: 'jwk' });
  } catch {
    throw new TypeError(`the JWKS key ${JSON.stringify(kid)} is not a valid public key`);
  }
}

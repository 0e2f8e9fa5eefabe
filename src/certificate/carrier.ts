/**
 * Where a certificate rides (SPEC §3). The agent's client is unmodified, so the certificate comes
 * in a field that client already sends. This stage is cheap on purpose: it looks only at the shape
 * of the carrier and (for the AWS session token) at the protected header's `typ`; all signature
 * and claim work is verify.ts's, on the same decoded segments (compact-jws.ts).
 */
import { Denial } from '../reasons.js';
import { CompactJws } from './compact-jws.js';

/** Three non-empty base64url segments: the only JWS serialisation SPEC §2 accepts. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** `Bearer` is case-insensitive (RFC 9110 §11.1); one or more spaces before the token (RFC 6750 §2.1 uses one). */
const BEARER = /^bearer +(\S+)$/i;

export const CERT_TYP = 'seb-cert+jwt';
export const AUTHORITY_TYP = 'seb-authority+jwt';

/** True when `value` has the compact JWS shape; no decoding. */
export function isCompactJws(value: string): boolean {
  return COMPACT_JWS.test(value);
}

/**
 * `typ` compared case-insensitively, with an optional `application/` prefix (RFC 7515 §4.1.9
 * recommends omitting it, so both spellings occur).
 */
export function typIs(typ: unknown, expected: string): boolean {
  if (typeof typ !== 'string') return false;
  const lower = typ.toLowerCase();
  return lower === expected || lower === `application/${expected}`;
}

/**
 * The certificate of an AWS request: `X-SEB-Certificate`, else `X-Amz-Security-Token` when it is a
 * JWS typed as a certificate. An ordinary STS session token (base64 with `+`, `/`, `=`) never has
 * the compact shape, so it holds no certificate and yields `null` (`no_certificate` upstream).
 */
export function awsCarrier(headers: Readonly<Record<string, string>>): CompactJws | null {
  const explicit = explicitCarrier(headers);
  if (explicit !== null) return explicit;
  const token = headers['x-amz-security-token'];
  if (token === undefined || !isCompactJws(token)) return null;
  const carried = new CompactJws(token);
  return typIs(peekTyp(carried), CERT_TYP) ? carried : null;
}

/**
 * The certificate of a Kubernetes request: `X-SEB-Certificate`, else the kubeconfig bearer token
 * when it is a compact JWS. A placeholder token (`unused`, a service-account token is also a JWS
 * but then verify.ts refuses its `typ`) is not examined further here.
 */
export function kubeCarrier(headers: Readonly<Record<string, string>>): CompactJws | null {
  const explicit = explicitCarrier(headers);
  if (explicit !== null) return explicit;
  const authorization = headers['authorization'];
  if (authorization === undefined) return null;
  const match = BEARER.exec(authorization);
  if (match === null) return null;
  const token = match[1]!;
  return isCompactJws(token) ? new CompactJws(token) : null;
}

/** SPEC §3: an `X-SEB-Certificate` that is not a JWS is `malformed_certificate`, not absent. */
function explicitCarrier(headers: Readonly<Record<string, string>>): CompactJws | null {
  const value = headers['x-seb-certificate'];
  if (value === undefined) return null;
  if (!isCompactJws(value)) throw new Denial('malformed_certificate', 'X-SEB-Certificate is not a compact JWS');
  return new CompactJws(value);
}

/** The protected header's `typ`, or undefined when the header is not a strict JSON object. */
function peekTyp(jws: CompactJws): unknown {
  try {
    return jws.header()['typ'];
  } catch {
    return undefined;
  }
}

const JTI = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The `jti` a carrier claims, read without verifying anything: only for naming the certificate in
 * a denial of it (SPEC §4: the client's message names the certificate id), never for a decision.
 */
export function claimedJti(jws: CompactJws): string | null {
  try {
    const jti = jws.payload()['jti'];
    return typeof jti === 'string' && JTI.test(jti) ? jti : null;
  } catch {
    return null;
  }
}

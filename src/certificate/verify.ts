/**
 * Certificate verification (SPEC §2), in the reason order of SPEC §4: shape, issuer, signature,
 * audience, time. Everything that can be refused without a key is refused first (jose
 * `lib/jws_verify.ts` checks `alg` before any key lookup), and the payload is decoded before the
 * signature only to learn `iss`, through the same strict JSON parser the broker uses for bodies.
 * The JWS is decoded once (compact-jws.ts): the verified certificate is its decoded claims with
 * the header's `kid`, and the carrier and a denial record read the same decoded segments.
 */
import { LRUCache } from 'lru-cache';
import { Denial } from '../reasons.js';
import { CERT_TYP, isCompactJws, typIs } from './carrier.js';
import { CompactJws } from './compact-jws.js';
import { parseOp } from '../contract/op-schema.js';
import type { TrustStore, TrustedAlg, TrustedKey } from './trust.js';
import type { Certificate, Contract, Op } from './types.js';

/** SPEC §2: a certificate is at most 16 KiB. */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;
const MAX_OPS = 32;
const JTI = /^[A-Za-z0-9._:-]{1,128}$/;
const ALGS: ReadonlySet<string> = new Set<TrustedAlg>(['EdDSA', 'ES256']);
/** Header parameters that would let the token choose its own key or processing rules (RFC 8725 §3.10). */
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'crit'] as const;
const CLAIMS = [
  'iss', 'sub', 'aud', 'jti', 'iat', 'nbf', 'exp', 'policy_epoch', 'revocation_epoch', 'execution_identity', 'contract',
] as const;
const CONTRACT_FIELDS = ['id', 'evidence', 'ops'] as const;
/**
 * Agents reuse one certificate for every use of its ops, so the signature of a given JWS string is
 * checked once. Keyed by the exact JWS, so a hit is the very bytes that verified; 256 entries of at
 * most 16 KiB bound the cache to 4 MiB. Time is still checked on every call.
 */
const CACHE_ENTRIES = 256;

/** A JWS whose protected header passed the checks that need no key. */
export interface DecodedJws {
  readonly alg: TrustedAlg;
  readonly kid: string;
  readonly payload: Record<string, unknown>;
}

/**
 * Decodes a compact JWS typed `typ` without verifying it: size, shape, header rules and a
 * strictly parsed JSON object payload. Shared with the authority state (SPEC §6), which has the
 * same header rules. Throws `malformed_certificate`.
 */
export function decodeJws(jws: CompactJws, typ: string, maxBytes: number): DecodedJws {
  if (jws.token.length > maxBytes) throw malformed(`larger than ${maxBytes} bytes`);
  if (!isCompactJws(jws.token)) throw malformed('not a compact JWS');
  const header = jws.header();
  if (typeof header['alg'] !== 'string' || !ALGS.has(header['alg'])) throw malformed('alg must be EdDSA or ES256');
  if (!typIs(header['typ'], typ)) throw malformed(`typ must be ${typ}`);
  const kid = header['kid'];
  if (typeof kid !== 'string' || kid === '') throw malformed('missing kid');
  for (const name of FORBIDDEN_HEADERS) {
    if (Object.hasOwn(header, name)) throw malformed(`header parameter ${name} is not allowed`);
  }
  return { alg: header['alg'] as TrustedAlg, kid, payload: jws.payload() };
}

/** The JWS signature over `header.payload`, checked with the issuer key (alg already matched). */
export function signatureHolds(jws: CompactJws, trusted: TrustedKey): boolean {
  const signature = jws.signature();
  if (signature === null) return false;
  try {
    return trusted.verify(jws.signingInput(), signature);
  } catch {
    return false;
  }
}

export interface VerifierOptions {
  readonly trust: TrustStore;
  readonly audience: string;
  readonly principals: readonly string[] | null;
  /** Seconds (SPEC §10 `trust.max_validity`). */
  readonly maxValidity: number;
  /** Seconds (SPEC §10 `trust.clock_skew`). */
  readonly skew: number;
  /** Seconds since the epoch. */
  readonly now?: () => number;
}

export class CertificateVerifier {
  readonly #trust: TrustStore;
  readonly #audience: string;
  readonly #principals: ReadonlySet<string> | null;
  readonly #maxValidity: number;
  readonly #skew: number;
  readonly #now: () => number;
  readonly #verified = new LRUCache<string, { cert: Certificate; key: TrustedKey }>({ max: CACHE_ENTRIES });

  constructor(options: VerifierOptions) {
    this.#trust = options.trust;
    this.#audience = options.audience;
    this.#principals = options.principals === null ? null : new Set(options.principals);
    this.#maxValidity = options.maxValidity;
    this.#skew = options.skew;
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  /**
   * The certificate's verified claims, with its header's `kid`. The runner passes the carrier's
   * CompactJws, so the segments the carrier read are not decoded again; a string is for callers
   * that hold only the token (`seb cert verify`).
   */
  async verify(jws: CompactJws | string): Promise<Certificate> {
    const carried = typeof jws === 'string' ? new CompactJws(jws) : jws;
    let hit = this.#verified.get(carried.token);
    // A hit counts only while its key is still the issuer's: a key removed or replaced by a JWKS
    // refresh stops its certificates at once, not when they fall out of the cache.
    if (hit === undefined || this.#trust.key(hit.cert.iss, hit.cert.kid) !== hit.key) {
      hit = await this.#verifyStatic(carried);
      this.#verified.set(carried.token, hit);
    }
    this.#checkTime(hit.cert);
    return hit.cert;
  }

  /** Everything that does not depend on the clock: shape, issuer, signature, audience. */
  async #verifyStatic(jws: CompactJws): Promise<{ cert: Certificate; key: TrustedKey }> {
    const { alg, kid, payload } = decodeJws(jws, CERT_TYP, MAX_CERTIFICATE_BYTES);
    const cert = parseClaims(payload, kid);
    if (!this.#trust.has(cert.iss)) throw new Denial('untrusted_issuer', `unknown issuer ${cert.iss}`);
    const trusted = await this.#trust.resolve(cert.iss, kid);
    if (trusted === undefined) throw new Denial('untrusted_issuer', `unknown kid ${kid} for issuer ${cert.iss}`);
    if (alg !== trusted.alg) throw new Denial('bad_signature', `key ${kid} signs with ${trusted.alg}, not ${alg}`);
    // The key verifies only with its own algorithm (checked just above), so no other (HS256 with
    // the public key as a secret, `none`) can ever reach a key operation.
    if (!signatureHolds(jws, trusted)) throw new Denial('bad_signature');
    if (!cert.aud.includes(this.#audience)) throw new Denial('wrong_audience', 'aud does not name this broker');
    if (this.#principals !== null && !this.#principals.has(cert.sub)) {
      throw new Denial('wrong_audience', `sub ${cert.sub} is not one of broker.principals`);
    }
    return { cert, key: trusted };
  }

  /** SPEC §2: `iat <= now + skew`; valid iff `nbf - skew <= now < exp + skew`; `exp - iat <= max_validity`. */
  #checkTime(cert: Certificate): void {
    const now = this.#now();
    if (cert.iat > now + this.#skew) throw new Denial('not_yet_valid', 'iat is in the future');
    if (cert.nbf - this.#skew > now) throw new Denial('not_yet_valid', 'nbf is in the future');
    if (now >= cert.exp + this.#skew) throw new Denial('expired');
    if (cert.exp - cert.iat > this.#maxValidity) {
      throw new Denial('validity_too_long', `exp - iat exceeds ${this.#maxValidity} s`);
    }
  }
}

function parseClaims(payload: Record<string, unknown>, kid: string): Certificate {
  for (const claim of CLAIMS) if (!Object.hasOwn(payload, claim)) throw malformed(`missing claim ${claim}`);
  for (const key of Object.keys(payload)) if (!(CLAIMS as readonly string[]).includes(key)) throw malformed(`unknown claim ${key}`);
  const jti = payload['jti'];
  if (typeof jti !== 'string' || !JTI.test(jti)) throw malformed('jti must be 1-128 characters of [A-Za-z0-9._:-]');
  const iat = numericDate(payload['iat'], 'iat');
  const nbf = numericDate(payload['nbf'], 'nbf');
  const exp = numericDate(payload['exp'], 'exp');
  // A window that closes before it opens is broken, not early or late: no skew can make it valid.
  // (exp before iat is left to the window check: iat <= now + skew, so it is expired, which is
  // what `seb cert issue` means by signing an already expired certificate, SPEC §9.)
  if (nbf > exp) throw malformed('nbf is after exp');
  return Object.freeze({
    kid,
    iss: nonEmpty(payload['iss'], 'iss'),
    sub: nonEmpty(payload['sub'], 'sub'),
    aud: audience(payload['aud']),
    jti,
    iat,
    nbf,
    exp,
    policy_epoch: epoch(payload['policy_epoch'], 'policy_epoch'),
    revocation_epoch: epoch(payload['revocation_epoch'], 'revocation_epoch'),
    execution_identity: nonEmpty(payload['execution_identity'], 'execution_identity'),
    contract: contract(payload['contract']),
  });
}

function contract(value: unknown): Contract {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('contract must be an object');
  const obj = value as Record<string, unknown>;
  for (const field of CONTRACT_FIELDS) if (!Object.hasOwn(obj, field)) throw malformed(`contract.${field}: missing`);
  for (const key of Object.keys(obj)) {
    if (!(CONTRACT_FIELDS as readonly string[]).includes(key)) throw malformed(`contract.${key}: unknown field`);
  }
  const id = nonEmpty(obj['id'], 'contract.id');
  if (typeof obj['evidence'] !== 'string') throw malformed('contract.evidence: must be a string');
  const ops = obj['ops'];
  if (!Array.isArray(ops) || ops.length < 1 || ops.length > MAX_OPS) throw malformed(`contract.ops: must hold 1 to ${MAX_OPS} ops`);
  const parsed: Op[] = [];
  ops.forEach((op: unknown, i) => void parsed.push(parseOp(op, `contract.ops[${i}]`, parsed)));
  return Object.freeze({ id, evidence: obj['evidence'], ops: Object.freeze(parsed) });
}

function audience(value: unknown): readonly string[] {
  if (typeof value === 'string' && value !== '') return Object.freeze([value]);
  if (Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === 'string' && a !== '')) {
    return Object.freeze([...(value as string[])]);
  }
  throw malformed('aud must be a non-empty string or array of strings');
}

function nonEmpty(value: unknown, claim: string): string {
  if (typeof value !== 'string' || value === '') throw malformed(`${claim} must be a non-empty string`);
  return value;
}

/** RFC 7519 §2 NumericDate: seconds, non-integral allowed. */
function numericDate(value: unknown, claim: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw malformed(`${claim} must be a NumericDate`);
  return value;
}

function epoch(value: unknown, claim: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`${claim} must be a non-negative integer`);
  }
  return value;
}

function malformed(detail: string): Denial {
  return new Denial('malformed_certificate', detail);
}

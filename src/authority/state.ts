/**
 * The authority state (SPEC §6): policy epoch, revocation epoch and revocation lists, signed by
 * `authority.iss`. A state is offered by a source (file, URL, ConfigMap); only one that verifies
 * and moves forward replaces the current one, so a stale or forged file can never roll the broker
 * back. With no fresh state every non-read request fails closed (`authority_stale`).
 */
import type { Certificate } from '../certificate/types.js';
import { AUTHORITY_TYP } from '../certificate/carrier.js';
import type { TrustStore } from '../certificate/trust.js';
import { decodeJws, signatureHolds, type DecodedJws } from '../certificate/verify.js';
import { CompactJws } from '../certificate/compact-jws.js';
import { Denial } from '../reasons.js';

/** Revocation lists can be long; still bounded, since the bytes come from outside. */
export const MAX_STATE_BYTES = 1024 * 1024;
const CLAIMS = ['iss', 'seq', 'iat', 'max_age', 'policy_epoch', 'revocation_epoch', 'revoked'] as const;

export interface AuthorityOptions {
  readonly trust: TrustStore;
  /** `authority.iss`: the only issuer whose states are accepted. */
  readonly iss: string;
  /** `authority.max_age_cap`, seconds. */
  readonly maxAgeCap: number;
  readonly skew: number;
  /** `trust.max_validity`: how long a dropped jti stays revoked (plus skew). */
  readonly maxValidity: number;
  /** Seconds since the epoch. */
  readonly now?: () => number;
  readonly log?: (msg: string) => void;
}

export interface AuthoritySnapshot {
  readonly seq: number;
  readonly iat: number;
  readonly max_age: number;
  readonly policy_epoch: number;
  readonly revocation_epoch: number;
}

interface State extends AuthoritySnapshot {
  readonly iss: string;
  readonly revokedJti: ReadonlySet<string>;
  readonly revokedSub: ReadonlySet<string>;
  /** Fixed-order serialisation with sorted lists: "identical content" for an equal `seq`. */
  readonly content: string;
}

export type OfferResult = { accepted: true } | { accepted: false; reason: string };

export class Authority {
  readonly #trust: TrustStore;
  readonly #iss: string;
  readonly #maxAgeCap: number;
  readonly #skew: number;
  readonly #jtiRetention: number;
  readonly #now: () => number;
  readonly #log: (msg: string) => void;
  #state: State | null = null;
  /** Every revoked jti ever seen, with when it was first seen (SPEC §6 retention). */
  readonly #jtiFirstSeen = new Map<string, number>();
  #rejected = 0;

  constructor(options: AuthorityOptions) {
    this.#trust = options.trust;
    this.#iss = options.iss;
    this.#maxAgeCap = options.maxAgeCap;
    this.#skew = options.skew;
    this.#jtiRetention = options.maxValidity + options.skew;
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#log = options.log ?? (() => {});
  }

  /** States refused so far (for metrics). */
  get rejected(): number {
    return this.#rejected;
  }

  async offer(jws: string): Promise<OfferResult> {
    let next: State;
    try {
      next = await this.#verify(jws);
    } catch (err) {
      this.#rejected++;
      const reason = err instanceof Error ? err.message : String(err);
      this.#log(`authority state refused: ${reason}`);
      return { accepted: false, reason };
    }
    const current = this.#state;
    if (current === null || next.seq > current.seq) {
      this.#install(next);
      this.#log(`authority state seq ${next.seq} accepted (policy_epoch ${next.policy_epoch}, revocation_epoch ${next.revocation_epoch})`);
    }
    return { accepted: true };
  }

  /** SPEC §4 order: authority_stale, policy_epoch_mismatch, revoked. */
  check(cert: Certificate): void {
    const state = this.#state;
    const now = this.#now();
    if (state === null) throw new Denial('authority_stale', 'no authority state yet');
    if (now - state.iat > state.max_age) throw new Denial('authority_stale', `authority state seq ${state.seq} is older than max_age`);
    if (cert.policy_epoch !== state.policy_epoch) {
      throw new Denial('policy_epoch_mismatch', `certificate policy_epoch ${cert.policy_epoch}, current ${state.policy_epoch}`);
    }
    if (this.#jtiRevoked(cert.jti, state, now)) throw new Denial('revoked', 'jti is revoked');
    if (state.revokedSub.has(cert.sub)) throw new Denial('revoked', 'sub is revoked');
    if (cert.revocation_epoch < state.revocation_epoch) {
      throw new Denial('revoked', `certificate revocation_epoch ${cert.revocation_epoch} is below ${state.revocation_epoch}`);
    }
  }

  fresh(): boolean {
    return this.#state !== null && this.#now() - this.#state.iat <= this.#state.max_age;
  }

  snapshot(): AuthoritySnapshot | null {
    const s = this.#state;
    return s === null
      ? null
      : { seq: s.seq, iat: s.iat, max_age: s.max_age, policy_epoch: s.policy_epoch, revocation_epoch: s.revocation_epoch };
  }

  #jtiRevoked(jti: string, state: State, now: number): boolean {
    if (state.revokedJti.has(jti)) return true;
    const firstSeen = this.#jtiFirstSeen.get(jti);
    return firstSeen !== undefined && now - firstSeen <= this.#jtiRetention;
  }

  #install(next: State): void {
    const now = this.#now();
    for (const jti of next.revokedJti) if (!this.#jtiFirstSeen.has(jti)) this.#jtiFirstSeen.set(jti, now);
    // No certificate outlives max_validity + skew, so a dropped jti older than that guards nothing.
    for (const [jti, firstSeen] of this.#jtiFirstSeen) {
      if (!next.revokedJti.has(jti) && now - firstSeen > this.#jtiRetention) this.#jtiFirstSeen.delete(jti);
    }
    this.#state = next;
  }

  /** Throws an Error whose message is the refusal reason (logged and returned, never a Denial to a client). */
  async #verify(token: string): Promise<State> {
    const jws = new CompactJws(token);
    let decoded: DecodedJws;
    try {
      decoded = decodeJws(jws, AUTHORITY_TYP, MAX_STATE_BYTES);
    } catch (err) {
      throw new Error(err instanceof Denial && err.detail ? err.detail : 'not a JWS');
    }
    const claims = parseClaims(decoded.payload);
    if (claims.iss !== this.#iss) throw new Error(`issuer ${claims.iss} is not authority.iss`);
    const trusted = await this.#trust.resolve(this.#iss, decoded.kid);
    if (trusted === undefined) throw new Error(`unknown kid ${decoded.kid} for ${this.#iss}`);
    if (trusted.alg !== decoded.alg || !signatureHolds(jws, trusted)) throw new Error('bad signature');
    if (claims.iat > this.#now() + this.#skew) throw new Error(`iat ${claims.iat} is in the future`);
    if (claims.max_age > this.#maxAgeCap) throw new Error(`max_age ${claims.max_age} exceeds max_age_cap ${this.#maxAgeCap}`);
    const current = this.#state;
    if (current !== null) {
      if (claims.seq < current.seq) throw new Error(`seq ${claims.seq} is below the current ${current.seq} (rollback)`);
      if (claims.seq === current.seq && claims.content !== current.content) {
        throw new Error(`seq ${claims.seq} is the current one with other content`);
      }
      // Lowering the revocation epoch would re-admit certificates it revoked: a rollback too.
      if (claims.revocation_epoch < current.revocation_epoch) {
        throw new Error(`revocation_epoch ${claims.revocation_epoch} is below the current ${current.revocation_epoch}`);
      }
    }
    return claims;
  }
}

function parseClaims(payload: Record<string, unknown>): State {
  for (const claim of CLAIMS) if (!Object.hasOwn(payload, claim)) throw new Error(`missing claim ${claim}`);
  for (const key of Object.keys(payload)) if (!(CLAIMS as readonly string[]).includes(key)) throw new Error(`unknown claim ${key}`);
  const iss = payload['iss'];
  if (typeof iss !== 'string' || iss === '') throw new Error('iss must be a non-empty string');
  const iat = payload['iat'];
  if (typeof iat !== 'number' || !Number.isFinite(iat) || iat < 0) throw new Error('iat must be a NumericDate');
  const seq = integer(payload['seq'], 'seq', 0);
  const max_age = integer(payload['max_age'], 'max_age', 1);
  const policy_epoch = integer(payload['policy_epoch'], 'policy_epoch', 0);
  const revocation_epoch = integer(payload['revocation_epoch'], 'revocation_epoch', 0);
  const revoked = payload['revoked'];
  if (typeof revoked !== 'object' || revoked === null || Array.isArray(revoked)) throw new Error('revoked must be {jti, sub}');
  const lists = revoked as Record<string, unknown>;
  const keys = Object.keys(lists);
  if (keys.length !== 2 || !Object.hasOwn(lists, 'jti') || !Object.hasOwn(lists, 'sub')) throw new Error('revoked must be exactly {jti, sub}');
  const jti = stringList(lists['jti'], 'revoked.jti');
  const sub = stringList(lists['sub'], 'revoked.sub');
  const content = JSON.stringify([iss, seq, iat, max_age, policy_epoch, revocation_epoch, [...jti].sort(), [...sub].sort()]);
  return { iss, seq, iat, max_age, policy_epoch, revocation_epoch, revokedJti: new Set(jti), revokedSub: new Set(sub), content };
}

function integer(value: unknown, claim: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new Error(`${claim} must be an integer >= ${min}`);
  return value;
}

function stringList(value: unknown, claim: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Error(`${claim} must be an array of strings`);
  return value as string[];
}

/**
 * The trusted issuer keys (SPEC §2, §10 `trust.issuers`). Keys are imported once at start-up, so
 * verifying a certificate never parses or imports key material. A bad JWKS is configuration, not
 * input: it throws an Error naming the issuer, and the broker refuses to start.
 */
import { readFile } from 'node:fs/promises';
import { importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';

export type TrustedAlg = 'EdDSA' | 'ES256';

export interface TrustedKey {
  readonly key: CryptoKey | KeyObject;
  readonly alg: TrustedAlg;
}

export interface TrustStoreOptions {
  /** For `https:` JWKS URLs; injected so tests can serve a JWKS without a network. */
  readonly fetch?: (url: string, init: { signal: AbortSignal }) => Promise<Response>;
}

/** How long a start-up JWKS fetch may take before start-up fails. */
const FETCH_TIMEOUT_MS = 10_000;

export class TrustStore {
  readonly #issuers: ReadonlyMap<string, ReadonlyMap<string, TrustedKey>>;

  private constructor(issuers: ReadonlyMap<string, ReadonlyMap<string, TrustedKey>>) {
    this.#issuers = issuers;
  }

  static async load(
    issuers: readonly { iss: string; jwks: string }[],
    options: TrustStoreOptions = {},
  ): Promise<TrustStore> {
    const table = new Map<string, ReadonlyMap<string, TrustedKey>>();
    for (const { iss, jwks } of issuers) {
      if (table.has(iss)) throw new Error(`trust issuer ${iss}: listed twice`);
      const document = await fetchJwks(iss, jwks, options.fetch ?? fetch);
      table.set(iss, await importJwks(iss, jwks, document));
    }
    return new TrustStore(table);
  }

  /** The key an issuer signs with under `kid`, or undefined when either is unknown (`untrusted_issuer`). */
  key(iss: string, kid: string): TrustedKey | undefined {
    return this.#issuers.get(iss)?.get(kid);
  }

  has(iss: string): boolean {
    return this.#issuers.has(iss);
  }
}

async function fetchJwks(iss: string, source: string, fetcher: NonNullable<TrustStoreOptions['fetch']>): Promise<unknown> {
  const where = `trust issuer ${iss}: JWKS ${source}`;
  let text: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    // A JWKS fetched over plain HTTP could be swapped in transit for the attacker's keys.
    if (!source.toLowerCase().startsWith('https://')) throw new Error(`${where}: only https URLs are allowed`);
    let response: Response;
    try {
      response = await fetcher(source, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    } catch (err) {
      throw new Error(`${where}: fetch failed: ${(err as Error).message}`);
    }
    if (!response.ok) throw new Error(`${where}: HTTP ${response.status}`);
    text = await response.text();
  } else {
    try {
      text = await readFile(source, 'utf8');
    } catch (err) {
      throw new Error(`${where}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${where}: not JSON`);
  }
}

async function importJwks(iss: string, source: string, document: unknown): Promise<ReadonlyMap<string, TrustedKey>> {
  const where = `trust issuer ${iss}: JWKS ${source}`;
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (typeof document !== 'object' || document === null || !Array.isArray(keys) || keys.length === 0) {
    throw new Error(`${where}: must be an object with a non-empty "keys" array`);
  }
  const out = new Map<string, TrustedKey>();
  for (const [i, jwk] of keys.entries()) {
    const at = `${where}: keys[${i}]`;
    const alg = publicKeyAlg(jwk, at);
    const kid = (jwk as JWK).kid!;
    if (out.has(kid)) throw new Error(`${at}: duplicate kid ${kid}`);
    let key: CryptoKey | Uint8Array;
    try {
      key = await importJWK(jwk as JWK, alg);
    } catch (err) {
      throw new Error(`${at}: cannot import: ${(err as Error).message}`);
    }
    if (key instanceof Uint8Array) throw new Error(`${at}: symmetric keys are not allowed`);
    out.set(kid, Object.freeze({ key, alg }));
  }
  return out;
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

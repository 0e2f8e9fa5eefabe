/**
 * The trusted issuer keys (SPEC §2, §10 `trust.issuers`), kept current while the broker runs so an
 * issuer can rotate keys without a restart. Keys are imported once per JWKS version, so verifying a
 * certificate never parses or imports key material and never does I/O for a known `kid`.
 *
 * - Start-up: every JWKS must load; a bad one is configuration, and the broker refuses to start.
 * - An unknown `kid` refreshes that issuer's JWKS (the issuer may have rotated first), at most once
 *   per cool-down, so a flood of made-up kids costs the issuer one fetch per cool-down.
 * - `follow()`: a JWKS file is re-read on change; a JWKS URL is re-fetched (conditionally) on a timer.
 * - A refresh that fails, or brings an unusable document, keeps the current keys and is logged; a
 *   good document replaces them whole, so a removed key stops verifying at once.
 */
import { every, SYSTEM_CLOCK, type Clock } from '../lib/clock.js';
import { EMPTY_KEY_SET, importJwks, type KeySet, type TrustedKey } from './jwks.js';
import { jwksSource, type JwksFetch, type JwksSource } from './jwks-source.js';
import { watchFile } from './watch-file.js';

export { jwkAlg, type TrustedAlg, type TrustedKey } from './jwks.js';

/** jose's `createRemoteJWKSet` uses the same cool-down between refreshes on an unknown kid. */
const REFRESH_COOLDOWN_MS = 30_000;
/** A key removed from a JWKS URL stops verifying within this long even when no unknown kid comes. */
export const URL_REFRESH_MS = 5 * 60_000;

export interface TrustStoreOptions {
  /** For JWKS URLs; injected so tests can serve a JWKS without a network. */
  readonly fetch?: JwksFetch;
  /** The cool-down, the URL re-fetch interval and the file watch's waits (default: the system clock). */
  readonly clock?: Clock;
  readonly log?: (msg: string) => void;
  /** A refresh failed (for metrics); the issuer's current keys stay. */
  readonly onRefreshError?: (iss: string) => void;
}

interface Issuer {
  readonly source: JwksSource;
  keys: KeySet;
  /** When the last refresh started (ms), for the cool-down. */
  lastRefresh: number;
  refreshing: Promise<void> | null;
}

export class TrustStore {
  readonly #issuers: ReadonlyMap<string, Issuer>;
  readonly #clock: Clock;
  readonly #log: (msg: string) => void;
  readonly #onRefreshError: (iss: string) => void;

  private constructor(issuers: ReadonlyMap<string, Issuer>, options: TrustStoreOptions) {
    this.#issuers = issuers;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#log = options.log ?? (() => {});
    this.#onRefreshError = options.onRefreshError ?? (() => {});
  }

  static async load(issuers: readonly { iss: string; jwks: string }[], options: TrustStoreOptions = {}): Promise<TrustStore> {
    const clock = options.clock ?? SYSTEM_CLOCK;
    const table = new Map<string, Issuer>();
    for (const { iss, jwks } of issuers) {
      if (table.has(iss)) throw new Error(`trust issuer ${iss}: listed twice`);
      const source = jwksSource(iss, jwks, options.fetch ?? fetch);
      const keys = await importJwks(await source.read(), source.where, EMPTY_KEY_SET);
      table.set(iss, { source, keys, lastRefresh: clock.now(), refreshing: null });
    }
    return new TrustStore(table, options);
  }

  /** The key an issuer signs with under `kid`, or undefined when either is unknown (`untrusted_issuer`). */
  key(iss: string, kid: string): TrustedKey | undefined {
    return this.#issuers.get(iss)?.keys.keys.get(kid);
  }

  has(iss: string): boolean {
    return this.#issuers.has(iss);
  }

  /**
   * Like key(), but an unknown `kid` of a known issuer first refreshes its JWKS, unless one was
   * fetched within the cool-down; callers during a refresh share it.
   */
  async resolve(iss: string, kid: string): Promise<TrustedKey | undefined> {
    const issuer = this.#issuers.get(iss);
    if (issuer === undefined) return undefined;
    const known = issuer.keys.keys.get(kid);
    if (known !== undefined) return known;
    if (issuer.refreshing === null && this.#clock.now() - issuer.lastRefresh < REFRESH_COOLDOWN_MS) return undefined;
    await this.#refresh(iss, issuer);
    return issuer.keys.keys.get(kid);
  }

  /** Starts following every JWKS: files on change, URLs every URL_REFRESH_MS. */
  async follow(): Promise<{ close(): void }> {
    const stops: (() => void)[] = [];
    for (const [iss, issuer] of this.#issuers) {
      const file = issuer.source.file;
      if (file !== null) {
        const watch = await watchFile(file, () => this.#reread(iss, issuer), this.#log, this.#clock);
        stops.push(() => watch.close());
      } else {
        // The listeners keep the broker alive; this interval alone does not (a Clock's waits never do).
        stops.push(every(this.#clock, URL_REFRESH_MS, () => void this.#refresh(iss, issuer)));
      }
    }
    return {
      close(): void {
        for (const stop of stops) stop();
      },
    };
  }

  /** A changed file: a refresh already under way may have read the old bytes, so read again after it. */
  async #reread(iss: string, issuer: Issuer): Promise<void> {
    await issuer.refreshing;
    await this.#refresh(iss, issuer);
  }

  /** Never throws: a failure is logged and counted, and the current keys stay. */
  #refresh(iss: string, issuer: Issuer): Promise<void> {
    issuer.refreshing ??= (async () => {
      issuer.lastRefresh = this.#clock.now();
      try {
        const document = await issuer.source.read();
        if (document === null) return;
        issuer.keys = await importJwks(document, issuer.source.where, issuer.keys);
        this.#log(`${issuer.source.where}: keys ${[...issuer.keys.keys.keys()].join(', ')}`);
      } catch (err) {
        this.#onRefreshError(iss);
        this.#log(`${(err as Error).message}; the current keys stay`);
      } finally {
        issuer.refreshing = null;
      }
    })();
    return issuer.refreshing;
  }
}

/** Use accounting (SPEC §4): reserve after the static checks, commit on forward, release on failure. */

export interface UseKey {
  readonly iss: string;
  readonly jti: string;
  readonly op: number;
}

export interface Reservation {
  /**
   * The request goes upstream: the use is spent. Resolves once the store holds it as spent; a
   * rejection (Denial 'replay_unavailable') means the store did not confirm yet, so a caller that
   * awaits it can refuse to forward. Never rejects unhandled: callers may also ignore it.
   */
  commit(): Promise<void>;
  /** Something failed before forwarding: the use is given back. Idempotent; no-op after commit. */
  release(): void;
}

export interface ReplayLedger {
  /**
   * Atomically takes one use of `key` if fewer than `maxUses` are committed or reserved.
   * Throws Denial('replay') when none is left, Denial('replay_unavailable') when the store is down.
   * `iat` and `keepUntil` (seconds) come from the certificate: uses are kept until `exp + skew`.
   */
  reserve(key: UseKey, maxUses: number, iat: number, keepUntil: number): Promise<Reservation>;
  /** Uses held in this process (the memory ledger, for the `seb_replay_entries` gauge); a shared store holds them elsewhere. */
  entries?(): number;
  /** Whether uses can be counted now (feeds /readyz). */
  healthy(): boolean;
  close(): Promise<void>;
}

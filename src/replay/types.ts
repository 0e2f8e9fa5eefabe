/** Use accounting (SPEC §4): reserve after the static checks, commit on forward, release on failure. */

export interface UseKey {
  readonly iss: string;
  readonly jti: string;
  readonly op: number;
}

export interface Reservation {
  /** The request went upstream: the use is spent. */
  commit(): void;
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
  close(): Promise<void>;
}

/** Use accounting (SPEC §4): reserve after the static checks, commit on forward, release on failure. */

export interface UseKey {
  readonly iss: string;
  readonly jti: string;
  readonly op: number;
  /**
   * An idempotency token (SPEC §2.2): each value is usable once per certificate, so it is counted
   * as a use of its own, keyed by (iss, jti, token) whatever op carried it.
   */
  readonly token?: string;
}

/** An op of one certificate whose answer a later op's binding takes a value from (SPEC §2.2). */
export interface AnswerKey {
  readonly iss: string;
  readonly jti: string;
  readonly op: number;
  /** The source in the answer (`xml:UploadId`, `header:etag`). */
  readonly source: string;
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
  /**
   * Keeps a value the broker relayed from an op's successful answer until `keepUntil` (seconds); a
   * later answer of the same op replaces it. Rejects Denial('replay_unavailable') when the store is down.
   */
  remember(key: AnswerKey, value: string, keepUntil: number): Promise<void>;
  /** The value remembered under `key`, or null when that op has not answered yet. */
  recall(key: AnswerKey): Promise<string | null>;
  /** Uses held in this process (the memory ledger, for the `seb_replay_entries` gauge); a shared store holds them elsewhere. */
  entries?(): number;
  /** Whether uses can be counted now (feeds /readyz). */
  healthy(): boolean;
  close(): Promise<void>;
}

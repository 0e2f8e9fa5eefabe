/** Record shapes (SPEC §8). Every record also carries v, type, stream, seq, ts, prev, broker, kid, sig. */

/** Where a record sits: `X-SEB-Record: <stream>:<seq>` (SPEC §4). */
export interface RecordRef {
  readonly stream: string;
  readonly seq: number;
}

export type RecordType = 'start' | 'decision' | 'outcome' | 'checkpoint' | 'end';

export interface DecisionBody {
  /** The request as the broker understood it, with digests instead of bodies (never a secret). */
  readonly request: Record<string, unknown>;
  readonly certificate: Record<string, unknown> | null;
  readonly decision: 'admit' | 'deny' | 'read';
  readonly reason: string | null;
  readonly detail: string | null;
  readonly identity: Record<string, unknown> | null;
}

export interface OutcomeBody {
  readonly decision_seq: number;
  readonly status: number | null;
  readonly upstream_request_id: string | null;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly duration_ms: number;
  readonly error: string | null;
  /**
   * How the request ended (server/responses.ts OutcomeKind: relayed, upstream_failed, client_gone,
   * not_forwarded, closed); null where a writer does not say.
   */
  readonly outcome?: string | null;
}

/** A stream's last record, as a start record names it in `previous` and the state file keeps it. */
export interface StreamPointer {
  readonly stream: string;
  readonly seq: number;
  /** base64url SHA-256 of the record's JCS form including its `sig`. */
  readonly hash: string;
}

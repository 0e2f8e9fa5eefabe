/**
 * The one registry of reason codes (SPEC §4). Every denial names one of these; no code literal
 * appears anywhere else, and test/reasons.test.ts keeps this table, the README and SPEC in sync.
 * The order of the table is the order of the admission pipeline: the first failure decides.
 */
export const REASONS = {
  unparseable_request: { status: 400, message: 'the broker cannot tell exactly what the request does' },
  client_impersonation: { status: 403, message: 'the client sent an Impersonate-* header' },
  no_certificate: { status: 401, message: 'no carrier holds a certificate' },
  malformed_certificate: { status: 401, message: 'the certificate is not well formed' },
  untrusted_issuer: { status: 401, message: 'the certificate issuer or key is not trusted' },
  bad_signature: { status: 401, message: 'the certificate signature does not verify' },
  wrong_audience: { status: 403, message: 'the certificate is not for this broker or principal' },
  not_yet_valid: { status: 403, message: 'the certificate is not valid yet' },
  expired: { status: 403, message: 'the certificate has expired' },
  validity_too_long: { status: 403, message: 'the certificate validity exceeds max_validity' },
  authority_stale: { status: 503, message: 'the authority state is stale' },
  policy_epoch_mismatch: { status: 403, message: 'the certificate policy epoch is not the current one' },
  revoked: { status: 403, message: 'the certificate is revoked' },
  unknown_execution_identity: { status: 403, message: 'the execution identity is not configured' },
  credential_vending: { status: 403, message: 'the operation would hand credentials or secrets to the agent' },
  contract_mismatch: { status: 403, message: 'no certified operation matches the request' },
  body_mismatch: { status: 403, message: 'the request body does not match the certified body' },
  replay: { status: 403, message: 'the certified operation has no uses left' },
  replay_unavailable: { status: 503, message: 'the replay store cannot be reached' },
  drift: { status: 409, message: 'the live state differs from the certified pre-state' },
  mint_failed: { status: 503, message: 'no scoped identity could be minted' },
  audit_unavailable: { status: 503, message: 'the decision record could not be written' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ReasonCode = keyof typeof REASONS;

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[];

/**
 * A denial of untrusted input. `detail` says what exactly was wrong; it goes to the client and the
 * record, so it must never hold a secret (no token, signature or body bytes). `internal` is what a
 * peer of the broker said (a sink's, a store's or a connection's error text, which can name
 * internal addresses): it goes to the log and the record, never to the agent.
 */
export class Denial extends Error {
  override readonly name = 'Denial';
  readonly status: number;
  /** `status` overrides the table's only where HTTP itself names the problem better (413). */
  constructor(
    readonly code: ReasonCode,
    readonly detail?: string,
    status?: number,
    readonly internal?: string,
  ) {
    super(detail ? `${code}: ${detail}` : code);
    this.status = status ?? REASONS[code].status;
  }
}

/**
 * The client went away before the broker could answer (mid-upload, or while its request was being
 * admitted). Still `unparseable_request` where a decision must be recorded (no new reason code:
 * the broker cannot tell what an unfinished request does), but its outcome record says
 * `client_gone`, so an abandoned request is never counted as a malformed one.
 */
export class ClientGone extends Denial {
  constructor(detail: string) {
    super('unparseable_request', detail);
  }
}

/** Shorthand for the most common denial: the request cannot be read exactly one way. */
export function unparseable(detail: string): Denial {
  return new Denial('unparseable_request', detail);
}

/** The certificate and its operations as SPEC §2 defines them, after validation. */

/** How a request body is bound (SPEC §2.1 "Body binding"); `null`: the request has no body. */
export type BodyBinding = { sha256: string } | { jcs_sha256: string } | { any: true } | null;

/** AWS live-state expectation (SPEC §2.1), probed by targets/aws/drift.ts (README "Drift probes"). */
export type AwsPreState = { absent: true } | { etag: string } | Record<string, unknown>;

export interface AwsOp {
  readonly target: 'aws';
  readonly service: string;
  readonly region: string | null;
  readonly operation: string;
  readonly resource: string;
  /** Every query (and rest path) parameter, as the upstream decodes it. `{}`: none. */
  readonly params: Readonly<Record<string, string>>;
  /** Every semantic header, names lower-cased. `{}`: none. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: BodyBinding;
  readonly pre_state: AwsPreState | null;
  readonly max_uses: number;
}

export type K8sPreState =
  | { resource_version: string }
  | { jcs_sha256: string; fields: string[] }
  | { absent: true };

export interface K8sOp {
  readonly target: 'k8s';
  readonly verb: string;
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subresource: string | null;
  readonly path_suffix: string | null;
  readonly namespace: string;
  readonly name: string | null;
  readonly generate_name: string | null;
  /** The exact multiset of query parameters, name to list of values (minus `pretty`, `timeout`). */
  readonly params: Readonly<Record<string, readonly string[]>>;
  readonly content_type: string | null;
  readonly body: BodyBinding;
  readonly pre_state: K8sPreState | null;
  readonly max_uses: number;
}

export type Op = AwsOp | K8sOp;

export interface Contract {
  readonly id: string;
  readonly evidence: string;
  readonly ops: readonly Op[];
}

/** A certificate whose signature, header and claim shapes have been verified. */
export interface Certificate {
  readonly kid: string;
  readonly iss: string;
  readonly sub: string;
  readonly aud: readonly string[];
  readonly jti: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly policy_epoch: number;
  readonly revocation_epoch: number;
  readonly execution_identity: string;
  readonly contract: Contract;
}

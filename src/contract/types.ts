/** The operations of a certificate's contract as SPEC §2.1 and §2.2 define them, after validation. */

/** How a request body is bound (SPEC §2.1 "Body binding"); `null`: the request has no body. */
export type BodyBinding = { sha256: string } | { jcs_sha256: string } | { any: true } | null;

/** SPEC §2.2 run-time value kinds the broker checks itself (docs/run-time-values.md). */
export type VolatileKind = 'timestamp' | 'idempotency_token';

/**
 * One exact place in a request (docs/run-time-values.md "Locations"): `/json/pointer` into a JSON
 * body, `form:NAME` (a query-protocol body field), `xml:A[n]/B` (an element below the root of an
 * XML body), `query:NAME`, `header:NAME`. Kept as written: it is what records and inspect show.
 */
export type Location = string;

/** A value the client generates when it runs (kubectl's restartedAt, an SDK idempotency token). */
export interface VolatileValue {
  readonly at: Location;
  readonly kind: VolatileKind;
}

/** A value that must equal what the broker relayed from an earlier op's successful answer. */
export interface BoundValue {
  readonly at: Location;
  /** `value` names the source in that answer: `header:NAME`, or `xml:NAME` / `json:NAME` below the root. */
  readonly from: { readonly op: number; readonly value: string };
}

/** The optional SPEC §2.2 fields; absent on an op that pins every byte (SPEC §2.1). */
export interface RunTimeFields {
  readonly volatile?: readonly VolatileValue[];
  readonly bind?: readonly BoundValue[];
}

/** AWS live-state expectation (SPEC §2.1), probed by targets/aws/drift.ts (README "Drift probes"). */
export type AwsPreState = { absent: true } | { etag: string } | Record<string, unknown>;

export interface AwsOp extends RunTimeFields {
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

export interface K8sOp extends RunTimeFields {
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

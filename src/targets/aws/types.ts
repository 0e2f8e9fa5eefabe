/**
 * What the broker reads out of an AWS request. The agent controls every byte of the request, so
 * each field is read exactly one way (SPEC §2.1) or the request is refused `unparseable_request`.
 */

/** The untrusted request after HTTP hygiene (server/hygiene.ts): exactly what came on the wire. */
export interface AwsHttpRequest {
  readonly method: string;
  /** The path exactly as sent (still percent-encoded), starting with `/`. */
  readonly path: string;
  /** The query string exactly as sent, without `?`; `''` when there is none. */
  readonly query: string;
  /** Lower-cased names; hygiene has refused duplicates, so one value each. Null prototype. */
  readonly headers: Readonly<Record<string, string>>;
}

export type Protocol = 'query' | 'ec2' | 'json' | 'rest-json' | 'rest-xml' | 'smithy-rpc-v2-cbor';

/**
 * An ARN whose account field may be the literal `{account}`: the account is the executor role's
 * (SPEC §2.1), known only once the certificate names its execution identity. See arn.ts.
 */
export type ArnTemplate = string;

/** One IAM statement the session policy must allow for this request. */
export interface Permission {
  readonly action: string;
  readonly resource: ArnTemplate;
}

/** The exactly-read meaning of one AWS request. */
export interface AwsOperation {
  /** SigV4 signing name (`s3`, `ec2`, `iam`, `dynamodb`, `lambda`, ...). */
  readonly service: string;
  /** The credential-scope region; `null` for global services. */
  readonly region: string | null;
  readonly protocol: Protocol;
  /** The API operation name from the service model. */
  readonly operation: string;
  /** Primary resource ARN, or `*`. */
  readonly resource: ArnTemplate;
  /** Every query parameter (and rest path parameter beyond `resource`), decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Every semantic header (SPEC §2.1), lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  /** What the scoped session policy must allow: the op's IAM actions on the resources it names. */
  readonly permissions: readonly Permission[];
  /** On the read allow-list (SPEC §7). */
  readonly read: boolean;
  /** Would hand credentials or secrets to the agent (SPEC §4 `credential_vending`). */
  readonly credentialVending: boolean;
  /** Set when the request is not for the signing name's own host: see Upstream. */
  readonly upstream?: Upstream;
  /** A json-protocol body as understand.ts parsed it: the body binding reads it, not the bytes again. */
  readonly json?: Readonly<Record<string, unknown>>;
}

/**
 * The host a request goes to when it is not the signing name's own: a second model behind the
 * signing name (DynamoDB Streams at `streams.dynamodb.<region>`), or an operation with a host
 * prefix (S3 Control's `{AccountId}.`), always from the broker's own table (SPEC §2.1).
 */
export interface Upstream {
  /** botocore's model name; an endpoint override may name it (`endpoints.dynamodbstreams`). */
  readonly model: string;
  readonly endpointPrefix: string;
  /** The model's `endpoint.hostPrefix` with its labels filled from the pinned request; `''` when none. */
  readonly hostPrefix: string;
}

/** The request body with any `aws-chunked` framing removed and its integrity headers checked. */
export interface AwsBody {
  /** The payload bytes as the upstream will store or read them. */
  readonly payload: Buffer;
  /**
   * Integrity headers to send upstream (`content-md5`, `x-amz-checksum-*`, also those that came in
   * an aws-chunked trailer), each already checked against `payload`.
   */
  readonly integrityHeaders: Readonly<Record<string, string>>;
}

/** Where a request goes upstream, from the broker's own endpoint table (never from the client). */
export interface Endpoint {
  /** Scheme, host and port, e.g. `https://s3.us-east-1.amazonaws.com` or `http://127.0.0.1:5000`. */
  readonly origin: string;
  readonly signingRegion: string;
  readonly signingService: string;
}

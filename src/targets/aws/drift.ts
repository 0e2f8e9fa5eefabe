/**
 * AWS live-state drift (SPEC §2.1 pre_state), the planning half: which read probes the certified
 * pre-state exactly, what the read executor's session policy must allow for it, how its answer is
 * judged, and which conditional headers then make the upstream enforce the checked state itself.
 * Pure: no I/O, no clock (the probe is sent by probe.ts).
 *
 * Families probed exactly (README "Drift probes"):
 *   S3 object  `{"etag"}` / `{"absent": true}`  HeadObject  (If-Match / If-None-Match: * upstream)
 *   S3 bucket  `{"absent": true}`               HeadBucket
 *   DynamoDB table `{"absent": true}` / `{"jcs_sha256", "fields"}`  DescribeTable
 * Everything else is denied `drift`: a pre_state the broker cannot probe is never passed.
 */
import { Denial } from '../../reasons.js';
import type { AwsPreState } from '../../certificate/types.js';
import { sha256Hex } from '../../lib/digest.js';
import { canonicalJson } from '../../lib/jcs.js';
import { parseStrictJson } from '../../lib/strict-json.js';
// The Kubernetes form `{jcs_sha256, fields}` means the same here: one definition of "those fields".
import { pickFields } from '../kube/drift.js';
import { iamLiteral } from './arn.js';
import type { AwsOperation, Permission } from './types.js';

/** The probe to send: a signed read under the read executor (SPEC §2.1 "checked ... under the read executor"). */
export interface ProbeRequest {
  /** SigV4 signing name; the endpoint comes from the broker's own table. */
  readonly service: string;
  readonly region: string | null;
  readonly method: 'HEAD' | 'POST';
  /** The path exactly as it goes on the wire (percent-encoded); probes carry no query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** What the probe's answer must show for the pre-state to hold. */
export type ProbeCheck =
  | { readonly kind: 'not-found' }
  | { readonly kind: 'etag'; readonly etag: string }
  | { readonly kind: 'table-absent' }
  | { readonly kind: 'table-fields'; readonly jcs_sha256: string; readonly fields: readonly string[] };

export interface ProbePlan {
  readonly request: ProbeRequest;
  /** Exactly the probe's IAM actions on exactly its resources: the read executor's session policy. */
  readonly permissions: readonly Permission[];
  readonly check: ProbeCheck;
  /**
   * Headers added to the forwarded request after the check (and signed with it), so a change
   * between probe and forward is refused by the upstream itself (S3: 412 PreconditionFailed).
   * Empty where the operation accepts no precondition.
   */
  readonly guard: Readonly<Record<string, string>>;
}

/** The probe's answer, as read off the wire (header names lower-cased). */
export interface ProbeAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

/**
 * S3 operations that take the conditional-write headers on their target object (botocore's s3
 * 2006-03-01 model: IfMatch / IfNoneMatch members located in `If-Match` / `If-None-Match`).
 * DeleteObject takes only If-Match. Every other object operation is checked, not enforced upstream.
 */
const S3_IF_MATCH: ReadonlySet<string> = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload', 'DeleteObject']);
const S3_IF_NONE_MATCH: ReadonlySet<string> = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload']);

const S3_ARN = /^arn:(aws[a-z-]*):s3:::([^/]+)(?:\/(.+))?$/s;
/** A table itself, not an index, stream or backup under it: DescribeTable reads exactly that. */
const TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[a-zA-Z0-9_.-]{1,255}$/;
/**
 * An entity tag's opaque part (RFC 9110 §8.8.3 etagc, ASCII only). Quotes are framing: S3 compares
 * If-Match without them, so `"abc"` and `abc` name the same tag. Anything else (a weak tag, a
 * space, a control character) is not a tag S3 issues and is refused rather than guessed.
 */
const OPAQUE_TAG = /^[\x21\x23-\x7e]+$/;
const HEX64 = /^[0-9a-f]{64}$/;
const DYNAMODB_TARGET = 'DynamoDB_20120810.DescribeTable';
const NOT_FOUND = 'ResourceNotFoundException';

/**
 * The probe for `operation` (its resource already account-resolved) against `preState`. Throws
 * Denial('drift') when the broker cannot probe that pre-state exactly.
 */
export function planProbe(operation: AwsOperation, resource: string, preState: AwsPreState): ProbePlan {
  if (operation.service === 's3') return planS3(operation, resource, preState);
  if (operation.service === 'dynamodb') return planDynamodb(operation, resource, preState);
  throw cannotProbe(operation, 'no probe exists for this service');
}

/** Throws Denial('drift') unless `answer` shows the state `check` expects. */
export function judgeProbe(check: ProbeCheck, answer: ProbeAnswer): void {
  const { status } = answer;
  switch (check.kind) {
    case 'not-found':
      if (status === 404) return;
      throw drift(status === 200 ? 'it exists; the certificate expects it absent' : answered(status));
    case 'etag': {
      if (status === 404) throw drift('the object does not exist; the certificate expects an ETag');
      if (status !== 200) throw drift(answered(status));
      const live = opaqueTag(answer.headers['etag'] ?? '');
      if (live === null) throw drift('the probe answered no usable ETag');
      if (live !== check.etag) throw drift(`the object's ETag is "${live}", the certificate expects "${check.etag}"`);
      return;
    }
    case 'table-absent':
      if (status === 400 && errorType(answer.body) === NOT_FOUND) return;
      throw drift(status === 200 ? 'the table exists; the certificate expects it absent' : answered(status));
    case 'table-fields': {
      if (status === 400 && errorType(answer.body) === NOT_FOUND) throw drift('the table does not exist');
      if (status !== 200) throw drift(answered(status));
      const table = describedTable(answer.body);
      if (sha256Hex(canonicalJson(pickFields(table, check.fields))) !== check.jcs_sha256) {
        throw drift(`the table's fields ${check.fields.join(', ')} changed`);
      }
      return;
    }
  }
}

function planS3(operation: AwsOperation, resource: string, preState: AwsPreState): ProbePlan {
  const m = S3_ARN.exec(resource);
  if (!m) throw cannotProbe(operation, 'it names no bucket');
  // A versionId addresses one immutable version; pre_state describes the current object.
  if ('versionId' in operation.params) throw cannotProbe(operation, 'the request names a versionId');
  const bucket = m[2]!;
  const key = m[3];
  const bucketArn = `arn:${m[1]!}:s3:::${bucket}`;
  if (key === undefined) {
    if (!isAbsent(preState)) throw cannotProbe(operation, 'a bucket pre_state can only be {"absent": true}');
    // HeadBucket: 404 only when no bucket of that name exists anywhere (403 or 301: it exists elsewhere).
    return {
      request: s3Head(`/${bucket}`, operation.region),
      permissions: [{ action: 's3:ListBucket', resource: bucketArn }],
      check: { kind: 'not-found' },
      guard: {},
    };
  }
  const objectArn = `${bucketArn}/${iamLiteral(key)}`;
  const request = s3Head(`/${bucket}/${encodeKey(key)}`, operation.region);
  if (isAbsent(preState)) {
    return {
      request,
      // S3 answers a missing key with 404 only to a caller that may list the bucket, else 403
      // (which the judge never passes): without ListBucket an absent pre_state could never hold.
      permissions: [
        { action: 's3:GetObject', resource: objectArn },
        { action: 's3:ListBucket', resource: bucketArn },
      ],
      check: { kind: 'not-found' },
      guard: guardFor(operation, S3_IF_NONE_MATCH, 'if-none-match', '*'),
    };
  }
  const etag = certifiedEtag(operation, preState);
  return {
    request,
    permissions: [{ action: 's3:GetObject', resource: objectArn }],
    check: { kind: 'etag', etag },
    guard: guardFor(operation, S3_IF_MATCH, 'if-match', `"${etag}"`),
  };
}

function planDynamodb(operation: AwsOperation, resource: string, preState: AwsPreState): ProbePlan {
  if (!TABLE_ARN.test(resource)) throw cannotProbe(operation, 'its resource is not one table');
  const request: ProbeRequest = {
    service: 'dynamodb',
    region: operation.region,
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': DYNAMODB_TARGET },
    // The full ARN, not the bare name: the table may be in another account than the read executor's.
    body: Buffer.from(JSON.stringify({ TableName: resource })),
  };
  const permissions = [{ action: 'dynamodb:DescribeTable', resource }];
  // No DynamoDB table operation takes a precondition on the table itself: checked, not enforced
  // (CreateTable refuses an existing table on its own, ResourceInUseException).
  if (isAbsent(preState)) return { request, permissions, check: { kind: 'table-absent' }, guard: {} };
  return { request, permissions, check: fieldsDigest(operation, preState), guard: {} };
}

function s3Head(path: string, region: string | null): ProbeRequest {
  return { service: 's3', region, method: 'HEAD', path, headers: {}, body: Buffer.alloc(0) };
}

/**
 * The key as a canonical wire path: every byte but RFC 3986 unreserved characters and `/`
 * percent-encoded, which is also SigV4's canonical URI for S3 (signed verbatim, sign.ts). The key
 * was decoded exactly once from the request, so this addresses exactly the object it names.
 */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/**
 * The header that enforces the check upstream, when `operation` takes it. A request that already
 * pins that header to another value would have its certified meaning changed: refused instead.
 */
function guardFor(operation: AwsOperation, takes: ReadonlySet<string>, name: string, value: string): Readonly<Record<string, string>> {
  if (!takes.has(operation.operation)) return {};
  const own = operation.headers[name];
  if (own !== undefined && own !== value) throw cannotProbe(operation, `its own ${name} header disagrees with pre_state`);
  return { [name]: value };
}

function isAbsent(preState: AwsPreState): boolean {
  return 'absent' in preState && preState.absent === true && Object.keys(preState).length === 1;
}

function certifiedEtag(operation: AwsOperation, preState: AwsPreState): string {
  const value = 'etag' in preState && Object.keys(preState).length === 1 ? preState.etag : undefined;
  const tag = typeof value === 'string' ? opaqueTag(value) : null;
  if (tag === null) throw cannotProbe(operation, 'an S3 object pre_state is {"etag": "<S3 ETag>"} or {"absent": true}');
  return tag;
}

/** The opaque part of an entity tag, with or without its quotes; null for anything else. */
function opaqueTag(value: string): string | null {
  const bare = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  return OPAQUE_TAG.test(bare) ? bare : null;
}

/** `{"jcs_sha256": hex, "fields": [...]}`, exactly as for Kubernetes (SPEC §2.1). */
function fieldsDigest(operation: AwsOperation, preState: AwsPreState): ProbeCheck {
  const { jcs_sha256: digest, fields } = preState as Record<string, unknown>;
  const shapeOk =
    Object.keys(preState).length === 2 &&
    typeof digest === 'string' &&
    HEX64.test(digest) &&
    Array.isArray(fields) &&
    fields.length > 0 &&
    fields.every((f) => typeof f === 'string' && f !== '') &&
    new Set(fields).size === fields.length;
  if (!shapeOk) throw cannotProbe(operation, 'a DynamoDB table pre_state is {"absent": true} or {"jcs_sha256", "fields"}');
  return { kind: 'table-fields', jcs_sha256: digest as string, fields: Object.freeze([...(fields as string[])]) };
}

/** DescribeTable's `Table`, parsed strictly: a reply read two ways could match two digests. */
function describedTable(body: Buffer): Record<string, unknown> {
  let reply: unknown;
  try {
    reply = parseStrictJson(body);
  } catch {
    throw drift('the probe answer is not strict JSON');
  }
  const table = isObject(reply) ? reply['Table'] : undefined;
  if (!isObject(table)) throw drift('the probe answer holds no Table');
  return table;
}

/** The error name of a json-protocol error body (`com.amazonaws.dynamodb.v20120810#Name` or `Name`). */
function errorType(body: Buffer): string | null {
  try {
    const reply = parseStrictJson(body);
    const type = isObject(reply) ? reply['__type'] : undefined;
    return typeof type === 'string' ? type.slice(type.lastIndexOf('#') + 1) : null;
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function answered(status: number): string {
  return `the probe answered ${status}`;
}

function drift(detail: string): Denial {
  return new Denial('drift', detail);
}

function cannotProbe(operation: AwsOperation, why: string): Denial {
  return drift(`the broker cannot probe this pre_state for ${operation.service}:${operation.operation}: ${why}`);
}

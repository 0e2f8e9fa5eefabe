/**
 * The S3 operations the broker models (SPEC §2.1: rest protocols are supported only for modeled
 * operations), how each is told apart on the wire, and the IAM actions it needs.
 *
 * S3 picks an operation from method, path shape, query names and headers (reference/aws.md §1,
 * rest-xml row), and reads any query name it knows as a subresource (`?torrent`, `?restore`,
 * `?retention`, ...). So each operation lists every query name it accepts, and a request with any
 * other name is refused: it could be an operation the broker does not model.
 * Query names and actions follow botocore's s3 2006-03-01 model and the service authorization
 * reference.
 */
import { unparseable } from '../../reasons.js';
import { isRead } from './catalog.js';

export type S3Scope = 'service' | 'bucket' | 'object';

/** A header whose presence adds an IAM action (`x-amz-grant-*` matches by prefix). */
interface HeaderAction {
  readonly header: string;
  readonly action: string;
}

export interface S3OperationSpec {
  readonly operation: string;
  readonly scope: S3Scope;
  readonly method: string;
  /**
   * Query names that select the operation, each with the value it must have (`''` for a bare
   * subresource such as `?uploads`), or `null` where any value is the operation's own parameter.
   */
  readonly selectors: Readonly<Record<string, string | null>>;
  /** Further query names the operation documents. */
  readonly params: readonly string[];
  /** `x-amz-copy-source` is required (CopyObject, UploadPartCopy), else refused. */
  readonly copySource: boolean;
  readonly read: boolean;
  readonly action: string;
  /** The action instead of `action` when the request names a `versionId`. */
  readonly versionAction: string | null;
  /** A second action the operation needs on the same resource, and its versioned form (GetObjectAttributes reads the object too). */
  readonly also: readonly [string, string] | null;
  readonly headerActions: readonly HeaderAction[];
}

/** The JS SDK's operation hint (`?x-id=PutObject`); accepted on every operation, must agree. */
export const X_ID = 'x-id';

const RESPONSE_OVERRIDES = [
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
];
const LIST = ['delimiter', 'encoding-type', 'max-keys', 'prefix'];

// Headers that make S3 do more than the base action (IAM "dependent actions" of the operation).
const OBJECT_WRITE_HEADERS: readonly HeaderAction[] = [
  { header: 'x-amz-tagging', action: 's3:PutObjectTagging' },
  { header: 'x-amz-acl', action: 's3:PutObjectAcl' },
  { header: 'x-amz-grant-*', action: 's3:PutObjectAcl' },
  { header: 'x-amz-object-lock-mode', action: 's3:PutObjectRetention' },
  { header: 'x-amz-object-lock-retain-until-date', action: 's3:PutObjectRetention' },
  { header: 'x-amz-object-lock-legal-hold', action: 's3:PutObjectLegalHold' },
];
const CREATE_BUCKET_HEADERS: readonly HeaderAction[] = [
  { header: 'x-amz-acl', action: 's3:PutBucketAcl' },
  { header: 'x-amz-grant-*', action: 's3:PutBucketAcl' },
  { header: 'x-amz-bucket-object-lock-enabled', action: 's3:PutBucketObjectLockConfiguration' },
  { header: 'x-amz-bucket-object-lock-enabled', action: 's3:PutBucketVersioning' },
  { header: 'x-amz-object-ownership', action: 's3:PutBucketOwnershipControls' },
];

interface Options {
  readonly selectors?: Readonly<Record<string, string | null>>;
  readonly params?: readonly string[];
  readonly copySource?: boolean;
  readonly versionAction?: string;
  readonly also?: readonly [string, string];
  readonly headerActions?: readonly HeaderAction[];
}

function op(operation: string, scope: S3Scope, method: string, read: boolean, action: string, o: Options = {}): S3OperationSpec {
  return Object.freeze({
    operation,
    scope,
    method,
    // A read by its verb is a read only if the generated list keeps it: not when the answer can
    // hold a `sensitive` member (SPEC §7; GetBucketEncryption's KMS key id).
    read: read && isRead('s3', operation),
    action,
    selectors: o.selectors ?? {},
    params: o.params ?? [],
    copySource: o.copySource ?? false,
    versionAction: o.versionAction ?? null,
    also: o.also ?? null,
    headerActions: o.headerActions ?? [],
  });
}

const R = true;
const W = false;
/** A subresource selector: present, with an empty value. */
const sub = (name: string): Record<string, string> => ({ [name]: '' });
/** A configuration addressed by its `id` within a bucket subresource (`?analytics&id=a1`). */
const byId = (name: string): Record<string, string | null> => ({ [name]: '', id: null });
const BYPASS_GOVERNANCE: readonly HeaderAction[] = [{ header: 'x-amz-bypass-governance-retention', action: 's3:BypassGovernanceRetention' }];

/**
 * Order matters within one scope and method: the first operation whose selectors are all present
 * (and whose copy-source rule holds) is the candidate, so more specific entries come first.
 */
const TABLE: readonly S3OperationSpec[] = [
  op('ListBuckets', 'service', 'GET', R, 's3:ListAllMyBuckets', { params: ['max-buckets', 'continuation-token', 'prefix', 'bucket-region'] }),

  op('GetObjectTagging', 'object', 'GET', R, 's3:GetObjectTagging', { selectors: sub('tagging'), params: ['versionId'], versionAction: 's3:GetObjectVersionTagging' }),
  op('GetObjectAcl', 'object', 'GET', R, 's3:GetObjectAcl', { selectors: sub('acl'), params: ['versionId'], versionAction: 's3:GetObjectVersionAcl' }),
  op('ListParts', 'object', 'GET', R, 's3:ListMultipartUploadParts', { selectors: { uploadId: null }, params: ['max-parts', 'part-number-marker'] }),
  // GetObjectAttributes needs the object's read action besides its own (S3 API reference, Permissions).
  op('GetObjectAttributes', 'object', 'GET', R, 's3:GetObjectAttributes', { selectors: sub('attributes'), params: ['versionId'], versionAction: 's3:GetObjectVersionAttributes', also: ['s3:GetObject', 's3:GetObjectVersion'] }),
  op('GetObjectLegalHold', 'object', 'GET', R, 's3:GetObjectLegalHold', { selectors: sub('legal-hold'), params: ['versionId'] }),
  op('GetObjectRetention', 'object', 'GET', R, 's3:GetObjectRetention', { selectors: sub('retention'), params: ['versionId'] }),
  op('GetObjectTorrent', 'object', 'GET', R, 's3:GetObjectTorrent', { selectors: sub('torrent') }),
  op('GetObject', 'object', 'GET', R, 's3:GetObject', { params: [...RESPONSE_OVERRIDES, 'versionId', 'partNumber'], versionAction: 's3:GetObjectVersion' }),
  op('HeadObject', 'object', 'HEAD', R, 's3:GetObject', { params: [...RESPONSE_OVERRIDES, 'versionId', 'partNumber'], versionAction: 's3:GetObjectVersion' }),
  op('PutObjectTagging', 'object', 'PUT', W, 's3:PutObjectTagging', { selectors: sub('tagging'), params: ['versionId'], versionAction: 's3:PutObjectVersionTagging' }),
  op('PutObjectAcl', 'object', 'PUT', W, 's3:PutObjectAcl', { selectors: sub('acl'), params: ['versionId'], versionAction: 's3:PutObjectVersionAcl' }),
  op('PutObjectLegalHold', 'object', 'PUT', W, 's3:PutObjectLegalHold', { selectors: sub('legal-hold'), params: ['versionId'] }),
  op('PutObjectRetention', 'object', 'PUT', W, 's3:PutObjectRetention', { selectors: sub('retention'), params: ['versionId'], headerActions: BYPASS_GOVERNANCE }),
  op('UpdateObjectEncryption', 'object', 'PUT', W, 's3:UpdateObjectEncryption', { selectors: sub('encryption'), params: ['versionId'] }),
  op('UploadPartCopy', 'object', 'PUT', W, 's3:PutObject', { selectors: { partNumber: null, uploadId: null }, copySource: true }),
  op('UploadPart', 'object', 'PUT', W, 's3:PutObject', { selectors: { partNumber: null, uploadId: null } }),
  op('CopyObject', 'object', 'PUT', W, 's3:PutObject', { copySource: true, headerActions: OBJECT_WRITE_HEADERS }),
  op('PutObject', 'object', 'PUT', W, 's3:PutObject', { headerActions: OBJECT_WRITE_HEADERS }),
  op('RestoreObject', 'object', 'POST', W, 's3:RestoreObject', { selectors: sub('restore'), params: ['versionId'] }),
  op('CreateMultipartUpload', 'object', 'POST', W, 's3:PutObject', { selectors: sub('uploads'), headerActions: OBJECT_WRITE_HEADERS }),
  op('CompleteMultipartUpload', 'object', 'POST', W, 's3:PutObject', { selectors: { uploadId: null } }),
  op('DeleteObjectTagging', 'object', 'DELETE', W, 's3:DeleteObjectTagging', { selectors: sub('tagging'), params: ['versionId'], versionAction: 's3:DeleteObjectVersionTagging' }),
  op('AbortMultipartUpload', 'object', 'DELETE', W, 's3:AbortMultipartUpload', { selectors: { uploadId: null } }),
  op('DeleteObject', 'object', 'DELETE', W, 's3:DeleteObject', { params: ['versionId'], versionAction: 's3:DeleteObjectVersion' }),

  op('ListObjectsV2', 'bucket', 'GET', R, 's3:ListBucket', { selectors: { 'list-type': '2' }, params: [...LIST, 'continuation-token', 'fetch-owner', 'start-after'] }),
  op('ListObjectVersions', 'bucket', 'GET', R, 's3:ListBucketVersions', { selectors: sub('versions'), params: [...LIST, 'key-marker', 'version-id-marker'] }),
  op('ListMultipartUploads', 'bucket', 'GET', R, 's3:ListBucketMultipartUploads', { selectors: sub('uploads'), params: ['delimiter', 'encoding-type', 'prefix', 'key-marker', 'max-uploads', 'upload-id-marker'] }),
  op('GetBucketLocation', 'bucket', 'GET', R, 's3:GetBucketLocation', { selectors: sub('location') }),
  op('GetBucketPolicy', 'bucket', 'GET', R, 's3:GetBucketPolicy', { selectors: sub('policy') }),
  op('GetBucketTagging', 'bucket', 'GET', R, 's3:GetBucketTagging', { selectors: sub('tagging') }),
  op('GetBucketVersioning', 'bucket', 'GET', R, 's3:GetBucketVersioning', { selectors: sub('versioning') }),
  op('GetBucketCors', 'bucket', 'GET', R, 's3:GetBucketCORS', { selectors: sub('cors') }),
  op('GetBucketEncryption', 'bucket', 'GET', R, 's3:GetEncryptionConfiguration', { selectors: sub('encryption') }),
  op('GetBucketAcl', 'bucket', 'GET', R, 's3:GetBucketAcl', { selectors: sub('acl') }),
  op('GetBucketLifecycleConfiguration', 'bucket', 'GET', R, 's3:GetLifecycleConfiguration', { selectors: sub('lifecycle') }),
  op('GetPublicAccessBlock', 'bucket', 'GET', R, 's3:GetBucketPublicAccessBlock', { selectors: sub('publicAccessBlock') }),
  op('GetBucketAnalyticsConfiguration', 'bucket', 'GET', R, 's3:GetAnalyticsConfiguration', { selectors: byId('analytics') }),
  op('ListBucketAnalyticsConfigurations', 'bucket', 'GET', R, 's3:GetAnalyticsConfiguration', { selectors: sub('analytics'), params: ['continuation-token'] }),
  op('GetBucketIntelligentTieringConfiguration', 'bucket', 'GET', R, 's3:GetIntelligentTieringConfiguration', { selectors: byId('intelligent-tiering') }),
  op('ListBucketIntelligentTieringConfigurations', 'bucket', 'GET', R, 's3:GetIntelligentTieringConfiguration', { selectors: sub('intelligent-tiering'), params: ['continuation-token'] }),
  op('GetBucketInventoryConfiguration', 'bucket', 'GET', R, 's3:GetInventoryConfiguration', { selectors: byId('inventory') }),
  op('ListBucketInventoryConfigurations', 'bucket', 'GET', R, 's3:GetInventoryConfiguration', { selectors: sub('inventory'), params: ['continuation-token'] }),
  op('GetBucketMetricsConfiguration', 'bucket', 'GET', R, 's3:GetMetricsConfiguration', { selectors: byId('metrics') }),
  op('ListBucketMetricsConfigurations', 'bucket', 'GET', R, 's3:GetMetricsConfiguration', { selectors: sub('metrics'), params: ['continuation-token'] }),
  op('GetBucketAccelerateConfiguration', 'bucket', 'GET', R, 's3:GetAccelerateConfiguration', { selectors: sub('accelerate') }),
  op('GetBucketLogging', 'bucket', 'GET', R, 's3:GetBucketLogging', { selectors: sub('logging') }),
  op('GetBucketNotificationConfiguration', 'bucket', 'GET', R, 's3:GetBucketNotification', { selectors: sub('notification') }),
  op('GetBucketOwnershipControls', 'bucket', 'GET', R, 's3:GetBucketOwnershipControls', { selectors: sub('ownershipControls') }),
  op('GetBucketPolicyStatus', 'bucket', 'GET', R, 's3:GetBucketPolicyStatus', { selectors: sub('policyStatus') }),
  op('GetBucketReplication', 'bucket', 'GET', R, 's3:GetReplicationConfiguration', { selectors: sub('replication') }),
  op('GetBucketRequestPayment', 'bucket', 'GET', R, 's3:GetBucketRequestPayment', { selectors: sub('requestPayment') }),
  op('GetBucketWebsite', 'bucket', 'GET', R, 's3:GetBucketWebsite', { selectors: sub('website') }),
  op('GetObjectLockConfiguration', 'bucket', 'GET', R, 's3:GetBucketObjectLockConfiguration', { selectors: sub('object-lock') }),
  op('GetBucketAbac', 'bucket', 'GET', R, 's3:GetBucketAbac', { selectors: sub('abac') }),
  op('GetBucketMetadataTableConfiguration', 'bucket', 'GET', R, 's3:GetBucketMetadataTableConfiguration', { selectors: sub('metadataTable') }),
  // The V2 metadata configuration calls are authorised by the V1 (metadata table) actions (S3 API reference).
  op('GetBucketMetadataConfiguration', 'bucket', 'GET', R, 's3:GetBucketMetadataTableConfiguration', { selectors: sub('metadataConfiguration') }),
  op('ListObjects', 'bucket', 'GET', R, 's3:ListBucket', { params: [...LIST, 'marker'] }),
  op('HeadBucket', 'bucket', 'HEAD', R, 's3:ListBucket'),
  op('PutBucketPolicy', 'bucket', 'PUT', W, 's3:PutBucketPolicy', { selectors: sub('policy') }),
  op('PutBucketTagging', 'bucket', 'PUT', W, 's3:PutBucketTagging', { selectors: sub('tagging') }),
  op('PutBucketVersioning', 'bucket', 'PUT', W, 's3:PutBucketVersioning', { selectors: sub('versioning') }),
  op('PutBucketCors', 'bucket', 'PUT', W, 's3:PutBucketCORS', { selectors: sub('cors') }),
  op('PutBucketEncryption', 'bucket', 'PUT', W, 's3:PutEncryptionConfiguration', { selectors: sub('encryption') }),
  op('PutBucketAcl', 'bucket', 'PUT', W, 's3:PutBucketAcl', { selectors: sub('acl') }),
  op('PutBucketLifecycleConfiguration', 'bucket', 'PUT', W, 's3:PutLifecycleConfiguration', { selectors: sub('lifecycle') }),
  op('PutPublicAccessBlock', 'bucket', 'PUT', W, 's3:PutBucketPublicAccessBlock', { selectors: sub('publicAccessBlock') }),
  op('PutBucketAnalyticsConfiguration', 'bucket', 'PUT', W, 's3:PutAnalyticsConfiguration', { selectors: byId('analytics') }),
  op('PutBucketIntelligentTieringConfiguration', 'bucket', 'PUT', W, 's3:PutIntelligentTieringConfiguration', { selectors: byId('intelligent-tiering') }),
  op('PutBucketInventoryConfiguration', 'bucket', 'PUT', W, 's3:PutInventoryConfiguration', { selectors: byId('inventory') }),
  op('PutBucketMetricsConfiguration', 'bucket', 'PUT', W, 's3:PutMetricsConfiguration', { selectors: byId('metrics') }),
  op('PutBucketAccelerateConfiguration', 'bucket', 'PUT', W, 's3:PutAccelerateConfiguration', { selectors: sub('accelerate') }),
  op('PutBucketLogging', 'bucket', 'PUT', W, 's3:PutBucketLogging', { selectors: sub('logging') }),
  op('PutBucketNotificationConfiguration', 'bucket', 'PUT', W, 's3:PutBucketNotification', { selectors: sub('notification') }),
  op('PutBucketOwnershipControls', 'bucket', 'PUT', W, 's3:PutBucketOwnershipControls', { selectors: sub('ownershipControls') }),
  // The replication role in the body is passed to S3 (iam:PassRole), which the body-blind reader
  // does not grant: AWS refuses such a call, it never widens.
  op('PutBucketReplication', 'bucket', 'PUT', W, 's3:PutReplicationConfiguration', { selectors: sub('replication') }),
  op('PutBucketRequestPayment', 'bucket', 'PUT', W, 's3:PutBucketRequestPayment', { selectors: sub('requestPayment') }),
  op('PutBucketWebsite', 'bucket', 'PUT', W, 's3:PutBucketWebsite', { selectors: sub('website') }),
  op('PutObjectLockConfiguration', 'bucket', 'PUT', W, 's3:PutBucketObjectLockConfiguration', { selectors: sub('object-lock') }),
  op('PutBucketAbac', 'bucket', 'PUT', W, 's3:PutBucketAbac', { selectors: sub('abac') }),
  op('UpdateBucketMetadataInventoryTableConfiguration', 'bucket', 'PUT', W, 's3:UpdateBucketMetadataInventoryTableConfiguration', { selectors: sub('metadataInventoryTable') }),
  op('UpdateBucketMetadataJournalTableConfiguration', 'bucket', 'PUT', W, 's3:UpdateBucketMetadataJournalTableConfiguration', { selectors: sub('metadataJournalTable') }),
  op('CreateBucket', 'bucket', 'PUT', W, 's3:CreateBucket', { headerActions: CREATE_BUCKET_HEADERS }),
  op('CreateBucketMetadataTableConfiguration', 'bucket', 'POST', W, 's3:CreateBucketMetadataTableConfiguration', { selectors: sub('metadataTable') }),
  op('CreateBucketMetadataConfiguration', 'bucket', 'POST', W, 's3:CreateBucketMetadataTableConfiguration', { selectors: sub('metadataConfiguration') }),
  op('DeleteObjects', 'bucket', 'POST', W, 's3:DeleteObject', { selectors: sub('delete'), versionAction: 's3:DeleteObjectVersion' }),
  // The Delete* bucket-configuration calls are authorised by the Put* action (IAM reference).
  op('DeleteBucketPolicy', 'bucket', 'DELETE', W, 's3:DeleteBucketPolicy', { selectors: sub('policy') }),
  op('DeleteBucketTagging', 'bucket', 'DELETE', W, 's3:PutBucketTagging', { selectors: sub('tagging') }),
  op('DeleteBucketCors', 'bucket', 'DELETE', W, 's3:PutBucketCORS', { selectors: sub('cors') }),
  op('DeleteBucketEncryption', 'bucket', 'DELETE', W, 's3:PutEncryptionConfiguration', { selectors: sub('encryption') }),
  op('DeleteBucketLifecycle', 'bucket', 'DELETE', W, 's3:PutLifecycleConfiguration', { selectors: sub('lifecycle') }),
  op('DeletePublicAccessBlock', 'bucket', 'DELETE', W, 's3:PutBucketPublicAccessBlock', { selectors: sub('publicAccessBlock') }),
  op('DeleteBucketAnalyticsConfiguration', 'bucket', 'DELETE', W, 's3:PutAnalyticsConfiguration', { selectors: byId('analytics') }),
  op('DeleteBucketIntelligentTieringConfiguration', 'bucket', 'DELETE', W, 's3:PutIntelligentTieringConfiguration', { selectors: byId('intelligent-tiering') }),
  op('DeleteBucketInventoryConfiguration', 'bucket', 'DELETE', W, 's3:PutInventoryConfiguration', { selectors: byId('inventory') }),
  op('DeleteBucketMetricsConfiguration', 'bucket', 'DELETE', W, 's3:PutMetricsConfiguration', { selectors: byId('metrics') }),
  op('DeleteBucketOwnershipControls', 'bucket', 'DELETE', W, 's3:PutBucketOwnershipControls', { selectors: sub('ownershipControls') }),
  op('DeleteBucketReplication', 'bucket', 'DELETE', W, 's3:PutReplicationConfiguration', { selectors: sub('replication') }),
  op('DeleteBucketWebsite', 'bucket', 'DELETE', W, 's3:DeleteBucketWebsite', { selectors: sub('website') }),
  op('DeleteBucketMetadataTableConfiguration', 'bucket', 'DELETE', W, 's3:DeleteBucketMetadataTableConfiguration', { selectors: sub('metadataTable') }),
  op('DeleteBucketMetadataConfiguration', 'bucket', 'DELETE', W, 's3:DeleteBucketMetadataTableConfiguration', { selectors: sub('metadataConfiguration') }),
  op('DeleteBucket', 'bucket', 'DELETE', W, 's3:DeleteBucket'),
];

// Compiled once: candidates by scope and method, and each operation's accepted query names.
const BY_ROUTE = new Map<string, S3OperationSpec[]>();
const ACCEPTED = new Map<S3OperationSpec, ReadonlySet<string>>();
for (const spec of TABLE) {
  const route = `${spec.scope} ${spec.method}`;
  BY_ROUTE.set(route, [...(BY_ROUTE.get(route) ?? []), spec]);
  ACCEPTED.set(spec, new Set([...Object.keys(spec.selectors), ...spec.params, X_ID]));
}

/**
 * The one operation `method` on a path of `scope` means, given its decoded query and whether it
 * carries `x-amz-copy-source`. Throws `unparseable` when no modeled operation reads it exactly.
 */
export function selectS3Operation(
  scope: S3Scope,
  method: string,
  query: Readonly<Record<string, string>>,
  hasCopySource: boolean,
): S3OperationSpec {
  // SelectObjectContent (`POST ?select&select-type=2`) answers with an event stream: not modeled.
  if (scope === 'object' && 'select' in query) throw unparseable('SelectObjectContent (an event-stream answer) is not served');
  const candidates = BY_ROUTE.get(`${scope} ${method}`);
  if (candidates === undefined) throw unparseable(`S3 ${method} on a ${scope} path is not a modeled operation`);
  const spec = candidates.find((c) => c.copySource === hasCopySource && Object.keys(c.selectors).every((name) => name in query));
  if (spec === undefined) throw unparseable(`no modeled S3 operation is ${method} with these query parameters and headers`);

  for (const [name, value] of Object.entries(spec.selectors)) {
    if (value !== null && query[name] !== value) throw unparseable(`${spec.operation}: ?${name} must be ${value === '' ? 'bare' : value}`);
  }
  const accepted = ACCEPTED.get(spec);
  if (accepted === undefined) throw unparseable(`${spec.operation} is not a modeled S3 operation`);
  for (const name of Object.keys(query)) {
    // An unknown name may be a subresource S3 reads as another operation (?restore, ?select, ...).
    if (!accepted.has(name)) throw unparseable(`${spec.operation} does not take query parameter ${name}`);
  }
  const hint = query[X_ID];
  if (hint !== undefined && hint !== spec.operation) throw unparseable(`x-id ${hint} disagrees with the operation ${spec.operation}`);
  return spec;
}

/** The IAM actions `spec` adds for the semantic headers present (`x-amz-tagging`, ACL grants, ...). */
export function headerActions(spec: S3OperationSpec, headers: Readonly<Record<string, string>>): string[] {
  const names = Object.keys(headers);
  const out: string[] = [];
  for (const { header, action } of spec.headerActions) {
    const present = header.endsWith('*') ? names.some((n) => n.startsWith(header.slice(0, -1))) : header in headers;
    if (present && !out.includes(action)) out.push(action);
  }
  return out;
}

/** The modeled operations with their read flag and every IAM action they may need (for the README). */
export const S3_OPERATIONS: readonly { operation: string; read: boolean; actions: readonly string[] }[] = Object.freeze(
  TABLE.map((spec) => {
    const actions = [spec.action];
    if (spec.versionAction !== null) actions.push(spec.versionAction);
    if (spec.also !== null) actions.push(...spec.also);
    for (const { action } of spec.headerActions) actions.push(action);
    // The copy source is read with GetObject, or GetObjectVersion when it names a version.
    if (spec.copySource) actions.push('s3:GetObject', 's3:GetObjectVersion');
    return Object.freeze({ operation: spec.operation, read: spec.read, actions: Object.freeze([...new Set(actions)]) });
  }),
);

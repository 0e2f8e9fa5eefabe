/**
 * Understands an S3 (rest-xml) request exactly one way (SPEC §2.1): which operation, on which
 * bucket and key, with which parameters and headers, needing which IAM permissions.
 *
 * Only path-style addressing is read: with a custom endpoint every client sends the bucket in the
 * path (reference/aws.md §3), and the Host header names nothing the broker trusts (§1).
 */
import { unparseable } from '../../reasons.js';
import { iamLiteral } from './arn.js';
import { decodeComponent, parseQuery } from './query-string.js';
import { semanticHeaders } from './semantic-headers.js';
import { headerActions, selectS3Operation, type S3OperationSpec, type S3Scope } from './s3-operations.js';
import { parseDeleteObjects } from './s3-delete-objects.js';
import type { AwsHttpRequest, AwsOperation, Permission } from './types.js';

export { S3_OPERATIONS } from './s3-operations.js';

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
// Names S3 reserves for access point aliases, Object Lambda, multi-region access points, S3
// Express directory buckets (CreateSession auth) and table buckets: they do not address a plain
// bucket, so the ARN the broker derives would not be the resource S3 acts on.
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];
/** S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
// Query authentication: presigned URLs are refused (SPEC §2.1), named here for a clear message.
const PRESIGN_PARAMS = ['X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Algorithm', 'AWSAccessKeyId', 'Signature'];
const COPY_SOURCE = 'x-amz-copy-source';

interface S3Path {
  readonly scope: S3Scope;
  readonly bucket: string | null;
  readonly key: string | null;
}

/**
 * The operation `req` performs. Returns `null` only when the body is needed to understand it
 * (DeleteObjects names its keys in the body) and `payload` is null; throws `unparseable`
 * whenever the request could be read another way.
 */
export function understandS3(req: AwsHttpRequest, region: string, payload: Buffer | null): AwsOperation | null {
  const path = parsePath(req.path);
  const params = parseQuery(req.query);
  if (PRESIGN_PARAMS.some((name) => name in params)) throw unparseable('presigned URLs (query authentication) are refused');
  const copySource = req.headers[COPY_SOURCE];
  const spec = selectS3Operation(path.scope, req.method, params, copySource !== undefined);
  const headers = semanticHeaders(req.headers);

  const bucketArn = path.bucket === null ? '*' : `arn:aws:s3:::${path.bucket}`;
  const resource = path.key === null ? bucketArn : `${bucketArn}/${path.key}`;
  // Bucket names cannot hold IAM's special characters; keys can (arn.ts iamLiteral).
  const grantOn = path.key === null ? bucketArn : `${bucketArn}/${iamLiteral(path.key)}`;

  const permissions = new Permissions();
  if (spec.operation === 'DeleteObjects') {
    if (payload === null) return null;
    for (const { key, versionId } of parseDeleteObjects(payload)) {
      permissions.add(versionId === null ? spec.action : versionActionOf(spec), `${bucketArn}/${iamLiteral(key)}`);
    }
  } else {
    const versioned = spec.versionAction !== null && 'versionId' in params;
    permissions.add(versioned ? versionActionOf(spec) : spec.action, grantOn);
    if (spec.also !== null) permissions.add(spec.also[versioned ? 1 : 0], grantOn);
  }
  for (const action of headerActions(spec, headers)) permissions.add(action, grantOn);
  if (copySource !== undefined) {
    const source = parseCopySource(copySource);
    const arn = `arn:aws:s3:::${source.bucket}/${iamLiteral(source.key)}`;
    permissions.add(source.versionId === null ? 's3:GetObject' : 's3:GetObjectVersion', arn);
  }

  return {
    service: 's3',
    region,
    protocol: 'rest-xml',
    operation: spec.operation,
    resource,
    params,
    headers,
    permissions: permissions.list,
    read: spec.read,
    credentialVending: false,
  };
}

/** `/` is the service, `/{bucket}` (or `/{bucket}/`, as the JS SDK sends) a bucket, `/{bucket}/{key+}` an object. */
/** A versionId names an object version: an operation without a version action cannot take one. */
function versionActionOf(spec: S3OperationSpec): string {
  if (spec.versionAction === null) throw unparseable(`${spec.operation} takes no versionId`);
  return spec.versionAction;
}

function parsePath(raw: string): S3Path {
  if (!raw.startsWith('/')) throw unparseable('the S3 path must start with /');
  if (raw === '/') return { scope: 'service', bucket: null, key: null };
  const slash = raw.indexOf('/', 1);
  const bucket = checkBucket(slash === -1 ? raw.slice(1) : raw.slice(1, slash));
  if (slash === -1 || slash === raw.length - 1) return { scope: 'bucket', bucket, key: null };
  return { scope: 'object', bucket, key: decodeKey(raw.slice(slash + 1)) };
}

/**
 * The bucket exactly as S3's naming rules allow it. It is never percent-decoded: no valid name
 * needs an escape, so an escaped one could only be read two ways.
 */
function checkBucket(name: string): string {
  if (
    !BUCKET.test(name) ||
    IPV4.test(name) ||
    name.includes('..') ||
    RESERVED_PREFIXES.some((p) => name.startsWith(p)) ||
    RESERVED_SUFFIXES.some((s) => name.endsWith(s))
  ) {
    throw unparseable('the S3 bucket name is not a valid plain bucket name');
  }
  return name;
}

/**
 * Decoded exactly once, with no dot-segment or slash normalisation: S3 stores `a/../b` and `a//b`
 * as those literal keys (SPEC §2.1; reference/aws.md §4.7).
 */
function decodeKey(raw: string): string {
  const key = decodeComponent(raw);
  if (key === '') throw unparseable('the S3 object key is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw unparseable(`the S3 object key is longer than ${MAX_KEY_BYTES} bytes`);
  return key;
}

/**
 * `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, key and version id percent-decoded once.
 * A `?` inside the key must be sent as `%3F`; nothing else may follow the key.
 */
function parseCopySource(value: string): { bucket: string; key: string; versionId: string | null } {
  const q = value.indexOf('?');
  const path = q === -1 ? value : value.slice(0, q);
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  const slash = trimmed.indexOf('/');
  if (slash === -1) throw unparseable('x-amz-copy-source must be bucket/key');
  const bucket = checkBucket(trimmed.slice(0, slash));
  const key = decodeKey(trimmed.slice(slash + 1));
  if (q === -1) return { bucket, key, versionId: null };
  const query = value.slice(q + 1);
  const raw = query.slice('versionId='.length);
  // A raw & or = would start another parameter, or be read into this one, depending on the reader.
  if (!query.startsWith('versionId=') || /[&=]/.test(raw)) throw unparseable('x-amz-copy-source may only carry ?versionId=');
  const versionId = decodeComponent(raw);
  if (versionId === '') throw unparseable('x-amz-copy-source has an empty versionId');
  return { bucket, key, versionId };
}

/** Permissions in first-seen order, each (action, resource) once. */
class Permissions {
  readonly list: Permission[] = [];
  readonly #seen = new Set<string>();

  add(action: string, resource: string): void {
    const id = `${action} ${resource}`;
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    this.list.push({ action, resource });
  }
}

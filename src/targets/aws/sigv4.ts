/**
 * AWS Signature Version 4 over a request's headers, synchronously with node:crypto (issue 14).
 * It computes what @smithy/signature-v4's `sign` computes, rule for rule (the headers it never
 * signs, its value folding, its path normalisation and escaping, its query encoding), so the
 * signatures stay those of AWS's own SDK; test/targets/aws/sigv4-test-suite.test.ts (AWS's
 * vectors) and test/fuzz/sigv4-botocore.test.ts (botocore) hold it to that. What it saves per
 * request: the promise chain, an HMAC of the secret to key smithy's signing-key cache, and the
 * request clone; the signing key (four HMACs) is derived once per identity, day, region and service.
 */
import { createHash, createHmac } from 'node:crypto';
import type { AwsCredentials } from '../../identity/types.js';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Headers sent but never signed, as the SDK leaves them out (a proxy may rewrite them in transit). */
const UNSIGNABLE: ReadonlySet<string> = new Set([
  'authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma', 'referer', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id',
]);
/** Headers the signature itself produces: whatever the request carried under these names is dropped. */
const GENERATED: ReadonlySet<string> = new Set(['authorization', 'x-amz-date', 'date']);

export interface SigV4Request {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface SigV4Scope {
  readonly region: string;
  readonly service: string;
  /** Everything but S3 escapes the once-encoded wire path a second time (reference/aws.md §4.7). */
  readonly uriEscapePath: boolean;
  readonly now: Date;
}

/**
 * Signing keys per identity, then per `date/region/service`. Keyed weakly by the credentials
 * object: an expired identity dropped from the minter's cache takes its keys with it.
 */
const signingKeys = new WeakMap<AwsCredentials, Map<string, Buffer>>();
/** Scopes kept per identity: a day, a few regions and services; beyond that, start again. */
const MAX_SCOPES_PER_IDENTITY = 32;

function signingKey(credentials: AwsCredentials, shortDate: string, region: string, service: string): Buffer {
  let keys = signingKeys.get(credentials);
  if (!keys) signingKeys.set(credentials, (keys = new Map()));
  const scope = `${shortDate}/${region}/${service}`;
  let key = keys.get(scope);
  if (key === undefined) {
    key = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(shortDate).digest();
    for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    if (keys.size >= MAX_SCOPES_PER_IDENTITY) keys.clear();
    keys.set(scope, key);
  }
  return key;
}

/** RFC 3986 unreserved characters stay, everything else is percent-encoded, as SigV4 wants. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalPath(path: string, uriEscapePath: boolean): string {
  if (!uriEscapePath) return path;
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalised = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalised).replace(/%2F/g, '/');
}

function canonicalQuery(query: Readonly<Record<string, string>>): string {
  const keys: string[] = [];
  const pairs: Record<string, string> = Object.create(null);
  for (const key of Object.keys(query)) {
    if (key.toLowerCase() === 'x-amz-signature') continue;
    const encoded = escapeUri(key);
    keys.push(encoded);
    pairs[encoded] = `${encoded}=${escapeUri(query[key] as string)}`;
  }
  // Sorted by the encoded key alone: `a-b=` sorts before `a=`, though `a` sorts before `a-b`.
  return keys
    .sort()
    .map((key) => pairs[key])
    .join('&');
}

/** `20261126T000000Z` from a Date. */
function longDateOf(now: Date): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/**
 * The headers to send: `request.headers` without the generated ones, plus X-Amz-Date,
 * X-Amz-Security-Token when the identity has one, and Authorization. Nothing else is added.
 */
export function signSigV4(request: SigV4Request, credentials: AwsCredentials, scope: SigV4Scope): Record<string, string> {
  const longDate = longDateOf(scope.now);
  const shortDate = longDate.slice(0, 8);
  // Null prototype: a header named `__proto__` must stay a header, not vanish into the prototype.
  const out: Record<string, string> = Object.create(null);
  let payloadHash: string | null = null;
  for (const name of Object.keys(request.headers)) {
    const lower = name.toLowerCase();
    if (GENERATED.has(lower)) continue;
    const value = request.headers[name] as string;
    out[name] = value;
    if (payloadHash === null && lower === 'x-amz-content-sha256') payloadHash = value;
  }
  out['x-amz-date'] = longDate;
  if (credentials.sessionToken) out['x-amz-security-token'] = credentials.sessionToken;
  payloadHash ??= request.body.length === 0 ? EMPTY_SHA256 : createHash('sha256').update(request.body).digest('hex');

  const canonical: Record<string, string> = Object.create(null);
  for (const name of Object.keys(out).sort()) {
    const lower = name.toLowerCase();
    if (UNSIGNABLE.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) continue;
    canonical[lower] = (out[name] as string).replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
  }
  const signedNames = Object.keys(canonical).sort();
  let headerBlock = '';
  for (const name of signedNames) headerBlock += `${name}:${canonical[name]}\n`;
  const signedHeaders = signedNames.join(';');
  const canonicalRequest = `${request.method}\n${canonicalPath(request.path, scope.uriEscapePath)}\n${canonicalQuery(request.query)}\n${headerBlock}\n${signedHeaders}\n${payloadHash}`;

  const credentialScope = `${shortDate}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${longDate}\n${credentialScope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
  const signature = createHmac('sha256', signingKey(credentials, shortDate, scope.region, scope.service)).update(stringToSign).digest('hex');
  out['authorization'] = `${ALGORITHM} Credential=${credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return out;
}

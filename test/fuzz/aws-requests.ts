/**
 * AWS requests for the fuzz properties: generators for every protocol the broker reads (S3 rest-xml,
 * Lambda rest-json, query, json), the broker's capture-then-match path, single-component mutations,
 * and an independent reference reading (`fingerprint`) that says when two requests mean the same
 * call upstream. "Zero admits of a request that does not match its contract" is then: whenever a
 * mutated request matches the op captured from the original, their fingerprints are equal.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { AwsOp } from '../../src/certificate/types.js';
import { parseOp } from '../../src/certificate/op-schema.js';
import { awsOpFor } from '../../src/contract/capture.js';
import { matchAwsOp } from '../../src/contract/match.js';
import { parseStrictJson } from '../../src/lib/strict-json.js';
import { decodeAwsBody } from '../../src/targets/aws/aws-chunked.js';
import { serviceModel } from '../../src/targets/aws/services.js';
import type { AwsHttpRequest, AwsOperation } from '../../src/targets/aws/types.js';
import { understandAws } from '../../src/targets/aws/understand.js';
import {
  applyEdit,
  edit,
  encoded,
  encodeWith,
  headerValue,
  keyChar,
  wireHeaderValue,
  plainText,
  RESERVED,
  s3Key,
  SEMANTIC_HEADERS,
  TRANSPORT_HEADERS,
  tokenName,
  type Edit,
} from './arbitraries.js';
import { outcome, type ContractTarget, type Outcome } from './harness.js';

export const ACCOUNT = '123456789012';
export const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'us-gov-west-1', 'cn-north-1'];

/** A request as the agent sends it, after hygiene: lower-case header names, raw path and query. */
export interface Req {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export function authorization(service: string, region: string): string {
  return `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`;
}

export function toHttp(r: Req): AwsHttpRequest {
  return { method: r.method, path: r.path, query: r.query, headers: Object.assign(Object.create(null), r.headers) as Record<string, string> };
}

/** The broker's reading of `r`: aws-chunked removed and integrity checked, then understood. */
export function understand(r: Req): { operation: AwsOperation; payload: Buffer; integrity: Readonly<Record<string, string>> } {
  const http = toHttp(r);
  const body = decodeAwsBody(http.headers, r.body);
  const operation = understandAws(http, body.payload);
  if (operation === null) throw new Error('understandAws returned null with the payload given');
  return { operation, payload: body.payload, integrity: body.integrityHeaders };
}

/**
 * What `seb op capture` prints for `r`, as a certificate carries it: serialised and parsed back by
 * the certificate's op schema, so the op the matcher sees is the one an issuer would sign.
 */
export function capture(r: Req): AwsOp {
  const { operation, payload } = understand(r);
  const op = awsOpFor(operation, ACCOUNT, payload);
  return parseOp(parseStrictJson(JSON.stringify(op)), 'op') as AwsOp;
}

/** The broker's whole static decision for `r` against one op: understand, then match. */
export function decide(op: AwsOp, r: Req): Outcome<unknown> {
  return outcome(() => {
    const { operation, payload } = understand(r);
    return matchAwsOp([op], operation, ACCOUNT, payload, r.headers['content-type']);
  });
}

// --- the reference reading ------------------------------------------------------------------

const TRANSPORT = new Set(TRANSPORT_HEADERS);
const SCOPE = /Credential=[^/]*\/\d{8}\/([^/]*)\/([^/]*)\/aws4_request/;

function decodeOrBad(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return `\u0000bad:${s}`;
  }
}

/** The query as a sorted multiset of decoded pairs (a bare name has the value ''). */
function queryPairs(raw: string): [string, string][] {
  if (raw === '') return [];
  return raw
    .split('&')
    .map((pair): [string, string] => {
      const eq = pair.indexOf('=');
      return eq === -1 ? [decodeOrBad(pair), ''] : [decodeOrBad(pair.slice(0, eq)), decodeOrBad(pair.slice(eq + 1))];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
}

/**
 * What the upstream acts on, read without the broker's code: method, credential scope (the region
 * counts only for regional services, SPEC §2.1), the path (S3: bucket literal, key decoded once;
 * other rest paths: each segment decoded), the query as a multiset, every header outside SPEC
 * §2.1's transport allow-list, and the body bytes (the captured op binds them by sha256; a CBOR
 * body too, so two encodings of one CBOR value are two calls here, as they are to the broker).
 */
/**
 * S3 itself, where everything after the bucket is one key decoded once. S3 Control signs with the
 * same name (`s3`) but routes segment by segment like any rest service, so `%2F` there is a new segment.
 */
function isS3Proper(r: Req): boolean {
  return SCOPE.exec(r.headers['authorization'] ?? '')?.[2] === 's3' && !/(^|\.)s3-control[.-]/.test(r.headers['host'] ?? '');
}

export function fingerprint(r: Req): string {
  const scope = SCOPE.exec(r.headers['authorization'] ?? '');
  const service = scope?.[2] ?? '';
  const region = serviceModel(service)?.global ? null : (scope?.[1] ?? '');
  let path: unknown;
  if (isS3Proper(r)) {
    const slash = r.path.indexOf('/', 1);
    path = slash === -1 ? [r.path.slice(1), ''] : [r.path.slice(1, slash), decodeOrBad(r.path.slice(slash + 1))];
  } else {
    path = r.path.split('/').map(decodeOrBad);
  }
  const headers = Object.entries(r.headers)
    .filter(([name]) => !TRANSPORT.has(name) && !name.startsWith('x-amz-checksum-'))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([r.method, service, region, path, queryPairs(r.query), headers, r.body.toString('hex')]);
}

// --- transport headers --------------------------------------------------------------------------

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Transport {
  readonly userAgent: string | undefined;
  readonly unsigned: boolean;
  readonly invocation: string | undefined;
  readonly md5: boolean;
}

export const transport: fc.Arbitrary<Transport> = fc.record({
  userAgent: fc.option(plainText, { nil: undefined }),
  unsigned: fc.boolean(),
  invocation: fc.option(fc.uuid(), { nil: undefined }),
  md5: fc.boolean(),
});

function withTransport(service: string, region: string, body: Buffer, t: Transport): Record<string, string> {
  const h: Record<string, string> = {
    host: '127.0.0.1:15001',
    authorization: authorization(service, region),
    'x-amz-date': '20261126T000000Z',
    'x-amz-content-sha256': t.unsigned ? 'UNSIGNED-PAYLOAD' : sha256(body),
    'content-length': String(body.length),
  };
  if (t.userAgent !== undefined) h['user-agent'] = t.userAgent.replace(/[^\x20-\x7e]/g, 'x').trim();
  if (t.invocation !== undefined) h['amz-sdk-invocation-id'] = t.invocation;
  if (t.md5) h['content-md5'] = createHash('md5').update(body).digest('base64');
  return h;
}

const semanticHeaders = fc.dictionary(fc.oneof(fc.constantFrom(...SEMANTIC_HEADERS), tokenName.map((n) => `x-amz-meta-${n}`)), headerValue, { maxKeys: 3 });

// --- S3 ---------------------------------------------------------------------------------------

interface S3Template {
  readonly op: string;
  readonly scope: 'service' | 'bucket' | 'object';
  readonly method: string;
  /** Selector parameters: '' for a bare subresource, null for a value the request chooses. */
  readonly fixed?: Readonly<Record<string, string | null>>;
  readonly optional?: readonly string[];
  readonly body?: 'bytes' | 'delete';
  readonly copySource?: boolean;
}

const S3_TEMPLATES: readonly S3Template[] = [
  { op: 'PutObject', scope: 'object', method: 'PUT', body: 'bytes' },
  { op: 'GetObject', scope: 'object', method: 'GET', optional: ['response-content-type', 'response-cache-control', 'versionId', 'partNumber'] },
  { op: 'HeadObject', scope: 'object', method: 'HEAD', optional: ['versionId'] },
  { op: 'DeleteObject', scope: 'object', method: 'DELETE', optional: ['versionId'] },
  { op: 'CopyObject', scope: 'object', method: 'PUT', copySource: true },
  { op: 'UploadPart', scope: 'object', method: 'PUT', fixed: { partNumber: null, uploadId: null }, body: 'bytes' },
  { op: 'CreateMultipartUpload', scope: 'object', method: 'POST', fixed: { uploads: '' } },
  { op: 'CompleteMultipartUpload', scope: 'object', method: 'POST', fixed: { uploadId: null }, body: 'bytes' },
  { op: 'AbortMultipartUpload', scope: 'object', method: 'DELETE', fixed: { uploadId: null } },
  { op: 'PutObjectTagging', scope: 'object', method: 'PUT', fixed: { tagging: '' }, optional: ['versionId'], body: 'bytes' },
  { op: 'GetObjectAcl', scope: 'object', method: 'GET', fixed: { acl: '' }, optional: ['versionId'] },
  { op: 'ListObjectsV2', scope: 'bucket', method: 'GET', fixed: { 'list-type': '2' }, optional: ['prefix', 'delimiter', 'start-after', 'continuation-token'] },
  { op: 'ListObjects', scope: 'bucket', method: 'GET', optional: ['prefix', 'marker', 'max-keys'] },
  { op: 'CreateBucket', scope: 'bucket', method: 'PUT', body: 'bytes' },
  { op: 'DeleteBucket', scope: 'bucket', method: 'DELETE' },
  { op: 'PutBucketPolicy', scope: 'bucket', method: 'PUT', fixed: { policy: '' }, body: 'bytes' },
  { op: 'DeleteObjects', scope: 'bucket', method: 'POST', fixed: { delete: '' }, body: 'delete' },
  { op: 'ListBuckets', scope: 'service', method: 'GET', optional: ['prefix', 'max-buckets'] },
];

/** Valid plain bucket names (3-63 of [a-z0-9.-], no `..`, not an IP, no reserved affix). */
export const bucket = fc
  .tuple(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 8 }), fc.array(fc.tuple(fc.constantFrom('-', '.', ''), fc.string({ unit: fc.constantFrom(...'abcxyz019'), minLength: 1, maxLength: 6 })), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([sep, part]) => sep + part).join(''))
  .filter((b) => b.length >= 3 && b.length <= 63 && !/^\d+\.\d+\.\d+\.\d+$/.test(b) && !b.startsWith('xn--') && !b.startsWith('sthree-'));

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** Keys S3's XML reader can carry: XML 1.0 characters only. */
const xmlKey = s3Key.filter((k) => !/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(k));

export const s3Request: fc.Arbitrary<Req> = fc
  .record({
    template: fc.constantFrom(...S3_TEMPLATES),
    region: fc.constantFrom(...REGIONS),
    bucket,
    key: encoded(s3Key, 'path'),
    trailingSlash: fc.boolean(),
    values: fc.array(encoded(plainText.filter((s) => s !== ''), 'query'), { minLength: 8, maxLength: 8 }),
    optional: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    bare: fc.boolean(),
    xId: fc.boolean(),
    body: fc.uint8Array({ maxLength: 64 }),
    deleted: fc.array(fc.tuple(xmlKey, fc.option(fc.string({ unit: fc.constantFrom(...'abc123'), minLength: 1, maxLength: 6 }), { nil: null })), { minLength: 1, maxLength: 4 }),
    semantic: semanticHeaders,
    copyFrom: fc.tuple(bucket, encoded(s3Key, 'path'), fc.option(fc.string({ unit: fc.constantFrom(...'abc123'), minLength: 1, maxLength: 6 }), { nil: null })),
    transport,
  })
  .map((g) => {
    const t = g.template;
    const path =
      t.scope === 'service' ? '/' : t.scope === 'bucket' ? `/${g.bucket}${g.trailingSlash ? '/' : ''}` : `/${g.bucket}/${g.key.raw}`;
    const pieces: string[] = [];
    let v = 0;
    for (const [name, value] of Object.entries(t.fixed ?? {})) {
      if (value === '') pieces.push(g.bare ? name : `${name}=`);
      else if (value !== null) pieces.push(`${name}=${value}`);
      else pieces.push(`${name}=${name === 'partNumber' ? String(1 + (g.body[0] ?? 0)) : g.values[v++]!.raw}`);
    }
    (t.optional ?? []).forEach((name, i) => {
      if (g.optional[i]) pieces.push(`${name}=${name === 'max-keys' || name === 'partNumber' || name === 'max-buckets' ? '5' : g.values[4 + i]!.raw}`);
    });
    if (g.xId) pieces.push(`x-id=${t.op}`);
    let body = Buffer.alloc(0);
    if (t.body === 'bytes') body = Buffer.from(g.body);
    if (t.body === 'delete') {
      const objects = g.deleted.map(([k, ver]) => `<Object><Key>${xmlEscape(k)}</Key>${ver === null ? '' : `<VersionId>${ver}</VersionId>`}</Object>`);
      body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${objects.join('')}</Delete>`);
    }
    const headers: Record<string, string> = { ...g.semantic, ...withTransport('s3', g.region, body, g.transport) };
    if (t.copySource) {
      const [b, k, ver] = g.copyFrom;
      headers['x-amz-copy-source'] = `/${b}/${k.raw}${ver === null ? '' : `?versionId=${ver}`}`;
    }
    return { method: t.method, path, query: pieces.join('&'), headers, body };
  });

// --- Lambda (rest-json) -------------------------------------------------------------------------

const fnName = fc.string({ unit: fc.constantFrom(...'abcXYZ019_-'), minLength: 1, maxLength: 12 });

export const lambdaRequest: fc.Arbitrary<Req> = fc
  .record({
    region: fc.constantFrom('us-east-1', 'eu-west-1', 'us-gov-west-1'),
    name: fnName,
    form: fc.constantFrom('bare', 'partial', 'full', 'qualified'),
    encodeColons: fc.nat({ max: 8 }),
    route: fc.constantFrom('get', 'delete', 'config', 'code', 'invoke', 'versions', 'alias', 'policy', 'list', 'tags'),
    qualifier: fc.option(fc.constantFrom('1', 'prod', '$LATEST'), { nil: null }),
    body: fc.uint8Array({ maxLength: 32 }),
    semantic: fc.dictionary(fc.constantFrom('content-type', 'x-amz-invocation-type', 'x-amz-log-type', 'x-amz-client-context'), headerValue, { maxKeys: 2 }),
    transport,
  })
  .map((g) => {
    const partition = g.region.startsWith('us-gov') ? 'aws-us-gov' : 'aws';
    const full = `arn:${partition}:lambda:${g.region}:${ACCOUNT}:function:${g.name}`;
    const decoded = { bare: g.name, partial: `${ACCOUNT}:function:${g.name}`, full, qualified: `${g.name}:v1` }[g.form];
    const raw = encodeWith(decoded, [g.encodeColons % 3, 0, 0], 'path');
    const f = `/2015-03-31/functions/${raw}`;
    const routes: Record<string, [string, string, Buffer]> = {
      get: ['GET', f, Buffer.alloc(0)],
      delete: ['DELETE', f, Buffer.alloc(0)],
      config: ['GET', `${f}/configuration`, Buffer.alloc(0)],
      code: ['PUT', `${f}/code`, Buffer.from(g.body)],
      invoke: ['POST', `${f}/invocations`, Buffer.from(g.body)],
      versions: ['POST', `${f}/versions`, Buffer.alloc(0)],
      alias: ['GET', `${f}/aliases/live`, Buffer.alloc(0)],
      policy: ['GET', `${f}/policy`, Buffer.alloc(0)],
      list: ['GET', '/2015-03-31/functions', Buffer.alloc(0)],
      tags: ['GET', `/2017-03-31/tags/${encodeWith(full, [1], 'path')}`, Buffer.alloc(0)],
    };
    const [method, path, body] = routes[g.route]!;
    const qualifies = ['get', 'delete', 'config', 'invoke', 'policy'].includes(g.route) && g.form === 'bare';
    const query = g.qualifier !== null && qualifies ? `Qualifier=${encodeWith(g.qualifier, [1], 'query')}` : '';
    return { method, path, query, headers: { ...g.semantic, ...withTransport('lambda', g.region, body, g.transport) }, body };
  });

// --- query and json protocols ----------------------------------------------------------------------

const QUERY_SERVICES: readonly [string, readonly string[]][] = [
  ['sns', ['Publish', 'CreateTopic', 'DeleteTopic', 'Subscribe', 'ListTopics']],
  ['sts', ['GetCallerIdentity']],
  ['cloudformation', ['CreateStack', 'DeleteStack', 'DescribeStacks']],
  ['iam', ['ListRoles', 'CreateRole', 'DeleteRole']],
  ['monitoring', ['PutMetricData', 'ListMetrics']],
];

const formText = fc.string({ unit: keyChar, maxLength: 10 });

export const queryRequest: fc.Arbitrary<Req> = fc
  .record({
    pick: fc.constantFrom(...QUERY_SERVICES),
    operation: fc.nat(),
    region: fc.constantFrom(...REGIONS),
    role: fc.string({ unit: fc.constantFrom(...'abcXYZ019+=,.@_-'), minLength: 1, maxLength: 10 }),
    fields: fc.array(fc.tuple(fc.constantFrom('Name', 'Message', 'TopicArn', 'StackName', 'Namespace', 'Tags.member.1.Key', 'x'), formText), { maxLength: 3 }),
    plusForSpace: fc.boolean(),
    charset: fc.constantFrom('application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded', 'Application/X-WWW-Form-Urlencoded; Charset=UTF-8'),
    semantic: fc.dictionary(fc.constantFrom('x-custom', 'x-amz-meta-a'), headerValue, { maxKeys: 1 }),
    transport,
  })
  .map((g) => {
    const [service, ops] = g.pick;
    const operation = ops[g.operation % ops.length]!;
    const model = serviceModel(service)!;
    const form: [string, string][] = [['Action', operation], ['Version', model.apiVersion]];
    if (service === 'iam' && operation !== 'ListRoles') form.push(['RoleName', g.role]);
    if (operation === 'CreateRole') form.push(['AssumeRolePolicyDocument', '{}']);
    const seen = new Set(form.map(([n]) => n));
    for (const [n, v] of g.fields) if (!seen.has(n)) (seen.add(n), form.push([n, v]));
    const enc = (s: string): string => {
      const e = encodeURIComponent(s);
      return g.plusForSpace ? e.replace(/%20/g, '+') : e;
    };
    const body = Buffer.from(form.map(([n, v]) => `${enc(n)}=${enc(v)}`).join('&'));
    return { method: 'POST', path: '/', query: '', headers: { 'content-type': g.charset, ...g.semantic, ...withTransport(service, g.region, body, g.transport) }, body };
  });

const JSON_SERVICES: readonly [string, readonly string[]][] = [
  ['sqs', ['SendMessage', 'CreateQueue', 'ListQueues']],
  ['kms', ['ListKeys', 'CreateKey', 'ScheduleKeyDeletion']],
  ['logs', ['PutLogEvents', 'CreateLogGroup']],
  ['monitoring', ['PutMetricData', 'ListMetrics']],
  ['dynamodb', ['ListTables', 'PutItem', 'DeleteTable']],
];

export const jsonRequest: fc.Arbitrary<Req> = fc
  .record({
    pick: fc.constantFrom(...JSON_SERVICES),
    operation: fc.nat(),
    region: fc.constantFrom(...REGIONS),
    table: fc.string({ unit: fc.constantFrom(...'abcXYZ019._-'), minLength: 3, maxLength: 12 }),
    fields: fc.dictionary(fc.constantFrom('QueueUrl', 'MessageBody', 'KeyId', 'logGroupName', 'Namespace', 'Limit'), fc.oneof(formText, fc.integer())),
    spacing: fc.constantFrom(0, 1, 2),
    semantic: fc.dictionary(fc.constantFrom('x-custom', 'x-amzn-query-mode'), headerValue, { maxKeys: 1 }),
    transport,
  })
  .map((g) => {
    const [service, ops] = g.pick;
    const operation = ops[g.operation % ops.length]!;
    const model = serviceModel(service)!;
    const input: Record<string, unknown> = { ...g.fields };
    if (service === 'dynamodb' && operation !== 'ListTables') input['TableName'] = g.table;
    const body = Buffer.from(JSON.stringify(input, null, g.spacing));
    const headers = {
      'content-type': `application/x-amz-json-${model.jsonVersion}`,
      'x-amz-target': `${model.targetPrefix}.${operation}`,
      ...g.semantic,
      ...withTransport(service, g.region, body, g.transport),
    };
    return { method: 'POST', path: '/', query: '', headers, body };
  });

export const anyRequest = fc.oneof({ weight: 4, arbitrary: s3Request }, { weight: 2, arbitrary: lambdaRequest }, { weight: 1, arbitrary: queryRequest }, { weight: 1, arbitrary: jsonRequest });

// --- mutations ------------------------------------------------------------------------------------

export type Mutation =
  | { readonly kind: 'path'; readonly edit: Edit }
  | { readonly kind: 'query'; readonly edit: Edit }
  | { readonly kind: 'add-param'; readonly name: string; readonly value: string; readonly at: number }
  | { readonly kind: 'dup-param'; readonly at: number; readonly respell: number }
  | { readonly kind: 'drop-param'; readonly at: number }
  | { readonly kind: 'shuffle-params'; readonly order: readonly number[] }
  | { readonly kind: 'reencode'; readonly where: 'key' | 'query'; readonly at: number; readonly lower: boolean }
  | { readonly kind: 'set-header'; readonly name: string; readonly value: string }
  | { readonly kind: 'edit-header'; readonly at: number; readonly edit: Edit }
  | { readonly kind: 'drop-header'; readonly at: number }
  | { readonly kind: 'body'; readonly edit: Edit }
  | { readonly kind: 'method'; readonly method: string }
  | { readonly kind: 'scope'; readonly region: string; readonly service: string };

const urlChar = fc.oneof(fc.constantFrom(...RESERVED), fc.constantFrom('%', '%2', '%2F', '%2f', 'A', 'a', '0', '\u00e9', '+', '&', '='));

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  edit(urlChar).map((e) => ({ kind: 'path' as const, edit: e })),
  edit(urlChar).map((e) => ({ kind: 'query' as const, edit: e })),
  fc.record({
    kind: fc.constant('add-param' as const),
    name: fc.oneof(fc.constantFrom('versionId', 'x-id', 'uploads', 'tagging', 'acl', 'torrent', 'restore', 'prefix', 'Qualifier', 'list-type', 'partNumber', 'uploadId', 'Action', 'X-Amz-Signature'), tokenName),
    value: fc.oneof(fc.constant(''), plainText.map((s) => encodeWith(s, [1], 'query'))),
    at: fc.nat(),
  }),
  fc.record({ kind: fc.constant('dup-param' as const), at: fc.nat(), respell: fc.nat({ max: 8 }) }),
  fc.record({ kind: fc.constant('drop-param' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('shuffle-params' as const), order: fc.array(fc.nat(), { minLength: 2, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('reencode' as const), where: fc.constantFrom<'key' | 'query'>('key', 'query'), at: fc.nat(), lower: fc.boolean() }),
  fc.record({
    kind: fc.constant('set-header' as const),
    name: fc.oneof(fc.constantFrom(...SEMANTIC_HEADERS, ...TRANSPORT_HEADERS, 'x-amz-copy-source', 'x-amz-target', 'content-encoding', 'x-amz-checksum-crc32', 'x-amz-checksum-mode'), tokenName),
    value: wireHeaderValue,
  }),
  fc.record({ kind: fc.constant('edit-header' as const), at: fc.nat(), edit: edit(fc.constantFrom('a', ' ', '\t', '0', 'Z', ';', ',', '\u0085', '\u00a0', '\u00e9')) }),
  fc.record({ kind: fc.constant('drop-header' as const), at: fc.nat() }),
  edit(fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b))).map((e) => ({ kind: 'body' as const, edit: e })),
  fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'put') }),
  fc.record({ kind: fc.constant('scope' as const), region: fc.constantFrom(...REGIONS, 'us-east-2'), service: fc.constantFrom('s3', 'lambda', 'sns', 'sqs', 'iam', 'kms', 'dynamodb', 'monitoring') }),
);

/** Mutations that change only the spelling of the request: the upstream reads the same call. */
export function isSpellingOnly(m: Mutation): boolean {
  return m.kind === 'reencode' || m.kind === 'shuffle-params';
}

function splitQuery(q: string): string[] {
  return q === '' ? [] : q.split('&');
}

/** Re-spells one character of `raw` (from index `at`): a raw safe character as %XX, or %XX of a safe one raw. */
function reencodeAt(raw: string, from: number, at: number, lower: boolean, context: 'path' | 'query'): string {
  const n = raw.length - from;
  if (n <= 0) return raw;
  const i = from + (at % n);
  if (raw[i] === '%') {
    const ch = String.fromCharCode(parseInt(raw.slice(i + 1, i + 3), 16));
    if (/^[A-Za-z0-9\-._~]$/.test(ch)) return raw.slice(0, i) + ch + raw.slice(i + 3);
    return raw.slice(0, i) + raw.slice(i, i + 3)[lower ? 'toLowerCase' : 'toUpperCase']() + raw.slice(i + 3);
  }
  // Query separators stay separators; in an S3 key even `/` may be spelled %2F (S3 decodes the key once).
  if (context === 'query' && (raw[i] === '&' || raw[i] === '=')) return raw;
  const hex = raw.charCodeAt(i).toString(16).padStart(2, '0');
  return raw.slice(0, i) + '%' + (lower ? hex : hex.toUpperCase()) + raw.slice(i + 1);
}

export function mutate(r: Req, m: Mutation): Req {
  const params = splitQuery(r.query);
  const names = Object.keys(r.headers);
  switch (m.kind) {
    case 'path':
      return { ...r, path: applyEdit(r.path, m.edit) };
    case 'query':
      return { ...r, query: applyEdit(r.query, m.edit) };
    case 'add-param': {
      const piece = m.value === '' ? m.name : `${m.name}=${m.value}`;
      params.splice(m.at % (params.length + 1), 0, piece);
      return { ...r, query: params.join('&') };
    }
    case 'dup-param': {
      if (params.length === 0) return r;
      const piece = params[m.at % params.length]!;
      const eq = piece.indexOf('=');
      const name = eq === -1 ? piece : piece.slice(0, eq);
      const respelled = encodeWith(decodeOrBad(name), [m.respell % 3, 1, 2], 'query') + (eq === -1 ? '' : piece.slice(eq));
      return { ...r, query: [...params, respelled].join('&') };
    }
    case 'drop-param':
      if (params.length === 0) return r;
      params.splice(m.at % params.length, 1);
      return { ...r, query: params.join('&') };
    case 'shuffle-params': {
      const keyed = params.map((p, i) => [m.order[i % m.order.length]! * 100 + i, p] as const);
      return { ...r, query: keyed.sort((a, b) => a[0] - b[0]).map(([, p]) => p).join('&') };
    }
    case 'reencode': {
      if (m.where === 'query') {
        if (r.query === '') return r;
        return { ...r, query: reencodeAt(r.query, 0, m.at, m.lower, 'query') };
      }
      // Inside an S3 key only (the bucket is never decoded; other rest paths are segment-routed).
      if (!isS3Proper(r)) return r;
      const slash = r.path.indexOf('/', 1);
      if (slash === -1 || slash === r.path.length - 1) return r;
      return { ...r, path: reencodeAt(r.path, slash + 1, m.at, m.lower, 'path') };
    }
    case 'set-header':
      return { ...r, headers: { ...r.headers, [m.name]: m.value } };
    case 'edit-header': {
      if (names.length === 0) return r;
      const name = names[m.at % names.length]!;
      return { ...r, headers: { ...r.headers, [name]: applyEdit(r.headers[name]!, m.edit).replace(/^[ \t]+|[ \t]+$/g, '') } };
    }
    case 'drop-header': {
      if (names.length === 0) return r;
      const name = names[m.at % names.length]!;
      const headers = { ...r.headers };
      delete headers[name];
      return { ...r, headers };
    }
    case 'body':
      return { ...r, body: Buffer.from(applyEdit(r.body.toString('latin1'), m.edit), 'latin1') };
    case 'method':
      return { ...r, method: m.method };
    case 'scope':
      return { ...r, headers: { ...r.headers, authorization: authorization(m.service, m.region) } };
  }
}

/** The AWS reader and matcher as the contract property (harness.ts `admitsExactly`) drives them. */
export const AWS_CONTRACT: ContractTarget<Req, Mutation, AwsOp> = {
  capture,
  decide,
  mutate,
  fingerprint,
  isSpellingOnly,
  show: (r) => JSON.stringify(r),
};

// Drift probe planning and judging (SPEC §2.1 pre_state), pure: which probe each pre_state gets,
// the exact session-policy permissions, the guard headers, and that nothing unprobeable passes.
import t from 'tap';
import { createHash } from 'node:crypto';
import { encodeKey, judgeProbe, planProbe, type ProbeAnswer, type ProbeCheck } from '../../../src/targets/aws/drift.js';
import type { AwsOperation } from '../../../src/targets/aws/types.js';
import type { AwsPreState } from '../../../src/certificate/types.js';
import { canonicalJson } from '../../../src/lib/jcs.js';
import { code } from '../../helpers/reason.js';

function op(fields: Partial<AwsOperation>): AwsOperation {
  return {
    service: 's3',
    region: 'us-east-1',
    protocol: 'rest-xml',
    operation: 'PutObject',
    resource: 'arn:aws:s3:::b/k',
    params: {},
    headers: {},
    permissions: [],
    read: false,
    credentialVending: false,
    ...fields,
  };
}
const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/orders';
const ddb = (operation: string, resource = TABLE) => op({ service: 'dynamodb', protocol: 'json', operation, resource });
const plan = (o: AwsOperation, pre: AwsPreState) => planProbe(o, o.resource, pre);
const answer = (status: number, headers: Record<string, string> = {}, body: unknown = ''): ProbeAnswer => ({
  status,
  headers,
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

t.test('S3 object {etag}: HeadObject on the object, GetObject only, If-Match where S3 takes it', async (t) => {
  const p = plan(op({}), { etag: '"abc123"' });
  t.same(p.request, { service: 's3', region: 'us-east-1', method: 'HEAD', path: '/b/k', headers: {}, body: Buffer.alloc(0) });
  t.same(p.permissions, [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }]);
  t.same(p.check, { kind: 'etag', etag: 'abc123' });
  t.same(p.guard, { 'if-match': '"abc123"' });
  t.same(plan(op({}), { etag: 'abc123' }), p, 'quotes are framing: the bare tag plans the same probe');
  for (const operation of ['PutObject', 'CopyObject', 'CompleteMultipartUpload', 'DeleteObject']) {
    t.same(plan(op({ operation }), { etag: 'e' }).guard, { 'if-match': '"e"' }, `${operation} takes If-Match`);
  }
  for (const operation of ['PutObjectTagging', 'PutObjectAcl', 'UploadPart', 'AbortMultipartUpload', 'DeleteObjectTagging']) {
    t.same(plan(op({ operation }), { etag: 'e' }).guard, {}, `${operation} takes no precondition: checked only`);
  }
});

t.test('S3 object {absent}: HeadObject with ListBucket (404, not 403), If-None-Match: * where S3 takes it', async (t) => {
  const p = plan(op({}), { absent: true });
  t.same(p.permissions, [
    { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' },
    { action: 's3:ListBucket', resource: 'arn:aws:s3:::b' },
  ]);
  t.same(p.check, { kind: 'not-found' });
  for (const operation of ['PutObject', 'CopyObject', 'CompleteMultipartUpload']) {
    t.same(plan(op({ operation }), { absent: true }).guard, { 'if-none-match': '*' }, `${operation} takes If-None-Match`);
  }
  t.same(plan(op({ operation: 'DeleteObject' }), { absent: true }).guard, {}, 'DeleteObject takes only If-Match');
});

t.test('S3 bucket {absent}: HeadBucket with ListBucket on the bucket', async (t) => {
  const p = plan(op({ operation: 'CreateBucket', resource: 'arn:aws:s3:::new-bucket' }), { absent: true });
  t.same(p.request.path, '/new-bucket');
  t.equal(p.request.method, 'HEAD');
  t.same(p.permissions, [{ action: 's3:ListBucket', resource: 'arn:aws:s3:::new-bucket' }]);
  t.same(p.guard, {});
});

t.test('keys: one canonical wire path, IAM-literal in the policy', async (t) => {
  t.equal(encodeKey("a b/ü/(x)*!'~._-"), "a%20b/%C3%BC/%28x%29%2A%21%27~._-");
  t.equal(encodeKey('a//b/../c'), 'a//b/../c', 'no dot-segment or slash normalisation (S3 stores them literally)');
  t.equal(encodeKey('a+b=c?d#e%f'), 'a%2Bb%3Dc%3Fd%23e%25f');
  const p = plan(op({ resource: 'arn:aws:s3:::b/dir/*?$' }), { etag: 'e' });
  t.equal(p.request.path, '/b/dir/%2A%3F%24');
  t.same(p.permissions, [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/dir/${*}${?}${$}' }]);
});

t.test('a request that pins its own conditional header', async (t) => {
  t.same(plan(op({ headers: { 'if-none-match': '*' } }), { absent: true }).guard, { 'if-none-match': '*' }, 'the same value: kept');
  t.equal(code(() => plan(op({ headers: { 'if-match': '"other"' } }), { etag: 'e' })), 'drift', 'another value: refused, not overwritten');
});

t.test('DynamoDB table: DescribeTable by full ARN, DescribeTable only', async (t) => {
  const p = plan(ddb('DeleteTable'), { absent: true });
  t.same(p.request.headers, { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.DescribeTable' });
  t.equal(p.request.method, 'POST');
  t.equal(p.request.path, '/');
  t.same(JSON.parse(p.request.body.toString()), { TableName: TABLE });
  t.same(p.permissions, [{ action: 'dynamodb:DescribeTable', resource: TABLE }]);
  t.same(p.check, { kind: 'table-absent' });
  t.same(p.guard, {});
  const digest = 'a'.repeat(64);
  t.same(plan(ddb('PutItem'), { jcs_sha256: digest, fields: ['TableStatus', 'KeySchema'] }).check, {
    kind: 'table-fields',
    jcs_sha256: digest,
    fields: ['TableStatus', 'KeySchema'],
  });
});

t.test('every pre_state the broker cannot probe exactly is drift, never passed', async (t) => {
  const digest = 'a'.repeat(64);
  const cases: [string, AwsOperation, unknown][] = [
    ['no probe for EC2', op({ service: 'ec2', protocol: 'ec2', operation: 'TerminateInstances', resource: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0' }), { state: 'running' }],
    ['no probe for IAM', op({ service: 'iam', protocol: 'query', operation: 'CreateRole', resource: 'arn:aws:iam::123456789012:role/r' }), { absent: true }],
    ['S3 on no bucket', op({ operation: 'ListBuckets', resource: '*' }), { absent: true }],
    ['S3 unknown shape', op({}), { version: '1' }],
    ['S3 etag with a sibling field', op({}), { etag: 'e', absent: true }],
    ['S3 absent false', op({}), { absent: false }],
    ['S3 weak etag', op({}), { etag: 'W/"e"' }],
    ['S3 etag with a space', op({}), { etag: '"a b"' }],
    ['S3 etag with a control character', op({}), { etag: 'a\r\nx-amz-acl: public-read' }],
    ['S3 etag not a string', op({}), { etag: 7 }],
    ['S3 bucket etag', op({ operation: 'PutBucketPolicy', resource: 'arn:aws:s3:::b' }), { etag: 'e' }],
    ['S3 versioned request', op({ operation: 'DeleteObject', params: { versionId: 'v1' } }), { etag: 'e' }],
    ['DynamoDB index', ddb('Query', `${TABLE}/index/by-date`), { absent: true }],
    ['DynamoDB many tables', ddb('BatchWriteItem', '*'), { absent: true }],
    ['DynamoDB etag', ddb('PutItem'), { etag: 'e' }],
    ['DynamoDB digest not hex', ddb('PutItem'), { jcs_sha256: 'A'.repeat(64), fields: ['TableStatus'] }],
    ['DynamoDB no fields', ddb('PutItem'), { jcs_sha256: digest, fields: [] }],
    ['DynamoDB duplicate field', ddb('PutItem'), { jcs_sha256: digest, fields: ['TableStatus', 'TableStatus'] }],
    ['DynamoDB empty field', ddb('PutItem'), { jcs_sha256: digest, fields: [''] }],
    ['DynamoDB extra key', ddb('PutItem'), { jcs_sha256: digest, fields: ['TableStatus'], at: 'now' }],
  ];
  for (const [name, o, pre] of cases) t.equal(code(() => plan(o, pre as AwsPreState)), 'drift', name);
});

t.test('judging the probe answer: only the certified state passes', async (t) => {
  const table = { TableName: 'orders', TableStatus: 'ACTIVE', KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], ItemCount: 3 };
  const fields = ['TableStatus', 'KeySchema'];
  const digest = createHash('sha256').update(canonicalJson({ TableStatus: 'ACTIVE', KeySchema: table.KeySchema })).digest('hex');
  const notFound = { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' };
  const cases: [string, ProbeCheck, ProbeAnswer, string][] = [
    ['absent and 404', { kind: 'not-found' }, answer(404), 'ok'],
    ['absent but it exists', { kind: 'not-found' }, answer(200), 'drift'],
    ['absent but 403 (exists elsewhere, or no ListBucket)', { kind: 'not-found' }, answer(403), 'drift'],
    ['absent but the probe failed', { kind: 'not-found' }, answer(500), 'drift'],
    ['absent but redirected (a bucket in another region)', { kind: 'not-found' }, answer(301), 'drift'],
    ['etag matches (quoted on the wire)', { kind: 'etag', etag: 'abc' }, answer(200, { etag: '"abc"' }), 'ok'],
    ['etag changed', { kind: 'etag', etag: 'abc' }, answer(200, { etag: '"abd"' }), 'drift'],
    ['etag: the object is gone', { kind: 'etag', etag: 'abc' }, answer(404), 'drift'],
    ['etag: no ETag header', { kind: 'etag', etag: 'abc' }, answer(200), 'drift'],
    ['etag: differs only in case', { kind: 'etag', etag: 'abc' }, answer(200, { etag: '"ABC"' }), 'drift'],
    ['etag: the probe was refused', { kind: 'etag', etag: 'abc' }, answer(403, { etag: '"abc"' }), 'drift'],
    ['table absent', { kind: 'table-absent' }, answer(400, {}, notFound), 'ok'],
    ['table absent, bare error name', { kind: 'table-absent' }, answer(400, {}, { __type: 'ResourceNotFoundException' }), 'ok'],
    ['table absent but it exists', { kind: 'table-absent' }, answer(200, {}, { Table: table }), 'drift'],
    ['table absent but another error', { kind: 'table-absent' }, answer(400, {}, { __type: 'x#AccessDeniedException' }), 'drift'],
    ['table absent but throttled', { kind: 'table-absent' }, answer(400, {}, { __type: 'x#ThrottlingException' }), 'drift'],
    ['table fields hold', { kind: 'table-fields', jcs_sha256: digest, fields }, answer(200, {}, { Table: table }), 'ok'],
    ['table fields hold, others changed', { kind: 'table-fields', jcs_sha256: digest, fields }, answer(200, {}, { Table: { ...table, ItemCount: 9 } }), 'ok'],
    ['table fields changed', { kind: 'table-fields', jcs_sha256: digest, fields }, answer(200, {}, { Table: { ...table, TableStatus: 'UPDATING' } }), 'drift'],
    ['table fields: no table', { kind: 'table-fields', jcs_sha256: digest, fields }, answer(400, {}, notFound), 'drift'],
    ['table fields: no Table in the answer', { kind: 'table-fields', jcs_sha256: digest, fields }, answer(200, {}, { Tables: [] }), 'drift'],
    [
      'table fields: duplicate keys (read two ways)',
      { kind: 'table-fields', jcs_sha256: digest, fields },
      answer(200, {}, `{"Table":{"TableStatus":"DELETING","TableStatus":"ACTIVE","KeySchema":${JSON.stringify(table.KeySchema)}}}`),
      'drift',
    ],
  ];
  for (const [name, check, a, expected] of cases) t.equal(code(() => judgeProbe(check, a)), expected, name);
});

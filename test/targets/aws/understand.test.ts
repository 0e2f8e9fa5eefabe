import { readFileSync } from 'node:fs';
import t from 'tap';
import { code } from '../../helpers/reason.js';
import type { AwsHttpRequest, AwsOperation } from '../../../src/targets/aws/types.js';
import { understandAws } from '../../../src/targets/aws/understand.js';

const AUTH = (service: string, region = 'us-east-1') =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/${region}/${service}/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${'ab'.repeat(32)}`;
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';

function req(over: Partial<AwsHttpRequest> & { service?: string; region?: string; headers?: Record<string, string> }): AwsHttpRequest {
  const headers: Record<string, string> = Object.assign(Object.create(null), {
    host: '127.0.0.1:15001',
    authorization: AUTH(over.service ?? 'sts', over.region),
    'x-amz-date': '20261126T000000Z',
    ...over.headers,
  });
  return { method: over.method ?? 'POST', path: over.path ?? '/', query: over.query ?? '', headers };
}
const query = (service: string, body: string, extra: Record<string, string> = {}) => ({
  r: req({ service, headers: { 'content-type': FORM, ...extra } }),
  body: Buffer.from(body),
});
const json = (service: string, target: string, body: unknown, type = 'application/x-amz-json-1.0', over: Partial<AwsHttpRequest> = {}) => ({
  r: req({ service, ...over, headers: { 'content-type': type, 'x-amz-target': target } }),
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

function viaQuery(service: string, body: string): AwsOperation | null {
  const { r, body: b } = query(service, body);
  return understandAws(r, b);
}
function viaJson(...args: Parameters<typeof json>): AwsOperation | null {
  const { r, body } = json(...args);
  return understandAws(r, body);
}

t.test('query protocol: operation, global region, params {}, semantic headers', async (t) => {
  const { r, body } = query('iam', 'Action=CreateRole&Version=2010-05-08&RoleName=app&Path=%2Fsvc%2F&AssumeRolePolicyDocument=%7B%7D');
  const op = understandAws(r, body)!;
  t.same(op, {
    service: 'iam',
    region: null,
    protocol: 'query',
    operation: 'CreateRole',
    resource: 'arn:aws:iam::{account}:role/svc/app',
    params: {},
    headers: { 'content-type': FORM },
    permissions: [{ action: 'iam:CreateRole', resource: 'arn:aws:iam::{account}:role/svc/app' }],
    read: false,
    credentialVending: false,
  });
  t.equal(understandAws(r, null), null, 'the operation is in the body');
});

t.test('form encoding: + is a space, escapes decode once', async (t) => {
  const { r, body } = query('sns', 'Action=Publish&Version=2010-03-31&Message=a+b%2Bc&TopicArn=x');
  const op = understandAws(r, body)!;
  t.equal(op.operation, 'Publish');
  t.same(op.permissions, [{ action: 'sns:Publish', resource: '*' }]);
});

t.test('ec2 protocol', async (t) => {
  const run = viaQuery('ec2', [
    'Action=RunInstances&Version=2016-11-15&ImageId=ami-0abcdef1234567890&MinCount=1&MaxCount=1&KeyName=k',
    'TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=a&TagSpecification.1.Tag.1.Value=b',
    'TagSpecification.2.ResourceType=volume&TagSpecification.2.Tag.1.Key=a',
  ].join('&'))!;
  t.equal(run.protocol, 'ec2');
  t.equal(run.region, 'us-east-1');
  t.equal(run.resource, '*');
  const want = [
    ['ec2:RunInstances', 'arn:aws:ec2:us-east-1:{account}:instance/*'],
    ['ec2:RunInstances', 'arn:aws:ec2:us-east-1:{account}:volume/*'],
    ['ec2:RunInstances', 'arn:aws:ec2:us-east-1:{account}:network-interface/*'],
    ['ec2:RunInstances', 'arn:aws:ec2:us-east-1:{account}:subnet/*'],
    ['ec2:RunInstances', 'arn:aws:ec2:us-east-1:{account}:security-group/*'],
    ['ec2:RunInstances', 'arn:aws:ec2:us-east-1::image/ami-0abcdef1234567890'],
    ['ec2:RunInstances', 'arn:aws:ec2:us-east-1:{account}:key-pair/*'],
    ['ec2:CreateTags', 'arn:aws:ec2:us-east-1:{account}:instance/*'],
    ['ec2:CreateTags', 'arn:aws:ec2:us-east-1:{account}:volume/*'],
  ];
  t.same(run.permissions.map((p) => [p.action, p.resource]), want);

  const one = viaQuery('ec2', 'Action=StopInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0')!;
  t.equal(one.resource, 'arn:aws:ec2:us-east-1:{account}:instance/i-0123456789abcdef0');
  const two = viaQuery('ec2', 'Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0&InstanceId.2=i-0fedcba9876543210')!;
  t.equal(two.resource, '*');
  t.same(two.permissions.map((p) => p.resource), [
    'arn:aws:ec2:us-east-1:{account}:instance/i-0123456789abcdef0',
    'arn:aws:ec2:us-east-1:{account}:instance/i-0fedcba9876543210',
  ]);
  const describe = viaQuery('ec2', 'Action=DescribeInstances&Version=2016-11-15')!;
  t.equal(describe.read, true);
  t.same(describe.permissions, [{ action: 'ec2:DescribeInstances', resource: '*' }]);
});

t.test('json protocol: dynamodb tables, indexes, batch, ARNs', async (t) => {
  const put = viaJson('dynamodb', 'DynamoDB_20120810.PutItem', { TableName: 'orders', Item: {} })!;
  t.equal(put.protocol, 'json');
  t.equal(put.resource, 'arn:aws:dynamodb:us-east-1:{account}:table/orders');
  t.same(put.headers, { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' });
  t.same(put.params, {});
  t.equal(put.read, false);

  const arn = 'arn:aws:dynamodb:us-east-1:123456789012:table/orders';
  const byArn = viaJson('dynamodb', 'DynamoDB_20120810.DeleteTable', { TableName: arn })!;
  t.equal(byArn.resource, arn);

  const q = viaJson('dynamodb', 'DynamoDB_20120810.Query', { TableName: 'orders', IndexName: 'byDate' })!;
  t.equal(q.read, true);
  t.same(q.permissions.map((p) => p.resource), [
    'arn:aws:dynamodb:us-east-1:{account}:table/orders',
    'arn:aws:dynamodb:us-east-1:{account}:table/orders/index/byDate',
  ]);

  const batch = viaJson('dynamodb', 'DynamoDB_20120810.BatchWriteItem', { RequestItems: { a1x: [], b2y: [] } })!;
  t.equal(batch.resource, '*');
  t.same(batch.permissions, [
    { action: 'dynamodb:BatchWriteItem', resource: 'arn:aws:dynamodb:us-east-1:{account}:table/a1x' },
    { action: 'dynamodb:BatchWriteItem', resource: 'arn:aws:dynamodb:us-east-1:{account}:table/b2y' },
  ]);

  const tx = viaJson('dynamodb', 'DynamoDB_20120810.TransactWriteItems', {
    TransactItems: [{ Put: { TableName: 'a1x' } }, { Delete: { TableName: 'b2y' } }],
  })!;
  t.same(tx.permissions.map((p) => p.action), ['dynamodb:PutItem', 'dynamodb:DeleteItem']);
  t.equal(understandAws(json('dynamodb', 'DynamoDB_20120810.PutItem', {}).r, null), null, 'resource is in the body');
});

t.test('json protocol: generic services, monitoring prefix, credential vending', async (t) => {
  const metrics = viaJson('monitoring', 'GraniteServiceVersion20100801.ListMetrics', {})!;
  t.same(metrics.permissions, [{ action: 'cloudwatch:ListMetrics', resource: '*' }]);
  t.equal(metrics.read, true);
  const secret = viaJson('secretsmanager', 'secretsmanager.GetSecretValue', { SecretId: 'x' }, 'application/x-amz-json-1.1')!;
  t.equal(secret.credentialVending, true);
  t.equal(secret.read, false);
  const decrypt = viaJson('kms', 'TrentService.Decrypt', { CiphertextBlob: 'AA==' }, 'application/x-amz-json-1.1')!;
  t.equal(decrypt.credentialVending, true);
  const assume = viaQuery('sts', 'Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fx&RoleSessionName=s1')!;
  t.equal(assume.credentialVending, true);
  t.equal(assume.region, 'us-east-1', 'sts is regional');
  t.same(assume.permissions, [{ action: 'sts:AssumeRole', resource: 'arn:aws:iam::123456789012:role/x' }]);
  // A json operation whose input really has an `Action` member keeps it.
  const events = viaJson('events', 'AWSEvents.PutPermission', { Action: 'events:PutEvents' }, 'application/x-amz-json-1.1')!;
  t.equal(events.operation, 'PutPermission');
  // CloudWatch also speaks query: the request decides.
  const q = viaQuery('monitoring', 'Action=PutMetricData&Version=2010-08-01&Namespace=n')!;
  t.equal(q.protocol, 'query');
  t.equal(q.operation, 'PutMetricData');
});

t.test('json protocol: a target prefix with dots is split at its last dot (CloudTrail, CodeStar connections)', async (t) => {
  const CT = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101';
  const tags = viaJson('cloudtrail', `${CT}.AddTags`, { ResourceId: 'x', TagsList: [] }, 'application/x-amz-json-1.1')!;
  t.equal(tags.operation, 'AddTags');
  t.same(tags.permissions, [{ action: 'cloudtrail:AddTags', resource: '*' }]);
  const conn = viaJson('codestar-connections', 'com.amazonaws.codestar.connections.CodeStar_connections_20191201.ListConnections', {})!;
  t.equal(conn.operation, 'ListConnections');
  const near: [string, string][] = [
    ['the prefix without its namespace', 'CloudTrail_20131101.AddTags'],
    ['the prefix cut at its first dot', 'com.AddTags'],
    ['an operation part with a dot', `${CT}.AddTags.x`],
    ['an empty operation part', `${CT}.`],
    ['the prefix alone', CT],
  ];
  for (const [name, target] of near) {
    t.equal(code(() => viaJson('cloudtrail', target, {}, 'application/x-amz-json-1.1')), 'unparseable_request', name);
  }
});

t.test('IoT Secure Tunneling signs as IoTSecuredTunneling and is authorised by iot: actions', async (t) => {
  const open = viaJson('IoTSecuredTunneling', 'IoTSecuredTunneling.OpenTunnel', {}, 'application/x-amz-json-1.1')!;
  t.equal(open.service, 'IoTSecuredTunneling');
  t.same(open.permissions, [{ action: 'iot:OpenTunnel', resource: '*' }]);
  // A case variant of a served signing name is another name, which is not served.
  t.equal(code(() => viaJson('DynamoDB', 'DynamoDB_20120810.ListTables', {})), 'unparseable_request', 'DynamoDB is not dynamodb');
  t.equal(code(() => viaJson('iotsecuredtunneling', 'IoTSecuredTunneling.OpenTunnel', {}, 'application/x-amz-json-1.1')), 'unparseable_request', 'nor the reverse');
});

t.test('refusals are unparseable_request', async (t) => {
  const form = (body: string, extra: Record<string, string> = {}, over: Partial<AwsHttpRequest> = {}) => () => {
    const { r, body: b } = query('iam', body, extra);
    return understandAws({ ...r, ...over }, b);
  };
  const js = (target: string, body: unknown, type?: string, over: Partial<AwsHttpRequest> = {}, service = 'dynamodb') => () => {
    const { r, body: b } = json(service, target, body, type, over);
    return understandAws(r, b);
  };
  const cases: [string, () => unknown][] = [
    // A read by its exact field, a mutation to an upstream that folds names (adversarial review).
    ['a lower-case action beside Action', form('Action=GetRole&Version=2010-05-08&RoleName=app&action=DeleteRole')],
    ['an upper-case VERSION beside Version', form('Action=GetRole&Version=2010-05-08&RoleName=app&VERSION=2010-05-08')],
    ['only a lower-case action', form('action=DeleteRole&Version=2010-05-08&RoleName=app')],
    ['Action in the query of a json request', js('DynamoDB_20120810.PutItem', { TableName: 'orders' }, undefined, { query: 'Action=DeleteTable' })],
    ['a target for another service', js('TrentService.Decrypt', { TableName: 'orders' })],
    ['a target with no operation part', js('DynamoDB_20120810', {})],
    ['an unknown json operation', js('DynamoDB_20120810.DropEverything', {})],
    ['a form body on a json request', js('DynamoDB_20120810.PutItem', 'Action=DeleteTable&TableName=orders')],
    ['a top-level Action contradicting X-Amz-Target', js('DynamoDB_20120810.PutItem', { Action: 'DeleteTable', TableName: 'orders' })],
    ['a json body that is not an object', js('DynamoDB_20120810.ListTables', [])],
    ['an empty json body', js('DynamoDB_20120810.ListTables', '')],
    ['duplicate json keys', js('DynamoDB_20120810.PutItem', '{"TableName":"a1x","TableName":"b2y"}')],
    ['the wrong json version', js('DynamoDB_20120810.PutItem', { TableName: 'orders' }, 'application/x-amz-json-1.1')],
    ['a cbor content type', js('DynamoDB_20120810.PutItem', { TableName: 'orders' }, 'application/cbor')],
    ['a json request on another path', js('DynamoDB_20120810.PutItem', { TableName: 'orders' }, undefined, { path: '/x' })],
    ['a table ARN in another region', js('DynamoDB_20120810.PutItem', { TableName: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders' })],
    ['a table name with a wildcard', js('DynamoDB_20120810.PutItem', { TableName: 'ord*' })],
    ['a TableName that is not a string', js('DynamoDB_20120810.PutItem', { TableName: 7 })],
    ['duplicate form keys', form('Action=GetUser&Version=2010-05-08&UserName=a&UserName=b')],
    ['a bad form escape', form('Action=GetUser&Version=2010-05-08&UserName=%zz')],
    ['an empty form name', form('Action=GetUser&Version=2010-05-08&=x')],
    ['a form field without =', form('Action=GetUser&Version=2010-05-08&UserName')],
    ['an empty form pair', form('Action=GetUser&&Version=2010-05-08')],
    ['invalid UTF-8 in the form', form('Action=GetUser&Version=2010-05-08&UserName=%ff')],
    ['an unknown Action', form('Action=DropEverything&Version=2010-05-08')],
    ['no Action', form('Version=2010-05-08')],
    ['no Version', form('Action=GetUser')],
    ['another API version', form('Action=GetUser&Version=2006-01-01')],
    ['a query string on a query request', form('Action=GetUser&Version=2010-05-08', {}, { query: 'Action=DeleteUser' })],
    ['a query request with X-Amz-Target', form('Action=GetUser&Version=2010-05-08', { 'x-amz-target': 'x.GetUser' })],
    ['a GET query request', form('Action=GetUser&Version=2010-05-08', {}, { method: 'GET' })],
    ['another form content type', form('Action=GetUser&Version=2010-05-08', { 'content-type': 'text/plain' })],
    ['a role name with a wildcard', form('Action=DeleteRole&Version=2010-05-08&RoleName=a*')],
    ['a role path with a wildcard', form('Action=CreateRole&Version=2010-05-08&RoleName=a&Path=%2F*%2F&AssumeRolePolicyDocument=x')],
    ['a presigned V4 request', () => understandAws(req({ service: 'iam', query: 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a', headers: {} }), null)],
    ['a presigned V2 request', () => understandAws(req({ query: 'AWSAccessKeyId=AKID&Expires=1&Signature=x', headers: {} }), null)],
    ['SigV4a', () => understandAws(req({ headers: { authorization: 'AWS4-ECDSA-P256-SHA256 Credential=AKID/20261126/s3/aws4_request, SignedHeaders=host, Signature=ab' } }), null)],
    ['an unknown service', () => understandAws(req({ service: 'nosuchservice' }), null)],
    ['a rest-json request no template reads', () => understandAws(req({ service: 'apigateway' }), null)],
    ['a bad region', () => understandAws(req({ service: 'dynamodb', region: 'evil.example.com' }), null)],
    ['RunInstances with an instance profile', () => viaQuery('ec2', 'Action=RunInstances&Version=2016-11-15&ImageId=ami-0abcdef1234567890&IamInstanceProfile.Name=p')],
    ['RunInstances without an image', () => viaQuery('ec2', 'Action=RunInstances&Version=2016-11-15')],
    ['a TagSpecification without ResourceType', () => viaQuery('ec2', 'Action=RunInstances&Version=2016-11-15&ImageId=ami-0abcdef1234567890&TagSpecification.1.Tag.1.Key=a')],
    ['an instance list with a gap', () => viaQuery('ec2', 'Action=StopInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0&InstanceId.3=i-0123456789abcdef1')],
    ['an instance list index with a leading zero', () => viaQuery('ec2', 'Action=StopInstances&Version=2016-11-15&InstanceId.01=i-0123456789abcdef0')],
    ['a bad instance id', () => viaQuery('ec2', 'Action=StopInstances&Version=2016-11-15&InstanceId.1=i-*')],
    ['AssumeRole with a bad RoleArn', () => viaQuery('sts', 'Action=AssumeRole&Version=2011-06-15&RoleArn=*&RoleSessionName=s1')],
  ];
  for (const [name, fn] of cases) t.equal(code(fn), 'unparseable_request', name);
});

t.test('client request fixtures (aws-cli / botocore and the JS SDK) parse as expected', async (t) => {
  const fixtures = JSON.parse(readFileSync(new URL('./fixtures/client-requests.json', import.meta.url), 'utf8')) as {
    requests: { label: string; method: string; path: string; query: string; headers: Record<string, string>; body: string }[];
  };
  const want: Record<string, Partial<AwsOperation>> = {
    'dynamodb-put-item': { operation: 'PutItem', resource: 'arn:aws:dynamodb:us-east-1:{account}:table/orders' },
    'dynamodb-batch-write-item': { operation: 'BatchWriteItem', resource: '*' },
    'dynamodb-query-index': { operation: 'Query', read: true },
    'ec2-run-instances': { operation: 'RunInstances', resource: '*', protocol: 'ec2' },
    'ec2-terminate-instances': { operation: 'TerminateInstances', resource: '*' },
    'ec2-describe-instances': { operation: 'DescribeInstances', read: true },
    'iam-create-role': { operation: 'CreateRole', region: null, resource: 'arn:aws:iam::{account}:role/svc/app' },
    'sts-get-caller-identity': { operation: 'GetCallerIdentity', read: true },
    'sts-assume-role': { operation: 'AssumeRole', credentialVending: true },
    'lambda-invoke-arn': { operation: 'Invoke', resource: 'arn:aws:lambda:us-east-1:123456789012:function:fn:prod' },
    'lambda-get-function': { operation: 'GetFunction', params: { Qualifier: '3' }, read: false },
    'lambda-update-function-code': { operation: 'UpdateFunctionCode', resource: 'arn:aws:lambda:us-east-1:{account}:function:fn' },
    'lambda-create-function': { operation: 'CreateFunction', resource: 'arn:aws:lambda:us-east-1:{account}:function:fn' },
    'lambda-list-functions': { operation: 'ListFunctions', resource: '*', read: false },
    'lambda-get-alias': { operation: 'GetAlias', params: { Name: 'live' } },
    'cloudwatch-list-metrics': { service: 'monitoring', operation: 'ListMetrics' },
    'sqs-send-message': { operation: 'SendMessage', read: false },
    'kms-decrypt': { operation: 'Decrypt', credentialVending: true },
    'js-lambda-list-functions': { operation: 'ListFunctions' },
    'js-lambda-invoke': { operation: 'Invoke', resource: 'arn:aws:lambda:us-east-1:123456789012:function:fn' },
    'js-lambda-get-function': { operation: 'GetFunction', resource: 'arn:aws:lambda:us-east-1:{account}:function:fn:live' },
    'js-dynamodb-put-item': { operation: 'PutItem' },
    'js-ec2-terminate-instances': { operation: 'TerminateInstances', resource: 'arn:aws:ec2:us-east-1:{account}:instance/i-0123456789abcdef0' },
    'js-iam-create-role': { operation: 'CreateRole', resource: 'arn:aws:iam::{account}:role/app' },
  };
  t.equal(fixtures.requests.length, Object.keys(want).length, 'every fixture has an expectation');
  for (const f of fixtures.requests) {
    const headers = Object.assign(Object.create(null), f.headers) as Record<string, string>;
    const op = understandAws({ method: f.method, path: f.path, query: f.query, headers }, Buffer.from(f.body, 'base64'));
    t.match(op, want[f.label]!, f.label);
  }
});

t.test('s3 and lambda are dispatched to their rest readers', async (t) => {
  const s3 = understandAws(req({ service: 's3', region: 'eu-west-1', method: 'GET', path: '/bkt/a.txt', headers: {} }), null)!;
  t.match(s3, { service: 's3', region: 'eu-west-1', protocol: 'rest-xml', operation: 'GetObject' });
  const fn = understandAws(req({ service: 'lambda', method: 'GET', path: '/2015-03-31/functions/fn', headers: {} }), null)!;
  t.match(fn, { service: 'lambda', protocol: 'rest-json', operation: 'GetFunction' });
});

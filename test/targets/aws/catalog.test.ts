import t from 'tap';
import { iamActions } from '../../../src/targets/aws/iam-actions.js';
import { CREDENTIAL_VENDING, isCredentialVending, isRead, readAllowList, redactedHeaders, scopeOf, secretOutputReads } from '../../../src/targets/aws/catalog.js';
import { S3_OPERATIONS } from '../../../src/targets/aws/s3-operations.js';
import { serviceModel } from '../../../src/targets/aws/services.js';

t.test('no credential-vending operation is a read', async (t) => {
  for (const v of CREDENTIAL_VENDING) {
    t.equal(isRead(v.service, v.operation), false, `${v.service}:${v.operation}`);
    t.equal(isCredentialVending(v.service, v.operation), true);
    t.ok(v.why.length > 0);
  }
});

t.test('every vending entry names a real operation of a served service, or says it is not served', async (t) => {
  for (const v of CREDENTIAL_VENDING) {
    const model = serviceModel(v.service);
    if (model === undefined) t.match(v.why, /not served/, `${v.service} is documented as not served`);
    else t.ok(model.operations.has(v.operation), `${v.service}:${v.operation}`);
  }
});

t.test('the read allow-list', async (t) => {
  const reads = readAllowList();
  for (const [service, ops] of Object.entries(reads)) {
    const model = serviceModel(service);
    t.ok(model, `${service} is served`);
    for (const op of ops) t.ok(model!.operations.has(op), `${service}:${op} is an operation`);
  }
  const cases: [string, string, boolean][] = [
    ['ec2', 'DescribeInstances', true],
    ['ec2', 'RunInstances', false],
    ['ec2', 'GetPasswordData', false],
    ['ec2', 'GetLaunchTemplateData', false],
    ['dynamodb', 'Query', true],
    ['dynamodb', 'Scan', true],
    ['dynamodb', 'BatchGetItem', true],
    ['dynamodb', 'ExecuteStatement', false],
    ['sts', 'GetCallerIdentity', true],
    ['sts', 'GetSessionToken', false],
    ['sts', 'GetFederationToken', false],
    ['secretsmanager', 'GetSecretValue', false],
    ['secretsmanager', 'BatchGetSecretValue', false],
    ['secretsmanager', 'DescribeSecret', true],
    ['ssm', 'GetParameter', false],
    ['ssm', 'GetParametersByPath', false],
    ['ssm', 'GetParameterHistory', false],
    ['ssm', 'DescribeParameters', true],
    ['kms', 'Decrypt', false],
    ['kms', 'DescribeKey', true],
    ['lambda', 'GetFunction', false],
    ['lambda', 'GetAlias', true],
    ['lambda', 'Invoke', false],
    ['logs', 'FilterLogEvents', true],
    ['sqs', 'ReceiveMessage', false],
    ['monitoring', 'GetMetricData', true],
    ['s3', 'GetObject', true],
    ['s3', 'PutObject', false],
    ['iam', 'GetRole', true],
    ['iam', 'CreateAccessKey', false],
    ['route53', 'ListHostedZones', false],
  ];
  for (const [service, op, want] of cases) t.equal(isRead(service, op), want, `${service}:${op}`);
});

// Issue 11 §1: these answered secrets to agents without a certificate (SPEC §7).
t.test('no read returns a member the model marks sensitive, or a curated secret', async (t) => {
  const secret: [string, string][] = [
    ['ec2', 'DescribeVpnConnections'],
    ['ec2', 'GetVpnConnectionDeviceSampleConfiguration'],
    ['ec2', 'DescribeVerifiedAccessTrustProviders'],
    ['ec2', 'DescribeLaunchTemplateVersions'],
    ['ec2', 'DescribeInstanceAttribute'],
    ['lambda', 'GetFunctionConfiguration'],
    ['lambda', 'GetFunction'],
    ['lambda', 'ListFunctions'],
    ['lambda', 'ListVersionsByFunction'],
    ['lambda', 'GetLayerVersion'],
    ['ssm', 'ListCommands'],
    ['ssm', 'GetMaintenanceWindowTask'],
    ['ssm', 'GetMaintenanceWindowExecutionTaskInvocation'],
    ['iam', 'ListVirtualMFADevices'],
    ['s3', 'GetBucketEncryption'],
  ];
  const listed = secretOutputReads();
  for (const [service, op] of secret) {
    t.equal(isRead(service, op), false, `${service}:${op} is not a read`);
    t.ok((listed[service]?.[op]?.length ?? 0) > 0, `${service}:${op} is listed with the paths of its secrets`);
  }
  t.match(listed['ec2']!['DescribeVpnConnections'], ['.VpnConnections[].Options.TunnelOptions[].PreSharedKey']);
  t.match(listed['lambda']!['GetFunctionConfiguration'], ['.Environment.Variables']);
});

t.test('a read whose only sensitive members are response headers drops exactly those headers', async (t) => {
  const kms = 'x-amz-server-side-encryption-aws-kms-key-id';
  t.same([...redactedHeaders('s3', 'GetObject')], [kms]);
  t.same([...redactedHeaders('s3', 'HeadObject')], [kms]);
  t.equal(redactedHeaders('s3', 'ListObjectsV2').size, 0);
  t.equal(redactedHeaders('ec2', 'DescribeInstances').size, 0);
});

t.test('the S3 table reads only what the generated read list keeps', async (t) => {
  const reads = new Set(readAllowList()['s3']);
  for (const op of S3_OPERATIONS) if (op.read) t.ok(reads.has(op.operation), `${op.operation} is on the generated list`);
  t.equal(S3_OPERATIONS.find((o) => o.operation === 'GetBucketEncryption')!.read, false);
});

t.test('generic scope: the action named like the operation on *', async (t) => {
  t.same(scopeOf('sqs', 'us-east-1', 'SendMessage', {}), { resource: '*', permissions: [{ action: 'sqs:SendMessage', resource: '*' }] });
  t.same(iamActions('monitoring', 'PutMetricData'), ['cloudwatch:PutMetricData']);
  t.same(iamActions('kms', 'Decrypt'), ['kms:Decrypt']);
});

t.test('IAM entities', async (t) => {
  t.same(scopeOf('iam', null, 'AttachRolePolicy', { RoleName: 'app', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }), {
    resource: 'arn:aws:iam::{account}:role/app',
    permissions: [{ action: 'iam:AttachRolePolicy', resource: 'arn:aws:iam::{account}:role/app' }],
  });
  const create = scopeOf('iam', null, 'CreateRole', { RoleName: 'app', 'Tags.member.1.Key': 'k', PermissionsBoundary: 'arn:aws:iam::aws:policy/x' });
  t.same(create.permissions.map((p) => p.action), ['iam:CreateRole', 'iam:TagRole', 'iam:PutRolePermissionsBoundary']);
  t.equal(scopeOf('iam', null, 'CreateUser', { UserName: 'bob', Path: '/people/' }).resource, 'arn:aws:iam::{account}:user/people/bob');
  t.equal(scopeOf('iam', null, 'DeleteUser', { UserName: 'bob', Path: '/ignored/' }).resource, 'arn:aws:iam::{account}:user/bob');
  t.equal(scopeOf('iam', null, 'CreatePolicy', { PolicyName: 'p1', PolicyDocument: '{}' }).resource, 'arn:aws:iam::{account}:policy/p1');
  t.equal(scopeOf('iam', null, 'CreateAccessKey', { UserName: 'bob' }).resource, 'arn:aws:iam::{account}:user/bob');
  t.same(scopeOf('iam', null, 'CreateAccessKey', {}), { resource: '*', permissions: [{ action: 'iam:CreateAccessKey', resource: '*' }] });
  t.same(scopeOf('iam', null, 'ListRoles', {}).resource, '*');
});

t.test('DynamoDB resource ARNs', async (t) => {
  const arn = 'arn:aws:dynamodb:us-east-1:123456789012:table/orders';
  t.same(scopeOf('dynamodb', 'us-east-1', 'TagResource', { ResourceArn: arn, Tags: [] }), { resource: arn, permissions: [{ action: 'dynamodb:TagResource', resource: arn }] });
  t.throws(() => scopeOf('dynamodb', 'us-east-1', 'TagResource', { ResourceArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders' }));
  t.same(scopeOf('dynamodb', 'us-east-1', 'ListTables', {}).resource, '*');
});

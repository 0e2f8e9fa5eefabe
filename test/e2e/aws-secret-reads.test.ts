// Issue 11 §1: certificate-free reads must not hand out secrets (SPEC §7). Against moto with
// authentication on, through a real broker with `reads: allow`: each operation whose answer holds a
// member the model marks `sensitive` (or a presigned URL the curated list names) is refused
// `no_certificate` without a certificate, with the secret absent from what the agent got; with a
// certificate it is admitted. S3 GetObject/HeadObject stay reads and lose only the KMS key id header.
import t from 'tap';
import { EC2Client, CreateLaunchTemplateCommand, CreateVpnGatewayCommand, CreateCustomerGatewayCommand, CreateVpnConnectionCommand, RunInstancesCommand, DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { LambdaClient, CreateFunctionCommand, GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { IAMClient, CreateRoleCommand } from '@aws-sdk/client-iam';
import { S3Client, CreateBucketCommand, PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { awsCli } from '../helpers/aws-cli.js';
import { zipWith } from '../helpers/zip.js';
import { agentConfig } from '../helpers/aws-sdk.js';

const SECRET = 'hunter2-do-not-leak';
const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());

const region = 'us-east-1';
const credentials = moto.admin;
const ec2 = new EC2Client({ endpoint: moto.endpoint, region, credentials });
const lambda = new LambdaClient({ endpoint: moto.endpoint, region, credentials });
const iam = new IAMClient({ endpoint: moto.endpoint, region, credentials });
const s3 = new S3Client({ endpoint: moto.endpoint, region, credentials, forcePathStyle: true });

// State that holds the secret, set up directly in moto.
const userData = Buffer.from(`#!/bin/sh\necho ${SECRET}\n`).toString('base64');
await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'web-lt', LaunchTemplateData: { ImageId: 'ami-12c6146b', UserData: userData } }));
const image = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
const run = await ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1, UserData: userData }));
const instance = run.Instances![0]!.InstanceId!;
const vgw = (await ec2.send(new CreateVpnGatewayCommand({ Type: 'ipsec.1' }))).VpnGateway!.VpnGatewayId!;
const cgw = (await ec2.send(new CreateCustomerGatewayCommand({ Type: 'ipsec.1', PublicIp: '203.0.113.7', BgpAsn: 65000 }))).CustomerGateway!.CustomerGatewayId!;
await ec2.send(new CreateVpnConnectionCommand({ Type: 'ipsec.1', VpnGatewayId: vgw, CustomerGatewayId: cgw, Options: { TunnelOptions: [{ PreSharedKey: `psk_${SECRET.replace(/-/g, '_')}` }] } }));
const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
const role = (await iam.send(new CreateRoleCommand({ RoleName: 'fn-role', AssumeRolePolicyDocument: trust }))).Role!.Arn!;
await lambda.send(new CreateFunctionCommand({
  FunctionName: 'fn', Runtime: 'python3.12', Role: role, Handler: 'index.handler',
  Code: { ZipFile: zipWith('index.py', 'def handler(e, c): return 1\n') },
  Environment: { Variables: { DB_PASSWORD: SECRET } },
}));
await s3.send(new CreateBucketCommand({ Bucket: 'vault' }));
await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'k', Body: 'sealed', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'kms-key-of-the-vault' }));

// Every operation named in issue 11 §1 that moto serves and the broker routes, as the agent's
// unmodified CLI sends it (lambda:GetLayerVersion has no route yet; the catalog test covers it).
const refused: [string, string[]][] = [
  ['ec2:DescribeVpnConnections', ['ec2', 'describe-vpn-connections']],
  ['ec2:DescribeLaunchTemplateVersions', ['ec2', 'describe-launch-template-versions', '--launch-template-name', 'web-lt']],
  ['ec2:DescribeInstanceAttribute', ['ec2', 'describe-instance-attribute', '--instance-id', instance, '--attribute', 'userData']],
  ['lambda:GetFunctionConfiguration', ['lambda', 'get-function-configuration', '--function-name', 'fn']],
  ['lambda:GetFunction', ['lambda', 'get-function', '--function-name', 'fn']],
  ['lambda:ListFunctions', ['lambda', 'list-functions']],
  ['ssm:ListCommands', ['ssm', 'list-commands']],
  ['ssm:DescribeMaintenanceWindows', ['ssm', 'describe-maintenance-windows']],
];

t.test('reads whose answer can hold a secret need a certificate', async (t) => {
  for (const [name, args] of refused) {
    const got = await awsCli(args, tb.url, null);
    t.not(got.code, 0, `${name} is refused`);
    t.match(got.stderr, 'no_certificate', name);
    t.notMatch(got.stdout, SECRET.slice(0, 7), `${name} returned no secret`);
  }
  const asRead = tb.records.map((l) => JSON.parse(l)).filter((r) => r.type === 'decision' && r.decision === 'read');
  t.same(asRead, [], 'none was recorded as a read');
});

t.test('with a certificate, the same operation is admitted and answers in full', async (t) => {
  const { result } = await tb.certified((url, token) => new LambdaClient(agentConfig(url, token)).send(new GetFunctionConfigurationCommand({ FunctionName: 'fn' })));
  t.equal(result.Environment?.Variables?.['DB_PASSWORD'], SECRET);
});

t.test('S3 GetObject and HeadObject stay reads and drop only the sensitive KMS key id header', async (t) => {
  const upstream = await s3.send(new HeadObjectCommand({ Bucket: 'vault', Key: 'k' }));
  t.equal(upstream.SSEKMSKeyId, 'kms-key-of-the-vault', 'moto itself returns the key id');
  for (const args of [['s3api', 'head-object'], ['s3api', 'get-object']]) {
    const out = args[1] === 'get-object' ? ['/dev/null'] : [];
    const got = await awsCli([...args, '--bucket', 'vault', '--key', 'k', ...out], tb.url, null);
    t.equal(got.code, 0, got.stderr);
    const answer = JSON.parse(got.stdout) as Record<string, unknown>;
    t.equal(answer['ServerSideEncryption'], 'aws:kms', 'the rest of the answer is passed on');
    t.notOk('SSEKMSKeyId' in answer, `${args[1]}: no KMS key id`);
  }
  const reads = tb.records.map((l) => JSON.parse(l)).filter((r) => r.type === 'decision' && r.decision === 'read');
  t.same(reads.map((r) => r.request.operation), ['HeadObject', 'GetObject']);
});

// A refused request, in every AWS protocol, as the unmodified client prints it: the aws CLI and
// the v3 SDK parse the broker's denial and show the reason code and the certificate id. rest-json
// and Route 53 requests used to get query XML, which their clients cannot parse.
import t from 'tap';
import { CloudWatchClient, DeleteAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols';
import { DynamoDBClient, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { EC2Client, DeleteVpcCommand } from '@aws-sdk/client-ec2';
import { IAMClient, DeleteUserCommand } from '@aws-sdk/client-iam';
import { LambdaClient, DeleteFunctionCommand } from '@aws-sdk/client-lambda';
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { cbor, checkCborResponse, loadSmithyRpcV2CborErrorCode } from '@smithy/core/cbor';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { awsCli } from '../helpers/aws-cli.js';
import { agentConfig, agentS3 } from '../helpers/aws-sdk.js';
import { awsOp } from '../helpers/pki.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());

// A valid certificate for something else: each request below is refused, naming this certificate.
const cert = await tb.cert([awsOp({ service: 'sts', operation: 'GetCallerIdentity', resource: '*' })]);

/**
 * What the client must print, from the deny record. A request the broker cannot read yet (EKS,
 * Route 53 until the readers cover them) is refused before its certificate is looked at, so it
 * names certificate `none`; every other denial names this certificate.
 */
function lastDenial(): string {
  const last = tb.records.map((l) => JSON.parse(l)).filter((rec) => rec.type === 'decision').at(-1);
  if (last.decision !== 'deny') return `not a denial: ${last.decision}`;
  const id = last.reason === 'unparseable_request' ? 'none' : cert.jti;
  return `${last.reason} (certificate ${id})`;
}

const cliCases: [string, string[], string, RegExp][] = [
  ['rest-json', ['eks', 'list-clusters'], 'ListClusters', /AccessDeniedException|ValidationException/],
  ['rest-xml (Route 53 style)', ['route53', 'list-hosted-zones'], 'ListHostedZones', /AccessDenied|InvalidRequest/],
  ['rest-xml (S3 style)', ['s3api', 'delete-bucket', '--bucket', 'nope'], 'DeleteBucket', /AccessDenied|InvalidRequest/],
  ['json', ['dynamodb', 'delete-table', '--table-name', 'nope'], 'DeleteTable', /AccessDeniedException|ValidationException/],
  ['query', ['iam', 'delete-user', '--user-name', 'nope'], 'DeleteUser', /AccessDenied|InvalidRequest/],
  ['ec2', ['ec2', 'delete-vpc', '--vpc-id', 'vpc-12345678'], 'DeleteVpc', /AccessDenied|InvalidRequest/],
];

for (const [protocol, args, op, code] of cliCases) {
  t.test(`aws CLI, ${protocol}: ${args.join(' ')}`, async (t) => {
    const r = await awsCli(args, tb.url, cert.jws);
    t.not(r.code, 0, 'the CLI fails');
    const reason = lastDenial();
    const printed = new RegExp(`An error occurred \\((${code.source})\\) when calling the ${op} operation( \\(reached max retries: \\d+\\))?: seb denied the request: ${reason.replace(/[()]/g, '\\$&')}`);
    t.match(r.stderr, printed, 'the CLI parsed the error and prints the reason and certificate id', { stderr: r.stderr });
  });
}

const sdkCases: [string, () => Promise<unknown>][] = [
  ['rest-json (Lambda)', () => new LambdaClient(agentConfig(tb.url, cert.jws)).send(new DeleteFunctionCommand({ FunctionName: 'nope' }))],
  ['rest-xml (S3)', () => agentS3(tb.url, cert.jws).send(new DeleteBucketCommand({ Bucket: 'nope' }))],
  ['json (DynamoDB)', () => new DynamoDBClient(agentConfig(tb.url, cert.jws)).send(new DeleteTableCommand({ TableName: 'nope' }))],
  ['query (IAM)', () => new IAMClient(agentConfig(tb.url, cert.jws)).send(new DeleteUserCommand({ UserName: 'nope' }))],
  ['ec2 (EC2)', () => new EC2Client(agentConfig(tb.url, cert.jws)).send(new DeleteVpcCommand({ VpcId: 'vpc-12345678' }))],
  // Read (rpc-v2-cbor) and refused for its certificate: the SDK parses the CBOR denial.
  ['rpc-v2-cbor (CloudWatch)', () => new CloudWatchClient({ ...agentConfig(tb.url, cert.jws), protocol: AwsSmithyRpcV2CborProtocol }).send(new DeleteAlarmsCommand({ AlarmNames: ['nope'] }))],
];

for (const [protocol, call] of sdkCases) {
  t.test(`SDK v3, ${protocol}`, async (t) => {
    const err = (await call().then(
      () => null,
      (e: unknown) => e,
    )) as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | null;
    t.ok(err, 'the call is refused');
    t.notMatch(err?.name ?? '', /Unknown|SyntaxError|Deserialization/i, `a parsed AWS error (${err?.name})`);
    t.match(err?.message ?? '', `seb denied the request: ${lastDenial()}`, 'the SDK error carries the reason and certificate id');
  });
}

t.test('rpc-v2-cbor (CloudWatch) was read, then refused for its certificate', async (t) => {
  t.match(lastDenial(), /^contract_mismatch /, 'not unparseable: the broker read DeleteAlarms over CBOR');
});

t.test('rpc-v2-cbor: the SDK’s own CBOR error parsing reads a CloudWatch denial', async (t) => {
  const res = await fetch(`${tb.url}/service/GraniteServiceVersion20100801/operation/ListMetrics`, {
    method: 'POST',
    headers: {
      'content-type': 'application/cbor',
      'smithy-protocol': 'rpc-v2-cbor',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIDAGENT/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=00',
      'x-amz-security-token': cert.jws,
    },
    body: new Uint8Array([0xa0]),
  });
  const headers = Object.fromEntries(res.headers);
  t.doesNotThrow(() => checkCborResponse({ statusCode: res.status, headers } as never), 'smithy-protocol: rpc-v2-cbor');
  const data = cbor.deserialize(new Uint8Array(await res.arrayBuffer())) as Record<string, string>;
  t.match(loadSmithyRpcV2CborErrorCode({ headers } as never, data), /AccessDeniedException|ValidationException/);
  t.match(data.message, `seb denied the request: ${lastDenial()}`);
});

// Certified mutations from the JS SDK, end to end: capture the op, certify exactly it, execute it
// through the broker against moto with authentication on (moto checks every signature the broker makes).
import t from 'tap';
import { Readable } from 'node:stream';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client, PutObjectCommand, GetObjectCommand, DeleteObjectCommand, CreateBucketCommand, CopyObjectCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { EC2Client, RunInstancesCommand, TerminateInstancesCommand, DescribeImagesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { IAMClient, CreateRoleCommand, GetRoleCommand } from '@aws-sdk/client-iam';
import { DynamoDBClient, PutItemCommand, CreateTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { LambdaClient, CreateFunctionCommand, UpdateFunctionCodeCommand, GetFunctionCommand } from '@aws-sdk/client-lambda';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { zipWith } from '../helpers/zip.js';
import { sourceIdentity } from '../../src/identity/aws-minter.js';
import { agentConfig, agentS3 } from '../helpers/aws-sdk.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());

const region = 'us-east-1';
const adminCreds = { accessKeyId: moto.admin.accessKeyId, secretAccessKey: moto.admin.secretAccessKey };
const admin = {
  s3: new S3Client({ endpoint: moto.endpoint, region, credentials: adminCreds, forcePathStyle: true }),
  ec2: new EC2Client({ endpoint: moto.endpoint, region, credentials: adminCreds }),
  iam: new IAMClient({ endpoint: moto.endpoint, region, credentials: adminCreds }),
  ddb: new DynamoDBClient({ endpoint: moto.endpoint, region, credentials: adminCreds }),
  lambda: new LambdaClient({ endpoint: moto.endpoint, region, credentials: adminCreds }),
};
const agent = agentConfig;
const s3 = agentS3;
const text = (body: unknown) => (body as { transformToString(): Promise<string> }).transformToString();

await admin.s3.send(new CreateBucketCommand({ Bucket: 'data' }));

t.test('S3 PutObject with a small body', async (t) => {
  const { ops } = await tb.certified((url, token) => s3(url, token).send(new PutObjectCommand({ Bucket: 'data', Key: 'reports/q3.csv', Body: 'a,b\n1,2\n', ContentType: 'text/csv' })));
  t.equal(ops.length, 1);
  t.match(ops[0], { service: 's3', operation: 'PutObject', resource: 'arn:aws:s3:::data/reports/q3.csv', headers: { 'content-type': 'text/csv' } });
  const got = await admin.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'reports/q3.csv' }));
  t.equal(await text(got.Body), 'a,b\n1,2\n');
});

t.test('S3 PutObject whose key holds dot segments lands under that exact key', async (t) => {
  // S3 keys are names, not paths: `trip/../wire.txt` is its own key. The broker reads it so and
  // must forward the same bytes it signed, not a path folded by a URL parser.
  const { ops } = await tb.certified((url, token) => s3(url, token).send(new PutObjectCommand({ Bucket: 'data', Key: 'trip/../wire.txt', Body: 'dots' })));
  t.match(ops[0], { resource: 'arn:aws:s3:::data/trip/../wire.txt' });
  const got = await admin.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'trip/../wire.txt' }));
  t.equal(await text(got.Body), 'dots');
  const folded = await admin.s3.send(new HeadObjectCommand({ Bucket: 'data', Key: 'wire.txt' })).then(() => 'found', (err: { name?: string }) => err.name);
  t.equal(folded, 'NotFound', 'nothing was written under the folded key');
});

t.test('S3 PutObject with a streamed body (aws-chunked with a trailer checksum)', async (t) => {
  const payload = 'streamed '.repeat(5000);
  const call = (url: string, token: string) =>
    s3(url, token).send(new PutObjectCommand({ Bucket: 'data', Key: 'stream/blob', Body: Readable.from([Buffer.from(payload)]), ContentLength: payload.length }));
  await tb.certified(call);
  const got = await admin.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'stream/blob' }));
  t.equal(await text(got.Body), payload);
});

t.test('S3 CreateBucket, CopyObject, DeleteObject', async (t) => {
  await tb.certified((url, token) => s3(url, token).send(new CreateBucketCommand({ Bucket: 'archive' })));
  await admin.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'src.txt', Body: 'copy me' }));
  const { ops } = await tb.certified((url, token) => s3(url, token).send(new CopyObjectCommand({ Bucket: 'archive', Key: 'dst.txt', CopySource: 'data/src.txt' })));
  t.match(ops[0], { operation: 'CopyObject', headers: { 'x-amz-copy-source': 'data/src.txt' } });
  t.equal(await text((await admin.s3.send(new GetObjectCommand({ Bucket: 'archive', Key: 'dst.txt' }))).Body), 'copy me');
  await tb.certified((url, token) => s3(url, token).send(new DeleteObjectCommand({ Bucket: 'data', Key: 'src.txt' })));
  await t.rejects(admin.s3.send(new HeadObjectCommand({ Bucket: 'data', Key: 'src.txt' })));
});

t.test('S3 multipart upload: create, upload a part, complete', async (t) => {
  const created = await tb.certified((url, token) => s3(url, token).send(new CreateMultipartUploadCommand({ Bucket: 'data', Key: 'big.bin' })));
  const uploadId = created.result.UploadId!;
  t.ok(uploadId);
  const part = await tb.certified((url, token) => s3(url, token).send(new UploadPartCommand({ Bucket: 'data', Key: 'big.bin', UploadId: uploadId, PartNumber: 1, Body: 'only part' })));
  t.match(part.ops[0], { operation: 'UploadPart', params: { partNumber: '1', uploadId } });
  await tb.certified((url, token) =>
    s3(url, token).send(new CompleteMultipartUploadCommand({ Bucket: 'data', Key: 'big.bin', UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.result.ETag! }] } })),
  );
  t.equal(await text((await admin.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'big.bin' }))).Body), 'only part');
});

t.test('EC2 RunInstances and TerminateInstances', async (t) => {
  const images = await admin.ec2.send(new DescribeImagesCommand({}));
  const imageId = images.Images![0]!.ImageId!;
  // The SDK would generate a fresh idempotency token per call; a certified call pins it.
  const run = await tb.certified((url, token) =>
    new EC2Client(agent(url, token)).send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', ClientToken: 'run-1' })),
  );
  t.match(run.ops[0], { service: 'ec2', operation: 'RunInstances', resource: '*' });
  const instanceId = run.result.Instances![0]!.InstanceId!;
  const term = await tb.certified((url, token) => new EC2Client(agent(url, token)).send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })));
  t.equal(term.ops[0]!.resource, `arn:aws:ec2:us-east-1:${moto.account}:instance/${instanceId}`);
  const state = await admin.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  t.match(state.Reservations![0]!.Instances![0]!.State!.Name, /shutting-down|terminated/);
});

t.test('IAM CreateRole', async (t) => {
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
  const { ops } = await tb.certified((url, token) => new IAMClient(agent(url, token)).send(new CreateRoleCommand({ RoleName: 'app-role', AssumeRolePolicyDocument: trust })));
  t.match(ops[0], { service: 'iam', region: null, operation: 'CreateRole', resource: `arn:aws:iam::${moto.account}:role/app-role` });
  t.ok((await admin.iam.send(new GetRoleCommand({ RoleName: 'app-role' }))).Role);
});

t.test('DynamoDB PutItem', async (t) => {
  await admin.ddb.send(
    new CreateTableCommand({ TableName: 'orders', KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
  );
  const { ops } = await tb.certified((url, token) => new DynamoDBClient(agent(url, token)).send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: 'o-1' }, qty: { N: '3' } } })));
  t.match(ops[0], { service: 'dynamodb', operation: 'PutItem', resource: `arn:aws:dynamodb:us-east-1:${moto.account}:table/orders` });
  const item = await admin.ddb.send(new GetItemCommand({ TableName: 'orders', Key: { id: { S: 'o-1' } } }));
  t.same(item.Item?.qty, { N: '3' });
});

t.test('Lambda UpdateFunctionCode', async (t) => {
  const role = await admin.iam.send(
    new CreateRoleCommand({ RoleName: 'fn-role', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }),
  );
  await admin.lambda.send(new CreateFunctionCommand({ FunctionName: 'fn', Runtime: 'python3.12', Role: role.Role!.Arn!, Handler: 'index.handler', Code: { ZipFile: zipWith('index.py', 'def handler(e, c): return 1\n') } }));
  const before = (await admin.lambda.send(new GetFunctionCommand({ FunctionName: 'fn' }))).Configuration!.CodeSha256;
  const { ops } = await tb.certified((url, token) =>
    new LambdaClient(agent(url, token)).send(new UpdateFunctionCodeCommand({ FunctionName: 'fn', ZipFile: zipWith('index.py', 'def handler(e, c): return 2\n') })),
  );
  t.match(ops[0], { service: 'lambda', operation: 'UpdateFunctionCode', resource: `arn:aws:lambda:us-east-1:${moto.account}:function:fn` });
  const after = (await admin.lambda.send(new GetFunctionCommand({ FunctionName: 'fn' }))).Configuration!.CodeSha256;
  t.not(after, before);
});

t.test('every admitted request has a signed decision and an outcome record', async (t) => {
  const records = tb.records.map((l) => JSON.parse(l));
  const decisions = records.filter((r) => r.type === 'decision' && r.decision === 'admit');
  t.ok(decisions.length >= 10);
  for (const d of decisions) {
    t.match(d, { certificate: { jti: String }, identity: { type: 'aws', access_key_id: /^ASIA/ }, sig: String });
    const outcome = records.find((r) => r.type === 'outcome' && r.decision_seq === d.seq);
    t.match(outcome, { status: Number, error: null }, `outcome of decision ${d.seq} (${d.request.operation})`);
  }
});

t.test('the session policy sent to STS allows exactly what the op needs', async (t) => {
  // moto ignores session policies, so read the AssumeRole calls on their way to it.
  const seen: URLSearchParams[] = [];
  const recorder = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push(new URLSearchParams(body.toString()));
      const up = request(moto.endpoint + (req.url ?? '/'), { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  t.teardown(() => recorder.close());
  const port = (recorder.address() as AddressInfo).port;
  const policed = await startTestBroker(moto, {
    config: {
      aws: {
        credentials: { access_key_id: moto.broker.accessKeyId, secret_access_key: moto.broker.secretAccessKey },
        endpoints: { default: moto.endpoint, sts: `http://127.0.0.1:${port}` },
        allow_insecure_endpoints: true,
      },
    },
  });
  t.teardown(() => policed.close());
  await admin.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'from.txt', Body: 'x' }));
  await policed.certified((url, token) => s3(url, token).send(new CopyObjectCommand({ Bucket: 'archive', Key: 'to.txt', CopySource: 'data/from.txt', Tagging: 'a=b', TaggingDirective: 'REPLACE' })));
  const assume = seen.find((p) => p.get('Action') === 'AssumeRole')!;
  t.equal(assume.get('RoleArn'), moto.roles.all);
  t.equal(assume.get('DurationSeconds'), '900');
  // `agent:test` holds a character STS refuses in SourceIdentity, so a digest of it is sent.
  t.equal(assume.get('SourceIdentity'), sourceIdentity('agent:test'));
  t.match(assume.get('SourceIdentity'), /^seb-/);
  t.same(JSON.parse(assume.get('Policy')!), {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::data/from.txt' },
      { Effect: 'Allow', Action: ['s3:PutObject', 's3:PutObjectTagging'], Resource: 'arn:aws:s3:::archive/to.txt' },
    ],
  });
});

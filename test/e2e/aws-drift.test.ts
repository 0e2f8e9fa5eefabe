// AWS drift probes end to end (SPEC §2.1 pre_state): the broker probes the live state as the read
// executor before it mints, denies `drift` when the certified pre-state does not hold, and makes S3
// enforce the checked state itself (If-Match / If-None-Match, signed with the request). Upstream is
// moto with authentication on, behind a recording proxy that also lets a test change the object
// between the probe and the forward.
import t, { type Test } from 'tap';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  CreateBucketCommand,
  HeadBucketCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
} from '@aws-sdk/client-s3';
import { DynamoDBClient, CreateTableCommand, DescribeTableCommand, PutItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { EC2Client, DescribeImagesCommand, RunInstancesCommand, TerminateInstancesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { canonicalJson } from '../../src/lib/jcs.js';
import { policyDigest } from '../../src/identity/session-policy.js';
import type { AwsOp } from '../../src/certificate/types.js';
import { agentConfig, agentS3 } from '../helpers/aws-sdk.js';

const moto = await startMoto();
t.teardown(() => moto.stop());

/** One request as the proxy saw it on its way to moto. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}
const seen: Seen[] = [];
/** Runs after moto answered `req` and before the proxy relays the answer (the race window). */
let afterUpstream: ((req: Seen) => Promise<void>) | null = null;
/** Answers `req` instead of moto when it returns a status. */
let intercept: ((req: Seen) => number | null) | null = null;

const proxy = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
    const entry: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
    seen.push(entry);
    const status = intercept?.(entry) ?? null;
    if (status !== null) {
      res.writeHead(status).end();
      return;
    }
    const up = request(moto.endpoint + entry.url, { method: entry.method, headers: entry.headers }, (answer) => {
      const body: Buffer[] = [];
      answer.on('data', (c: Buffer) => body.push(c)).on('end', () => {
        void (afterUpstream?.(entry) ?? Promise.resolve()).then(() => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(body));
        });
      });
    });
    up.end(entry.body);
  });
});
await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
t.teardown(() => proxy.close());
const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

const awsConfig = {
  credentials: { access_key_id: moto.broker.accessKeyId, secret_access_key: moto.broker.secretAccessKey },
  endpoints: { default: proxyUrl },
  allow_insecure_endpoints: true,
};
const tb = await startTestBroker(moto, { config: { aws: awsConfig } });
t.teardown(() => tb.close());

const region = 'us-east-1';
const adminCreds = { accessKeyId: moto.admin.accessKeyId, secretAccessKey: moto.admin.secretAccessKey };
const admin = {
  s3: new S3Client({ endpoint: moto.endpoint, region, credentials: adminCreds, forcePathStyle: true }),
  ddb: new DynamoDBClient({ endpoint: moto.endpoint, region, credentials: adminCreds }),
  ec2: new EC2Client({ endpoint: moto.endpoint, region, credentials: adminCreds }),
};
const agent = agentConfig;
const s3 = agentS3;
const text = async (key: string, bucket = 'drift') =>
  (await admin.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
const etagOf = async (key: string) => (await admin.s3.send(new HeadObjectCommand({ Bucket: 'drift', Key: key }))).ETag!;

await admin.s3.send(new CreateBucketCommand({ Bucket: 'drift' }));
// moto authorises HeadBucket as `s3:HeadBucket`, an action IAM does not have (AWS checks
// s3:ListBucket, which the broker's probe policy grants and moto ignores in session policies).
const iam = new IAMClient({ endpoint: moto.endpoint, region, credentials: adminCreds });
await iam.send(
  new PutRolePolicyCommand({
    RoleName: moto.roles.reader.split('/').at(-1)!,
    PolicyName: 'moto-head-bucket',
    PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:HeadBucket', Resource: '*' }] }),
  }),
);
iam.destroy();

type Call = (url: string, token: string) => Promise<unknown>;

/** Captures the one op `call` needs, certifies it with `preState`, and runs `call` under that certificate. */
async function run(broker: TestBroker, call: Call, preState: unknown): Promise<{ error: Error | null; op: AwsOp; jti: string }> {
  const ops = await broker.capture((url) => call(url, 'placeholder'));
  if (ops.length !== 1) throw new Error(`the call made ${ops.length} mutations, not one`);
  const op = { ...ops[0]!, pre_state: preState } as AwsOp;
  const { jws, jti } = await broker.cert([op]);
  const error = await call(broker.url, jws).then(
    () => null,
    (err: Error) => err,
  );
  return { error, op, jti };
}

const records = (broker: TestBroker) => broker.records.map((l) => JSON.parse(l) as Record<string, any>);
const decisionOf = (broker: TestBroker, jti: string) => records(broker).find((r) => r.type === 'decision' && r.certificate?.jti === jti)!;
const outcomeOf = (broker: TestBroker, decision: Record<string, any>) => records(broker).find((r) => r.type === 'outcome' && r.decision_seq === decision.seq);
/** The last request the proxy saw for `method` on `path` (S3 path-style, no query). */
const last = (method: string, path: string) => seen.filter((s) => s.method === method && s.url.split('?')[0] === path).at(-1);
const signedHeaders = (s: Seen) => /SignedHeaders=([^,]+)/.exec(String(s.headers['authorization']))![1]!.split(';');
const accessKeyOf = (s: Seen) => /Credential=([^/]+)\//.exec(String(s.headers['authorization']))![1];

function expectDrift(t: Test, broker: TestBroker, r: { error: Error | null; jti: string }, detail?: RegExp): void {
  t.ok(r.error, 'the client gets an error');
  t.match(r.error?.message, 'drift', 'it names drift');
  t.match(r.error?.message, `certificate ${r.jti}`, 'and the certificate');
  const d = decisionOf(broker, r.jti);
  t.match(d, { decision: 'deny', reason: 'drift' });
  if (detail) t.match(d.detail, detail);
}

const putObject = (key: string, body: string): Call => (url, token) => s3(url, token).send(new PutObjectCommand({ Bucket: 'drift', Key: key, Body: body }));

t.test('S3 PutObject {etag}: admitted while unchanged, with If-Match sent and signed', async (t) => {
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'doc', Body: 'v1' }));
  const etag = await etagOf('doc');
  const r = await run(tb, putObject('doc', 'v2'), { etag });
  t.equal(r.error, null, 'admitted');
  t.equal(await text('doc'), 'v2');
  const probe = last('HEAD', '/drift/doc')!;
  t.ok(probe, 'the object was probed with HeadObject');
  const put = last('PUT', '/drift/doc')!;
  t.ok(seen.indexOf(probe) < seen.indexOf(put), 'probed before forwarding');
  t.equal(put.headers['if-match'], etag, 'the checked ETag rides upstream');
  t.ok(signedHeaders(put).includes('if-match'), 'and is covered by the re-signature');
  t.match(decisionOf(tb, r.jti), { decision: 'admit', identity: { type: 'aws', probe: { role_arn: moto.roles.reader } } });
});

t.test('S3 PutObject {etag}: drift once the object changed; nothing written', async (t) => {
  const old = await etagOf('doc');
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'doc', Body: 'someone else' }));
  const r = await run(tb, putObject('doc', 'v3'), { etag: old });
  expectDrift(t, tb, r, /ETag/);
  t.equal(await text('doc'), 'someone else');
});

t.test('S3 PutObject {absent}: admitted with If-None-Match: *, then drift once it exists', async (t) => {
  const first = await run(tb, putObject('fresh', 'new'), { absent: true });
  t.equal(first.error, null, 'admitted while absent');
  const put = last('PUT', '/drift/fresh')!;
  t.equal(put.headers['if-none-match'], '*');
  t.ok(signedHeaders(put).includes('if-none-match'));
  const second = await run(tb, putObject('fresh', 'overwrite'), { absent: true });
  expectDrift(t, tb, second, /exists/);
  t.equal(await text('fresh'), 'new');
});

t.test('S3 CopyObject {absent}: If-None-Match: * is sent and signed (moto does not enforce it on CopyObject)', async (t) => {
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'copy-src', Body: 'copied' }));
  const copy: Call = (url, token) => s3(url, token).send(new CopyObjectCommand({ Bucket: 'drift', Key: 'copy-dst', CopySource: 'drift/copy-src' }));
  const r = await run(tb, copy, { absent: true });
  t.equal(r.error, null);
  const sent = last('PUT', '/drift/copy-dst')!;
  t.equal(sent.headers['if-none-match'], '*');
  t.ok(signedHeaders(sent).includes('if-none-match'));
  t.equal(await text('copy-dst'), 'copied');
});

t.test('S3 DeleteObject {etag}: If-Match sent; drift when the ETag differs', async (t) => {
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'gone', Body: 'x' }));
  const del: Call = (url, token) => s3(url, token).send(new DeleteObjectCommand({ Bucket: 'drift', Key: 'gone' }));
  expectDrift(t, tb, await run(tb, del, { etag: '"0123456789abcdef0123456789abcdef"' }));
  t.equal(await text('gone'), 'x', 'not deleted');
  const etag = await etagOf('gone');
  t.equal((await run(tb, del, { etag })).error, null);
  t.equal(last('DELETE', '/drift/gone')!.headers['if-match'], etag);
  await t.rejects(etagOf('gone'), 'deleted');
});

t.test('S3 CreateBucket {absent}: HeadBucket; admitted when absent, drift when it exists', async (t) => {
  const create: Call = (url, token) => s3(url, token).send(new CreateBucketCommand({ Bucket: 'drift-new' }));
  t.equal((await run(tb, create, { absent: true })).error, null);
  t.ok(last('HEAD', '/drift-new'), 'the bucket was probed with HeadBucket');
  await admin.s3.send(new HeadBucketCommand({ Bucket: 'drift-new' }));
  expectDrift(t, tb, await run(tb, create, { absent: true }), /exists/);
});

t.test('the probe runs as the read executor, under a session policy for exactly the probe', async (t) => {
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'policed', Body: 'v1' }));
  const r = await run(tb, putObject('policed', 'v2'), { absent: true });
  expectDrift(t, tb, r);
  const policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::drift/policed' },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::drift' },
    ],
  });
  const assumed = seen
    .filter((s) => s.method === 'POST' && s.url === '/')
    .map((s) => new URLSearchParams(s.body.toString()))
    .filter((p) => p.get('Action') === 'AssumeRole' && p.get('Policy') === policy);
  t.equal(assumed.length, 1, 'one AssumeRole with exactly the probe policy');
  t.equal(assumed[0]!.get('RoleArn'), moto.roles.reader, 'for the read executor');
  const d = decisionOf(tb, r.jti);
  t.match(d.identity, { type: 'aws', probe: { role_arn: moto.roles.reader, policy_sha256: policyDigest(policy) } });
  t.equal(accessKeyOf(last('HEAD', '/drift/policed')!), d.identity.probe.access_key_id, 'the probe was signed by that identity');
});

t.test('a change between probe and forward is refused upstream (412), and the outcome record says so', async (t) => {
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'race', Body: 'v1' }));
  const etag = await etagOf('race');
  afterUpstream = async (req) => {
    if (req.method !== 'HEAD' || req.url !== '/drift/race') return;
    afterUpstream = null;
    // The probe saw v1; another writer gets in before the broker forwards.
    await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'race', Body: 'intruder' }));
  };
  t.teardown(() => void (afterUpstream = null));
  const r = await run(tb, putObject('race', 'agent'), { etag });
  t.ok(r.error, 'the client sees the failed precondition');
  t.equal((r.error as Error & { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 412);
  t.equal(await text('race'), 'intruder', 'the intruder’s write stands; the agent’s did not land');
  const d = decisionOf(tb, r.jti);
  t.equal(d.decision, 'admit', 'the probe passed');
  t.match(outcomeOf(tb, d), { status: 412, error: /PreconditionFailed: pre_state no longer held/ });
});

t.test('a probe that fails is drift, never a pass', async (t) => {
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'flaky', Body: 'v1' }));
  const etag = await etagOf('flaky');
  intercept = (req) => (req.method === 'HEAD' && req.url === '/drift/flaky' ? 503 : null);
  t.teardown(() => void (intercept = null));
  expectDrift(t, tb, await run(tb, putObject('flaky', 'v2'), { etag }), /answered 503/);
  t.equal(await text('flaky'), 'v1');
});

t.test('DynamoDB {jcs_sha256, fields} and {absent}: DescribeTable', async (t) => {
  const createTable: Call = (url, token) =>
    new DynamoDBClient(agent(url, token)).send(
      new CreateTableCommand({
        TableName: 'ledger',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  t.equal((await run(tb, createTable, { absent: true })).error, null, 'CreateTable admitted while the table is absent');
  const probe = seen.filter((s) => s.headers['x-amz-target'] === 'DynamoDB_20120810.DescribeTable').at(-1)!;
  t.same(JSON.parse(probe.body.toString()), { TableName: `arn:aws:dynamodb:us-east-1:${moto.account}:table/ledger` });
  expectDrift(t, tb, await run(tb, createTable, { absent: true }), /table exists/);

  const table = (await admin.ddb.send(new DescribeTableCommand({ TableName: 'ledger' }))).Table!;
  const fields = ['TableStatus', 'KeySchema'];
  const digest = (status: string) =>
    createHash('sha256').update(canonicalJson({ TableStatus: status, KeySchema: table.KeySchema })).digest('hex');
  const put = (id: string): Call => (url, token) => new DynamoDBClient(agent(url, token)).send(new PutItemCommand({ TableName: 'ledger', Item: { id: { S: id } } }));
  t.equal((await run(tb, put('a'), { jcs_sha256: digest(table.TableStatus!), fields })).error, null, 'admitted while the fields hold');
  t.ok((await admin.ddb.send(new GetItemCommand({ TableName: 'ledger', Key: { id: { S: 'a' } } }))).Item);
  expectDrift(t, tb, await run(tb, put('b'), { jcs_sha256: digest('UPDATING'), fields }), /fields TableStatus, KeySchema changed/);
  t.notOk((await admin.ddb.send(new GetItemCommand({ TableName: 'ledger', Key: { id: { S: 'b' } } }))).Item);
});

t.test('a pre_state the broker cannot probe (EC2 instance state) is drift, never passed', async (t) => {
  const image = (await admin.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
  const id = (await admin.ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
  const terminate: Call = (url, token) => new EC2Client(agent(url, token)).send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  expectDrift(t, tb, await run(tb, terminate, { state: 'running' }), /cannot probe/);
  const state = await admin.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  t.equal(state.Reservations![0]!.Instances![0]!.State!.Name, 'running');
});

t.test('without an aws read_executor nothing can be probed: drift', async (t) => {
  const noReader = await startTestBroker(moto, { config: { aws: awsConfig, reads: 'deny', read_executor: null } });
  t.teardown(() => noReader.close());
  await admin.s3.send(new PutObjectCommand({ Bucket: 'drift', Key: 'unread', Body: 'v1' }));
  // Capture needs a read executor, so the op is built from the one captured above.
  const op = { ...(await tb.capture((url) => putObject('unread', 'v2')(url, 'x')))[0]!, pre_state: { etag: await etagOf('unread') } };
  const { jws, jti } = await noReader.cert([op]);
  const error = await putObject('unread', 'v2')(noReader.url, jws).then(() => null, (e: Error) => e);
  expectDrift(t, noReader, { error, jti }, /read_executor/);
  t.equal(await text('unread'), 'v1');
});

/**
 * End to end against a real moto_server with signature checking on: credentials minted through STS
 * AssumeRole (AwsMinter) sign requests (signUpstream) that moto accepts, and a wrong signature is
 * refused. moto checks SigV4 with botocore's own rules, so this is an independent verifier.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { GetObjectCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { startMoto, type AccessKey, type Moto } from '../../helpers/moto.js';
import { AwsMinter } from '../../../src/identity/aws-minter.js';
import { sessionPolicy } from '../../../src/identity/session-policy.js';
import { signUpstream, type SignInput } from '../../../src/targets/aws/sign.js';
import type { AwsCredentials } from '../../../src/identity/types.js';
import type { Endpoint } from '../../../src/identity/types.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const EMPTY = Buffer.alloc(0);
const BUCKET = 'seb-e2e-bucket';
// Spaces (%20 on the wire), `~` and an empty segment (`//`). moto's S3 signature check fails for
// botocore's and the JS SDK's own requests on any other percent-encoded character in a key (`%`,
// `é`, `!`, `(`, `:`, `@`, ... observed with moto 5.2.1, beyond the `+` and `=` of
// reference/aws.md §5), so those are covered by sign.test.ts against an independent SigV4
// computation instead. (A `/` in a query value is fixed by src/dev/moto.ts's AS_SENT_PATCH.)
const KEY = 'dir//my file ~v1.txt';
const KEY_PATH = '/dir//my%20file%20~v1.txt';

async function send(signed: { url: string; headers: Record<string, string> }, method: string, body: Buffer) {
  const res = await request(signed.url, { method: method as 'PUT', headers: signed.headers, body: body.length ? body : null });
  return { status: res.statusCode, text: await res.body.text() };
}

function sdkConfig(moto: Moto, key: AccessKey) {
  return { endpoint: moto.endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 };
}

function s3Input(moto: Moto, credentials: AwsCredentials, over: Partial<SignInput>): SignInput {
  const endpoint: Endpoint = { origin: moto.endpoint, signingRegion: 'us-east-1', signingService: 's3' };
  return { service: 's3', method: 'GET', path: '/', query: {}, rawQuery: '', headers: {}, payload: EMPTY, payloadHash: sha256(EMPTY), endpoint, credentials, ...over };
}

t.test('minted credentials sign requests moto accepts; a wrong signature is refused', async (t) => {
  const moto = await startMoto();
  t.teardown(moto.stop);
  const admin = new S3Client({ ...sdkConfig(moto, moto.admin), forcePathStyle: true });
  const adminIam = new IAMClient(sdkConfig(moto, moto.admin));
  t.teardown(() => {
    admin.destroy();
    adminIam.destroy();
  });

  await t.test('moto checks every signature after setup', async (t) => {
    const unsigned = await request(`${moto.endpoint}/unsigned-bucket`, { method: 'PUT' });
    await unsigned.body.dump();
    t.not(Math.floor(unsigned.statusCode / 100), 2, `unsigned CreateBucket refused (${unsigned.statusCode})`);
    const bogus: AwsCredentials = { accessKeyId: moto.admin.accessKeyId, secretAccessKey: 'wrong', sessionToken: '', expiration: new Date() };
    const signed = await signUpstream(s3Input(moto, bogus, { method: 'PUT', path: '/badsig-bucket' }));
    delete signed.headers['x-amz-security-token'];
    const res = await send(signed, 'PUT', EMPTY);
    t.equal(res.status, 403);
    t.match(res.text, /SignatureDoesNotMatch/);
    const buckets = (await admin.send(new ListBucketsCommand({}))).Buckets ?? [];
    t.same(buckets.map((b) => b.Name), [], 'neither bucket was created');
  });

  const minter = new AwsMinter({
    credentials: { access_key_id: moto.broker.accessKeyId, secret_access_key: moto.broker.secretAccessKey },
    endpoint: { origin: moto.endpoint, signingRegion: 'us-east-1', signingService: 'sts' },
    brokerId: 'seb-e2e',
    mode: 'per_certificate',
  });
  t.teardown(() => minter.close());
  const policy = sessionPolicy([
    { action: 's3:CreateBucket', resource: `arn:aws:s3:::${BUCKET}` },
    { action: 's3:PutObject', resource: `arn:aws:s3:::${BUCKET}/${KEY}` },
    { action: 'iam:CreateRole', resource: `arn:aws:iam::${moto.account}:role/seb-e2e-created` },
  ]);
  const { credentials } = await minter.mint({ roleArn: moto.roles.all, policy, sub: 'agent:e2e', jti: 'e2e-cert-1' });
  t.match(credentials.accessKeyId, /^ASIA/);

  await t.test('CreateBucket', async (t) => {
    const res = await send(await signUpstream(s3Input(moto, credentials, { method: 'PUT', path: `/${BUCKET}` })), 'PUT', EMPTY);
    t.equal(res.status, 200, res.text);
  });

  await t.test('PutObject with a key holding spaces, ~ and //', async (t) => {
    const payload = Buffer.from('hello, moto');
    const input = s3Input(moto, credentials, {
      method: 'PUT',
      path: `/${BUCKET}${KEY_PATH}`,
      headers: { 'content-type': 'text/plain' },
      payload,
      payloadHash: sha256(payload),
    });
    const res = await send(await signUpstream(input), 'PUT', payload);
    t.equal(res.status, 200, res.text);
    const got = await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
    t.equal(await got.Body?.transformToString(), 'hello, moto', 'stored under exactly the decoded key');
  });

  await t.test('ListObjectsV2 with an encoded query: wire bytes sent, decoded map signed', async (t) => {
    const input = s3Input(moto, credentials, {
      path: `/${BUCKET}`,
      rawQuery: 'list-type=2&prefix=dir&start-after=a%20b',
      query: { 'list-type': '2', prefix: 'dir', 'start-after': 'a b' },
    });
    const res = await send(await signUpstream(input), 'GET', EMPTY);
    t.equal(res.status, 200, res.text);
    t.match(res.text, /<Key>dir\/\/my file ~v1\.txt<\/Key>/);
  });

  await t.test('CreateMultipartUpload: a valueless query parameter (?uploads)', async (t) => {
    const input = s3Input(moto, credentials, { method: 'POST', path: `/${BUCKET}${KEY_PATH}`, rawQuery: 'uploads', query: { uploads: '' } });
    const res = await send(await signUpstream(input), 'POST', EMPTY);
    t.equal(res.status, 200, res.text);
    t.match(res.text, /<UploadId>[^<]+<\/UploadId>/);
  });

  await t.test('IAM CreateRole (query protocol, global service)', async (t) => {
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const payload = Buffer.from(
      new URLSearchParams({ Action: 'CreateRole', Version: '2010-05-08', RoleName: 'seb-e2e-created', AssumeRolePolicyDocument: trust }).toString(),
    );
    const input: SignInput = {
      service: 'iam',
      method: 'POST',
      path: '/',
      query: {},
      rawQuery: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      payload,
      payloadHash: sha256(payload),
      endpoint: { origin: moto.endpoint, signingRegion: 'us-east-1', signingService: 'iam' },
      credentials,
    };
    const res = await send(await signUpstream(input), 'POST', payload);
    t.equal(res.status, 200, res.text);
    const role = await adminIam.send(new GetRoleCommand({ RoleName: 'seb-e2e-created' }));
    t.equal(role.Role?.Arn, `arn:aws:iam::${moto.account}:role/seb-e2e-created`);
  });

  await t.test('a request signed with a wrong secret is refused and changes nothing', async (t) => {
    const wrong: AwsCredentials = { ...credentials, secretAccessKey: `${credentials.secretAccessKey}x` };
    const payload = Buffer.from('overwritten');
    const input = s3Input(moto, wrong, { method: 'PUT', path: `/${BUCKET}${KEY_PATH}`, payload, payloadHash: sha256(payload) });
    const res = await send(await signUpstream(input), 'PUT', payload);
    t.equal(res.status, 403);
    t.match(res.text, /SignatureDoesNotMatch/);
    const got = await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
    t.equal(await got.Body?.transformToString(), 'hello, moto');
  });
});

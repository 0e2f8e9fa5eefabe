// An agent with placeholder keys and one certificate for an S3 PutObjectTagging, sending raw bytes
// to a broker in front of moto (signatures checked): spellings of the certified request that read
// the same are admitted and moto runs exactly that operation (the object is tagged, never
// overwritten with the tagging XML); spellings that could name another operation are refused
// before anything goes upstream; the certificate runs no more than max_uses times.
// (moto ignores session policies, so the operation moto ran is checked on its state.)
import t from 'tap';
import { createHash } from 'node:crypto';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { exchange, type RawResponse } from '../helpers/raw-http.js';
import { awsOp } from '../helpers/pki.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());
const port = Number(new URL(tb.url).port);

const admin = new S3Client({
  endpoint: moto.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: moto.admin.accessKeyId, secretAccessKey: moto.admin.secretAccessKey },
  forcePathStyle: true,
});
await admin.send(new CreateBucketCommand({ Bucket: 'adv' }));
await admin.send(new PutObjectCommand({ Bucket: 'adv', Key: 'k', Body: 'original' }));

const TAGGING = '<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>';
const op = awsOp({
  service: 's3',
  operation: 'PutObjectTagging',
  resource: 'arn:aws:s3:::adv/k',
  params: { tagging: '' },
  body: { sha256: createHash('sha256').update(TAGGING).digest('hex') },
  max_uses: 2,
});
const { jws } = await tb.cert([op]);

/** One raw request to the AWS listener: the agent's own bytes, a fake signature, the certificate. */
async function send(target: string, headers: [string, string][] = [], body = TAGGING, certificate = jws): Promise<RawResponse> {
  const lines = [
    `PUT ${target} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'X-Amz-Date: 20261126T000000Z',
    `Authorization: AWS4-HMAC-SHA256 Credential=AKIDAGENT/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`,
    'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD',
    `X-SEB-Certificate: ${certificate}`,
    ...headers.map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  const result = await exchange({ port }, `${lines.join('\r\n')}\r\n\r\n${body}`, { timeoutMs: 10_000 });
  const res = result.responses[0];
  if (res === undefined) throw new Error(`no answer to PUT ${target}`);
  return res;
}

const objectBody = async (): Promise<string> => (await admin.send(new GetObjectCommand({ Bucket: 'adv', Key: 'k' }))).Body!.transformToString();
const tags = async (): Promise<string> => JSON.stringify((await admin.send(new GetObjectTaggingCommand({ Bucket: 'adv', Key: 'k' }))).TagSet ?? []);

t.test('spellings that could name another S3 operation are refused before anything goes upstream', async (t) => {
  const cases: [string, string, [string, string][]?][] = [
    ['a subresource in another case (PutObject to a reader that folds nothing)', '/adv/k?Tagging'],
    ['the subresource twice', '/adv/k?tagging&tagging'],
    ['a value on the bare subresource', '/adv/k?tagging=x'],
    ['a second subresource', '/adv/k?tagging&retention'],
    ['an SDK operation hint that disagrees', '/adv/k?tagging&x-id=PutObject'],
    ['a copy source beside the subresource (CopyObject)', '/adv/k?tagging', [['x-amz-copy-source', 'adv/other']]],
    ['a raw + in the query', '/adv/k?tagging&versionId=a+b'],
    ['a bad escape in the name', '/adv/k?%7tagging'],
  ];
  for (const [name, target, headers] of cases) {
    const res = await send(target, headers);
    t.equal(res.headers['x-seb-reason'], 'unparseable_request', `${name}: ${target}`);
  }
  t.equal((await send('/adv/k')).headers['x-seb-reason'], 'contract_mismatch', 'no subresource: a PutObject, which the certificate does not pin');
  t.equal(await objectBody(), 'original', 'the object was never overwritten');
  t.equal(await tags(), '[]', 'nothing was tagged');
});

t.test('an escaped subresource name never runs as another operation', async (t) => {
  // The broker reads `%74agging` as `tagging` and signs that decoded name, as SigV4's canonical
  // query does; moto signs the bytes as sent, so the signature does not verify and nothing runs.
  // An upstream that routed on the raw bytes would face the same signature: never a PutObject.
  const { jws: own } = await tb.cert([op]);
  const res = await send('/adv/k?%74agging', [], TAGGING, own);
  const refused = res.headers['x-seb-reason'] === 'unparseable_request' || (res.status === 403 && res.body.includes('SignatureDoesNotMatch'));
  t.ok(refused, `refused by the broker or by the upstream's signature check (${res.status} ${res.headers['x-seb-reason'] ?? ''})`);
  t.equal(await objectBody(), 'original', 'the tagging XML did not become the object');
  t.equal(await tags(), '[]', 'nothing was tagged');
});

t.test('spellings that read the same are admitted, moto runs the certified operation, and max_uses holds', async (t) => {
  t.equal((await send('/adv/k?tagging=')).headers['x-seb-decision'], 'admit', '`tagging=` is the bare subresource to S3 and to the broker');
  t.equal(await tags(), '[{"Key":"team","Value":"blue"}]', 'the object was tagged');
  t.equal(await objectBody(), 'original', 'and not overwritten');
  t.equal((await send('/adv/k?tagging')).headers['x-seb-decision'], 'admit');
  const third = await send('/adv/k?tagging');
  t.equal(third.headers['x-seb-decision'], 'deny');
  t.equal(third.headers['x-seb-reason'], 'replay', 'the third use of a max_uses 2 certificate');
  const admitted = tb.records.map((line) => JSON.parse(line) as { decision?: string; request?: { operation?: string } }).filter((r) => r.decision === 'admit');
  t.ok(admitted.length >= 2 && admitted.every((r) => r.request?.operation === 'PutObjectTagging'), 'every admit is the certified operation');
});

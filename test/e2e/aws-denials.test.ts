// Each reason code the AWS path can produce, as the unmodified `aws` CLI prints it: the reason and
// the certificate id are visible, and upstream state did not change.
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { S3Client, HeadObjectCommand, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { onlyAwsOp, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { awsCli } from '../helpers/aws-cli.js';
import { issueCert, makeKey, awsOp } from '../helpers/pki.js';
import type { AwsOp } from '../../src/certificate/types.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto, {
  config: {
    executors: {
      all: { aws: { role_arn: moto.roles.all } },
      reader: { aws: { role_arn: moto.roles.reader } },
      // The broker's own IAM policy does not let it assume this role: STS refuses the mint.
      forbidden: { aws: { role_arn: `arn:aws:iam::${moto.account}:role/not-an-executor` } },
    },
  },
});
t.teardown(() => tb.close());
const admin = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: moto.admin, forcePathStyle: true });
await admin.send(new CreateBucketCommand({ Bucket: 'vault' }));
await admin.send(new PutObjectCommand({ Bucket: 'vault', Key: 'existing', Body: 'v1' }));

async function exists(key: string): Promise<boolean> {
  return admin.send(new HeadObjectCommand({ Bucket: 'vault', Key: key })).then(
    () => true,
    () => false,
  );
}

const putArgs = (key: string, extra: string[] = []) => ['s3api', 'put-object', '--bucket', 'vault', '--key', key, '--body', '/etc/hostname', ...extra];

/** The op the CLI's put-object needs, captured through the broker once; other keys differ only in the resource. */
const template = onlyAwsOp(await tb.capture((url) => awsCli(putArgs('template'), url, 'placeholder')));
async function putOp(key: string): Promise<AwsOp> {
  return { ...template, resource: `arn:aws:s3:::vault/${key}` };
}

async function expectDenied(t: Test, broker: TestBroker, args: string[], token: string | null, reason: string, certId: string, key?: string) {
  const r = await awsCli(args, broker.url, token);
  t.not(r.code, 0, 'the CLI fails');
  t.match(r.stderr, reason, `the CLI prints ${reason}`);
  t.match(r.stderr, `certificate ${certId}`, 'the CLI prints the certificate id');
  t.match(r.stderr, /An error occurred \(AccessDenied|ServiceUnavailable|InvalidRequest|OperationAborted\)/, 'a parsed AWS error');
  if (key) t.notOk(await exists(key), `${key} was not written`);
  const last = broker.records.map((l) => JSON.parse(l)).filter((rec) => rec.type === 'decision').at(-1);
  t.match(last, { decision: 'deny', reason }, 'a deny record names the reason');
}

type Case = { name: string; reason: string; token: () => Promise<{ jws: string | null; jti: string }>; args?: string[]; key?: string; before?: () => Promise<void>; after?: () => Promise<void> };

const other = makeKey();
const cases: Case[] = [
  { name: 'no session token at all', reason: 'no_certificate', token: async () => ({ jws: null, jti: 'none' }), key: 'k-none' },
  {
    name: 'a JWS of the right type with a missing claim',
    reason: 'malformed_certificate',
    token: async () => {
      return tb.cert([await putOp('k-mal')], { extraClaims: { contract: undefined } });
    },
    key: 'k-mal',
  },
  { name: 'signed by a key nobody trusts', reason: 'untrusted_issuer', token: async () => issueCert(other, [await putOp('k-untrusted')]), key: 'k-untrusted' },
  {
    name: 'a tampered payload',
    reason: 'bad_signature',
    token: async () => {
      const c = await tb.cert([await putOp('k-tamper')]);
      const [h, p, s] = c.jws.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      claims.sub = 'agent:someone-else';
      return { jws: [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.'), jti: c.jti };
    },
    key: 'k-tamper',
  },
  { name: 'another broker’s audience', reason: 'wrong_audience', token: async () => tb.cert([await putOp('k-aud')], { aud: 'seb:elsewhere' }), key: 'k-aud' },
  { name: 'not valid yet', reason: 'not_yet_valid', token: async () => tb.cert([await putOp('k-nbf')], { nbf: Math.floor(Date.now() / 1000) + 600, ttl: 900 }), key: 'k-nbf' },
  {
    name: 'expired',
    reason: 'expired',
    token: async () => tb.cert([await putOp('k-exp')], { iat: Math.floor(Date.now() / 1000) - 100, exp: Math.floor(Date.now() / 1000) - 60 }),
    key: 'k-exp',
  },
  { name: 'valid for too long', reason: 'validity_too_long', token: async () => tb.cert([await putOp('k-long')], { ttl: 3600 }), key: 'k-long' },
  { name: 'an old policy epoch', reason: 'policy_epoch_mismatch', token: async () => tb.cert([await putOp('k-epoch')], { policyEpoch: 0 }), key: 'k-epoch' },
  { name: 'an unknown execution identity', reason: 'unknown_execution_identity', token: async () => tb.cert([await putOp('k-ident')], { identity: 'nobody' }), key: 'k-ident' },
  {
    name: 'an operation that vends credentials',
    reason: 'credential_vending',
    token: async () => tb.cert([awsOp({ service: 'sts', operation: 'GetSessionToken', resource: '*' })]),
    args: ['sts', 'get-session-token'],
  },
  {
    name: 'an added --server-side-encryption header',
    reason: 'contract_mismatch',
    token: async () => tb.cert([await putOp('k-sse')]),
    args: putArgs('k-sse', ['--server-side-encryption', 'AES256']),
    key: 'k-sse',
  },
  { name: 'an added --content-type header', reason: 'contract_mismatch', token: async () => tb.cert([await putOp('k-ct')]), args: putArgs('k-ct', ['--content-type', 'text/html']), key: 'k-ct' },
  {
    name: 'an added SSE-C key',
    reason: 'contract_mismatch',
    token: async () => tb.cert([await putOp('k-ssec')]),
    args: putArgs('k-ssec', ['--sse-customer-algorithm', 'AES256', '--sse-customer-key', 'MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=']),
    key: 'k-ssec',
  },
  {
    name: 'an added versionId query parameter',
    reason: 'contract_mismatch',
    token: async () => tb.cert((await tb.capture((url) => awsCli(['s3api', 'delete-object', '--bucket', 'vault', '--key', 'existing'], url, 'x'))).slice(0, 1)),
    args: ['s3api', 'delete-object', '--bucket', 'vault', '--key', 'existing', '--version-id', 'v-1'],
  },
  {
    name: 'an added Qualifier query parameter',
    reason: 'contract_mismatch',
    token: async () => tb.cert((await tb.capture((url) => awsCli(['lambda', 'delete-function', '--function-name', 'fn'], url, 'x'))).slice(0, 1)),
    args: ['lambda', 'delete-function', '--function-name', 'fn', '--qualifier', '1'],
  },
  { name: 'another key', reason: 'contract_mismatch', token: async () => tb.cert([await putOp('k-a')]), args: putArgs('k-b'), key: 'k-b' },
  {
    name: 'another body',
    reason: 'body_mismatch',
    token: async () => tb.cert([{ ...(await putOp('k-body')), body: { sha256: '0'.repeat(64) } }]),
    key: 'k-body',
  },
  { name: 'a pre_state that does not hold (an ETag of a missing object)', reason: 'drift', token: async () => tb.cert([{ ...(await putOp('k-drift')), pre_state: { etag: '"0123456789abcdef0123456789abcdef"' } }]), key: 'k-drift' },
  { name: 'an executor role STS will not hand out', reason: 'mint_failed', token: async () => tb.cert([await putOp('k-mint')], { identity: 'forbidden' }), key: 'k-mint' },
];

for (const c of cases) {
  t.test(`${c.reason}: ${c.name}`, async (t) => {
    const { jws, jti } = await c.token();
    await expectDenied(t, tb, c.args ?? putArgs(c.key!), jws, c.reason, jti, c.key);
  });
}

t.test('replay: a single-use certificate admits one request, then replay', async (t) => {
  const { jws, jti } = await tb.cert([await putOp('k-once')]);
  const first = await awsCli(putArgs('k-once'), tb.url, jws);
  t.equal(first.code, 0, first.stderr);
  t.ok(await exists('k-once'));
  await admin.send(new PutObjectCommand({ Bucket: 'vault', Key: 'k-once', Body: 'changed by someone' }));
  await expectDenied(t, tb, putArgs('k-once'), jws, 'replay', jti);
});

t.test('revoked: a revoked jti is refused on its next use', async (t) => {
  const op = { ...(await putOp('k-rev')), max_uses: 2 };
  const { jws, jti } = await tb.cert([op]);
  t.equal((await awsCli(putArgs('k-rev'), tb.url, jws)).code, 0);
  await tb.publishAuthority({ revokedJti: [jti] });
  await expectDenied(t, tb, putArgs('k-rev'), jws, 'revoked', jti);
});

t.test('authority_stale: an old authority state fails closed', async (t) => {
  const { jws, jti } = await tb.cert([await putOp('k-stale')]);
  await tb.publishAuthority({ iat: Math.floor(Date.now() / 1000) - 120, maxAge: 30 });
  await expectDenied(t, tb, putArgs('k-stale'), jws, 'authority_stale', jti, 'k-stale');
  await tb.publishAuthority({});
});

t.test('unparseable_request: an unsigned request gives the broker no service to read', async (t) => {
  const r = await awsCli([...putArgs('k-unsigned'), '--no-sign-request'], tb.url, null);
  t.not(r.code, 0);
  t.match(r.stderr, 'unparseable_request');
  t.notOk(await exists('k-unsigned'));
});

t.test('audit_unavailable: a record sink that refuses writes denies the request', async (t) => {
  let broken = false;
  const sink = new Writable({
    write(_chunk, _enc, cb) {
      cb(broken ? new Error('disk full') : null);
    },
  });
  const failing = await startTestBroker(moto, { recordsOut: sink });
  t.teardown(() => failing.close());
  const { jws, jti } = await failing.cert([await putOp('k-audit')]);
  broken = true;
  const r = await awsCli(putArgs('k-audit'), failing.url, jws);
  t.not(r.code, 0);
  t.match(r.stderr, 'audit_unavailable');
  t.match(r.stderr, `certificate ${jti}`);
  t.notOk(await exists('k-audit'));
  const ready = await fetch(`${failing.adminUrl}/readyz`);
  t.equal(ready.status, 503, '/readyz turns 503 while the sink fails');
});

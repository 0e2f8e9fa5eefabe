// The AWS adapter alone (src/targets/aws/adapter.ts), driven phase by phase as the runner drives it
// (open -> finish -> bind -> match, drift -> identity -> prepare), against in-process stand-ins for
// STS and S3 on loopback (test/faults/fakes.ts). No peers, no child processes. Each phase's outcome,
// and the reason code it denies with.
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { createHash } from 'node:crypto';
import { AwsMinter } from '../../../src/identity/aws-minter.js';
import { AwsTarget } from '../../../src/targets/aws/adapter.js';
import { resolveEndpoint } from '../../../src/targets/aws/endpoints.js';
import type { AwsOp, Certificate, Op } from '../../../src/certificate/types.js';
import type { RequestHead } from '../../../src/targets/target.js';
import { mintedKey, startFakeS3, startFakeSts, stsError } from '../../faults/fakes.js';
import { adapterConfig } from '../../helpers/adapter-config.js';
import { issueCert, makeKey } from '../../helpers/pki.js';
import { code, codeOf } from '../../helpers/reason.js';

const ACCOUNT = '123456789012';
const EXEC_ROLE = `arn:aws:iam::${ACCOUNT}:role/seb-exec`;
const READER_ROLE = `arn:aws:iam::${ACCOUNT}:role/seb-reader`;
/** The agent's own key: a placeholder the broker must never pass on. */
const AGENT_KEY = 'AKIDAGENTPLACEHOLDER';
/** What the S3 stand-in answers every request with (fakes.ts), so an etag pre_state can hold. */
const FAKE_ETAG = '0123456789abcdef0123456789abcdef';

const sts = await startFakeSts();
const s3 = await startFakeS3();
const dispatcher = new Agent();
t.teardown(async () => {
  await Promise.all([sts.close(), s3.close(), dispatcher.close()]);
});

const config = adapterConfig(
  {
    executors: { ops: { aws: { role_arn: EXEC_ROLE } }, reader: { aws: { role_arn: READER_ROLE } }, kubeonly: { k8s: { user: 'u', groups: [] } } },
    aws: {
      credentials: { access_key_id: 'AKIDBROKER', secret_access_key: 'broker-secret' },
      endpoints: { default: s3.origin, sts: sts.origin },
      allow_insecure_endpoints: true,
    },
  },
  '/nonexistent',
);

/** A target with its own minter (its own cache), so each test's STS calls are its own. */
function awsTarget(t: Test): { target: AwsTarget; mintCached: boolean[] } {
  const aws = config.aws!;
  const minter = new AwsMinter({ credentials: aws.credentials, endpoint: resolveEndpoint('sts', 'us-east-1', aws.endpoints), brokerId: 'seb-unit', mode: 'per_scope' });
  t.teardown(() => minter.close());
  const mintCached: boolean[] = [];
  return { target: new AwsTarget({ config, aws, minter, dispatcher, mintCached: (c) => mintCached.push(c) }), mintCached };
}

/** `PUT /reports/q3.csv` as the aws CLI sends it, signed with the agent's placeholder key. */
function putHead(body: Buffer, extra: Record<string, string> = {}): RequestHead {
  return awsHead('PUT', '/reports/q3.csv', 's3', body, extra);
}

/** A request as the aws CLI sends it to `service`, signed with the agent's placeholder key. */
function awsHead(method: string, path: string, service: string, body: Buffer, extra: Record<string, string>): RequestHead {
  const headers: Record<string, string> = Object.assign(Object.create(null), {
    host: '127.0.0.1:15001',
    authorization: `AWS4-HMAC-SHA256 Credential=${AGENT_KEY}/20261206/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'ab'.repeat(32)}`,
    'x-amz-date': '20261206T071500Z',
    'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    'content-length': String(body.length),
    ...extra,
  });
  return { method, target: path, path, query: '', headers, expectContinue: false, contentLength: body.length };
}

const BODY = Buffer.from('quarter,revenue\nq3,42\n');

/** The op `seb op capture` would print for `body` (what an issuer would pin). */
function capturedOp(target: AwsTarget, body: Buffer): AwsOp {
  const ops: Op[] = [];
  target.open(putHead(body), null).finish(body).capture(ACCOUNT, (op) => ops.push(op) - 1);
  return ops[0] as AwsOp;
}

function certificate(ops: readonly Op[]): Certificate {
  return {
    kid: 'k', iss: 'sab', sub: 'agent:unit', aud: ['aud'], jti: 'cert-aws-1', iat: 1, nbf: 1, exp: 2e9,
    policy_epoch: 1, revocation_epoch: 0, execution_identity: 'ops', contract: { id: 'c', evidence: '', ops },
  };
}

/** The request bound to the `ops` executor, as the runner has it after finish and bind. */
function bound(target: AwsTarget, body = BODY) {
  return target.open(putHead(body), null).finish(body).bind(target.executor('ops')!);
}

const scopeOf = (authorization: string) => /Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization);

t.test('open: S3 is read from the head alone; the carrier is the session token; an Upgrade is refused', async (t) => {
  const { target } = awsTarget(t);
  const op = capturedOp(target, BODY);
  const opened = target.open(putHead(BODY), null);
  t.ok(opened.early, 'PutObject is known before the body is read');
  t.same(opened.early!.kind, { read: false, vends: null, longRunning: false });
  const profile = target.executor('ops')!;
  t.equal(code(() => opened.early!.matchHead([op], profile)), 'ok');
  t.equal(code(() => opened.early!.matchHead([{ ...op, resource: 'arn:aws:s3:::other/q3.csv' }], profile)), 'contract_mismatch');
  t.equal(target.executor('kubeonly'), null, 'an executor with no aws profile is none here');

  const { jws } = await issueCert(makeKey(), [op]);
  t.equal(target.open(putHead(BODY, { 'x-amz-security-token': jws }), null).carrier()?.token, jws);
  t.equal(target.open(putHead(BODY, { 'x-amz-security-token': 'plain-session-token' }), null).carrier(), null);
  t.equal(code(() => target.open(putHead(BODY, { 'x-seb-certificate': 'not-a-jws' }), null).carrier()), 'malformed_certificate');
  t.equal(code(() => target.open(putHead(BODY), { upgrade: 'websocket' })), 'unparseable_request');
});

t.test('open, then finish: a json-protocol request is known only from its body; a read goes out under the read executor', async (t) => {
  const { target } = awsTarget(t);
  const body = Buffer.from('{"TableName":"orders"}');
  const head = awsHead('POST', '/', 'dynamodb', body, { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.DescribeTable' });
  const opened = target.open(head, null);
  t.equal(opened.early, null, 'the operation is in the body');
  const ready = opened.passRead(body, target.reader!);
  t.match(ready.project(target.reader), { service: 'dynamodb', operation: 'DescribeTable', resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders` });
  t.same(ready.kind, { read: true, vends: null, longRunning: false });
  await ready.identity(null);
  const call = new URLSearchParams(sts.arrivals.at(-1)!.body!.toString());
  t.same([call.get('RoleArn'), JSON.parse(call.get('Policy')!).Statement[0].Action], [READER_ROLE, 'dynamodb:DescribeTable']);
  const unknown = awsHead('POST', '/', 'dynamodb', body, { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.NoSuchOperation' });
  t.equal(code(() => target.open(unknown, null).finish(body)), 'unparseable_request');
});

t.test('finish: the body is read once into the operation the record names; a body its hash denies is refused', async (t) => {
  const { target } = awsTarget(t);
  const finished = target.open(putHead(BODY), null).finish(BODY);
  t.match(finished.project(target.executor('ops')), { service: 's3', region: 'us-east-1', operation: 'PutObject', resource: 'arn:aws:s3:::reports/q3.csv', digest: null });
  const other = Buffer.from('quarter,revenue\nq3,43\n');
  t.equal(code(() => target.open(putHead(BODY), null).finish(other)), 'unparseable_request');
});

t.test('bind and match: the pinned op matches; another body or another key is refused', async (t) => {
  const { target } = awsTarget(t);
  const op = capturedOp(target, BODY);
  t.equal(bound(target).match([op]).op, op);
  t.equal(code(() => bound(target, Buffer.from('something else')).match([op])), 'body_mismatch');
  t.equal(code(() => bound(target).match([{ ...op, resource: 'arn:aws:s3:::reports/q4.csv' }])), 'contract_mismatch');
});

t.test('drift: pre_state is probed under the reader with a minted key; one that does not hold is refused', async (t) => {
  const { target } = awsTarget(t);
  const op = capturedOp(target, BODY);
  const before = { s3: s3.arrivals.length, sts: sts.arrivals.length };

  const none = bound(target);
  await none.drift(none.match([op]), certificate([op]));
  t.equal(s3.arrivals.length, before.s3, 'no pre_state: no probe');

  const pinned = { ...op, pre_state: { etag: FAKE_ETAG } };
  const holds = bound(target);
  t.equal(await codeOf(holds.drift(holds.match([pinned]), certificate([pinned]))), 'ok');
  const probe = s3.arrivals.at(-1)!;
  t.equal(probe.method, 'HEAD');
  t.equal(probe.url, '/reports/q3.csv');
  t.equal(scopeOf(String(probe.headers.authorization))?.[1], mintedKey(sts.arrivals.length), 'signed with the key STS minted for the probe');
  t.equal(new URLSearchParams(sts.arrivals.at(-1)!.body!.toString()).get('RoleArn'), READER_ROLE, 'minted for the read executor');
  t.match(holds.identityRecord(), { type: 'aws', probe: { role_arn: READER_ROLE } });

  const absent = { ...op, pre_state: { absent: true as const } };
  const exists = bound(target);
  t.equal(await codeOf(exists.drift(exists.match([absent]), certificate([absent]))), 'drift', 'the object exists');
});

t.test('identity: STS mints a session scoped to the operation; an STS refusal is mint_failed', async (t) => {
  const { target, mintCached } = awsTarget(t);
  const op = capturedOp(target, BODY);
  const b = bound(target);
  b.match([op]);
  const admitted = await b.identity(certificate([op]));
  const call = new URLSearchParams(sts.arrivals.at(-1)!.body!.toString());
  t.equal(call.get('Action'), 'AssumeRole');
  t.equal(call.get('RoleArn'), EXEC_ROLE);
  t.same(JSON.parse(call.get('Policy')!).Statement.map((s: { Action: unknown; Resource: unknown }) => [s.Action, s.Resource]), [['s3:PutObject', 'arn:aws:s3:::reports/q3.csv']]);
  t.match(admitted.identityRecord(), { type: 'aws', role_arn: EXEC_ROLE, access_key_id: mintedKey(sts.arrivals.length), cached: false });
  t.same(mintCached, [false]);

  sts.answer = { kind: 'status', status: 403, body: stsError('AccessDenied', 'not authorized to assume seb-exec') };
  t.teardown(() => void (sts.answer = { kind: 'ok' }));
  const denied = awsTarget(t).target;
  t.equal(await codeOf(bound(denied).identity(certificate([op]))), 'mint_failed');
});

t.test('prepare: re-signed with the minted session, the agent key gone, the drift guard added', async (t) => {
  const { target } = awsTarget(t);
  const pinned = { ...capturedOp(target, BODY), pre_state: { etag: FAKE_ETAG } };
  const cert = certificate([pinned]);
  const b = bound(target);
  await b.drift(b.match([pinned]), cert);
  const admitted = await b.identity(cert);
  const up = await admitted.prepare(cert);
  t.equal(up.origin, s3.origin);
  t.equal(up.method, 'PUT');
  t.equal(up.path, '/reports/q3.csv');
  t.same(up.body, BODY);
  const h = up.headers as Record<string, string>;
  const scope = scopeOf(h['authorization']!);
  t.same(scope?.slice(1), [mintedKey(sts.arrivals.length), h['x-amz-date']!.slice(0, 8), 'us-east-1', 's3']);
  const signed = /SignedHeaders=([^,]+)/.exec(h['authorization']!)![1]!.split(';');
  for (const name of ['host', 'if-match', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token']) t.ok(signed.includes(name), `${name} is signed`);
  t.equal(h['x-amz-security-token'], `fake-token-${sts.arrivals.length}`, 'the minted session token');
  t.equal(h['if-match'], `"${FAKE_ETAG}"`, 'the forward fails upstream if the object changed after the probe');
  t.notOk(JSON.stringify(up.headers).includes(AGENT_KEY), 'nothing of the agent signature goes upstream');
  t.match(admitted.project(target.executor('ops')), { digest: /^[0-9a-f]{64}$/ });

  // What the runner sends reaches S3 as prepared.
  const answer = await request(up.origin + up.path, { dispatcher, method: 'PUT', headers: up.headers, body: up.body });
  await answer.body.dump();
  const arrived = s3.arrivals.at(-1)!;
  t.same([arrived.method, arrived.url, arrived.headers.authorization, arrived.body], ['PUT', '/reports/q3.csv', h['authorization'], BODY]);
  t.same(admitted.outcome(answer.statusCode, answer.headers), { upstreamRequestId: `fake-s3-${s3.arrivals.length}`, error: null });
  t.match(admitted.outcome(412, {}).error, /^PreconditionFailed/, 'a failed guard is the outcome error');
  t.equal(code(() => admitted.tunnel(cert)), 'unparseable_request');
});

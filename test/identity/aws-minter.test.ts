// The minter against an STS stand-in on loopback. Its time (the cache's expiry, the bound on an STS
// call) is a ManualClock, and the stand-in answers a held call when the test releases it: the tests
// assert what happens before and after, never how long it took.
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { AwsMinter, CERTIFICATE_TAG, roleSessionName, sourceIdentity, STS_TIMEOUT_MS, type AwsMinterOptions } from '../../src/identity/aws-minter.js';
import { policyDigest, sessionPolicy } from '../../src/identity/session-policy.js';
import { Denial } from '../../src/reasons.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const BROKER_KEY = { access_key_id: 'AKIDBROKEREXAMPLE', secret_access_key: 'broker-secret-never-in-details' };
const ROLE = 'arn:aws:iam::123456789012:role/seb-exec-s3';
const POLICY = sessionPolicy([{ action: 's3:PutObject', resource: 'arn:aws:s3:::reports/q3.csv' }]);
const T0 = Date.parse('2026-11-26T04:00:00Z');
const SESSION_NAME = /^[A-Za-z0-9_+=,.@-]{2,64}$/;

interface Call {
  params: URLSearchParams;
  authorization: string;
}
interface Reply {
  status: number;
  body: string;
  /** Answered only once the test calls release() (never, for a hanging STS). */
  held?: boolean;
}

function ok(n: number, expiration: number): Reply {
  return {
    status: 200,
    body: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAMINTED${n}</AccessKeyId><SecretAccessKey>secret-${n}</SecretAccessKey>
<SessionToken>token-${n}</SessionToken><Expiration>${new Date(expiration).toISOString()}</Expiration></Credentials>
<AssumedRoleUser><AssumedRoleId>AROA:s</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>
<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>r-${n}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
  };
}

function stsError(status: number, code: string, message: string): Reply {
  return {
    status,
    body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-err</RequestId></ErrorResponse>`,
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A recording STS stand-in on 127.0.0.1: answers each AssumeRole with `reply(callNumber)`. */
async function standIn(t: Test, reply: (n: number, params: URLSearchParams) => Reply) {
  const calls: Call[] = [];
  const held: (() => void)[] = [];
  const server: Server = createServer(async (req, res) => {
    // The SDK form-encodes spaces as %20 and `+` as %2B, so URLSearchParams decodes it exactly.
    const params = new URLSearchParams(await readBody(req));
    const r = reply(calls.length + 1, params);
    const answer = () => void res.writeHead(r.status, { 'content-type': 'text/xml' }).end(r.body);
    if (r.held) held.push(answer);
    calls.push({ params, authorization: req.headers.authorization ?? '' });
    if (!r.held) answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  /** Answers the held calls, in the order they came. */
  const release = () => {
    for (const answer of held.splice(0)) answer();
  };
  return { calls, origin: `http://127.0.0.1:${port}`, release };
}

function minter(t: Test, origin: string, options: Partial<AwsMinterOptions> = {}): AwsMinter {
  const m = new AwsMinter({
    credentials: BROKER_KEY,
    endpoint: { origin, signingRegion: 'us-east-1', signingService: 'sts' },
    brokerId: 'seb-dev',
    mode: 'per_scope',
    clock: new ManualClock(T0),
    ...options,
  });
  t.teardown(() => m.close());
  return m;
}

const req = { roleArn: ROLE, policy: POLICY, sub: 'deployer-7', jti: 'cert-1' };

async function mintFailure(p: Promise<unknown>): Promise<Denial> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Denial) return err;
    throw err;
  }
  throw new Error('mint unexpectedly succeeded');
}

t.test('AssumeRole parameters in per_scope mode', async (t) => {
  const sts = await standIn(t, (n) => ok(n, T0 + 900_000));
  const m = minter(t, sts.origin);
  const out = await m.mint(req);
  t.equal(out.cached, false);
  t.same(
    { ...out.credentials, expiration: out.credentials.expiration.getTime() },
    { accessKeyId: 'ASIAMINTED1', secretAccessKey: 'secret-1', sessionToken: 'token-1', expiration: T0 + 900_000 },
  );
  t.equal(sts.calls.length, 1);
  const p = sts.calls[0]!.params;
  t.equal(p.get('Action'), 'AssumeRole');
  t.equal(p.get('RoleArn'), ROLE);
  t.equal(p.get('Policy'), POLICY);
  t.equal(p.get('DurationSeconds'), '900');
  t.equal(p.get('SourceIdentity'), 'deployer-7');
  t.equal(p.get('ExternalId'), null, 'no ExternalId unless the profile has one');
  t.notOk([...p.keys()].some((k) => k.startsWith('Tags')), 'no session tags in per_scope mode');
  const name = p.get('RoleSessionName') ?? '';
  t.match(name, SESSION_NAME);
  t.equal(name, `seb-dev.${policyDigest(POLICY)}`);
  t.match(sts.calls[0]!.authorization, /Credential=AKIDBROKEREXAMPLE\/\d{8}\/us-east-1\/sts\/aws4_request/, "signed with the broker's key");
});

t.test('ExternalId is sent when the profile has one, and is part of the cache key', async (t) => {
  const sts = await standIn(t, (n) => ok(n, T0 + 900_000));
  const m = minter(t, sts.origin);
  await m.mint({ ...req, externalId: 'ext-123' });
  t.equal(sts.calls[0]!.params.get('ExternalId'), 'ext-123');
  t.equal((await m.mint({ ...req, externalId: 'ext-123' })).cached, true);
  t.equal((await m.mint(req)).cached, false);
  t.equal(sts.calls.length, 2);
});

t.test('SourceIdentity is sub when STS accepts it, else seb- and a digest', async (t) => {
  const table: [string, boolean][] = [
    ['deployer-7', true],
    ['a.b_c+d=e,f@g-h', true],
    ['ab', true],
    ['x'.repeat(64), true],
    ['a', false],
    ['x'.repeat(65), false],
    ['agent:deployer-7', false],
    ['aws:admin', false],
    ['has space', false],
    ['ünïcode', false],
    ['', false],
  ];
  for (const [sub, kept] of table) {
    const id = sourceIdentity(sub);
    t.match(id, SESSION_NAME, `${sub}: valid SourceIdentity`);
    t.notOk(id.startsWith('aws:'), sub);
    if (kept) t.equal(id, sub, sub);
    else t.match(id, /^seb-[A-Za-z0-9_-]+$/, sub);
  }
  t.not(sourceIdentity('agent:a'), sourceIdentity('agent:b'), 'distinct subs keep distinct identities');
});

t.test('RoleSessionName stays within 64 characters of the STS charset', async (t) => {
  const digest = policyDigest(POLICY);
  const brokers = ['seb-dev', 'broker with spaces/and:colons', 'b'.repeat(200), ''];
  const jtis = ['cert-1', 'a:b:c', 'j'.repeat(128), `${'j'.repeat(100)}:x`, 'Z'];
  for (const broker of brokers) {
    t.match(roleSessionName(broker, digest, null), SESSION_NAME, `per_scope ${broker}`);
    for (const jti of jtis) t.match(roleSessionName(broker, digest, jti), SESSION_NAME, `per_certificate ${broker} ${jti}`);
  }
  t.equal(roleSessionName('seb-dev', digest, 'cert-1'), `seb-dev.${digest.slice(0, 11)}.cert-1`);
  // Names of long jtis sharing a prefix, or differing only in a sanitised character, stay distinct.
  const long = 'j'.repeat(120);
  t.not(roleSessionName('seb-dev', digest, `${long}-a`), roleSessionName('seb-dev', digest, `${long}-b`));
  t.not(roleSessionName('seb-dev', digest, 'a:b'), roleSessionName('seb-dev', digest, 'a-b'));
});

t.test('per_certificate: jti in the session name and tag, no sharing across certificates', async (t) => {
  const sts = await standIn(t, (n) => ok(n, T0 + 900_000));
  const m = minter(t, sts.origin, { mode: 'per_certificate' });
  const jti = 'urn:cert:2026-11-26.0001';
  const a = await m.mint({ ...req, jti });
  const p = sts.calls[0]!.params;
  t.equal(p.get('Tags.member.1.Key'), CERTIFICATE_TAG);
  t.equal(p.get('Tags.member.1.Value'), jti);
  t.equal(p.get('Tags.member.2.Key'), null, 'exactly one tag');
  const name = p.get('RoleSessionName') ?? '';
  t.match(name, SESSION_NAME);
  t.match(name, /^seb-dev\./);
  t.match(name, /urn-cert-2026-11-26\.0001/, 'the sanitised jti is readable in CloudTrail');
  t.equal(a.cached, false);
  const again = await m.mint({ ...req, jti });
  t.equal(again.cached, true, 'the same certificate reuses its identity');
  const other = await m.mint({ ...req, jti: 'cert-2' });
  t.equal(other.cached, false, 'another certificate with the same scope gets its own identity');
  t.equal(sts.calls.length, 2);
  t.not(other.credentials.accessKeyId, a.credentials.accessKeyId);
});

t.test('per_scope: cache hits by (role, policy, sub, external id)', async (t) => {
  const sts = await standIn(t, (n) => ok(n, T0 + 900_000));
  const m = minter(t, sts.origin);
  const first = await m.mint(req);
  const second = await m.mint({ ...req, jti: 'another-certificate' });
  t.equal(second.cached, true, 'per_scope shares one identity across certificates of one scope');
  t.equal(second.credentials, first.credentials);
  t.equal(sts.calls.length, 1);
  const misses = [
    { ...req, sub: 'someone-else' },
    { ...req, roleArn: 'arn:aws:iam::123456789012:role/seb-exec-all' },
    { ...req, policy: sessionPolicy([{ action: 's3:GetObject', resource: 'arn:aws:s3:::reports/q3.csv' }]) },
  ];
  for (const miss of misses) t.equal((await m.mint(miss)).cached, false);
  t.equal(sts.calls.length, 4);
});

t.test('concurrent misses for one key share one STS call', async (t) => {
  const sts = await standIn(t, (n) => ({ ...ok(n, T0 + 900_000), held: true }));
  const m = minter(t, sts.origin);
  const minting = Promise.all(Array.from({ length: 10 }, () => m.mint(req)));
  t.ok(await until(() => sts.calls.length === 1), 'the first miss called STS');
  sts.release();
  const results = await minting;
  t.equal(sts.calls.length, 1, 'the nine others, asked while it was out, joined it');
  t.equal(results.filter((r) => !r.cached).length, 1, 'exactly one caller made the call');
  t.ok(results.every((r) => r.credentials === results[0]!.credentials));
});

t.test('per_certificate: concurrent requests of one certificate share, other certificates do not', async (t) => {
  const sts = await standIn(t, (n) => ({ ...ok(n, T0 + 900_000), held: true }));
  const m = minter(t, sts.origin, { mode: 'per_certificate' });
  const minting = Promise.all([m.mint(req), m.mint(req), m.mint({ ...req, jti: 'cert-2' }), m.mint({ ...req, jti: 'cert-2' })]);
  t.ok(await until(() => sts.calls.length === 2), 'one call per certificate is out');
  sts.release();
  await minting;
  t.equal(sts.calls.length, 2);
});

t.test('a failed mint is not cached, and its joiners fail too', async (t) => {
  const sts = await standIn(t, (n) =>
    n === 1 ? { ...stsError(400, 'Throttling', 'Rate exceeded'), held: true } : ok(n, T0 + 900_000),
  );
  const m = minter(t, sts.origin);
  const failing = Promise.all([mintFailure(m.mint(req)), mintFailure(m.mint(req))]);
  t.ok(await until(() => sts.calls.length === 1), 'the first call is out; the second caller joins it');
  sts.release();
  const failures = await failing;
  t.same(
    failures.map((f) => [f.code, f.internal]),
    [
      ['mint_failed', 'Throttling: Rate exceeded'],
      ['mint_failed', 'Throttling: Rate exceeded'],
    ],
  );
  t.equal(sts.calls.length, 1);
  const retry = await m.mint(req);
  t.equal(retry.cached, false);
  t.equal(sts.calls.length, 2);
});

t.test('cached credentials are used until 60 s before expiry', async (t) => {
  const sts = await standIn(t, (n) => ok(n, T0 + 900_000));
  const clock = new ManualClock(T0);
  const m = minter(t, sts.origin, { clock });
  await m.mint(req);
  clock.advance(839_999);
  t.equal((await m.mint(req)).cached, true, 'more than 60 s left');
  clock.advance(1);
  const fresh = await m.mint(req);
  t.equal(fresh.cached, false, '60 s left: mint again');
  t.equal(fresh.credentials.accessKeyId, 'ASIAMINTED2');
  t.equal(sts.calls.length, 2);
});

t.test('the cache is bounded', async (t) => {
  const sts = await standIn(t, (n) => ok(n, T0 + 900_000));
  const m = minter(t, sts.origin, { maxEntries: 2 });
  await m.mint({ ...req, sub: 'sub-a' });
  await m.mint({ ...req, sub: 'sub-b' });
  await m.mint({ ...req, sub: 'sub-c' });
  t.equal((await m.mint({ ...req, sub: 'sub-a' })).cached, false, 'least recently used entry evicted');
  t.equal(sts.calls.length, 4);
});

t.test('STS failures are mint_failed: the agent sees the STS code, the record and log the message, never a credential', async (t) => {
  const table: [Reply, string][] = [
    [
      stsError(403, 'AccessDenied', 'User: arn:aws:iam::123456789012:user/seb-broker is not authorized to perform: sts:AssumeRole'),
      'AccessDenied: User: arn:aws:iam::123456789012:user/seb-broker is not authorized to perform: sts:AssumeRole',
    ],
    [stsError(400, 'MalformedPolicyDocument', 'The policy is not in the valid JSON format.'), 'MalformedPolicyDocument: The policy is not in the valid JSON format.'],
    [stsError(400, 'PackedPolicyTooLarge', 'Packed policy consumes 101% of allotted space'), 'PackedPolicyTooLarge: Packed policy consumes 101% of allotted space'],
    [stsError(400, 'RegionDisabled', 'STS is not activated in this region'), 'RegionDisabled: STS is not activated in this region'],
  ];
  for (const [reply, detail] of table) {
    const sts = await standIn(t, () => reply);
    const err = await mintFailure(minter(t, sts.origin).mint(req));
    t.equal(err.code, 'mint_failed');
    t.equal(err.internal, detail, 'the whole STS answer, for the record and the log');
    const code = detail.slice(0, detail.indexOf(':'));
    t.equal(err.detail, `STS answered ${code}`, 'the agent is told the code only');
    t.notMatch(err.detail, /arn:|allotted|valid JSON|activated/, 'no STS message text for the agent');
    t.notMatch(err.message, BROKER_KEY.secret_access_key);
  }
});

t.test('an incomplete STS answer is mint_failed', async (t) => {
  const sts = await standIn(t, () => ({
    status: 200,
    body: '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>',
  }));
  const err = await mintFailure(minter(t, sts.origin).mint(req));
  t.equal(err.code, 'mint_failed');
});

t.test('an unreachable STS is mint_failed at once (no SDK retries)', async (t) => {
  const sts = await standIn(t, (n) => ok(n, T0 + 900_000));
  // A port that was just free: nothing listens there.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  const clock = new ManualClock(T0);
  const err = await mintFailure(minter(t, `http://127.0.0.1:${port}`, { clock }).mint(req));
  t.equal(err.code, 'mint_failed');
  t.equal(clock.now(), T0, 'failed with time standing still, inside the bound');
  t.equal(sts.calls.length, 0);

  // An STS that cuts every connection: one attempt, no retry.
  let connections = 0;
  const cutter = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => cutter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => cutter.close());
  const cut = await mintFailure(minter(t, `http://127.0.0.1:${(cutter.address() as AddressInfo).port}`).mint(req));
  t.equal(cut.code, 'mint_failed');
  t.equal(connections, 1, 'one connection: the SDK does not retry');
});

t.test('a hanging STS is cut off at the 5 s bound', async (t) => {
  const sts = await standIn(t, (n) => ({ ...ok(n, T0 + 900_000), held: true }));
  const clock = new ManualClock(T0);
  const minting = mintFailure(minter(t, sts.origin, { clock }).mint(req));
  let failed: Denial | undefined;
  void minting.then((d) => (failed = d));
  t.ok(await until(() => sts.calls.length === 1), 'the call is out');
  t.same(clock.asked, [STS_TIMEOUT_MS], 'bounded by the STS timeout');
  clock.advance(STS_TIMEOUT_MS - 1);
  await new Promise((r) => setImmediate(r));
  t.equal(failed, undefined, 'still waiting just before the bound');
  clock.advance(1);
  const err = await minting;
  t.equal(err.code, 'mint_failed', 'at the bound the mint fails closed');
  t.equal(sts.calls.length, 1);
});

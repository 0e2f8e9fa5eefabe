// STS faults while minting the scoped identity (SPEC §5, §4 mint_failed): unreachable, slower than
// the mint bound, throttling, answering malformed or truncated XML, resetting. Each is a 503
// mint_failed in the client's own format (never a throttling code: clients retry those), a signed
// deny record with STS's reason, exactly one STS call (no retry storm), nothing upstream, and the
// use given back: once STS answers again the same single-use certificate is admitted.
import t from 'tap';
import type { Answer } from './fakes.js';
import { stsError } from './fakes.js';
import { expectAdmitted, expectAuditTrail, expectDenied, expectHealthy, startWorld } from './world.js';

const w = await startWorld();
t.teardown(() => w.close());

/** The minter's bound on one STS call (src/identity/aws-minter.ts STS_TIMEOUT_MS). */
const MINT_BOUND_MS = 5_000;

interface Case {
  readonly name: string;
  readonly answer?: Answer;
  /** STS not listening at all. */
  readonly down?: boolean;
  /** What the denial detail (record and message) says. */
  readonly detail: RegExp;
  /** The answer comes only after the mint bound. */
  readonly slow?: boolean;
}

const CASES: Case[] = [
  { name: 'STS unreachable (connection refused)', down: true, detail: /ECONNREFUSED/ },
  { name: 'STS slower than the mint bound', answer: { kind: 'ok', delayMs: MINT_BOUND_MS + 3_000 }, detail: /timeout|abort/i, slow: true },
  { name: 'STS throttling (400 Throttling)', answer: { kind: 'status', status: 400, body: stsError('Throttling', 'Rate exceeded') }, detail: /^STS answered Throttling \(Throttling: Rate exceeded\)$/ },
  { name: 'STS failing (500 InternalFailure)', answer: { kind: 'status', status: 500, body: stsError('InternalFailure', 'try later') }, detail: /InternalFailure/ },
  {
    name: 'STS answering 200 with malformed XML',
    answer: { kind: 'status', status: 200, body: '<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA</Acc', type: 'text/xml' },
    detail: /./,
  },
  { name: 'STS answering 200 with an HTML page', answer: { kind: 'status', status: 200, body: '<html><body>captive portal</body></html>', type: 'text/html' }, detail: /./ },
  { name: 'STS answering 200 without credentials', answer: { kind: 'status', status: 200, body: '<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>' }, detail: /no complete credentials/ },
  { name: 'STS cutting its answer short (Content-Length larger than sent)', answer: { kind: 'short-length' }, detail: /./ },
  { name: 'STS resetting the connection', answer: { kind: 'reset' }, detail: /ECONNRESET|socket hang up|closed/i },
];

for (const c of CASES) {
  t.test(`${c.name}: mint_failed, nothing upstream, the use given back`, async (t) => {
    const key = `sts-${CASES.indexOf(c)}`;
    const { jws, jti } = await w.putCert(key);
    const before = { mutations: w.mutations(), sts: w.sts.arrivals.length };
    if (c.down) await w.sts.stop();
    if (c.answer) w.sts.answer = c.answer;
    let started = Date.now();
    try {
      const r = await w.put(key, jws, { timeoutMs: MINT_BOUND_MS + 10_000 });
      const took = Date.now() - started;
      const rec = await expectDenied(t, w, r, { target: 'aws', status: 503, reason: 'mint_failed', certId: jti });
      t.match(rec?.detail, c.detail, `the record says what STS did: ${rec?.detail}`);
      if (c.slow) t.ok(took >= MINT_BOUND_MS - 200 && took < MINT_BOUND_MS + 4_000, `cut at the mint bound (${took} ms)`);
      else t.ok(took < 3_000, `at once (${took} ms)`);
      t.equal(w.sts.arrivals.length - before.sts, c.down ? 0 : 1, 'one STS call, no retries');
      t.notMatch(JSON.stringify(w.records()), 'broker-secret', "the broker's own secret is in no record");
      t.notMatch(r.responses[0]?.body ?? '', 'broker-secret', 'nor in the answer');
    } finally {
      w.sts.answer = { kind: 'ok' };
      if (c.down) await w.sts.listen();
    }
    t.equal(w.mutations(), before.mutations, 'nothing reached the upstream');
    // STS answers again: the same single-use certificate is admitted, with a freshly minted identity.
    started = Date.now();
    const again = await w.put(key, jws);
    await expectAdmitted(t, w, again, 200, jti);
    const admit = await w.recordAt(again.responses[0]?.headers['x-seb-record']);
    t.match(admit?.identity, { type: 'aws', access_key_id: /^ASIAFAKESTS/, cached: false }, 'under an identity minted just now');
  });
}

t.test('the SDK prints the reason too (not a throttling error it would retry)', async (t) => {
  const { agentS3, outcomeOf } = await import('../helpers/aws-sdk.js');
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const put = new PutObjectCommand({ Bucket: 'fault-bkt', Key: 'sts-sdk', Body: 'x' });
  // The op exactly as the SDK sends it, captured through the broker (seb op capture).
  const ops = await w.tb.capture(async (url) => {
    const c = agentS3(url, 'placeholder');
    await outcomeOf(c, put);
    c.destroy();
  });
  t.equal(ops.length, 1, 'captured');
  const { jws, jti } = await w.tb.cert(ops);
  w.sts.answer = { kind: 'status', status: 400, body: stsError('Throttling', 'Rate exceeded') };
  const client = agentS3(`http://127.0.0.1:${w.aws.port}`, jws);
  try {
    const out = await outcomeOf(client, put);
    t.equal(out.status, 503);
    t.match(out.message, `seb denied the request: mint_failed (certificate ${jti})`);
    t.match(out.message, 'STS answered Throttling', "and STS's error code");
    t.notMatch(out.message, 'Rate exceeded', "but not STS's message: that is for the record and the log");
  } finally {
    client.destroy();
    w.sts.answer = { kind: 'ok' };
  }
});

t.test('the broker is healthy afterwards', (t) => expectHealthy(t, w));
t.test('audit trail', (t) => expectAuditTrail(t, w));

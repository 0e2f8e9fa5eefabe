// Upstream faults after a request was admitted and forwarded (SPEC §4: "Upstream failures after
// forwarding are not denials: 502 (unreachable) or 504 (timeout), with an outcome record"), on both
// targets: S3 stands in for AWS, a fake apiserver for Kubernetes. The use is spent (the request went
// out), the client gets an answer in its own format or a visibly cut body, and the broker stays up.
import t, { type Test } from 'tap';
import type { Answer } from './fakes.js';
import { awsErrorMessage, expectAdmitted, expectAuditTrail, expectDenied, expectHealthy, kubeStatusMessage, startWorld, type TargetKind } from './world.js';
import type { RawResult } from '../helpers/raw-http.js';
import { until } from '../helpers/until.js';

/** limits.request_timeout for this broker: the bound on an upstream that does not answer. */
const REQUEST_TIMEOUT_S = 2;

const w = await startWorld({ kube: true, config: { limits: { max_body_bytes: 1024 * 1024, request_timeout: REQUEST_TIMEOUT_S, max_stream: 3600 } } });
t.teardown(() => w.close());

interface Sent {
  readonly r: RawResult;
  readonly jti: string;
  readonly jws: string;
  readonly name: string;
}

async function send(target: TargetKind, answer: Answer, waitClose = false): Promise<Sent> {
  const name = `up-${Math.random().toString(36).slice(2, 10)}`;
  const { jws, jti } = target === 'aws' ? await w.putCert(name) : await w.createCert(name);
  const fake = target === 'aws' ? w.s3 : w.api!;
  fake.answer = answer;
  try {
    const r = target === 'aws' ? await w.put(name, jws, { waitClose, timeoutMs: 15_000 }) : await w.create(name, jws, { waitClose, timeoutMs: 15_000 });
    return { r, jti, jws, name };
  } finally {
    fake.answer = { kind: 'ok' };
  }
}

/** The admit record of a sent request and its outcome (bounded wait). */
async function trail(t: Test, s: Sent) {
  const admit = w.records().find((r) => r.type === 'decision' && r.decision === 'admit' && r.certificate?.jti === s.jti);
  t.ok(admit, 'the request was admitted (signed admit record)');
  t.type(admit?.sig, 'string');
  const outcome = admit ? await w.outcomeOf(admit.seq, 5_000) : undefined;
  t.ok(outcome, 'and has its outcome record');
  return { admit, outcome };
}

/** A second try with the same single-use certificate: the use went out with the first. */
async function usedUp(t: Test, target: TargetKind, s: Sent): Promise<void> {
  const before = w.mutations();
  const again = target === 'aws' ? await w.put(s.name, s.jws) : await w.create(s.name, s.jws);
  await expectDenied(t, w, again, { target, status: 403, reason: 'replay', certId: s.jti });
  t.equal(w.mutations(), before, 'the retry did not reach the upstream');
}

for (const target of ['aws', 'k8s'] as const) {
  const render = (t: Test, res: RawResult['responses'][number]): string => (target === 'aws' ? awsErrorMessage(t, res) : kubeStatusMessage(t, res));

  t.test(`${target}: the upstream resets the connection before answering -> 502`, async (t) => {
    const before = w.mutations();
    const s = await send(target, { kind: 'reset' });
    t.equal(w.mutations(), before + 1, 'the request did reach the upstream');
    const res = s.r.responses[0];
    t.equal(res?.status, 502, '502');
    t.equal(res?.headers['x-seb-decision'], 'admit', 'still an admitted request, not a denial');
    t.notOk(res?.headers['x-seb-reason'], 'no reason code: upstream failures are not denials');
    if (res) t.match(render(t, res), /seb: (upstream unreachable|the apiserver is unreachable)/, 'the client reads that the upstream failed');
    // Issue 11 §7: the upstream's error text names internal addresses; it goes to the record only.
    if (res) t.notMatch(res.body, /127\.0\.0\.1|ECONN|UND_ERR|other side closed|socket/i, "the agent does not read the upstream's error");
    if (res) t.match(render(t, res), `(certificate ${s.jti})`, 'it names the certificate');
    const { admit, outcome } = await trail(t, s);
    t.equal(res?.headers['x-seb-record'], admit ? `${w.tb.broker.records.stream}:${admit.seq}` : 'none', 'X-SEB-Record names the admit record');
    t.match(outcome, { status: 502, error: /./ }, 'the outcome records the 502 and the error');
    await usedUp(t, target, s);
    await expectHealthy(t, w, target);
  });

  t.test(`${target}: the upstream answers nothing within limits.request_timeout -> 504`, async (t) => {
    const s = await send(target, { kind: 'hang' });
    const res = s.r.responses[0];
    t.equal(res?.status, 504, '504');
    const ms = s.r.answeredMs ?? Infinity;
    t.ok(ms >= REQUEST_TIMEOUT_S * 1000 - 100 && ms < REQUEST_TIMEOUT_S * 1000 + 5_000, `answered after about ${REQUEST_TIMEOUT_S} s (${ms} ms)`);
    t.equal(res?.headers['x-seb-decision'], 'admit');
    if (res) t.match(render(t, res), /timed out|not answering/, 'the client reads that the upstream timed out');
    if (res) t.notMatch(res.body, /127\.0\.0\.1|UND_ERR|Timeout Error/i, "the agent does not read the upstream's error");
    const { outcome } = await trail(t, s);
    t.match(outcome, { status: 504, error: /timeout/i }, 'the outcome records the timeout');
    const fake = target === 'aws' ? w.s3 : w.api!;
    t.ok(await until(() => fake.arrivals.at(-1)?.closed === true), 'the broker closed its upstream request');
    await usedUp(t, target, s);
    await expectHealthy(t, w, target);
  });

  for (const status of [500, 503]) {
    t.test(`${target}: the upstream answers ${status} -> relayed as the upstream's own answer`, async (t) => {
      const body = target === 'aws' ? `<Error><Code>InternalError</Code><Message>upstream ${status}</Message></Error>` : JSON.stringify({ kind: 'Status', code: status, message: `upstream ${status}` });
      const s = await send(target, { kind: 'status', status, body, type: target === 'aws' ? 'application/xml' : 'application/json' });
      const res = s.r.responses[0];
      t.equal(res?.status, status);
      t.equal(res?.body, body, "the upstream's body, unchanged");
      t.equal(res?.headers['x-seb-decision'], 'admit');
      const { outcome } = await trail(t, s);
      t.match(outcome, { status, error: null }, 'the outcome records the status the upstream gave');
      await usedUp(t, target, s);
      await expectHealthy(t, w, target);
    });
  }

  const cuts: [string, Answer][] = [
    ['resets the connection in the middle of the body', { kind: 'reset-mid-body' }],
    ['sends less than its Content-Length, then closes', { kind: 'short-length' }],
    ['ends a chunked body without its last chunk', { kind: 'short-chunked' }],
  ];
  for (const [name, answer] of cuts) {
    t.test(`${target}: the upstream ${name} -> the client sees a cut body`, async (t) => {
      const s = await send(target, answer, true);
      const res = s.r.responses[0];
      // The head went out before the body failed: the client must be able to tell the body is cut.
      t.notOk(res, 'no complete response: the framing shows the body is cut');
      t.match(s.r.rest, /^HTTP\/1\.1 200 /, 'the head was relayed');
      t.match(s.r.rest, /x-seb-decision: admit/i);
      t.ok(s.r.closed, 'the broker closed the connection');
      const { outcome } = await trail(t, s);
      t.match(outcome, { status: 200, error: /./ }, 'the outcome records the error after the 200');
      await usedUp(t, target, s);
      await expectHealthy(t, w, target);
    });
  }
}

t.test('a fresh request after all of it is admitted on both targets', async (t) => {
  const name = 'after-all';
  const a = await w.putCert(name);
  await expectAdmitted(t, w, await w.put(name, a.jws), 200, a.jti);
  const k = await w.createCert(name);
  await expectAdmitted(t, w, await w.create(name, k.jws), 201, k.jti);
});

t.test('audit trail', (t) => expectAuditTrail(t, w));

// The shared replay store fails (SPEC §4 replay_unavailable, README "Replicas and the shared
// ledger"): down before a request, hung (SIGSTOP), and killed in the middle of a request, after its
// use was reserved and before it was committed (the broker waiting on STS, or on a drift probe).
// Each is a 503 replay_unavailable in the client's own format with a signed record; a request
// whose use could not be committed is never forwarded (its admit record gets an outcome saying
// so); and once the store is back the broker serves again by itself.
import t, { type Test } from 'tap';
import { startRedis } from '../helpers/redis.js';
import { until } from '../helpers/until.js';
import { expectAdmitted, expectAuditTrail, expectDenied, startWorld, type TargetKind } from './world.js';

const redis = await startRedis();
t.teardown(() => redis.stop());
const w = await startWorld({ kube: true, config: { replay: { store: { redis: { url: redis.url, password_file: redis.passwordFile } } } } });
t.teardown(() => w.close());

const certFor = (target: TargetKind, name: string) => (target === 'aws' ? w.putCert(name) : w.createCert(name, { preState: { absent: true } }));
const send = (target: TargetKind, name: string, jws: string) => (target === 'aws' ? w.put(name, jws) : w.create(name, jws));
const replayReady = async (): Promise<boolean> => {
  const r = await fetch(`${w.tb.adminUrl}/readyz`);
  return ((await r.json()) as { checks?: { replay?: boolean } }).checks?.replay === true;
};
/** The store refuses certificates issued in or before the second it began counting: issue after it. */
const nextSecond = (): Promise<void> => new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000) + 20));

/** The store is back and counting: a certificate issued now is admitted on `target`. */
async function servedAgain(t: Test, target: TargetKind): Promise<void> {
  t.ok(await until(replayReady, 10_000), 'the broker reconnected by itself');
  await nextSecond();
  const name = `redis-back-${target}-${Date.now()}`;
  const { jws, jti } = await certFor(target, name);
  await expectAdmitted(t, w, await send(target, name, jws), target === 'aws' ? 200 : 201, jti);
}

await nextSecond();

for (const target of ['aws', 'k8s'] as const) {
  t.test(`${target}: the store is down: replay_unavailable at once, nothing forwarded`, async (t) => {
    const name = `redis-down-${target}`;
    const { jws, jti } = await certFor(target, name);
    await redis.kill();
    const before = w.mutations();
    const started = Date.now();
    const r = await send(target, name, jws);
    t.ok(Date.now() - started < 3_000, `at once (${Date.now() - started} ms)`);
    await expectDenied(t, w, r, { target, status: 503, reason: 'replay_unavailable', certId: jti });
    t.equal(w.mutations(), before, 'nothing went upstream');
    t.notOk(await replayReady(), '/readyz reports replay: false');
    await redis.restart();
    await servedAgain(t, target);
  });

  t.test(`${target}: the store hangs (SIGSTOP): replay_unavailable within its command timeout`, async (t) => {
    const name = `redis-hung-${target}`;
    const { jws, jti } = await certFor(target, name);
    redis.pause();
    const before = w.mutations();
    const started = Date.now();
    let r;
    try {
      r = await send(target, name, jws);
    } finally {
      redis.resume();
    }
    t.ok(Date.now() - started < 4_000, `bounded (${Date.now() - started} ms)`);
    await expectDenied(t, w, r, { target, status: 503, reason: 'replay_unavailable', certId: jti });
    t.equal(w.mutations(), before, 'nothing went upstream');
    await servedAgain(t, target);
  });

  t.test(`${target}: the store is killed mid-request, after the use was reserved: not forwarded`, async (t) => {
    const name = `redis-mid-${target}`;
    const { jws, jti } = await certFor(target, name);
    const before = w.mutations();
    // AWS: STS takes its time; Kubernetes: the drift probe does. The store dies meanwhile.
    if (target === 'aws') w.sts.answer = { kind: 'ok', delayMs: 1_500 };
    else w.api!.answer = { kind: 'ok', delayMs: 1_500 };
    let r;
    try {
      const pending = send(target, name, jws);
      await new Promise((res) => setTimeout(res, 500));
      await redis.kill();
      r = await pending;
    } finally {
      w.sts.answer = { kind: 'ok' };
      w.api!.answer = { kind: 'ok' };
    }
    await expectDenied(t, w, r, { target, status: 503, reason: 'replay_unavailable', certId: jti });
    const recs = w.records().filter((x) => x.type === 'decision' && x.certificate?.jti === jti);
    t.match(
      recs.map((x) => x.decision),
      ['admit', 'deny'],
      'the admit record was written (write-ahead), then the deny',
    );
    const admit = recs.find((x) => x.decision === 'admit');
    if (admit) t.match(await w.outcomeOf(admit.seq), { status: null, error: /^not forwarded: replay_unavailable/ }, 'its outcome: not forwarded');
    await new Promise((res) => setTimeout(res, 300));
    t.equal(w.mutations(), before, 'the mutation never reached the upstream');
    await redis.restart();
    await servedAgain(t, target);
  });
}

t.test('audit trail', (t) => expectAuditTrail(t, w));

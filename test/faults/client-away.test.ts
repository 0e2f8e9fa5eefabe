// The client goes away (SPEC §4, §8): in the middle of its upload nothing goes upstream and the
// abandoned request is a deny record; after its request was read but before it went upstream (the
// broker waiting on STS or a drift probe) it is not executed for nobody; in the middle of the
// download the broker cancels the upstream request and the outcome record says the client left.
// Both targets; the broker stays healthy.
import t from 'tap';
import { until } from '../helpers/until.js';
import { exchange } from '../helpers/raw-http.js';
import { NAMESPACE, expectAuditTrail, expectHealthy, startWorld, type TargetKind } from './world.js';

const w = await startWorld({ kube: true, config: { limits: { max_body_bytes: 1024 * 1024, request_timeout: 10, max_stream: 3600 } } });
t.teardown(() => w.close());

const decisionFor = (jti: string) => w.records().find((r) => r.type === 'decision' && r.certificate?.jti === jti);

for (const target of ['aws', 'k8s'] as const satisfies readonly TargetKind[]) {
  const fake = target === 'aws' ? w.s3 : w.api!;
  const cert = (name: string, preState?: unknown) => (target === 'aws' ? w.putCert(name) : w.createCert(name, preState === undefined ? {} : { preState }));
  const bytes = (name: string, jws: string) => (target === 'aws' ? w.putBytes(name, jws) : w.createBytes(name, jws));
  const listener = target === 'aws' ? w.aws : w.kube!;

  t.test(`${target}: the client leaves in the middle of its upload`, async (t) => {
    const name = `away-up-${target}`;
    const { jws, jti } = await cert(name);
    const before = w.mutations();
    const full = bytes(name, jws);
    const cut = full.subarray(0, full.length - 10);
    const r = await exchange(listener, cut, { after: (socket) => setTimeout(() => socket.destroy(), 200), timeoutMs: 5_000 });
    t.notOk(r.timedOut, 'the client left by itself');
    let rec: ReturnType<typeof decisionFor>;
    t.ok(await until(() => (rec = decisionFor(jti)) !== undefined), 'the abandoned request has a decision record');
    t.match(rec!, { decision: 'deny', reason: 'unparseable_request', detail: /went away/ }, 'a deny: the client went away while sending the body');
    t.type(rec!.sig, 'string', 'signed');
    // Issue 11 §7: an abandoned request is told from a malformed one by its outcome.
    t.match(await w.outcomeOf(rec!.seq), { outcome: 'client_gone', status: null }, 'its outcome record says client_gone');
    await new Promise((r) => setTimeout(r, 200));
    t.equal(w.mutations(), before, 'nothing reached the upstream');
    await expectHealthy(t, w, target);
  });

  t.test(`${target}: the client leaves after its request, while the broker is still admitting it`, async (t) => {
    const name = `away-wait-${target}`;
    // AWS: STS takes its time to mint; Kubernetes: the drift probe takes its time to answer.
    const { jws, jti } = await cert(name, { absent: true });
    const before = w.mutations();
    if (target === 'aws') w.sts.answer = { kind: 'ok', delayMs: 1_000 };
    else w.api!.answer = { kind: 'ok', delayMs: 1_000 };
    try {
      const r = await exchange(listener, bytes(name, jws), { after: (socket) => setTimeout(() => socket.destroy(), 300), timeoutMs: 5_000 });
      t.equal(r.responses.length, 0, 'the client left before any answer');
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      w.sts.answer = { kind: 'ok' };
      w.api!.answer = { kind: 'ok' };
    }
    t.equal(w.mutations(), before, 'a request whose client is gone is not executed');
    const recs = w.records().filter((r) => r.type === 'decision' && r.certificate?.jti === jti);
    t.ok(recs.length >= 1, 'it has its decision record');
    for (const rec of recs.filter((r) => r.decision === 'admit')) {
      t.match(await w.outcomeOf(rec.seq), { outcome: 'client_gone', status: null, error: /^not forwarded: .*client/ }, 'an admit is followed by an outcome: client_gone, not forwarded');
    }
    t.notOk(recs.some((r) => r.decision === 'deny' && r.reason === 'unparseable_request'), 'and no unparseable_request deny: the request was well formed');
    // The use was given back: the same single-use certificate still works once.
    const again = target === 'aws' ? await w.put(name, jws) : await w.create(name, jws);
    t.equal(again.responses[0]?.status, target === 'aws' ? 200 : 201, 'the certificate was not spent on the abandoned request');
  });

  t.test(`${target}: the client leaves in the middle of the download`, async (t) => {
    const name = `away-down-${target}`;
    const { jws, jti } = await cert(name);
    fake.answer = { kind: 'trickle', everyMs: 50 };
    let sawHead = false;
    try {
      await exchange(listener, bytes(name, jws), {
        timeoutMs: 5_000,
        waitClose: true,
        after: (socket) => {
          socket.on('data', (c: Buffer) => {
            if (!sawHead && c.includes('\r\n\r\n')) {
              sawHead = true;
              setTimeout(() => socket.destroy(), 200);
            }
          });
        },
      });
    } finally {
      fake.answer = { kind: 'ok' };
    }
    t.ok(sawHead, 'the download had begun');
    const admit = w.records().find((r) => r.type === 'decision' && r.decision === 'admit' && r.certificate?.jti === jti);
    t.ok(admit, 'admitted, with its record');
    const outcome = admit ? await w.outcomeOf(admit.seq) : undefined;
    t.match(outcome, { outcome: 'client_gone', status: 200, error: /client closed the connection/ }, 'the outcome record says the client left (client_gone)');
    t.ok((outcome as { bytes_out?: number } | undefined)?.bytes_out, 'and how much it had been sent');
    t.ok(await until(() => fake.arrivals.at(-1)?.closed === true), 'the broker cancelled the upstream request');
    await expectHealthy(t, w, target);
  });
}

t.test('k8s: the client leaves while its exec session is being admitted: no session is opened', async (t) => {
  const { jws, jti } = await w.tb.cert([
    {
      target: 'k8s',
      verb: 'create',
      group: '',
      version: 'v1',
      resource: 'pods',
      subresource: 'exec',
      path_suffix: null,
      namespace: NAMESPACE,
      name: 'p1',
      generate_name: null,
      params: { command: ['rm', '-rf', '/data'], stdout: ['true'] },
      content_type: null,
      body: null,
      // Probed first (the fake apiserver answers 404: absent holds), slowly: the client leaves meanwhile.
      pre_state: { absent: true },
      max_uses: 1,
    },
  ]);
  const upgrade = [
    `GET /api/v1/namespaces/${NAMESPACE}/pods/p1/exec?command=rm&command=-rf&command=%2Fdata&stdout=true HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Protocol: v5.channel.k8s.io',
    `Authorization: Bearer ${jws}`,
  ].join('\r\n');
  const sessions = () => w.api!.arrivals.filter((a) => a.url.includes('/exec')).length;
  w.api!.answer = { kind: 'ok', delayMs: 1_000 };
  try {
    const r = await exchange(w.kube!, `${upgrade}\r\n\r\n`, { after: (socket) => setTimeout(() => socket.destroy(), 300), timeoutMs: 5_000 });
    t.equal(r.responses.length, 0, 'the client left before any answer');
    await new Promise((res) => setTimeout(res, 2_000));
  } finally {
    w.api!.answer = { kind: 'ok' };
  }
  t.equal(sessions(), 0, 'no exec session was opened upstream');
  const admit = w.records().find((r) => r.type === 'decision' && r.decision === 'admit' && r.certificate?.jti === jti);
  t.ok(admit, 'it was admitted (the record was written before the client was seen to be gone)');
  if (admit) t.match(await w.outcomeOf(admit.seq), { status: null, error: /^not forwarded: .*client went away/ }, 'and its outcome says not forwarded');
});

t.test('audit trail', (t) => expectAuditTrail(t, w));

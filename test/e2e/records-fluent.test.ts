// records.sink: {fluent: ...} end to end (SPEC §8): a broker's records reach a forward-protocol
// receiver as structured records that still verify, and a receiver that stops acknowledging makes
// the broker deny mutations audit_unavailable before anything goes upstream.
import t from 'tap';
import { S3Client, PutObjectCommand, HeadObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { onlyAwsOp, startTestBroker } from '../helpers/broker.js';
import { agentS3, outcomeOf } from '../helpers/aws-sdk.js';
import { startFluentReceiver, type FluentReceiver } from '../helpers/fluent-receiver.js';
import { until } from '../helpers/until.js';
import { verifyRecords } from '../../src/records/verify.js';
import type { AwsOp } from '../../src/certificate/types.js';

const TAG = 'seb.audit';
const moto = await startMoto();
t.teardown(() => moto.stop());
let rx: FluentReceiver = await startFluentReceiver();
const receivers = [rx];
t.teardown(() => Promise.all(receivers.map((r) => r.close())));
const tb = await startTestBroker(moto, { config: { records: { sink: { fluent: { host: '127.0.0.1', port: rx.port, tag: TAG } } } } });
let closed = false;
t.teardown(() => (closed ? undefined : tb.close()));

const admin = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: moto.admin, forcePathStyle: true });
t.teardown(() => admin.destroy());
await admin.send(new CreateBucketCommand({ Bucket: 'audited' }));

const put = (key: string, body: string) => new PutObjectCommand({ Bucket: 'audited', Key: key, Body: body });
const stored = (key: string): Promise<boolean> =>
  admin.send(new HeadObjectCommand({ Bucket: 'audited', Key: key })).then(
    () => true,
    () => false,
  );
const records = (): Record<string, unknown>[] => receivers.flatMap((r) => r.records.map((x) => x.record));
const ready = async (): Promise<number> => (await fetch(`${tb.adminUrl}/readyz`)).status;

/** The op a PutObject of `key` needs, captured through the broker (its capturing twin logs to the receiver too). */
async function putOp(key: string, body: string): Promise<AwsOp> {
  const ops = await tb.capture(async (url) => {
    const c = agentS3(url, 'placeholder');
    try {
      await c.send(put(key, body));
    } finally {
      c.destroy();
    }
  });
  return onlyAwsOp(ops);
}

async function send(token: string, key: string, body: string) {
  const c = agentS3(tb.url, token);
  try {
    return await outcomeOf(c, put(key, body));
  } finally {
    c.destroy();
  }
}

t.test('admitted and denied requests reach the receiver as tagged, structured records', async (t) => {
  const { jws, jti } = await tb.cert([await putOp('admitted.txt', 'one\n')]);
  const ok = await send(jws, 'admitted.txt', 'one\n');
  t.equal(ok.status, 200, ok.message);
  t.ok(await stored('admitted.txt'));
  const other = await tb.cert([await putOp('elsewhere.txt', 'two\n')]);
  const denied = await send(other.jws, 'not-certified.txt', 'two\n');
  t.equal(denied.status, 403);
  t.match(denied.message, 'contract_mismatch');
  t.notOk(await stored('not-certified.txt'));

  const forCert = (id: string) => records().filter((r) => (r.certificate as { jti?: string } | null)?.jti === id);
  t.ok(await until(() => records().some((r) => r.type === 'outcome' && r.decision_seq === forCert(jti)[0]?.seq), 10_000), 'the outcome arrives after the response');
  t.match(forCert(jti), [{ type: 'decision', decision: 'admit', broker: 'seb-test' }]);
  t.match(forCert(other.jti), [{ type: 'decision', decision: 'deny', reason: 'contract_mismatch' }]);
  t.ok(rx.records.every((r) => r.tag === TAG), 'every record carries the configured tag');
  t.equal(await ready(), 200);
});

t.test('a receiver that stops acknowledging: the mutation is denied audit_unavailable and not forwarded', async (t) => {
  const { jws, jti } = await tb.cert([await putOp('unaudited.txt', 'three\n')]);
  rx.answer = 'refuse';
  const denied = await send(jws, 'unaudited.txt', 'three\n');
  t.equal(denied.status, 503, 'refused once the ack timed out');
  t.match(denied.message, 'seb denied the request: audit_unavailable');
  t.match(denied.message, `certificate ${jti}`);
  t.notOk(await stored('unaudited.txt'), 'nothing reached S3');
  t.equal(await ready(), 503, '/readyz says not ready while the sink cannot write');

  rx.answer = 'ack';
  t.ok(await until(async () => (await ready()) === 200, 15_000), 'ready again once the receiver acknowledges');
  // The refused write-ahead line is written once the sink works, followed by the request's deny.
  t.ok(await until(() => records().some((r) => r.reason === 'audit_unavailable'), 10_000), 'the deny record arrives');
  const mine = records().filter((r) => (r.certificate as { jti?: string } | null)?.jti === jti);
  t.match(mine, [
    { type: 'decision', decision: 'admit' },
    { type: 'decision', decision: 'deny', reason: 'audit_unavailable' },
  ]);
  t.notOk(records().some((r) => r.type === 'outcome' && r.decision_seq === mine[0]?.seq), 'no outcome: the admit never went upstream');
});

t.test('/readyz follows the connection; a restarted receiver is found again', async (t) => {
  const port = rx.port;
  await rx.close();
  t.ok(await until(async () => (await ready()) === 503, 10_000), 'not ready while the receiver is gone, without any write');
  rx = await startFluentReceiver({ port });
  receivers.push(rx);
  t.ok(await until(async () => (await ready()) === 200, 15_000), 'ready once it is back');
});

t.test('everything the receivers got, as JSON lines, passes seb records verify', async (t) => {
  closed = true;
  await tb.close();
  const lines = receivers.flatMap((r) => r.lines());
  const report = await verifyRecords(
    (async function* () {
      yield* lines;
    })(),
    { keys: [tb.brokerKey.publicJwk] },
  );
  t.match(report, { ok: true }, JSON.stringify(report));
  if (report.ok) {
    t.ok(report.streams.length >= 2, 'the broker and its capturing twins');
    t.ok(report.streams.every((s) => s.ended), 'every stream ended: the end records were acknowledged at shutdown');
  }
  t.ok(records().some((r) => r.reason === 'audit_unavailable') && records().some((r) => r.decision === 'admit'), 'the verified input holds the admits and the audit_unavailable deny');
});

// Use accounting against a real moto (SPEC §2.1 max_uses, §4 replay): concurrent requests with one
// certificate never get more uses than it grants, a use is given back when the request fails
// before it was forwarded, and the memory ledger refuses certificates older than the process.
import t, { type Test } from 'tap';
import { S3Client, PutObjectCommand, GetObjectCommand, CreateBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { onlyAwsOp, startTestBroker, type TestBroker } from '../helpers/broker.js';
import type { AwsOp } from '../../src/certificate/types.js';
import { agentS3, outcomeOf, type Outcome } from '../helpers/aws-sdk.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());

const region = 'us-east-1';
const admin = new S3Client({ endpoint: moto.endpoint, region, credentials: moto.admin, forcePathStyle: true });
t.teardown(() => admin.destroy());
await admin.send(new CreateBucketCommand({ Bucket: 'ledger' }));

const agent = agentS3;

const put = (key: string, body: string) => new PutObjectCommand({ Bucket: 'ledger', Key: key, Body: body });

/** The op the request `call` sends needs, captured through `broker`. */
async function capturedOp(broker: TestBroker, call: (client: S3Client) => Promise<unknown>): Promise<AwsOp> {
  const ops = await broker.capture(async (url) => {
    const c = agent(url, 'placeholder');
    try {
      await call(c);
    } finally {
      c.destroy();
    }
  });
  return onlyAwsOp(ops);
}

/** The op PutObject of `key` needs. */
const putOp = (broker: TestBroker, key: string, body: string): Promise<AwsOp> => capturedOp(broker, (c) => c.send(put(key, body)));

const send = (client: S3Client, key: string, body: string): Promise<Outcome> => outcomeOf(client, put(key, body));

/** Sends `n` identical requests at once through one client (one connection pool). */
async function concurrently(url: string, token: string, n: number, key: string, body: string): Promise<Outcome[]> {
  return concurrentlyDo(url, token, n, (client) => send(client, key, body));
}

async function concurrentlyDo(url: string, token: string, n: number, call: (client: S3Client) => Promise<Outcome>): Promise<Outcome[]> {
  const client = agent(url, token);
  try {
    return await Promise.all(Array.from({ length: n }, () => call(client)));
  } finally {
    client.destroy();
  }
}

/**
 * DeleteObject of a key that does not exist: S3 answers 204 and changes nothing. Used where several
 * admitted requests reach moto at once: its threaded server races on concurrent writes of one key
 * (a PutObject that replaces the object another PutObject is still answering for makes that one a
 * 500 page), while deleting an absent key touches no state and answers the same every time.
 */
const del = (key: string): DeleteObjectCommand => new DeleteObjectCommand({ Bucket: 'ledger', Key: key });
const sendDelete = (client: S3Client, key: string): Promise<Outcome> =>
  client.send(del(key)).then(
    (out) => ({ status: out.$metadata.httpStatusCode, message: '' }),
    (err: { $metadata?: { httpStatusCode?: number }; message?: string }) => ({ status: err.$metadata?.httpStatusCode, message: err.message ?? String(err) }),
  );

type Rec = { type: string; decision?: string; reason?: string; certificate?: { jti?: string } | null };
const decisionsFor = (lines: readonly string[], jti: string): Rec[] =>
  lines.map((l) => JSON.parse(l) as Rec).filter((r) => r.type === 'decision' && r.certificate?.jti === jti);

async function stored(key: string): Promise<string | null> {
  try {
    const got = await admin.send(new GetObjectCommand({ Bucket: 'ledger', Key: key }));
    return (await got.Body?.transformToString()) ?? null;
  } catch {
    return null;
  }
}

function tally(t: Test, outcomes: Outcome[], admitted: number, jti: string, okStatus = 200): void {
  const ok = outcomes.filter((o) => o.status === okStatus);
  const replay = outcomes.filter((o) => o.status === 403 && o.message.includes('seb denied the request: replay') && o.message.includes(`certificate ${jti}`));
  t.equal(ok.length, admitted, `exactly ${admitted} of ${outcomes.length} succeeded`);
  t.equal(replay.length, outcomes.length - admitted, 'every other one was refused as replay (403, naming the certificate)');
  const other = outcomes.filter((o) => !ok.includes(o) && !replay.includes(o));
  t.same(other, [], 'no other outcome');
}

t.test('a single-use certificate sent by 20 concurrent requests is admitted exactly once', async (t) => {
  const body = 'only once\n';
  const op = await putOp(tb, 'once.txt', body);
  t.match(op, { service: 's3', operation: 'PutObject', resource: 'arn:aws:s3:::ledger/once.txt', max_uses: 1 });
  const { jws, jti } = await tb.cert([op]);
  const outcomes = await concurrently(tb.url, jws, 20, 'once.txt', body);
  tally(t, outcomes, 1, jti);
  const recs = decisionsFor(tb.records, jti);
  t.equal(recs.filter((r) => r.decision === 'admit').length, 1, 'exactly one admit record for the certificate');
  t.equal(recs.filter((r) => r.decision === 'deny' && r.reason === 'replay').length, 19, 'a replay deny record for each of the others');
  t.equal(await stored('once.txt'), body, 'the one admitted request reached S3');
});

t.test('max_uses: 3 admits exactly 3 of 10 concurrent requests', async (t) => {
  // Three admitted requests reach moto at once: a DeleteObject of an absent key, not a PutObject.
  const op = { ...(await capturedOp(tb, (c) => c.send(del('thrice.txt')))), max_uses: 3 };
  t.match(op, { service: 's3', operation: 'DeleteObject', resource: 'arn:aws:s3:::ledger/thrice.txt' });
  const { jws, jti } = await tb.cert([op]);
  const outcomes = await concurrentlyDo(tb.url, jws, 10, (c) => sendDelete(c, 'thrice.txt'));
  tally(t, outcomes, 3, jti, 204);
  const recs = decisionsFor(tb.records, jti);
  t.equal(recs.filter((r) => r.decision === 'admit').length, 3, 'exactly three admit records');
  t.equal(recs.filter((r) => r.decision === 'deny' && r.reason === 'replay').length, 7, 'seven replay deny records');
  // Spent is spent: a later request gets nothing either.
  const later = await concurrentlyDo(tb.url, jws, 1, (c) => sendDelete(c, 'thrice.txt'));
  tally(t, later, 0, jti, 204);
});

t.test('a use is released when the request fails before it is forwarded', async (t) => {
  // A Node Writable whose write fails is destroyed for good, so it cannot model a sink that comes
  // back; this sink has the one surface the broker's stdout sink uses (on, write with a callback).
  let broken = false;
  const lines: string[] = [];
  const sink = {
    on() {
      return sink;
    },
    write(chunk: string, cb?: (err?: Error | null) => void): boolean {
      const fail = broken;
      if (!fail) lines.push(...chunk.split('\n').filter(Boolean));
      setImmediate(() => cb?.(fail ? new Error('disk full') : null));
      return true;
    },
  };
  const failing = await startTestBroker(moto, { recordsOut: sink as unknown as NodeJS.WritableStream });
  t.teardown(() => failing.close());
  const body = 'after the sink recovered\n';
  const { jws, jti } = await failing.cert([await putOp(failing, 'released.txt', body)]);

  broken = true;
  const [denied] = await concurrently(failing.url, jws, 1, 'released.txt', body);
  t.equal(denied?.status, 503, 'refused while the record sink fails');
  t.match(denied?.message, 'seb denied the request: audit_unavailable');
  t.match(denied?.message, `certificate ${jti}`);
  t.equal(await stored('released.txt'), null, 'nothing reached S3');

  broken = false;
  const [admitted] = await concurrently(failing.url, jws, 1, 'released.txt', body);
  t.equal(admitted?.status, 200, `the same single-use certificate is admitted once the sink works: ${admitted?.message}`);
  t.equal(await stored('released.txt'), body, 'and its request reached S3');
  // The write-ahead line the sink refused is retried once it works, so the stream may hold that
  // earlier admit line (and its audit_unavailable deny) in either order with the admit that went
  // out; the admit that went out is the one whose outcome says S3 answered. It follows the response.
  const admits = (): number[] => decisionsFor(lines, jti).flatMap((r) => ((r as Rec & { seq?: number }).decision === 'admit' ? [(r as Rec & { seq: number }).seq] : []));
  let outcome: { type: string; decision_seq?: number; status?: number } | undefined;
  for (let i = 0; i < 100 && !outcome; i++) {
    outcome = lines.map((l) => JSON.parse(l) as NonNullable<typeof outcome>).find((r) => r.type === 'outcome' && admits().includes(r.decision_seq ?? -1));
    if (!outcome) await new Promise((r) => setTimeout(r, 20));
  }
  t.match(outcome, { status: 200 }, 'an admit decision for the certificate has an outcome record: S3 answered 200');

  // The use that was given back is now spent.
  const [again] = await concurrently(failing.url, jws, 1, 'released.txt', body);
  t.equal(again?.status, 403);
  t.match(again?.message, 'seb denied the request: replay');
});

t.test('memory ledger: a certificate issued before the broker started is refused as replay', async (t) => {
  // A broker started just now, so "10 s ago" is before its start whatever ran before this test.
  const fresh = await startTestBroker(moto);
  t.teardown(() => fresh.close());
  const body = 'issued before start\n';
  const op = await putOp(fresh, 'old.txt', body);
  const old = await fresh.cert([op], { iat: Math.floor(Date.now() / 1000) - 10 });
  const [refused] = await concurrently(fresh.url, old.jws, 1, 'old.txt', body);
  t.equal(refused?.status, 403);
  t.match(refused?.message, 'seb denied the request: replay');
  t.match(refused?.message, `certificate ${old.jti}`);
  t.match(refused?.message, 'issued before this broker started');
  t.match(decisionsFor(fresh.records, old.jti), [{ decision: 'deny', reason: 'replay' }], 'a replay deny record');
  t.equal(await stored('old.txt'), null, 'nothing reached S3');

  // The same op in a certificate issued now is admitted: the refusal was the issue time alone.
  const current = await fresh.cert([op]);
  const [ok] = await concurrently(fresh.url, current.jws, 1, 'old.txt', body);
  t.equal(ok?.status, 200, ok?.message);
  t.equal(await stored('old.txt'), body);
});

// Two `seb run` processes sharing one Redis ledger against moto (SPEC §4 use accounting across
// replicas): a single-use certificate is admitted exactly once however the tries are split over
// the brokers, and a store that is gone is a replay_unavailable deny the unmodified client prints.
import t, { type Test } from 'tap';
import { S3Client, PutObjectCommand, GetObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { startRedis } from '../helpers/redis.js';
import { captureOps, makeDeployment, startSebRun, type SebRun } from '../helpers/seb-run.js';
import { agentS3, outcomeOf, type Outcome } from '../helpers/aws-sdk.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const redis = await startRedis();
t.teardown(() => redis.stop());
const deployment = await makeDeployment(moto);
t.teardown(() => deployment.close());

const replay = { store: { redis: { url: redis.url, password_file: redis.passwordFile } } };
const brokers: SebRun[] = [];
for (const name of ['seb-a', 'seb-b']) {
  const broker = await startSebRun(deployment.config(name, { replay }));
  t.teardown(() => broker.stop());
  brokers.push(broker);
}
const [a, b] = brokers as [SebRun, SebRun];
/**
 * The store refuses certificates issued in or before the second it began counting (when the first
 * broker connected, or again after it lost its memory): wait for the next second before issuing.
 */
const nextSecond = (): Promise<void> => new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000) + 10));
await nextSecond();

const region = 'us-east-1';
const admin = new S3Client({ endpoint: moto.endpoint, region, credentials: moto.admin, forcePathStyle: true });
t.teardown(() => admin.destroy());
await admin.send(new CreateBucketCommand({ Bucket: 'shared' }));

const agent = agentS3;
const put = (key: string, body: string) => new PutObjectCommand({ Bucket: 'shared', Key: key, Body: body });

const send = (client: S3Client, key: string, body: string): Promise<Outcome> => outcomeOf(client, put(key, body));

/** `n` tries at once, alternating between the two brokers (one client, one pool, per broker). */
async function splitOverBoth(token: string, n: number, key: string, body: string): Promise<Outcome[]> {
  const clients = [agent(a.aws, token), agent(b.aws, token)];
  try {
    return await Promise.all(Array.from({ length: n }, (_, i) => send(clients[i % 2]!, key, body)));
  } finally {
    for (const c of clients) c.destroy();
  }
}

async function putOp(key: string, body: string): Promise<unknown> {
  const ops = await captureOps(deployment.config('capture'), moto.account, async (url) => {
    const c = agent(url, 'placeholder');
    try {
      await c.send(put(key, body));
    } finally {
      c.destroy();
    }
  });
  if (ops.length !== 1) throw new Error(`expected one captured op, got ${ops.length}`);
  return ops[0];
}

type Rec = { type: string; decision?: string; reason?: string; broker?: string; certificate?: { jti?: string } | null };
/**
 * The decision records for `jti` once `count` of them have arrived: each broker writes a record
 * before it answers, but its stdout reaches this process on its own schedule (bounded wait).
 */
async function decisionsFor(jti: string, count: number): Promise<Rec[]> {
  const read = (): Rec[] =>
    brokers.flatMap((br) => br.records.map((l) => JSON.parse(l) as Rec)).filter((r) => r.type === 'decision' && r.certificate?.jti === jti);
  const deadline = Date.now() + 5_000;
  while (read().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return read();
}

/**
 * Tries that got past the broker are counted by the answer not being the broker's: moto 5.2.1's S3
 * can answer 500 when several admitted requests write one key at once, and that is the upstream's
 * answer to an admitted request.
 */
function tally(t: Test, outcomes: readonly Outcome[], admitted: number, jti: string): void {
  const passed = outcomes.filter((o) => !o.message.includes('seb denied the request'));
  const refused = outcomes.filter((o) => o.status === 403 && o.message.includes('seb denied the request: replay') && o.message.includes(`certificate ${jti}`));
  const upstream = passed.map((o) => o.status ?? o.message).join(', ');
  t.equal(passed.length, admitted, `exactly ${admitted} of ${outcomes.length} passed the broker (upstream answered: ${upstream})`);
  t.equal(refused.length, outcomes.length - admitted, 'every other one was refused as replay, naming the certificate');
}

t.test('both brokers are ready with the shared store', async (t) => {
  for (const br of brokers) {
    const ready = await fetch(`${br.admin}/readyz`);
    t.equal(ready.status, 200);
    t.match(await ready.json(), { ready: true, checks: { replay: true } });
  }
});

t.test('a single-use certificate: 50 concurrent tries over both brokers, admitted exactly once', async (t) => {
  const body = 'once across replicas\n';
  const { jws, jti } = await deployment.cert([await putOp('once.txt', body)]);
  const outcomes = await splitOverBoth(jws, 50, 'once.txt', body);
  tally(t, outcomes, 1, jti);
  const recs = await decisionsFor(jti, 50);
  t.equal(recs.filter((r) => r.decision === 'admit').length, 1, 'one admit record in the two streams');
  t.equal(recs.filter((r) => r.decision === 'deny' && r.reason === 'replay').length, 49, 'a replay deny record for each other try');
  t.same(new Set(recs.map((r) => r.broker)), new Set(['seb-a', 'seb-b']), 'both brokers decided some of them');
  const got = await admin.send(new GetObjectCommand({ Bucket: 'shared', Key: 'once.txt' }));
  t.equal(await got.Body?.transformToString(), body, 'the one admitted request reached S3');
});

t.test('max_uses 3 holds across both brokers', async (t) => {
  const body = 'three times across replicas\n';
  const op = { ...((await putOp('thrice.txt', body)) as object), max_uses: 3 };
  const { jws, jti } = await deployment.cert([op]);
  tally(t, await splitOverBoth(jws, 20, 'thrice.txt', body), 3, jti);
  tally(t, await splitOverBoth(jws, 2, 'thrice.txt', body), 0, jti);
  const recs = await decisionsFor(jti, 22);
  t.equal(recs.filter((r) => r.decision === 'admit').length, 3, 'three admit records in the two streams');
  t.equal(recs.filter((r) => r.decision === 'deny' && r.reason === 'replay').length, 19, 'a replay deny record for each other try');
});

t.test('Redis killed: replay_unavailable, readable by the client; back: served again', async (t) => {
  const body = 'while the store is down\n';
  const op = await putOp('down.txt', body);
  const before = await deployment.cert([op]);
  await redis.kill();

  const [denied] = await splitOverBoth(before.jws, 1, 'down.txt', body);
  t.equal(denied?.status, 503);
  t.match(denied?.message, 'seb denied the request: replay_unavailable');
  t.match(denied?.message, `certificate ${before.jti}`);
  t.match(await decisionsFor(before.jti, 1), [{ decision: 'deny', reason: 'replay_unavailable' }], 'a replay_unavailable deny record');
  const ready = await fetch(`${a.admin}/readyz`);
  t.equal(ready.status, 503, '/readyz says not ready');
  t.match(await ready.json(), { ready: false, checks: { replay: false } });

  // The restarted store is empty: it cannot know whether `before` was used, so it refuses it.
  await redis.restart();
  let back = false;
  for (let i = 0; i < 50 && !back; i++) {
    back = (await Promise.all(brokers.map(async (br) => (await fetch(`${br.admin}/readyz`)).status === 200))).every(Boolean);
    if (!back) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(back, 'both brokers reconnected by themselves');
  const [old] = await splitOverBoth(before.jws, 1, 'down.txt', body);
  t.equal(old?.status, 403);
  t.match(old?.message, 'seb denied the request: replay');
  t.match(old?.message, 'issued no later than the second the shared replay store began counting');
  // A certificate issued since the brokers reconnected is served.
  await nextSecond();
  const after = await deployment.cert([op]);
  tally(t, await splitOverBoth(after.jws, 4, 'down.txt', body), 1, after.jti);
});

t.test('both brokers stop cleanly on SIGTERM', async (t) => {
  for (const br of brokers) t.equal(await br.stop(), 0, 'exit status 0', { stderr: br.stderr() });
});

// Reads (SPEC §7) and the admin listener (SPEC §1), against moto with authentication on.
import t from 'tap';
import { S3Client, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { awsCli } from '../helpers/aws-cli.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const admin = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: moto.admin, forcePathStyle: true });
await admin.send(new CreateBucketCommand({ Bucket: 'shelf' }));
await admin.send(new PutObjectCommand({ Bucket: 'shelf', Key: 'book.txt', Body: 'chapter one' }));

t.test('reads: allow — a read needs no certificate, goes out under the read executor, and is recorded', async (t) => {
  const tb = await startTestBroker(moto);
  t.teardown(() => tb.close());
  const list = await awsCli(['s3api', 'list-objects-v2', '--bucket', 'shelf'], tb.url, null);
  t.equal(list.code, 0, list.stderr);
  t.match(JSON.parse(list.stdout), { Contents: [{ Key: 'book.txt' }] });
  const get = await awsCli(['s3', 'cp', 's3://shelf/book.txt', '-'], tb.url, null);
  t.equal(get.code, 0, get.stderr);
  t.equal(get.stdout, 'chapter one');
  const reads = tb.records.map((l) => JSON.parse(l)).filter((r) => r.type === 'decision' && r.decision === 'read');
  t.ok(reads.length >= 2);
  t.match(reads[0], { certificate: null, identity: { type: 'aws', role_arn: moto.roles.reader }, request: { operation: 'ListObjectsV2' } });
  // A mutation is not a read: without a certificate it is refused.
  const put = await awsCli(['s3api', 'put-object', '--bucket', 'shelf', '--key', 'graffiti', '--body', '/etc/hostname'], tb.url, null);
  t.not(put.code, 0);
  t.match(put.stderr, 'no_certificate');
});

t.test('reads: certify — a read without a certificate is refused', async (t) => {
  const tb = await startTestBroker(moto, { config: { reads: 'certify' } });
  t.teardown(() => tb.close());
  const list = await awsCli(['s3api', 'list-objects-v2', '--bucket', 'shelf'], tb.url, null);
  t.not(list.code, 0);
  t.match(list.stderr, 'no_certificate');
});

t.test('the admin listener: health, readiness, metrics, keys', async (t) => {
  const tb = await startTestBroker(moto);
  t.teardown(() => tb.close());
  await awsCli(['s3api', 'list-objects-v2', '--bucket', 'shelf'], tb.url, null);
  t.equal((await fetch(`${tb.adminUrl}/healthz`)).status, 200);
  const ready = await fetch(`${tb.adminUrl}/readyz`);
  t.equal(ready.status, 200);
  t.match(await ready.json(), { ready: true, checks: { trust: true, authority: true, records: true } });
  const metrics = await (await fetch(`${tb.adminUrl}/metrics`)).text();
  t.match(metrics, /seb_requests_total\{target="aws",decision="read",reason=""\} 1/);
  t.match(metrics, /seb_stage_seconds_bucket\{.*stage="upstream"/);
  t.match(metrics, /seb_mint_cache_total\{result="miss"\} 1/);
  const keys = (await (await fetch(`${tb.adminUrl}/keys`)).json()) as { keys: { kid: string; d?: string }[] };
  t.equal(keys.keys[0]!.kid, tb.brokerKey.kid);
  t.notOk('d' in keys.keys[0]!, 'no private key material');

  // A stale authority state turns readiness off (fail closed).
  await tb.publishAuthority({ iat: Math.floor(Date.now() / 1000) - 120, maxAge: 30 });
  t.equal((await fetch(`${tb.adminUrl}/readyz`)).status, 503);
});

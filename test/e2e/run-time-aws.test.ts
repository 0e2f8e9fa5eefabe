// SPEC §2.2 end to end with the real aws CLI against moto (signature checking on), each command
// run unchanged: `ec2 run-instances` without --client-token (the CLI generates the token, the
// broker checks its form and spends it once), and `s3 cp` of a 20 MB file (multipart: the capture
// broker answers Create and each UploadPart itself, the certificate binds uploadId and the part
// ETags to what S3 answered at run time). Capture -> certify -> execute -> state -> replay refused.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client, CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { EC2Client, DescribeImagesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { agentEnv, type CliResult } from '../helpers/aws-cli.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());
const adminCfg = { endpoint: moto.endpoint, region: 'us-east-1', credentials: moto.admin };
const s3 = new S3Client({ ...adminCfg, forcePathStyle: true });
const ec2 = new EC2Client(adminCfg);

/** The agent's aws CLI, with its default checksums (CRC32 on every upload). */
function aws(args: readonly string[], url: string, token: string): Promise<CliResult> {
  const bin = requirePeer('aws', INSTALL_HINTS.aws);
  const env = agentEnv(url, token);
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
const records = () => tb.records.map((l) => JSON.parse(l));

t.test('aws ec2 run-instances without --client-token', async (t) => {
  const image = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
  const command = ['ec2', 'run-instances', '--image-id', image, '--count', '1', '--instance-type', 't3.micro'];
  const ops = await tb.capture((url) => aws(command, url, 'placeholder'));
  t.equal(ops.length, 1);
  t.match(ops[0], { service: 'ec2', operation: 'RunInstances', body: { sha256: /^[0-9a-f]{64}$/ }, volatile: [{ at: 'form:ClientToken', kind: 'idempotency_token' }] });
  const { jws, jti } = await tb.cert(ops);
  const ok = await aws(command, tb.url, jws);
  t.equal(ok.code, 0, ok.stderr);
  const instance = JSON.parse(ok.stdout).Instances[0].InstanceId as string;
  const seen = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance] }))).Reservations![0]!.Instances![0]!;
  t.equal(seen.ImageId, image, 'the instance runs upstream');
  const admitted = records().find((r) => r.decision === 'admit' && r.certificate?.jti === jti);
  t.match(admitted?.request.run_time_values, [{ at: 'form:ClientToken', kind: 'idempotency_token', value: /^[0-9a-f-]{36}$/ }]);
  const again = await aws(command, tb.url, jws);
  t.not(again.code, 0);
  t.match(again.stderr, new RegExp(`replay.*${jti}`));

  // Each token value is usable once per certificate, even when the op has uses left. A token given
  // on the command line sits elsewhere in the form body than a generated one, so it is captured so.
  const token = randomUUID();
  const given = await tb.capture((url) => aws([...command, '--client-token', randomUUID()], url, 'placeholder'));
  t.match(given[0], { volatile: [{ at: 'form:ClientToken', kind: 'idempotency_token' }] });
  const twice = await tb.cert([{ ...given[0], max_uses: 2 }]);
  t.equal((await aws([...command, '--client-token', token], tb.url, twice.jws)).code, 0);
  const reused = await aws([...command, '--client-token', token], tb.url, twice.jws);
  t.not(reused.code, 0);
  t.match(reused.stderr, /replay.*idempotency token/);
  t.equal((await aws([...command, '--client-token', randomUUID()], tb.url, twice.jws)).code, 0, 'a fresh token takes the second use');
});

t.test('aws s3 cp of a 20 MB file (multipart)', async (t) => {
  await s3.send(new CreateBucketCommand({ Bucket: 'big' }));
  const file = join(tb.dir, 'big.bin');
  const bytes = randomBytes(20 * 1024 * 1024);
  writeFileSync(file, bytes);
  const command = ['s3', 'cp', file, 's3://big/data/big.bin'];
  const ops = await tb.capture((url) => aws(command, url, 'placeholder'));
  const names = ops.map((op) => (op.target === 'aws' ? op.operation : op.target));
  t.same(names.filter((n) => n !== 'UploadPart'), ['CreateMultipartUpload', 'CompleteMultipartUpload'], 'Create first, Complete last');
  t.equal(names.filter((n) => n === 'UploadPart').length, 3, 'three parts of 8, 8 and 4 MB');
  for (const op of ops.slice(1)) t.match(op, { params: { uploadId: '\u0000seb:bind' }, bind: [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' } }] });
  const complete = ops[4]!;
  t.same(complete.bind!.slice(1).map((b) => b.at), ['xml:Part[1]/ETag', 'xml:Part[2]/ETag', 'xml:Part[3]/ETag']);
  t.same(complete.bind!.slice(1).map((b) => b.from.value), ['header:etag', 'header:etag', 'header:etag']);

  const { jws, jti } = await tb.cert(ops);
  const ok = await aws(command, tb.url, jws);
  t.equal(ok.code, 0, ok.stderr);
  const stored = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'big', Key: 'data/big.bin' }))).Body!.transformToByteArray());
  t.equal(createHash('sha256').update(stored).digest('hex'), createHash('sha256').update(bytes).digest('hex'), 'S3 holds the file');
  const used = records().filter((r) => r.decision === 'admit' && r.certificate?.jti === jti);
  t.equal(used.length, 5);
  const completed = used.find((r) => r.request.operation === 'CompleteMultipartUpload');
  t.equal(completed.request.run_time_values.length, 4, 'the record states each binding used');
  t.match(completed.request.run_time_values[0], { at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' }, value: /\S/ });
  const again = await aws(command, tb.url, jws);
  t.not(again.code, 0);
  t.match(again.stderr, new RegExp(`replay.*${jti}`));
});

// The agent's workflow with the real binaries: `seb op capture -- aws ...` prints the op, `seb cert
// issue` certifies exactly it, the same `aws` command is then admitted, and `seb records verify`
// accepts the run's records and names any tampering.
import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client, CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { startMoto } from '../helpers/moto.js';
import { startTestBroker } from '../helpers/broker.js';
import { agentEnv, awsCli } from '../helpers/aws-cli.js';
import { requirePeer, INSTALL_HINTS } from '../helpers/peers.js';
import { TEST_AUD, TEST_ISS } from '../helpers/pki.js';

const seb = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [seb, ...args], { env, timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const moto = await startMoto();
t.teardown(() => moto.stop());
const tb = await startTestBroker(moto);
t.teardown(() => tb.close());
const admin = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: moto.admin, forcePathStyle: true });
await admin.send(new CreateBucketCommand({ Bucket: 'reports' }));

t.test('capture, certify, execute with the aws CLI', async (t) => {
  const aws = requirePeer('aws', INSTALL_HINTS.aws);
  const body = join(tb.dir, 'q3.csv');
  writeFileSync(body, 'region,total\neu,42\n');
  const command = ['s3api', 'put-object', '--bucket', 'reports', '--key', '2026/q3 final.csv', '--body', body, '--content-type', 'text/csv'];

  // The capture broker listens on its own free port; COMMAND gets AWS_ENDPOINT_URL pointing at it.
  const captured = await run(['op', 'capture', '--config', tb.configPath, '--', aws, ...command], { ...agentEnv('unused', 'placeholder'), AWS_ENDPOINT_URL: '' });
  t.not(captured.code, 0, 'the CLI saw its mutation refused');
  const lines = captured.stdout.trim().split('\n');
  t.equal(lines.length, 1, 'stdout holds exactly one op');
  const op = JSON.parse(lines[0]!);
  t.match(op, {
    target: 'aws',
    service: 's3',
    region: 'us-east-1',
    operation: 'PutObject',
    resource: 'arn:aws:s3:::reports/2026/q3 final.csv',
    headers: { 'content-type': 'text/csv' },
    body: { sha256: /^[0-9a-f]{64}$/ },
    max_uses: 1,
  });
  t.match(captured.stderr, 'seb op capture', 'the refusal is explained on stderr');

  const issued = await run(['cert', 'issue', '--key', join(tb.dir, 'issuer', 'private.jwk.json'), '--iss', TEST_ISS, '--aud', TEST_AUD, '--sub', 'agent:test', '--identity', 'all', '--policy-epoch', '1', '--op', lines[0]!]);
  t.equal(issued.code, 0, issued.stderr);
  const jws = issued.stdout.trim();

  const executed = await awsCli(command, tb.url, jws);
  t.equal(executed.code, 0, executed.stderr);
  const got = await admin.send(new GetObjectCommand({ Bucket: 'reports', Key: '2026/q3 final.csv' }));
  t.equal(await got.Body!.transformToString(), 'region,total\neu,42\n');

  const again = await awsCli(command, tb.url, jws);
  t.not(again.code, 0, 'a single-use certificate admits the command once');
  t.match(again.stderr, 'replay');
});

t.test('seb records verify accepts the run and names tampering', async (t) => {
  const keys = join(tb.dir, 'broker', 'public.jwks.json');
  const file = join(tb.dir, 'records.log');
  const lines = [...tb.records];
  t.ok(lines.length >= 4);
  writeFileSync(file, lines.join('\n') + '\n');
  const ok = await run(['records', 'verify', '--key', keys, file]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /^ok: /);

  // Re-serialised by a log pipeline: wrapped in a `log` field, keys reordered.
  const wrapped = lines.map((l) => JSON.stringify({ log: JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l)).reverse())), stream: 'stdout' }));
  writeFileSync(file, wrapped.join('\n') + '\n');
  t.equal((await run(['records', 'verify', '--key', keys, file])).code, 0, 'pipeline form verifies');

  const changed = lines.map((l, i) => (i === 1 ? l.replace('"decision":"', '"decision":"x') : l));
  const deleted = lines.filter((_, i) => i !== 1);
  const reordered = [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)];
  const truncated = [...lines.slice(0, -1), lines.at(-1)!.slice(0, 40)];
  for (const [name, tampered, problem] of [
    ['changed', changed, /changed|bad-signature/],
    ['deleted', deleted, /deleted|reordered/],
    ['reordered', reordered, /reordered|inserted/],
    ['truncated', truncated, /truncated/],
  ] as const) {
    writeFileSync(file, tampered.join('\n') + '\n');
    const r = await run(['records', 'verify', '--key', keys, file]);
    t.equal(r.code, 1, `${name}: exit 1`);
    t.match(r.stdout + r.stderr, problem, `${name} is named`);
  }
});

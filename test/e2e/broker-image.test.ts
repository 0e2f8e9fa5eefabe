// The broker image as built by .ci/images.sh (sidecar/Dockerfile), run as a platform team runs it:
// from its own entrypoint and default command, with the config mounted read-only at
// /etc/seb/seb.yaml, a read-only root filesystem, and its own USER, which must be the UID the
// manifests give the broker (15000: the init container's owner match lets only it leave the pod).
// It must answer /readyz, admit a certified PutObject to moto on loopback (--network=host), refuse
// an uncertified one, and write records on stdout that `seb records verify` accepts.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BROKER_IMAGE, requireDocker } from '../helpers/docker.js';
import { freePort } from '../helpers/fluent-bit.js';
import { SEB, captureOps, motoDeployment } from '../helpers/seb-run.js';
import { agentS3, outcomeOf } from '../helpers/aws-sdk.js';
import { until } from '../helpers/until.js';

/** The broker's UID and GID in k8s/overlays/static/sidecar.yaml and the injector's patch. */
const BROKER_UID = 15000;
const exec = promisify(execFile);

t.test('the broker image runs from its entrypoint as UID 15000, admits a certified request and refuses an uncertified one', async (t) => {
  const docker = await requireDocker([BROKER_IMAGE]);
  t.equal(JSON.parse(await docker(['image', 'inspect', '--format', '{{json .Config.User}}', BROKER_IMAGE])), `${BROKER_UID}:${BROKER_UID}`, 'the image\'s USER');

  const { moto, deployment, admin } = await motoDeployment(t, 'image-smoke');

  const [awsPort, adminPort] = [await freePort(), await freePort()];
  const configPath = deployment.config('seb-image', { listen: { aws: `127.0.0.1:${awsPort}`, admin: `127.0.0.1:${adminPort}` } });
  const put = (key: string) => new PutObjectCommand({ Bucket: 'image-smoke', Key: key, Body: 'from the image\n' });
  const ops = await captureOps(configPath, moto.account, async (url) => {
    const c = agentS3(url, 'placeholder');
    await c.send(put('certified.txt')).catch(() => undefined);
    c.destroy();
  });
  t.equal(ops.length, 1, 'one PutObject captured');

  // The deployment's files, readable by the broker's UID only, mounted read-only at the paths the
  // config names; the config itself where the image's default command reads it.
  await exec('chown', ['-R', `${BROKER_UID}:${BROKER_UID}`, deployment.dir]);
  chmodSync(deployment.dir, 0o500);
  const name = `seb-smoke-${process.pid}`;
  const child = spawn(
    docker.bin,
    ['run', '--rm', '--name', name, '--network=host', '--read-only', '--cap-drop=ALL', '--security-opt=no-new-privileges',
      '-v', `${deployment.dir}:${deployment.dir}:ro`, '-v', `${configPath}:/etc/seb/seb.yaml:ro`, BROKER_IMAGE],
    { env: docker.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  let gone = false;
  const exited = new Promise<number | null>((r) => child.once('close', (code) => ((gone = true), r(code))));
  t.teardown(async () => {
    await docker(['rm', '-f', name]).catch(() => undefined);
    await exited;
  });

  const ready = await until(async () => gone || (await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => null))?.status === 200, 60_000);
  t.ok(ready && !gone, `/readyz answers 200${ready ? '' : `; broker stderr:\n${stderr}`}`);
  if (gone) return;
  const pid = (await docker(['inspect', '--format', '{{.State.Pid}}', name])).trim();
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  t.same([uids?.[1], uids?.[2]], [String(BROKER_UID), String(BROKER_UID)], 'the broker process runs as UID 15000 (real and effective)');

  // Issued after the broker started: its memory ledger refuses certificates older than itself.
  const { jws } = await deployment.cert(ops);
  const agent = agentS3(`http://127.0.0.1:${awsPort}`, jws);
  t.teardown(() => agent.destroy());
  t.match(await outcomeOf(agent, put('certified.txt')), { status: 200 }, 'the certified PutObject is admitted');
  const got = await admin.send(new GetObjectCommand({ Bucket: 'image-smoke', Key: 'certified.txt' }));
  t.equal(await got.Body?.transformToString(), 'from the image\n', 'and reached moto');
  const refused = await outcomeOf(agent, put('not-in-the-certificate.txt'));
  t.equal(refused.status, 403, 'a PutObject the certificate does not name is refused');
  await t.rejects(admin.send(new GetObjectCommand({ Bucket: 'image-smoke', Key: 'not-in-the-certificate.txt' })), 'and never reached moto');

  // docker stop sends SIGTERM to the entrypoint's process: the broker drains and ends its stream.
  await docker(['stop', '--time', '20', name]);
  t.equal(await exited, 0, 'the broker exits 0 on SIGTERM');
  const root = mkdtempSync(join(tmpdir(), 'seb-smoke-records-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const records = join(root, 'records.jsonl');
  writeFileSync(records, stdout);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; decision?: string });
  t.same(lines.filter((l) => l.type === 'decision').map((l) => l.decision), ['admit', 'deny'], 'a decision record for each request');
  const verified = await exec(process.execPath, [SEB, 'records', 'verify', '--key', deployment.brokerJwks, records]).then(
    () => 0,
    (err: { code?: number }) => err.code ?? 1,
  );
  t.equal(verified, 0, 'seb records verify accepts the container\'s stdout');
});

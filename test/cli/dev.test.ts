// `seb dev` as a user runs it (the built binary, real moto and the real aws CLI): an agent gets a
// certificate from the development issuer for one op, the unmodified CLI makes the change through
// the broker, a revocation reaches the broker, and Ctrl-C stops everything it started.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { awsCli } from '../helpers/aws-cli.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';

const seb = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

t.test('seb dev: certify, execute, revoke, stop', async (t) => {
  requirePeer('moto_server', INSTALL_HINTS.moto_server);
  requirePeer('aws', INSTALL_HINTS.aws);

  const child = spawn(process.execPath, [seb, 'dev', '--aws-port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let motoPid = 0;
  t.teardown(async () => {
    // Only when an assertion failed before the clean stop: leave nothing running.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(STOP_TIMEOUT_MS)]);
      child.kill('SIGKILL');
    }
    if (motoPid !== 0 && alive(motoPid)) process.kill(motoPid, 'SIGKILL');
  });

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ready: RegExpExecArray | null = null;
  while ((ready = /^seb dev: ready (.*)$/m.exec(stderr)) === null) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`seb dev did not get ready (exit ${child.exitCode}): ${stderr}`);
    await sleep(100);
  }
  const fields = Object.fromEntries(ready[1]!.split(' ').map((kv) => kv.split('=', 2) as [string, string]));
  const { aws, admin, issuer, config } = fields as Record<string, string>;
  motoPid = Number(fields['moto_pid']);
  t.ok(motoPid > 0 && alive(motoPid), 'moto_server runs');
  t.match(stderr, /export AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+ AWS_ACCESS_KEY_ID=\S+ AWS_SECRET_ACCESS_KEY=\S+ AWS_DEFAULT_REGION=us-east-1/);
  t.match(stderr, `op capture --config ${config} --`, 'the capture line names the config it wrote');
  t.match(stderr, `${issuer}/certificates`);
  t.match(stderr, `${issuer}/revoke`);
  t.equal((await fetch(`http://${admin}/readyz`)).status, 200, 'the broker is ready: trust, authority, records');

  // Bad requests to the issuer are refused with a one-line reason.
  for (const [body, status] of [
    [JSON.stringify({ ops: [] }), 400],
    [JSON.stringify({ ops: [{ target: 'aws', service: 's3' }] }), 400],
    [JSON.stringify({ ops: [{ target: 'aws', service: 's3', region: 'us-east-1', operation: 'CreateBucket', resource: 'arn:aws:s3:::x' }], identity: 'nobody' }), 400],
    [JSON.stringify({ ops: [{ target: 'aws', service: 's3', region: 'us-east-1', operation: 'CreateBucket', resource: 'arn:aws:s3:::x' }], extra: 1 }), 400],
    ['{"ops": [], "ops": []}', 400],
  ] as const) {
    const res = await fetch(`${issuer}/certificates`, { method: 'POST', body });
    t.equal(res.status, status, body);
    t.match(await res.text(), /^[^\n]+\n$/, 'one line');
  }
  t.equal((await fetch(`${issuer}/certificates`)).status, 405);

  // The agent: a certificate for exactly one op, then the unmodified aws CLI through the broker.
  const op = { target: 'aws', service: 's3', region: 'us-east-1', operation: 'CreateBucket', resource: 'arn:aws:s3:::dev-sandbox' };
  const issued = await fetch(`${issuer}/certificates`, { method: 'POST', body: JSON.stringify({ ops: [op] }) });
  t.equal(issued.status, 200);
  const jws = (await issued.text()).trim();
  const jti = issued.headers.get('x-seb-jti');
  t.ok(jti, 'the answer names the jti');
  const url = `http://${aws}`;
  const created = await awsCli(['s3api', 'create-bucket', '--bucket', 'dev-sandbox'], url, jws);
  t.equal(created.code, 0, created.stderr);
  const listed = await awsCli(['s3api', 'list-buckets'], url, null);
  t.equal(listed.code, 0, listed.stderr);
  t.match(JSON.parse(listed.stdout), { Buckets: [{ Name: 'dev-sandbox' }] }, 'the bucket exists in moto');
  const records = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(records.some((r) => r['decision'] === 'admit' && (r['certificate'] as { jti?: string } | null)?.jti === jti), 'an admit record on stdout');

  // Revocation: the issuer republishes the authority state; the broker refuses the jti from then on.
  const revoked = await fetch(`${issuer}/revoke`, { method: 'POST', body: JSON.stringify({ jti }) });
  t.equal(revoked.status, 200);
  let again = await awsCli(['s3api', 'create-bucket', '--bucket', 'dev-sandbox'], url, jws);
  for (let i = 0; i < 30 && !again.stderr.includes('revoked'); i++) {
    await sleep(200);
    again = await awsCli(['s3api', 'create-bucket', '--bucket', 'dev-sandbox'], url, jws);
  }
  t.not(again.code, 0);
  t.match(again.stderr, 'revoked', 'the revoked certificate is refused');

  // Ctrl-C stops everything it started.
  child.kill('SIGINT');
  const exit = await Promise.race([exited, sleep(STOP_TIMEOUT_MS).then(() => null)]);
  t.same(exit, { code: 0, signal: null }, `exits 0 within ${STOP_TIMEOUT_MS / 1000} s`);
  t.notOk(alive(motoPid), 'moto_server is gone');
  t.notOk(existsSync(dirname(config)), 'the temporary directory is removed');
});

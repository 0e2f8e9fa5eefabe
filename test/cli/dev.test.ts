// `seb dev` as a user runs it (the built binary, real moto, the real aws CLI and kubectl): the
// commands it prints work as printed (a kubectl read, a captured and certified kubectl change, a
// revocation), the development issuer refuses bad input, `--demo` walks through its six steps,
// the Kubernetes side runs without moto, and Ctrl-C stops everything it started.
import t, { type Test } from 'tap';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { awsCli } from '../helpers/aws-cli.js';
import { INSTALL_HINTS, requirePeer } from '../helpers/peers.js';

const seb = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const DEMO_TIMEOUT_MS = 180_000;
const SCRIPT_TIMEOUT_MS = 120_000;
const MOTO_HINT = "pip install 'moto[server]'";

const work = mkdtempSync(join(tmpdir(), 'seb-devtest-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** kubectl 1.32 as `kubectl`, first on PATH (the one on this machine's PATH is a version-choosing wrapper). */
const kubectlBin = join(work, 'kubectl-bin');
mkdirSync(kubectlBin);
symlinkSync(requirePeer('/usr/lib/google-cloud-sdk/bin/kubectl.1.32', INSTALL_HINTS.kubectl), join(kubectlBin, 'kubectl'));

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

/** A bound for a race: unref'd, so a deadline that lost does not keep this process alive after the last test. */
function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** This process's PATH without the directories that hold `cmd`. */
function pathWithout(...cmds: string[]): string {
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !cmds.some((cmd) => existsSync(join(dir, cmd))))
    .join(delimiter);
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Dev {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
}

/** `seb dev ARGS` with `env`, collected; teardown kills it (and moto) if a test left it running. */
function spawnDev(t: Test, args: string[], env: NodeJS.ProcessEnv = process.env): Dev {
  const child = spawn(process.execPath, [seb, 'dev', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, deadline(STOP_TIMEOUT_MS)]);
      child.kill('SIGKILL');
    }
    const motoPid = Number(/ moto_pid=(\d+)/.exec(stderr)?.[1] ?? 0);
    if (motoPid !== 0 && alive(motoPid)) process.kill(motoPid, 'SIGKILL');
  });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Waits for the ready line and answers its fields (kube=, aws=, issuer=, config=, ...). */
async function ready(dev: Dev): Promise<Record<string, string>> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let line: RegExpExecArray | null = null;
  while ((line = /^seb dev: ready (.*)$/m.exec(dev.stderr())) === null) {
    if (dev.child.exitCode !== null || Date.now() > deadline) throw new Error(`seb dev did not get ready (exit ${dev.child.exitCode}): ${dev.stderr()}`);
    await sleep(100);
  }
  return Object.fromEntries(line[1]!.split(' ').map((kv) => kv.split('=', 2) as [string, string]));
}

async function exitWithin(dev: Dev, ms: number): Promise<Exit | null> {
  return Promise.race([dev.exited, deadline(ms).then(() => null)]);
}

/**
 * SIGINT, and SIGTERM while it stops (what `timeout` or a process-group kill sends), then: exit 0,
 * moto (if any) gone, the sandbox directory removed.
 */
async function interruptAndCheck(t: Test, dev: Dev, fields: Record<string, string>): Promise<void> {
  dev.child.kill('SIGINT');
  await sleep(50);
  dev.child.kill('SIGTERM');
  t.same(await exitWithin(dev, STOP_TIMEOUT_MS), { code: 0, signal: null }, `exits 0 within ${STOP_TIMEOUT_MS / 1000} s of SIGINT, a second signal notwithstanding`);
  if (fields['moto_pid'] !== undefined) t.notOk(alive(Number(fields['moto_pid'])), 'moto_server is gone');
  t.notOk(existsSync(dirname(fields['config']!)), 'the sandbox directory is removed');
  t.match(dev.stderr(), /^seb dev: stopped$/m);
}

/** One printed command line, as printed (two leading spaces), without its trailing comment. */
function printed(stderr: string, pattern: RegExp): string {
  const line = new RegExp(`^  (${pattern.source})$`, 'm').exec(stderr);
  if (line === null) throw new Error(`seb dev printed no line matching ${pattern}: ${stderr}`);
  return line[1]!.replace(/\s{2,}#.*$/, '');
}

function bash(script: string, cwd: string, path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd, env: { PATH: path, HOME: process.env['HOME'] }, timeout: SCRIPT_TIMEOUT_MS }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * The printed Kubernetes walkthrough, pasted into bash: a read, the manifest, capture, certificate,
 * the change; then the printed revoke, `seb cert inspect` and the same change, now refused.
 */
async function printedKubeFlow(t: Test, stderr: string, path: string): Promise<void> {
  const cwd = mkdtempSync(join(work, 'shell-'));
  const mark = (label: string): string => `echo "@@ ${label}"`;
  // Each printed line as it is; `seb op capture` exits with kubectl's status, which the capture
  // refused on purpose, so success is read from the markers, not from `set -e`.
  const script = [
    'shopt -s expand_aliases',
    printed(stderr, /alias seb=.*/),
    printed(stderr, /export KUBECONFIG=.*/),
    printed(stderr, /kubectl get namespaces.*/),
    printed(stderr, /kubectl -n demo create configmap hello .*/),
    printed(stderr, /seb op capture --config \S+ -- kubectl .*/),
    'echo "@@ ops: $(wc -l < ops.jsonl)"',
    printed(stderr, /CERT=.*/),
    `case "$CERT" in *.*.*) ${mark('certified')};; esac`,
    `${printed(stderr, /kubectl --token "\$CERT" apply --server-side -f hello\.yaml/)} && ${mark('applied')}`,
    printed(stderr, /curl -s \S+\/revoke .*/),
    printed(stderr, /seb cert inspect .*/),
    `if ${printed(stderr, /kubectl --token "\$CERT" apply .*# denied: revoked/)}; then ${mark('admitted after revoke')}; else ${mark('refused after revoke')}; fi`,
  ].join('\n');
  const r = await bash(script, cwd, path);
  t.equal(r.code, 0, 'the script ran to its end');
  t.match(r.stdout, /^demo\s+Active/m, 'kubectl get namespaces through the broker shows the seeded namespace');
  t.match(r.stdout, '@@ ops: 1', 'seb op capture printed one op');
  t.match(r.stdout, /@@ certified\nconfigmap\/hello serverside-applied\n@@ applied/, 'the certified change is admitted', { stderr: r.stderr.slice(-2000) });
  t.match(r.stdout, /^verdict: revoked\b/m, 'seb cert inspect says revoked');
  t.match(r.stdout, '@@ refused after revoke');
  t.match(r.stderr, /Forbidden.*seb denied the request: revoked/, 'the revoked certificate is refused');
}

t.test('seb dev: the printed kubectl and aws commands, the issuer, Ctrl-C', async (t) => {
  requirePeer('moto_server', INSTALL_HINTS.moto_server);
  requirePeer('aws', INSTALL_HINTS.aws);
  const dev = spawnDev(t, ['--kube-port', '0', '--aws-port', '0', '--admin-port', '0']);
  const fields = await ready(dev);
  const { aws, admin, issuer, config, kubeconfig } = fields as Record<string, string>;
  t.ok(Number(fields['moto_pid']) > 0 && alive(Number(fields['moto_pid'])), 'moto_server runs');
  const stderr = dev.stderr();
  t.match(stderr, `export KUBECONFIG=${kubeconfig}`);
  t.match(stderr, /export AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+ AWS_ACCESS_KEY_ID=\S+ AWS_SECRET_ACCESS_KEY=\S+ AWS_DEFAULT_REGION=us-east-1/);
  t.match(stderr, `op capture --config ${config} -- kubectl`, 'the capture line names the config it wrote');
  t.match(stderr, `op capture --config ${config} -- aws`);
  t.match(stderr, `${issuer}/certificates`);
  t.match(stderr, `${issuer}/revoke`);
  t.match(stderr, /seb records verify --key \S+broker\.jwks\.json/);
  t.equal((await fetch(`http://${admin}/readyz`)).status, 200, 'the broker is ready: trust, authority, records');

  // Bad requests to the issuer are refused with a one-line reason.
  const s3op = { target: 'aws', service: 's3', region: 'us-east-1', operation: 'CreateBucket', resource: 'arn:aws:s3:::x' };
  for (const [path, body] of [
    ['certificates', JSON.stringify({ ops: [] })],
    ['certificates', JSON.stringify({ ops: [{ target: 'aws', service: 's3' }] })],
    ['certificates', JSON.stringify({ ops: [s3op], identity: 'nobody' })],
    ['certificates', JSON.stringify({ ops: [s3op], extra: 1 })],
    ['certificates', '{"ops": [], "ops": []}'],
    ['revoke', JSON.stringify({ jti: 'a b' })],
    ['revoke', JSON.stringify({ certificate: 'not.a.certificate' })],
    ['revoke', JSON.stringify({ jti: 'x', certificate: 'y' })],
  ] as const) {
    const res = await fetch(`${issuer}/${path}`, { method: 'POST', body });
    t.equal(res.status, 400, `${path} ${body}`);
    t.match(await res.text(), /^[^\n]+\n$/, 'one line');
  }
  t.equal((await fetch(`${issuer}/certificates`)).status, 405);

  // AWS: a certificate for exactly one op, then the unmodified aws CLI through the broker.
  const op = { ...s3op, resource: 'arn:aws:s3:::dev-sandbox' };
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
  const records = dev.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(records.some((r) => r['decision'] === 'admit' && (r['certificate'] as { jti?: string } | null)?.jti === jti), 'an admit record on stdout');

  // Revocation by jti: the issuer rewrites the authority state at once; refused within a second.
  const revoked = await fetch(`${issuer}/revoke`, { method: 'POST', body: JSON.stringify({ jti }) });
  t.equal(revoked.status, 200);
  const revokedAt = Date.now();
  let again = await awsCli(['s3api', 'create-bucket', '--bucket', 'dev-sandbox'], url, jws);
  for (let i = 0; i < 30 && !again.stderr.includes('revoked'); i++) {
    await sleep(100);
    again = await awsCli(['s3api', 'create-bucket', '--bucket', 'dev-sandbox'], url, jws);
  }
  t.not(again.code, 0);
  t.match(again.stderr, 'revoked', 'the revoked certificate is refused');
  t.comment(`revoked after ${Date.now() - revokedAt} ms (including the aws CLI's own start-up)`);

  await printedKubeFlow(t, stderr, `${kubectlBin}${delimiter}${process.env['PATH']}`);
  await interruptAndCheck(t, dev, fields);
});

t.test('seb dev without moto_server: the AWS side names the install hint, the Kubernetes side runs', async (t) => {
  const path = pathWithout('moto_server');
  const dev = spawnDev(t, ['--kube-port', '0', '--aws-port', '0', '--admin-port', '0'], { ...process.env, PATH: path });
  const fields = await ready(dev);
  t.equal(fields['aws'], 'none', 'no aws listener');
  t.equal(fields['moto'], 'none');
  const stderr = dev.stderr();
  t.match(stderr, /^ {2}aws {6}not served: moto_server is not installed \(pip install 'moto\[server\]', then restart seb dev\)$/m, 'the AWS line names the install hint');
  t.notMatch(stderr, /AWS_ENDPOINT_URL/, 'no aws commands are printed');
  await printedKubeFlow(t, stderr, `${kubectlBin}${delimiter}${path}`);
  await interruptAndCheck(t, dev, fields);
});

/** Runs `seb dev --demo` to its end; answers its exit and output. */
async function demo(t: Test, env: NodeJS.ProcessEnv): Promise<{ exit: Exit | null; dev: Dev; fields: Record<string, string> }> {
  const dev = spawnDev(t, ['--demo', '--kube-port', '0', '--aws-port', '0', '--admin-port', '0'], env);
  const fields = await ready(dev);
  return { exit: await exitWithin(dev, DEMO_TIMEOUT_MS), dev, fields };
}

const STEPS = [
  /^✓ refused {4}.* -> contract_mismatch /m,
  /^✓ replay {5}.* -> replay$/m,
  /^✓ drift {6}.* pinned to resourceVersion \d+, edited since -> drift$/m,
  /^✓ revoked {4}POST \/revoke, then .* -> revoked \(in force \d+ ms after the revoke\)$/m,
  /^✓ verified {3}seb records verify --key broker\.jwks\.json records\.jsonl -> \d+ records, every signature valid, hash chain intact$/m,
];

t.test('seb dev --demo: six steps, each as described, then everything stops', async (t) => {
  requirePeer('moto_server', INSTALL_HINTS.moto_server);
  requirePeer('aws', INSTALL_HINTS.aws);
  const { exit, dev, fields } = await demo(t, process.env);
  const stderr = dev.stderr();
  t.same(exit, { code: 0, signal: null }, 'exits 0', { stderr });
  t.match(stderr, /^✓ admitted {3}kubectl apply --server-side -f demo-settings\.yaml -> configmap\/demo-settings serverside-applied \(certificate [0-9a-f]{8}…\)$/m);
  t.match(stderr, /^✓ admitted {3}aws s3api create-bucket --bucket seb-demo -> bucket seb-demo created in moto \(certificate [0-9a-f]{8}…\)$/m);
  for (const step of STEPS) t.match(stderr, step);
  t.match(stderr, /^seb dev --demo: all 6 steps behaved as expected$/m);
  t.equal(stderr.match(/^✓ /gm)?.length, 7, 'six steps and the aws one');
  t.equal(dev.stdout(), '', 'records went to the sandbox file, not stdout');
  t.notOk(alive(Number(fields['moto_pid'])), 'moto_server is gone');
  t.notOk(existsSync(dirname(fields['config']!)), 'the sandbox directory is removed');
});

t.test('seb dev --demo without kubectl and moto on PATH: plain HTTPS from node, the aws step skipped with the hint', async (t) => {
  const empty = mkdtempSync(join(work, 'empty-path-'));
  const { exit, dev, fields } = await demo(t, { ...process.env, PATH: empty });
  const stderr = dev.stderr();
  t.same(exit, { code: 0, signal: null }, 'exits 0', { stderr });
  t.match(stderr, /kubectl is not on PATH; the Kubernetes steps send kubectl's requests as plain HTTPS from node/);
  t.match(stderr, /^✓ admitted {3}node https PATCH \/api\/v1\/namespaces\/demo\/configmaps\/demo-settings\?fieldManager=seb-demo -> HTTP 201 /m);
  t.match(stderr, `- skipped    aws: moto_server is not installed (${MOTO_HINT})`);
  for (const step of STEPS) t.match(stderr, step);
  t.notOk(existsSync(dirname(fields['config']!)), 'the sandbox directory is removed');
});

t.test('seb dev --demo names the step that did not behave as expected, exits 1', async (t) => {
  // A kubectl that does nothing and succeeds: capturing its "change" finds no op to certify.
  const fake = mkdtempSync(join(work, 'fake-kubectl-'));
  writeFileSync(join(fake, 'kubectl'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(fake, 'kubectl'), 0o755);
  const { exit, dev, fields } = await demo(t, { ...process.env, PATH: `${fake}${delimiter}${pathWithout('moto_server', 'kubectl')}` });
  const stderr = dev.stderr();
  t.same(exit, { code: 1, signal: null });
  t.match(stderr, /^✗ admitted {3}capturing kubectl apply --server-side -f demo-settings\.yaml found no mutation to certify/m);
  t.match(stderr, /^seb dev --demo: step 1 \(admitted\) did not behave as expected$/m);
  t.notMatch(stderr, /^✓ refused/m, 'it stops at the failed step');
  t.notOk(existsSync(dirname(fields['config']!)), 'the sandbox directory is removed');
});

t.test('start-up problems: one line each, exit 2, nothing started', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const port = (busy.address() as { port: number }).port;
  for (const [args, problem] of [
    [['--kube-port', String(port), '--admin-port', '0', '--aws-port', '0'], `127.0.0.1:${port} is in use; pass --kube-port N (0 = any free port)`],
    [['--kube-port', '70000'], '--kube-port: must be a port 0-65535 (0 = any free port)'],
  ] as const) {
    const dev = spawnDev(t, [...args]);
    t.same(await exitWithin(dev, READY_TIMEOUT_MS), { code: 2, signal: null }, args.join(' '));
    t.match(dev.stderr(), problem);
    t.notMatch(dev.stderr(), /seb dev: ready/);
  }
});

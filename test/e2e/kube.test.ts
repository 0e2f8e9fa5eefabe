// kubectl through the broker against the stand-in apiserver: reads under the read executor,
// mutations captured, certified and executed under impersonation, denials as Status objects.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request as httpsRequest } from 'node:https';
import { parse as parseYaml } from 'yaml';
import { startTestBroker } from '../helpers/broker.js';
import { kubeBrokerConfig, startKubeWorld } from '../helpers/kube.js';
import { kubectl } from '../helpers/kubectl.js';
import { findResource } from '../../src/dev/apiserver/resources.js';

import { tmpdir } from 'node:os';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-kube-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
/**
 * Set by the race test: runs once after the apiserver answered the broker's drift probe. kubectl's
 * own GET before its PATCH also reads the object as the reader, so the probe is the second read.
 */
let onProbe: (() => void) | null = null;
let readsBeforeProbe = 0;
const world = await startKubeWorld(dir, { afterResponse: (r) => {
  if (onProbe && r.user === 'seb:reader' && r.method === 'GET' && r.path.endsWith('/deployments/api') && ++readsBeforeProbe === 2) {
    const run = onProbe;
    onProbe = null;
    run();
  }
} });
t.teardown(() => world.close());
const clientDir = join(dir, 'client');
const tb = await startTestBroker(null, { config: kubeBrokerConfig(world, clientDir) });
t.teardown(() => tb.close());
const agentKubeconfig = join(clientDir, 'kubeconfig');
const agent = (args: string[], token?: string) =>
  kubectl(['--kubeconfig', agentKubeconfig, '--cache-dir', join(dir, 'cache'), ...(token ? ['--token', token] : []), ...args]);
const admin = (args: string[]) => kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', join(dir, 'admin-cache'), ...args]);

t.test('the broker wrote a ready kubeconfig and CA for the agent', async (t) => {
  const text = readFileSync(agentKubeconfig, 'utf8');
  t.match(text, /server: https:\/\/127\.0\.0\.1:\d+/);
  t.match(text, /REPLACE-WITH-CERTIFICATE/);
});

t.test('reads need no certificate and are recorded under the read executor', async (t) => {
  const r = await agent(['get', 'namespaces', '-o', 'name']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'namespace/default');
  const read = tb.records.map((l) => JSON.parse(l)).find((rec) => rec.decision === 'read' && rec.request.resource === 'namespaces');
  t.match(read, { identity: { type: 'k8s', user: 'seb:reader' } });
});

const manifest = join(dir, 'cm.yaml');
writeFileSync(manifest, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: default\ndata:\n  a: b\n');
const apply = ['apply', '-f', manifest];

t.test('a mutation without a certificate is refused as a readable Forbidden', async (t) => {
  const r = await agent(apply);
  t.not(r.code, 0);
  t.match(r.stderr, /Error from server \(Forbidden\).*no_certificate/);
  t.not((await admin(['get', 'configmap', 'cfg', '-n', 'default'])).code, 0, 'nothing was created');
});

t.test('capture, certify, execute: kubectl apply', async (t) => {
  const ops = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache2'), '--token', 'placeholder', ...apply]));
  t.equal(ops.length, 1);
  t.match(ops[0], { target: 'k8s', verb: 'create', group: '', version: 'v1', resource: 'configmaps', namespace: 'default', name: 'cfg', content_type: 'application/json', body: { jcs_sha256: /^[0-9a-f]{64}$/ } });
  const { jws, jti } = await tb.cert(ops);
  const ok = await agent(apply, jws);
  t.equal(ok.code, 0, ok.stderr);
  const got = await admin(['get', 'configmap', 'cfg', '-n', 'default', '-o', 'jsonpath={.data.a}']);
  t.equal(got.stdout, 'b');
  await admin(['delete', 'configmap', 'cfg', '-n', 'default']);
  const again = await agent(apply, jws);
  t.not(again.code, 0);
  t.match(again.stderr, new RegExp(`Forbidden.*replay.*${jti}`));
});

const deployment = join(dir, 'deploy.yaml');
writeFileSync(
  deployment,
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: { name: api, namespace: default }',
    'spec:',
    '  replicas: 1',
    '  selector: { matchLabels: { app: api } }',
    '  template:',
    '    metadata: { labels: { app: api } }',
    '    spec: { containers: [ { name: app, image: nginx } ] }',
    '',
  ].join('\n'),
);

/** Captures the ops `args` needs through a capturing broker, certifies them, runs `args` with the certificate. */
async function certified(t: Test, args: string[]) {
  const ops = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'placeholder', ...args]));
  t.ok(ops.length >= 1, `${args.join(' ')} needs at least one op`);
  const cert = await tb.cert(ops);
  return { ops, ...cert, run: () => agent(args, cert.jws) };
}

t.test('scale, patch and delete a Deployment with certificates built by capture', async (t) => {
  t.equal((await admin(['apply', '-f', deployment])).code, 0);
  const scale = await certified(t, ['scale', 'deployment/api', '-n', 'default', '--replicas=3']);
  t.match(scale.ops[0], { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'api' });
  const scaled = await scale.run();
  t.equal(scaled.code, 0, scaled.stderr);
  t.equal((await admin(['get', 'deployment', 'api', '-n', 'default', '-o', 'jsonpath={.spec.replicas}'])).stdout, '3');

  const patch = await certified(t, ['patch', 'deployment', 'api', '-n', 'default', '--type=merge', '-p', '{"metadata":{"labels":{"tier":"web"}}}']);
  t.equal((await patch.run()).code, 0);
  t.equal((await admin(['get', 'deployment', 'api', '-n', 'default', '-o', 'jsonpath={.metadata.labels.tier}'])).stdout, 'web');

  // The same bytes as another patch type, an added --dry-run, another body: each refused.
  const { jws } = await tb.cert(patch.ops);
  for (const [args, reason] of [
    [['patch', 'deployment', 'api', '-n', 'default', '--type=strategic', '-p', '{"metadata":{"labels":{"tier":"web"}}}'], 'contract_mismatch'],
    [['patch', 'deployment', 'api', '-n', 'default', '--type=merge', '--dry-run=server', '-p', '{"metadata":{"labels":{"tier":"web"}}}'], 'contract_mismatch'],
    [['patch', 'deployment', 'api', '-n', 'default', '--type=merge', '-p', '{"metadata":{"labels":{"tier":"db"}}}'], 'body_mismatch'],
  ] as const) {
    const r = await agent([...args], jws);
    t.not(r.code, 0, args.join(' '));
    t.match(r.stderr, new RegExp(`Forbidden.*${reason}`), args.join(' '));
  }

  const del = await certified(t, ['delete', 'deployment', 'api', '-n', 'default', '--wait=false']);
  t.match(del.ops[0], { verb: 'delete', name: 'api', body: { jcs_sha256: String } });
  t.equal((await del.run()).code, 0);
  t.not((await admin(['get', 'deployment', 'api', '-n', 'default'])).code, 0, 'deleted');
});

t.test('drift: a resource_version pre_state that no longer holds is a 409 Conflict', async (t) => {
  t.equal((await admin(['apply', '-f', deployment])).code, 0);
  const args = ['patch', 'deployment', 'api', '-n', 'default', '--type=merge', '-p', '{"spec":{"replicas":2}}'];
  const ops = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'x', ...args]));
  const { jws } = await tb.cert([{ ...ops[0], pre_state: { resource_version: '1' } }]);
  const r = await agent(args, jws);
  t.not(r.code, 0);
  t.match(r.stderr, /Error from server \(Conflict\).*drift/);
  const rv = (await admin(['get', 'deployment', 'api', '-n', 'default', '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout;
  const good = await tb.cert([{ ...ops[0], pre_state: { resource_version: rv } }]);
  const ok = await agent(args, good.jws);
  t.equal(ok.code, 0, ok.stderr);
  t.equal((await admin(['get', 'deployment', 'api', '-n', 'default', '-o', 'jsonpath={.spec.replicas}'])).stdout, '2');
});

t.test('a change between the drift check and the write is refused by the apiserver itself', async (t) => {
  const args = ['patch', 'deployment', 'api', '-n', 'default', '--type=merge', '-p', '{"spec":{"replicas":5}}'];
  const ops = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'x', ...args]));
  const rv = (await admin(['get', 'deployment', 'api', '-n', 'default', '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout;
  const { jws } = await tb.cert([{ ...ops[0], pre_state: { resource_version: rv } }]);
  // Right after the broker's probe passes, someone else changes the object.
  readsBeforeProbe = 0;
  onProbe = () => {
    const def = findResource('apps', 'v1', 'deployments')!;
    const live = world.api.store.get(def, 'default', 'api')!;
    world.api.store.update(def, 'default', 'api', { ...live, metadata: { ...live.metadata, labels: { raced: 'yes' } } });
  };
  const r = await agent(args, jws);
  t.not(r.code, 0);
  t.match(r.stderr, /Conflict/);
  t.not((await admin(['get', 'deployment', 'api', '-n', 'default', '-o', 'jsonpath={.spec.replicas}'])).stdout, '5', 'the write did not happen');
  // The outcome record follows the response by a moment: wait for it, boundedly.
  let outcome: { status?: number } | undefined;
  for (let i = 0; i < 50 && !outcome; i++) {
    const records = tb.records.map((l) => JSON.parse(l));
    const admitted = records.filter((rec) => rec.type === 'decision' && rec.decision === 'admit' && rec.request.resource === 'deployments').at(-1);
    outcome = records.find((rec) => rec.type === 'outcome' && rec.decision_seq === admitted?.seq);
    if (!outcome) await new Promise((r) => setTimeout(r, 20));
  }
  t.match(outcome, { status: 409 }, 'the outcome record shows the apiserver refused it');
  await admin(['delete', 'deployment', 'api', '-n', 'default']);
});

t.test('a client-sent Impersonate-* header is refused, on reads too', async (t) => {
  const r = await agent(['get', 'namespaces', '--as', 'system:admin']);
  t.not(r.code, 0);
  t.match(r.stderr, /Forbidden.*client_impersonation/);
});

t.test('seb op capture -- kubectl prints the op a certificate needs, with the body digest kubectl sends', async (t) => {
  const seb = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [seb, 'op', 'capture', '--config', tb.configPath, '--', '/usr/lib/google-cloud-sdk/bin/kubectl.1.32', '--cache-dir', join(dir, 'cli-cache'), 'apply', '-f', manifest],
      { env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
  t.not(out.code, 0, 'kubectl saw its mutation refused');
  const lines = out.stdout.trim().split('\n');
  t.equal(lines.length, 1, out.stderr);
  t.match(JSON.parse(lines[0]!), { target: 'k8s', verb: 'create', resource: 'configmaps', name: 'cfg', params: { fieldManager: ['kubectl-client-side-apply'] } });
});

const podManifest = join(dir, 'pod.yaml');
writeFileSync(podManifest, 'apiVersion: v1\nkind: Pod\nmetadata: { name: shell, namespace: default }\nspec: { containers: [ { name: app, image: busybox } ] }\n');

/** Runs kubectl as the agent in the background, collecting its output. */
function background(args: string[], token?: string) {
  const child = spawn('/usr/lib/google-cloud-sdk/bin/kubectl.1.32', ['--kubeconfig', agentKubeconfig, '--cache-dir', join(dir, 'bg-cache'), ...(token ? ['--token', token] : []), ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

t.test('watch and logs -f stream through, chunk by chunk', async (t) => {
  t.equal((await admin(['apply', '-f', podManifest])).code, 0);
  const watch = background(['get', 'pods', '-n', 'default', '-w', '--request-timeout=20s']);
  t.ok(await until(() => watch.out().includes('shell'), 10_000), 'the initial list arrives');
  await admin(['label', 'pod', 'shell', '-n', 'default', 'seen=yes']);
  t.ok(await until(() => watch.out().split('shell').length > 2, 10_000), 'the change arrives as a watch event');
  watch.child.kill();
  await watch.exited;

  const logs = background(['logs', '-f', 'shell', '-n', 'default']);
  t.ok(await until(() => /log line \d+/.test(logs.out()), 10_000), 'the backlog arrives');
  const before = logs.out().split('\n').length;
  t.ok(await until(() => logs.out().split('\n').length > before, 5_000), 'followed lines keep arriving');
  logs.child.kill();
  await logs.exited;
});

t.test('exec: captured over WebSocket, certified, executed; cut when its certificate is revoked', async (t) => {
  const echo = ['exec', 'shell', '-n', 'default', '--', 'echo', 'hi'];
  const ops = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'x', ...echo]));
  t.ok(ops.length >= 1);
  t.match(ops[0], { verb: 'create', resource: 'pods', subresource: 'exec', name: 'shell', params: { command: ['echo', 'hi'] } });
  const { jws } = await tb.cert([ops[0]]);
  const r = await agent(echo, jws);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), 'hi');
  const other = await agent(['exec', 'shell', '-n', 'default', '--', 'echo', 'bye'], jws);
  t.not(other.code, 0);
  t.match(other.stderr, /contract_mismatch|Forbidden/);

  const cat = ['exec', '-i', 'shell', '-n', 'default', '--', 'cat'];
  const catOps = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'x', ...cat]));
  const session = await tb.cert([{ ...catOps[0], max_uses: 1 }]);
  const shell = background(cat, session.jws);
  shell.child.stdin.write('ping\n');
  t.ok(await until(() => shell.out().includes('ping'), 10_000), 'the session echoes');
  await tb.publishAuthority({ revokedJti: [session.jti] });
  const code = await Promise.race([shell.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
  t.not(code, 'still running', 'the session was cut');
  t.ok(
    tb.records.map((l) => JSON.parse(l)).some((rec) => rec.type === 'outcome' && /closed: revoked/.test(rec.error ?? '')),
    'the outcome record says why',
  );
  shell.child.kill();
});

t.test('apply --server-side is certified like any patch; another name and an added --force are not the certified request', async (t) => {
  t.equal((await admin(['apply', '-f', deployment])).code, 0);
  const web = deployment.replace('deploy.yaml', 'web.yaml');
  writeFileSync(web, readFileSync(deployment, 'utf8').replace('name: api', 'name: web'));
  t.equal((await admin(['apply', '-f', web])).code, 0);

  const ssa = await certified(t, ['apply', '--server-side', '-f', deployment]);
  t.match(ssa.ops.at(-1), { verb: 'patch', content_type: 'application/apply-patch+yaml', params: { fieldManager: ['kubectl'], force: ['false'] } });
  const applied = await ssa.run();
  t.equal(applied.code, 0, applied.stderr);

  const scale = await certified(t, ['scale', 'deployment/api', '-n', 'default', '--replicas=2']);
  for (const [args, reason] of [
    [['scale', 'deployment/web', '-n', 'default', '--replicas=2'], 'contract_mismatch'],
  ] as const) {
    const r = await agent([...args], scale.jws);
    t.not(r.code, 0, args.join(' '));
    t.match(r.stderr, new RegExp(reason), args.join(' '));
  }
  const del = await certified(t, ['delete', 'deployment', 'api', '-n', 'default', '--wait=false']);
  const forced = await agent(['delete', 'deployment', 'api', '-n', 'default', '--wait=false', '--force', '--grace-period=0'], del.jws);
  t.not(forced.code, 0, 'an added --force is not the certified delete');
  t.match(forced.stderr, /contract_mismatch|body_mismatch/);
  t.equal((await admin(['get', 'deployment', 'api', '-n', 'default'])).code, 0, 'still there');
  t.equal((await del.run()).code, 0);
  await admin(['delete', 'deployment', 'web', '-n', 'default']);
});

t.test('a restart as a certified patch with a fixed restartedAt (rollout restart writes the current time)', async (t) => {
  t.equal((await admin(['apply', '-f', deployment])).code, 0);
  const at = '2026-11-26T00:00:00Z';
  const restart = await certified(t, ['patch', 'deployment', 'api', '-n', 'default', '-p', JSON.stringify({ spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } })]);
  t.match(restart.ops[0], { verb: 'patch', content_type: 'application/strategic-merge-patch+json' });
  const r = await restart.run();
  t.equal(r.code, 0, r.stderr);
  const got = await admin(['get', 'deployment', 'api', '-n', 'default', '-o', 'jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}']);
  t.equal(got.stdout, at);
  await admin(['delete', 'deployment', 'api', '-n', 'default']);
});

t.test('an Upgrade anywhere but exec, attach, portforward and proxy is refused before the apiserver sees it', async (t) => {
  const kubeconfig = parseYaml(readFileSync(agentKubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  const server = new URL(kubeconfig.clusters[0]!.cluster.server);
  const answer = await new Promise<{ status: number; reason: string | undefined; body: string }>((resolve, reject) => {
    const req = httpsRequest({
      host: server.hostname,
      port: server.port,
      path: '/api/v1/namespaces/default/pods',
      ca: readFileSync(join(clientDir, 'ca.crt')),
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', authorization: 'Bearer placeholder' },
      timeout: 10_000,
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.headers['x-seb-reason'] as string | undefined, body }));
    });
    req.end();
  });
  t.equal(answer.reason, 'unparseable_request');
  t.equal(answer.status, 400);
  t.match(JSON.parse(answer.body), { kind: 'Status', code: 400, message: /unparseable_request/ });
});

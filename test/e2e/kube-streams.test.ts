// exec, attach and port-forward through the broker against the stand-in apiserver, in every wire
// form the real clients use: kubectl's WebSocket first try and its SPDY POST fallback, port-forward's
// SPDY tunnelled in WebSocket, and @kubernetes/client-node's WebSocket channels. Each is admitted
// by a certificate built from captured ops, refused readably without one or with another's, and a
// SPDY session is cut when its certificate is revoked.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Attach, Exec, KubeConfig, PortForward } from '@kubernetes/client-node';
import { startTestBroker } from '../helpers/broker.js';
import { kubeBrokerConfig, startKubeWorld } from '../helpers/kube.js';
import { exitWithin, forwardedPort, kubectl, kubectlInBackground } from '../helpers/kubectl.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-kube-streams-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** What listens on port 80 of the pods `web` and `other`. */
const web = createServer((_req, res) => res.end('hello from pod web\n'));
await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
t.teardown(() => web.close());
const webPort = (web.address() as AddressInfo).port;

/** Set false to make the stand-in refuse WebSocket upgrades, so kubectl falls back to SPDY POST. */
let webSocketServed = true;
const world = await startKubeWorld(dir, {
  webSocketStreams: () => webSocketServed,
  podPorts: (pod, port) => (port === 80 && (pod.name === 'web' || pod.name === 'other') ? webPort : undefined),
});
t.teardown(() => world.close());
const clientDir = join(dir, 'client');
const tb = await startTestBroker(null, { config: kubeBrokerConfig(world, clientDir) });
t.teardown(() => tb.close());
const agentKubeconfig = join(clientDir, 'kubeconfig');

const agentArgs = (token?: string): string[] => ['--kubeconfig', agentKubeconfig, '--cache-dir', join(dir, 'cache'), ...(token ? ['--token', token] : [])];
const agent = (args: string[], token?: string) => kubectl([...agentArgs(token), ...args]);
/** The agent's kubectl with `input` on stdin, bounded in time. */
async function agentWithInput(args: string[], input: string, token: string) {
  const run = kubectlInBackground([...agentArgs(token), ...args]);
  run.child.stdin.end(input);
  const code = await exitWithin(run, 20_000);
  return { code, stdout: run.out(), stderr: run.err() };
}
/** The ops kubectl `args` needs, from a capturing broker (`seb op capture` in process). */
const capture = (args: string[]) =>
  tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'placeholder', ...args]));
const records = (): Record<string, any>[] => tb.records.map((l) => JSON.parse(l) as Record<string, any>);
/** The decision records of one certificate, each with its outcome once written (waited for, boundedly). */
async function decisionsOf(jti: string, count: number) {
  const pairs = () => {
    const all = records();
    return all
      .filter((r) => r.type === 'decision' && r.certificate?.jti === jti)
      .map((decision) => ({ decision, outcome: all.find((r) => r.type === 'outcome' && r.decision_seq === decision.seq) }));
  };
  await until(() => pairs().length >= count && pairs().every((p) => p.outcome !== undefined), 5_000);
  return pairs();
}

for (const name of ['shell', 'web', 'other']) {
  const pod = join(dir, `${name}.yaml`);
  writeFileSync(pod, `apiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: default }\nspec: { containers: [ { name: app, image: busybox, stdin: true } ] }\n`);
  const created = await kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', join(dir, 'admin-cache'), 'apply', '-f', pod]);
  if (created.code !== 0) throw new Error(`setup failed: ${created.stderr}`);
}

/** Makes the stand-in serve (or refuse) the WebSocket form for the rest of test `t`. */
function webSocket(t: Test, served: boolean): void {
  webSocketServed = served;
  t.teardown(() => void (webSocketServed = true));
}

t.test('exec over SPDY: the refused WebSocket attempt gives its use back, the fallback spends it', async (t) => {
  webSocket(t, false);
  const echo = ['exec', 'shell', '-n', 'default', '--', 'echo', 'hi'];
  const ops = await capture(echo);
  t.equal(ops.length, 2, 'capture saw the WebSocket GET and the SPDY POST');
  t.same(ops[1], ops[0], 'both forms are one op');
  t.match(ops[0], { verb: 'create', resource: 'pods', subresource: 'exec', name: 'shell', params: { command: ['echo', 'hi'], stdout: ['true'], stderr: ['true'] }, body: null, max_uses: 1 });
  const { jws, jti } = await tb.cert([ops[0]]);

  const r = await agent(echo, jws);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hi\n');
  const attempts = await decisionsOf(jti, 2);
  t.same(
    attempts.map((a) => [a.decision.decision, a.decision.request.method, a.outcome?.status]),
    [['admit', 'GET', 400], ['admit', 'POST', 101]],
    'the WebSocket GET was admitted but refused upstream (400), then the SPDY POST was admitted with the same use and upgraded',
  );

  const again = await agent(echo, jws);
  t.not(again.code, 0);
  t.match(again.stderr, new RegExp(`Error from server \\(Forbidden\\).*replay.*${jti}`), 'the 101 spent the single use');
  const other = await agent(['exec', 'shell', '-n', 'default', '--', 'echo', 'bye'], jws);
  t.not(other.code, 0);
  t.match(other.stderr, /Error from server \(Forbidden\).*contract_mismatch/, 'another command is not the certified one');
  const none = await agent(echo);
  t.not(none.code, 0);
  t.match(none.stderr, /Error from server \(Forbidden\).*no_certificate/);
});

t.test('attach -i over SPDY and over WebSocket, with certificates built by capture; another pod is refused', async (t) => {
  const args = ['attach', '-i', 'shell', '-n', 'default'];
  for (const served of [false, true]) {
    const form = served ? 'WebSocket' : 'SPDY';
    webSocket(t, served);
    const ops = await capture(args);
    t.match(ops[0], { verb: 'create', resource: 'pods', subresource: 'attach', name: 'shell', params: { stdin: ['true'], stdout: ['true'] } }, form);
    const { jws, jti } = await tb.cert([ops[0]]);
    const r = await agentWithInput(args, 'ping\n', jws);
    t.equal(r.code, 0, `${form}: ${r.stderr}`);
    t.equal(r.stdout, 'attached to default/shell/app\nping\n', `${form}: the main process answered`);
    const upgraded = (await decisionsOf(jti, 1)).at(-1);
    t.match(upgraded, { decision: { request: { method: served ? 'GET' : 'POST', subresource: 'attach' } }, outcome: { status: 101 } }, form);
    const elsewhere = await agentWithInput(['attach', '-i', 'web', '-n', 'default'], 'ping\n', jws);
    t.not(elsewhere.code, 0, form);
    t.match(elsewhere.stderr, /Error from server \(Forbidden\).*contract_mismatch/, `${form}: attaching to another pod`);
  }
});

t.test('port-forward through the WebSocket tunnel (SPDY/3.1+portforward.k8s.io) and the SPDY POST fallback', async (t) => {
  const args = ['port-forward', '--address', '127.0.0.1', 'pod/web', '-n', 'default', ':80'];
  for (const served of [true, false]) {
    const form = served ? 'WebSocket tunnel' : 'SPDY POST';
    webSocket(t, served);
    const ops = await capture(args);
    t.match(ops[0], { verb: 'create', resource: 'pods', subresource: 'portforward', name: 'web', params: {}, body: null }, form);
    const { jws, jti } = await tb.cert([ops[0]]);
    const run = kubectlInBackground([...agentArgs(jws), ...args]);
    const port = await forwardedPort(run, 10_000);
    t.not(port, null, `${form}: ${run.err()}`);
    const answer = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
    t.equal(await answer.text(), 'hello from pod web\n', `${form}: a request through the forwarded port`);
    run.child.kill();
    await run.exited;
    const upgraded = (await decisionsOf(jti, 1)).at(-1);
    t.match(upgraded, { decision: { request: { method: served ? 'GET' : 'POST', subresource: 'portforward' } }, outcome: { status: 101 } }, form);

    const other = await agent(['port-forward', '--address', '127.0.0.1', 'pod/other', '-n', 'default', ':80'], jws);
    t.not(other.code, 0, form);
    t.match(other.stderr, new RegExp(`error upgrading connection: seb denied the request: contract_mismatch \\(certificate ${jti}\\)`), `${form}: forwarding another pod`);
  }
  const none = await agent(args);
  t.not(none.code, 0);
  t.match(none.stderr, /error upgrading connection: seb denied the request: no_certificate/);
});

/** A client-node config as the agent: the broker's kubeconfig with `token` as the user's token. */
function clientConfig(kubeconfig: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.users[0] = { ...kc.users[0]!, token };
  return kc;
}
/** The reason of the newest deny record (client-node shows only `Unexpected server response: 403`). */
const lastDenial = () => records().filter((r) => r.type === 'decision' && r.decision === 'deny').at(-1)?.reason;

t.test('client-node PortForward (WebSocket channels, ports in the query) through the broker', async (t) => {
  const forward = (kubeconfig: string, token: string, port: number, output = new PassThrough(), input = new PassThrough()) =>
    new PortForward(clientConfig(kubeconfig, token)).portForward('default', 'web', [port], output, null, input);
  const ops = await tb.capture((_url, kubeconfig) => forward(kubeconfig, 'placeholder', 80));
  t.equal(ops.length, 1);
  t.match(ops[0], { verb: 'create', subresource: 'portforward', name: 'web', params: { ports: ['80'] } });
  const { jws } = await tb.cert([ops[0]]);

  await t.rejects(forward(agentKubeconfig, 'placeholder', 80), /403/, 'without a certificate');
  t.equal(lastDenial(), 'no_certificate');
  await t.rejects(forward(agentKubeconfig, jws, 81), /403/, 'another port');
  t.equal(lastDenial(), 'contract_mismatch');

  const output = new PassThrough();
  let answer = '';
  output.on('data', (c: Buffer) => (answer += c.toString()));
  const input = new PassThrough();
  const ws = await forward(agentKubeconfig, jws, 80, output, input);
  // Without a retry count, portForward answers the WebSocket itself (its type also allows a getter).
  if (typeof ws === 'function') throw new Error('portForward answered no WebSocket');
  input.write('GET / HTTP/1.0\r\n\r\n');
  t.ok(await until(() => answer.includes('hello from pod web'), 10_000), answer);
  ws.close();
});

t.test('client-node Exec and Attach through the broker', async (t) => {
  const exec = (kubeconfig: string, token: string, command: string[], stdout: PassThrough, status: (s: unknown) => void = () => {}) =>
    new Exec(clientConfig(kubeconfig, token)).exec('default', 'shell', 'app', command, stdout, null, null, false, status);
  const ops = await tb.capture((_url, kubeconfig) => exec(kubeconfig, 'placeholder', ['echo', 'from', 'node'], new PassThrough()));
  t.match(ops[0], { verb: 'create', subresource: 'exec', params: { command: ['echo', 'from', 'node'], container: ['app'], stdin: ['false'] } });
  const { jws } = await tb.cert([ops[0]]);
  await t.rejects(exec(agentKubeconfig, jws, ['echo', 'other'], new PassThrough()), /403/, 'another command');
  t.equal(lastDenial(), 'contract_mismatch');
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  let status: unknown = null;
  await exec(agentKubeconfig, jws, ['echo', 'from', 'node'], stdout, (s) => (status = s));
  t.ok(await until(() => status !== null, 10_000), 'the exit Status arrived');
  t.equal(out, 'from node\n');
  t.match(status, { status: 'Success' });

  const attach = (kubeconfig: string, token: string, out: PassThrough, stdin: PassThrough) =>
    new Attach(clientConfig(kubeconfig, token)).attach('default', 'shell', 'app', out, null, stdin, false);
  const attachOps = await tb.capture((_url, kubeconfig) => attach(kubeconfig, 'placeholder', new PassThrough(), new PassThrough()));
  t.match(attachOps[0], { verb: 'create', subresource: 'attach', name: 'shell', params: { stdin: ['true'] } });
  const attachCert = await tb.cert([attachOps[0]]);
  await t.rejects(attach(agentKubeconfig, 'placeholder', new PassThrough(), new PassThrough()), /403/, 'without a certificate');
  const attached = new PassThrough();
  let seen = '';
  attached.on('data', (c: Buffer) => (seen += c.toString()));
  const stdin = new PassThrough();
  await attach(agentKubeconfig, attachCert.jws, attached, stdin);
  stdin.end('node says hi\n');
  t.ok(await until(() => seen.includes('node says hi'), 10_000), seen);
  t.equal(seen, 'attached to default/shell/app\nnode says hi\n');
});

t.test('a SPDY exec session is cut when its certificate is revoked, and its outcome record says why', async (t) => {
  webSocket(t, false);
  const cat = ['exec', '-i', 'shell', '-n', 'default', '--', 'cat'];
  const ops = await capture(cat);
  const session = await tb.cert([ops[0]]);
  const shell = kubectlInBackground([...agentArgs(session.jws), ...cat]);
  t.teardown(() => void shell.child.kill());
  shell.child.stdin.write('ping\n');
  t.ok(await until(() => shell.out().includes('ping'), 10_000), `the session echoes: ${shell.err()}`);
  await tb.publishAuthority({ revokedJti: [session.jti] });
  const code = await Promise.race([shell.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
  t.not(code, 'still running', 'the session was cut');
  const spdy = (await decisionsOf(session.jti, 2)).find((a) => a.decision.request.method === 'POST');
  t.match(spdy?.outcome, { status: 101, error: /closed: revoked/ }, 'the outcome record of the SPDY session says why');
});

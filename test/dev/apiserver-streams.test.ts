/**
 * The stand-in apiserver's streaming subresources (exec, attach, portforward) driven by the real
 * kubectl 1.32 and by @kubernetes/client-node, over every wire form they use: the WebSocket
 * channel protocol, SPDY/3.1 after a refused WebSocket, and port-forward's SPDY tunnelled in
 * WebSocket. No broker here. Pod ports lead to an HTTP server this test owns on 127.0.0.1.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Attach, KubeConfig, PortForward } from '@kubernetes/client-node';
import { startKubeWorld } from '../helpers/kube.js';
import { exitWithin, forwardedPort, kubectl, kubectlInBackground } from '../helpers/kubectl.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-standin-streams-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** The pod's web server: a small answer, or 1 MiB at /big (more than SPDY's default 64 KiB window). */
const web: Server = createServer((req, res) => {
  let received = 0;
  req.on('data', (c: Buffer) => (received += c.length));
  req.on('end', () => res.end(req.url === '/big' ? Buffer.alloc(1 << 20, 'a') : `hello from pod web, got ${received} bytes\n`));
});
await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
t.teardown(() => web.close());
const webPort = (web.address() as AddressInfo).port;

let webSocketServed = true;
const webSocketAttempts: string[] = [];
/** Each 101 the stand-in answered: which wire form and protocol the client ended up with. */
const upgrades: string[] = [];
const world = await startKubeWorld(dir, {
  webSocketStreams: (r) => {
    webSocketAttempts.push(`${r.subresource} ${r.namespace}/${r.name}`);
    return webSocketServed;
  },
  podPorts: (pod, port) => (pod.name === 'web' && port === 80 ? webPort : undefined),
  afterUpgrade: (u) => upgrades.push(`${u.subresource} ${u.name} ${u.form} ${u.protocol}`),
});
t.teardown(() => world.close());

const cacheDir = join(dir, 'cache');
const admin = (args: string[]) => kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', cacheDir, ...args]);
const adminInBackground = (args: string[]) => kubectlInBackground(['--kubeconfig', world.adminKubeconfig, '--cache-dir', cacheDir, ...args]);
/** kubectl with `input` on stdin, bounded in time. */
async function withInput(args: string[], input: string) {
  const run = adminInBackground(args);
  run.child.stdin.end(input);
  const code = await exitWithin(run, 20_000);
  return { code, stdout: run.out(), stderr: run.err() };
}

for (const name of ['p', 'web']) {
  const pod = join(dir, `${name}.json`);
  writeFileSync(pod, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox', stdin: true }] } }));
  const created = await admin(['apply', '-f', pod]);
  if (created.code !== 0) throw new Error(`setup failed: ${created.stderr}`);
}

t.test('exec falls back to SPDY/3.1 when the WebSocket form is refused: output, stdin and exit codes', async (t) => {
  webSocketServed = false;
  t.teardown(() => void (webSocketServed = true));
  webSocketAttempts.length = 0;
  upgrades.length = 0;
  const echo = await admin(['exec', 'p', '-n', 'default', '--', 'echo', 'over', 'spdy']);
  t.equal(echo.code, 0, echo.stderr);
  t.equal(echo.stdout, 'over spdy\n');
  t.same(webSocketAttempts, ['exec default/p'], 'kubectl tried the WebSocket form first, and was refused');
  t.same(upgrades, ['exec p spdy v5.channel.k8s.io'], 'then upgraded to SPDY, v5 being kubectl\'s first offer');
  const cat = await withInput(['exec', '-i', 'p', '-n', 'default', '--', 'cat'], 'through spdy stdin');
  t.equal(cat.code, 0, cat.stderr);
  t.equal(cat.stdout, 'through spdy stdin', 'stdin reached the process; its end (FIN) ended it');
  const fail = await admin(['exec', 'p', '-n', 'default', '--', 'false']);
  t.equal(fail.code, 1, 'the NonZeroExitCode Status on the error stream is kubectl\'s exit code');
  t.match(fail.stderr, 'command terminated with exit code 1');
  const missing = await admin(['exec', 'p', '-n', 'default', '--', 'nosuch']);
  t.not(missing.code, 0);
  t.match(missing.stderr, 'executable file not found');
});

t.test('attach -i over WebSocket (v5) and over SPDY: the main process greets, echoes stdin, ends with it', async (t) => {
  for (const served of [true, false]) {
    webSocketServed = served;
    upgrades.length = 0;
    const r = await withInput(['attach', '-i', 'p', '-n', 'default'], 'ping\n');
    t.equal(r.code, 0, `${served ? 'WebSocket' : 'SPDY'}: ${r.stderr}`);
    t.equal(r.stdout, 'attached to default/p/c\nping\n', served ? 'WebSocket' : 'SPDY');
    t.same(upgrades, [`attach p ${served ? 'websocket' : 'spdy'} v5.channel.k8s.io`]);
  }
  webSocketServed = true;
});

t.test('attach without stdin streams the main process until the client leaves', async (t) => {
  const run = adminInBackground(['attach', 'p', '-n', 'default']);
  t.ok(await until(() => run.out().includes('main line 2 from default/p/c'), 10_000), run.err());
  run.child.kill();
  await run.exited;
});

t.test('port-forward reaches the pod port through the WebSocket tunnel and through the SPDY fallback', async (t) => {
  for (const served of [true, false]) {
    const form = served ? 'SPDY/3.1+portforward.k8s.io over WebSocket' : 'SPDY POST';
    webSocketServed = served;
    webSocketAttempts.length = 0;
    upgrades.length = 0;
    const run = adminInBackground(['port-forward', '--address', '127.0.0.1', 'pod/web', '-n', 'default', ':80']);
    const port = await forwardedPort(run, 10_000);
    t.not(port, null, `${form}: ${run.err()}`);
    const small = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x'.repeat(100_000), signal: AbortSignal.timeout(10_000) });
    t.equal(await small.text(), 'hello from pod web, got 100000 bytes\n', `${form}: both directions`);
    // Regression: spdystream never sends WINDOW_UPDATE; the stand-in must not wait for one.
    const big = await fetch(`http://127.0.0.1:${port}/big`, { signal: AbortSignal.timeout(10_000) });
    t.equal((await big.arrayBuffer()).byteLength, 1 << 20, `${form}: an answer larger than SPDY's default window`);
    t.same(webSocketAttempts, ['portforward default/web'], `${form}: one WebSocket attempt`);
    t.same(upgrades, [served ? 'portforward web websocket SPDY/3.1+portforward.k8s.io' : 'portforward web spdy portforward.k8s.io'], form);
    run.child.kill();
    await run.exited;
  }
  webSocketServed = true;
});

t.test('port-forward to a port nothing serves reports it on the error stream', async (t) => {
  const run = adminInBackground(['port-forward', '--address', '127.0.0.1', 'pod/web', '-n', 'default', ':81']);
  const port = await forwardedPort(run, 10_000);
  t.not(port, null, run.err());
  await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) }).then(
    () => t.fail('nothing should answer'),
    () => t.pass('the forwarded connection failed'),
  );
  t.ok(await until(() => run.err().includes('no process listens on port 81'), 10_000), run.err());
  run.child.kill();
  await run.exited;
});

function clientConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(world.adminKubeconfig);
  return kc;
}

t.test('@kubernetes/client-node PortForward speaks the v4 channel protocol: port prefix, data, error channel', async (t) => {
  const output = new PassThrough();
  let answer = '';
  output.on('data', (c: Buffer) => (answer += c.toString()));
  const input = new PassThrough();
  upgrades.length = 0;
  const ws = await new PortForward(clientConfig()).portForward('default', 'web', [80], output, null, input);
  // Without a retry count, portForward answers the WebSocket itself (its type also allows a getter).
  if (typeof ws === 'function') throw new Error('portForward answered no WebSocket');
  t.equal(ws.protocol, 'v4.channel.k8s.io', 'v5 is not a port-forward protocol: the server picks v4');
  t.same(upgrades, ['portforward web websocket v4.channel.k8s.io']);
  input.write('GET / HTTP/1.0\r\n\r\n');
  t.ok(await until(() => answer.includes('hello from pod web'), 10_000), answer);
  t.match(answer, /^HTTP\/1\.1 200 OK\r\n/, 'the 2-byte port prefix was taken off each channel');
  ws.close();

  const errors = new PassThrough();
  let error = '';
  errors.on('data', (c: Buffer) => (error += c.toString()));
  const none = await new PortForward(clientConfig()).portForward('default', 'web', [81], new PassThrough(), errors, new PassThrough());
  if (typeof none === 'function') throw new Error('portForward answered no WebSocket');
  t.ok(await until(() => error.includes('no process listens on port 81'), 10_000), error);
  none.close();
});

t.test('@kubernetes/client-node Attach over WebSocket v5: the greeting, stdin echoed, the close signal ends it', async (t) => {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const stdin = new PassThrough();
  const ws = await new Attach(clientConfig()).attach('default', 'p', 'c', stdout, null, stdin, false);
  stdin.end('echo me\n');
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  t.ok(await until(() => out.includes('echo me'), 10_000), out);
  t.equal(out, 'attached to default/p/c\necho me\n');
  await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
  t.equal(ws.readyState, ws.CLOSED, 'the session ended when stdin closed');
});

/** One raw HTTPS request to the stand-in as the administrator, answering status and body. */
function raw(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const ca = readFileSync(join(dir, 'apiserver-ca.crt'));
  return new Promise((resolve, reject) => {
    const req = request(`${world.api.url}${path}`, { method, ca, headers: { authorization: 'Bearer admin-token', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('upgrade', () => reject(new Error('unexpected 101')));
    req.on('error', reject);
    req.end();
  });
}

t.test('what is refused before the 101, as a Status', async (t) => {
  const spdy = { connection: 'Upgrade', upgrade: 'SPDY/3.1' };
  const websocket = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  const pod = '/api/v1/namespaces/default/pods';
  const cases: [string, string, string, Record<string, string>, number, RegExp][] = [
    ['exec without an upgrade', 'POST', `${pod}/p/exec?command=echo&stdout=true`, {}, 400, /Upgrade request required/],
    ['portforward without an upgrade', 'GET', `${pod}/web/portforward`, {}, 400, /Upgrade request required/],
    ['SPDY exec offering no protocol the server speaks', 'POST', `${pod}/p/exec?command=echo&stdout=true`, { ...spdy, 'x-stream-protocol-version': 'channel.k8s.io' }, 400, /unable to negotiate protocol/],
    ['SPDY port-forward offering an exec protocol', 'POST', `${pod}/web/portforward`, { ...spdy, 'x-stream-protocol-version': 'v4.channel.k8s.io' }, 400, /unable to negotiate protocol/],
    ['exec of no command', 'POST', `${pod}/p/exec?stdout=true`, { ...spdy, 'x-stream-protocol-version': 'v4.channel.k8s.io' }, 400, /at least 1 command/],
    ['attach to a container the pod lacks', 'POST', `${pod}/p/attach?container=x&stdout=true`, { ...spdy, 'x-stream-protocol-version': 'v4.channel.k8s.io' }, 400, /container x is not valid/],
    ['attach to a pod that does not exist', 'POST', `${pod}/nope/attach?stdout=true`, { ...spdy, 'x-stream-protocol-version': 'v4.channel.k8s.io' }, 404, /not found/],
    ['channel port-forward without ports', 'GET', `${pod}/web/portforward`, { ...websocket, 'sec-websocket-protocol': 'v4.channel.k8s.io' }, 400, /"ports" is required/],
    ['channel port-forward to port 0', 'GET', `${pod}/web/portforward?ports=0`, { ...websocket, 'sec-websocket-protocol': 'v4.channel.k8s.io' }, 400, /invalid port/],
  ];
  for (const [name, method, path, headers, status, message] of cases) {
    const r = await raw(method, path, headers);
    t.equal(r.status, status, name);
    t.match(r.body, { kind: 'Status', message }, name);
  }
  webSocketServed = false;
  const refused = await raw('GET', `${pod}/p/exec?command=echo&stdout=true`, { ...websocket, 'sec-websocket-protocol': 'v5.channel.k8s.io' });
  webSocketServed = true;
  t.equal(refused.status, 400, 'the webSocketStreams option refuses the WebSocket form');
  t.match(refused.body, { reason: 'BadRequest', message: /refuses the WebSocket form of exec/ });
});

t.test('attach and port-forward need create on their subresource, whatever the method', async (t) => {
  const asReader = ['--kubeconfig', world.brokerKubeconfig, '--cache-dir', cacheDir, '--as', 'reader', '--as-group', 'seb:reader'];
  const attach = await kubectl([...asReader, 'attach', 'p', '-n', 'default']);
  t.match(attach.stderr, /pods "p" is forbidden: User "reader" cannot create resource "pods\/attach"/);
  const forward = await kubectl([...asReader, 'port-forward', '--address', '127.0.0.1', 'pod/web', '-n', 'default', ':80']);
  t.not(forward.code, 0);
  t.match(forward.stderr, /cannot create resource "pods\/portforward"/);
});

// Issue 11 items 2, 2b, 2c: a one-use certificate runs once upstream whatever the client does with
// the upgrade. proxy spends its use once sent, with or without Upgrade; exec, attach and port-forward
// hold it until the apiserver answers, so a client that resets the connection after sending cannot
// get it back; a commit the Redis ledger does not confirm stops the session; a port-forward whose
// op pins `ports` is admitted only in the form where the upstream honours them. The stand-in's
// request log is the upstream log.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { connect } from 'node:tls';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import { findResource } from '../../src/dev/apiserver/resources.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { kubeBrokerConfig, startKubeWorld } from '../helpers/kube.js';
import { kubectl } from '../helpers/kubectl.js';
import { startRedis } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-kube-tunnel-uses-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const web = createServer((_req, res) => res.end('hello from pod web\n'));
await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
t.teardown(() => web.close());
const webPort = (web.address() as AddressInfo).port;

/** Every request that reached the stand-in, as it arrived. */
const arrivals: { method: string; path: string; upgrade: boolean }[] = [];
/** Upgrades wait this long before the stand-in answers them (a kubelet starting a process). */
let upgradeLatencyMs = 0;
/** Runs once, as the next upgrade arrives, before it is answered. */
let onNextUpgrade: (() => void) | null = null;
const world = await startKubeWorld(dir, {
  podPorts: (pod, port) => (port === 80 && pod.name === 'web' ? webPort : undefined),
  onRequest: (r) => {
    arrivals.push(r);
    if (!r.upgrade) return;
    const hook = onNextUpgrade;
    onNextUpgrade = null;
    hook?.();
    return upgradeLatencyMs > 0 ? new Promise((resolve) => setTimeout(resolve, upgradeLatencyMs)) : undefined;
  },
});
t.teardown(() => world.close());
const podsDef = findResource('', 'v1', 'pods')!;
for (const name of ['shell', 'web']) {
  world.api.store.create(podsDef, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'busybox', stdin: true }] } });
}

const redis = await startRedis();
t.teardown(() => redis.stop());
const memory = await startTestBroker(null, { config: kubeBrokerConfig(world, join(dir, 'client-memory')) });
t.teardown(() => memory.close());
const shared = await startTestBroker(null, {
  config: { ...kubeBrokerConfig(world, join(dir, 'client-redis')), replay: { store: { redis: { url: redis.url, password_file: redis.passwordFile } } } },
});
t.teardown(() => shared.close());
// The shared ledger refuses certificates issued in (or before) the second it began counting
// (SPEC §4 `replay`, redis-scripts.ts SINCE); iat has one-second resolution, so on a loaded machine
// a certificate issued right after the broker connected could fall in that second. Start the
// cases in the next second.
{
  const second = Math.floor(Date.now() / 1000);
  await until(() => Math.floor(Date.now() / 1000) > second + 1, 5_000);
}
const brokers: [string, TestBroker, string][] = [
  ['memory', memory, join(dir, 'client-memory')],
  ['redis', shared, join(dir, 'client-redis')],
];

/** A raw request to the broker's kube listener; `reset` cuts the connection that many ms after sending. */
function send(broker: TestBroker, clientDir: string, method: string, target: string, headers: Record<string, string>, reset?: number) {
  // A TCP reset needs the TCP handle under the TLS one.
  const tcp = netConnect(broker.broker.kube!.port, '127.0.0.1');
  tcp.on('error', () => tcp.destroy());
  const socket = connect({ socket: tcp, host: '127.0.0.1', ca: readFileSync(join(clientDir, 'ca.crt')) });
  socket.on('error', () => socket.destroy());
  const lines = [`${method} ${target} HTTP/1.1`, 'host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (reset !== undefined) setTimeout(() => tcp.resetAndDestroy(), reset);
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  const head = new Promise<{ status: number; headers: string }>((resolve) => {
    const check = () => {
      const end = text.indexOf('\r\n\r\n');
      if (end !== -1) {
        resolve({ status: Number(text.slice(9, 12)), headers: text.slice(0, end).toLowerCase() });
        socket.destroy();
      }
    };
    socket.on('data', check);
    socket.on('close', () => resolve({ status: 0, headers: '' }));
    tcp.on('close', () => resolve({ status: 0, headers: '' }));
    // Bounded: a test that waits on an answer never hangs on one that does not come.
    setTimeout(() => {
      resolve({ status: -1, headers: '' });
      tcp.destroy();
    }, 5_000).unref();
  });
  return head;
}

const webSocketHeaders = (protocol: string) => ({
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': randomBytes(16).toString('base64'),
  'sec-websocket-protocol': protocol,
});
const spdyHeaders = (protocol: string) => ({ connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': protocol });
const bearer = (jws: string) => ({ authorization: `Bearer ${jws}` });

function podOp(subresource: string, name: string, params: Record<string, string[]>, maxUses = 1) {
  return { target: 'k8s', verb: 'create', group: '', version: 'v1', resource: 'pods', subresource, path_suffix: null, namespace: 'default', name, generate_name: null, params, content_type: null, body: null, pre_state: null, max_uses: maxUses };
}

function recordsOf(broker: TestBroker, jti: string) {
  const all = broker.records.map((l) => JSON.parse(l) as Record<string, any>);
  return all
    .filter((r) => r.type === 'decision' && r.certificate?.jti === jti)
    .map((decision) => ({ decision, outcome: all.find((r) => r.type === 'outcome' && r.decision_seq === decision.seq) }));
}
/** Waits until `count` decisions of `jti` are written, each admit with its outcome. */
async function settled(broker: TestBroker, jti: string, count: number) {
  await until(() => {
    const rs = recordsOf(broker, jti);
    return rs.length >= count && rs.every((r) => r.decision.decision !== 'admit' || r.outcome !== undefined);
  }, 10_000);
  return recordsOf(broker, jti);
}
/**
 * After a try that was reset: a reset before the broker read the head leaves no record at all, so
 * this waits out the stand-in's latency, then until every admit has its outcome.
 */
async function quiet(broker: TestBroker, jti: string) {
  await new Promise((resolve) => setTimeout(resolve, upgradeLatencyMs + 100));
  return settled(broker, jti, 0);
}
const arrived = (path: string) => arrivals.filter((a) => a.path === path).length;

t.test('proxy: N tries of a one-use certificate reach the backend once, with and without Upgrade', async (t) => {
  const cases = [
    { what: 'services/web/proxy', path: '/api/v1/namespaces/default/services/web/proxy/healthz', op: { resource: 'services', namespace: 'default', name: 'web', path_suffix: '/healthz' } },
    { what: 'nodes/n1/proxy', path: '/api/v1/nodes/n1/proxy/exec/default/shell/app', op: { resource: 'nodes', namespace: '', name: 'n1', path_suffix: '/exec/default/shell/app' } },
  ];
  for (const [ledger, broker, clientDir] of brokers) {
    for (const c of cases) {
      for (const upgrade of [true, false]) {
        const label = `${ledger}, ${c.what}, ${upgrade ? 'with' : 'without'} Upgrade`;
        const op = { target: 'k8s', verb: 'get', group: '', version: 'v1', subresource: 'proxy', generate_name: null, params: {}, content_type: null, body: null, pre_state: null, max_uses: 1, ...c.op };
        const { jws, jti } = await broker.cert([op]);
        const before = arrived(c.path);
        const answers = [];
        for (let i = 0; i < 4; i++) answers.push(await send(broker, clientDir, 'GET', c.path, { ...bearer(jws), ...(upgrade ? webSocketHeaders('v4.channel.k8s.io') : {}) }));
        t.equal(arrived(c.path) - before, 1, `${label}: the backend got the request once`);
        t.match(answers[0]!.headers, /x-seb-decision: admit/, `${label}: the first answer says admit`);
        t.match(answers[0]!.headers, /x-seb-record: /, `${label}: and names its record`);
        t.same(answers.slice(1).map((a) => a.status), [403, 403, 403], `${label}: the other tries are refused`);
        for (const a of answers.slice(1)) t.match(a.headers, /x-seb-reason: replay/, label);
        const rs = await settled(broker, jti, 4);
        t.equal(rs.filter((r) => r.decision.decision === 'admit').length, 1, `${label}: one admit`);
        t.ok(rs.find((r) => r.decision.decision === 'admit')?.outcome?.status >= 400, `${label}: its outcome is the backend's answer`);
      }
    }
  }
});

const streams: { what: string; pod: string; query: string; params: Record<string, string[]>; ws: string; spdy: string | null }[] = [
  { what: 'exec', pod: 'shell', query: 'command=cat&stdin=true&stdout=true', params: { command: ['cat'], stdin: ['true'], stdout: ['true'] }, ws: 'v5.channel.k8s.io', spdy: 'v4.channel.k8s.io' },
  { what: 'attach', pod: 'shell', query: 'stdin=true&stdout=true', params: { stdin: ['true'], stdout: ['true'] }, ws: 'v5.channel.k8s.io', spdy: 'v4.channel.k8s.io' },
  { what: 'portforward', pod: 'web', query: 'ports=80', params: { ports: ['80'] }, ws: 'v4.channel.k8s.io', spdy: null },
  { what: 'portforward', pod: 'web', query: '', params: {}, ws: 'SPDY/3.1+portforward.k8s.io', spdy: 'portforward.k8s.io' },
];
const RESET_AFTER_MS = [0, 2, 5, 10, 20, 40, 80, 120];

t.test('exec, attach, port-forward: a client that resets after sending gets no second run', async (t) => {
  upgradeLatencyMs = 150;
  t.teardown(() => void (upgradeLatencyMs = 0));
  for (const [ledger, broker, clientDir] of brokers) {
    for (const s of streams) {
      for (const form of ['websocket', 'spdy'] as const) {
        const protocol = form === 'websocket' ? s.ws : s.spdy;
        if (protocol === null) continue;
        const label = `${ledger}, ${s.what}${s.query ? `?${s.query}` : ''}, ${form} ${protocol}`;
        const { jws, jti } = await broker.cert([podOp(s.what, s.pod, s.params)]);
        const path = `/api/v1/namespaces/default/pods/${s.pod}/${s.what}`;
        const target = `${path}${s.query ? `?${s.query}` : ''}`;
        const headers = { ...bearer(jws), ...(form === 'websocket' ? webSocketHeaders(protocol) : spdyHeaders(protocol)) };
        const before = arrived(path);
        for (const ms of RESET_AFTER_MS) {
          await send(broker, clientDir, form === 'websocket' ? 'GET' : 'POST', target, headers, ms);
          await quiet(broker, jti);
        }
        t.equal(arrived(path) - before, 1, `${label}: the apiserver got the upgrade once`);
        const rs = recordsOf(broker, jti);
        const upgraded = rs.filter((r) => r.outcome?.status === 101);
        t.equal(upgraded.length, 1, `${label}: one outcome says the apiserver upgraded`);
        t.match(upgraded[0]?.outcome?.error, /client left/, `${label}: and that the client had left`);
        t.notOk(rs.some((r) => r.outcome?.status === 502), `${label}: no outcome blames the apiserver for the client leaving`);
        const last = await send(broker, clientDir, form === 'websocket' ? 'GET' : 'POST', target, headers);
        t.equal(last.status, 403, `${label}: the use is spent`);
        t.match(last.headers, /x-seb-reason: replay/, label);
      }
    }
  }
});

t.test('Redis: a commit the store does not confirm stops the session', async (t) => {
  const { jws, jti } = await shared.cert([podOp('exec', 'shell', { command: ['cat'], stdin: ['true'], stdout: ['true'] })]);
  upgradeLatencyMs = 100;
  t.teardown(() => void (upgradeLatencyMs = 0));
  onNextUpgrade = () => redis.pause();
  t.teardown(() => redis.resume());
  const answer = await send(shared, join(dir, 'client-redis'), 'POST', '/api/v1/namespaces/default/pods/shell/exec?command=cat&stdin=true&stdout=true', { ...bearer(jws), ...spdyHeaders('v4.channel.k8s.io') });
  redis.resume();
  t.equal(answer.status, 503, 'no session: the client is told the ledger is unavailable');
  t.match(answer.headers, /x-seb-reason: replay_unavailable/);
  const [r] = await settled(shared, jti, 1);
  t.match(r?.outcome, { status: 101, error: /session stopped.*replay_unavailable/ }, 'the outcome says the apiserver upgraded and the session was stopped');
});

t.test('port-forward with pinned ports: only the WebSocket channel form, where the apiserver honours them', async (t) => {
  const { jws } = await memory.cert([podOp('portforward', 'web', { ports: ['80'] }, 10)]);
  const clientDir = join(dir, 'client-memory');
  const path = '/api/v1/namespaces/default/pods/web/portforward';
  const before = arrived(path);
  const refused: [string, string, Record<string, string>][] = [
    ['SPDY POST', 'POST', spdyHeaders('portforward.k8s.io')],
    ['SPDY tunnelled in WebSocket', 'GET', webSocketHeaders('SPDY/3.1+portforward.k8s.io')],
    ['the tunnel offered beside the channels', 'GET', webSocketHeaders('v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io')],
    ['a WebSocket that offers no protocol', 'GET', { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') }],
  ];
  for (const [what, method, headers] of refused) {
    const answer = await send(memory, clientDir, method, `${path}?ports=80`, { ...bearer(jws), ...headers });
    t.equal(answer.status, 403, what);
    t.match(answer.headers, /x-seb-reason: contract_mismatch/, what);
  }
  t.equal(arrived(path), before, 'none of them reached the apiserver');

  const kubeconfig = join(clientDir, 'kubeconfig');
  const viaKubectl = await kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), '--token', jws, 'port-forward', '--address', '127.0.0.1', 'pod/web', '-n', 'default', ':80']);
  t.not(viaKubectl.code, 0, 'kubectl 1.32 (ports inside the stream) is refused');
  t.match(viaKubectl.stderr, /contract_mismatch/);

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.users[0] = { ...kc.users[0]!, token: jws };
  const output = new PassThrough();
  let answer = '';
  output.on('data', (c: Buffer) => (answer += c.toString()));
  const input = new PassThrough();
  const ws = await new PortForward(kc).portForward('default', 'web', [80], output, null, input);
  if (typeof ws === 'function') throw new Error('portForward answered no WebSocket');
  input.write('GET / HTTP/1.0\r\n\r\n');
  t.ok(await until(() => answer.includes('hello from pod web'), 10_000), 'client-node (v4.channel.k8s.io, ?ports=80) reaches port 80');
  ws.close();
});

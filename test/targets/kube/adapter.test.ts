// The Kubernetes adapter alone (src/targets/kube/adapter.ts), driven phase by phase as the runner
// drives it (open -> finish -> bind -> match, drift -> identity -> prepare or tunnel), against an
// in-process apiserver stand-in over TLS (test/faults/fakes.ts) reached through the broker's own
// upstream (kubeUpstream with the stand-in's kubeconfig). No peers, no child processes.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeTarget } from '../../../src/targets/kube/adapter.js';
import { kubeUpstream } from '../../../src/targets/kube/upstream.js';
import type { Certificate, K8sOp, Op } from '../../../src/certificate/types.js';
import type { RequestHead } from '../../../src/targets/target.js';
import { startFakeApiserver } from '../../faults/fakes.js';
import { adapterConfig } from '../../helpers/adapter-config.js';
import { issueCert, makeKey } from '../../helpers/pki.js';
import { code, codeOf } from '../../helpers/reason.js';

const dir = mkdtempSync(join(tmpdir(), 'seb-kube-adapter-'));
const apiserver = await startFakeApiserver(dir);
const upstream = await kubeUpstream({ in_cluster: false, server: null, kubeconfig: apiserver.kubeconfig, tls: null, client_dir: dir }, () => {});
t.teardown(async () => {
  await Promise.all([upstream.close(), apiserver.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const config = adapterConfig(
  {
    executors: {
      ops: { k8s: { user: 'seb-ops', groups: ['seb-writers'] } },
      reader: { k8s: { user: 'seb-reader', groups: [] } },
      awsonly: { aws: { role_arn: 'arn:aws:iam::123456789012:role/r' } },
    },
    kube: { kubeconfig: apiserver.kubeconfig },
  },
  dir,
);
const target = new KubeTarget(config, upstream);
const ops = target.executor('ops')!;

const CONFIGMAPS = '/api/v1/namespaces/default/configmaps';
const CREATE = Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { mode: 'blue' } }));
const { jws: AGENT_TOKEN } = await issueCert(makeKey(), []);

/** A request as kubectl sends it, with the certificate as its bearer token (and `extra` on top). */
function head(method: string, target: string, body: Buffer, extra: Record<string, string> = {}): RequestHead {
  const [path, query = ''] = target.split('?') as [string, string?];
  const headers: Record<string, string> = Object.assign(Object.create(null), {
    host: '127.0.0.1:15102',
    authorization: `Bearer ${AGENT_TOKEN}`,
    accept: 'application/json',
    'user-agent': 'kubectl/v1.32.0',
    ...(body.length ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
    ...extra,
  });
  return { method, target, path, query, headers, expectContinue: false, contentLength: body.length };
}

const createHead = (extra: Record<string, string> = {}) => head('POST', CONFIGMAPS, CREATE, extra);
const deleteHead = () => head('DELETE', `${CONFIGMAPS}/cfg`, Buffer.alloc(0));

/** The op `seb op capture` would print for the request (what an issuer would pin). */
function capturedOp(h: RequestHead, body: Buffer): K8sOp {
  const captured: Op[] = [];
  target.open(h, null).finish(body).capture('', (op) => captured.push(op) - 1);
  return captured[0] as K8sOp;
}

function certificate(op: Op): Certificate {
  return {
    kid: 'k', iss: 'sab', sub: 'agent:unit', aud: ['aud'], jti: 'cert-kube-1', iat: 1, nbf: 1, exp: 2e9,
    policy_epoch: 1, revocation_epoch: 0, execution_identity: 'ops', contract: { id: 'c', evidence: '', ops: [op] },
  };
}

/** The request bound to `ops`, matched against `op` and probed for its pre_state, as the runner does. */
async function admitted(h: RequestHead, body: Buffer, op: K8sOp, upgrade: Record<string, string> | null = null) {
  const bound = target.open(h, upgrade).finish(body).bind(ops);
  await bound.drift(bound.match([op]), certificate(op));
  return bound.identity(certificate(op));
}

t.test('open: RequestInfo from the head; the carrier is the bearer token; an Upgrade where none is served is refused', async (t) => {
  const opened = target.open(createHead(), null);
  t.equal(opened.early, opened, 'the head is read whole before the body');
  t.same(opened.early!.kind, { read: false, vends: null, longRunning: false });
  t.match(opened.project(null), { verb: 'create', version: 'v1', resource: 'configmaps', namespace: 'default', name: null });
  t.equal(opened.carrier()?.token, AGENT_TOKEN);
  t.equal(target.open(createHead({ authorization: 'Bearer placeholder' }), null).carrier(), null);
  t.equal(code(() => target.open(createHead({ 'x-seb-certificate': 'not-a-jws' }), null).carrier()), 'malformed_certificate');
  t.match(target.open(head('GET', '/api/v1/namespaces/default/secrets/db', Buffer.alloc(0)), null).early!.kind, { read: false, vends: /hands out credentials/ }, 'a secret is never a read');
  t.equal(target.open(head('GET', `${CONFIGMAPS}/cfg`, Buffer.alloc(0)), null).early!.kind.read, true);
  t.equal(target.open(head('GET', `${CONFIGMAPS}?watch=true`, Buffer.alloc(0)), null).early!.kind.longRunning, true);
  t.equal(code(() => target.open(createHead(), { connection: 'Upgrade', upgrade: 'websocket' })), 'unparseable_request');
  t.equal(target.executor('awsonly'), null, 'an executor with no k8s profile is none here');
});

t.test('finish: the body names the object; a body that is not one JSON object is refused', async (t) => {
  t.match(target.open(createHead(), null).finish(CREATE).project(null), { verb: 'create', name: 'cfg' });
  t.equal(code(() => target.open(createHead(), null).finish(Buffer.from('{"metadata": {"name": "cfg"}, "metadata": {}}'))), 'unparseable_request');
});

t.test('bind and match: the pinned op matches; another body or another namespace is refused', async (t) => {
  const op = capturedOp(createHead(), CREATE);
  const bind = (body: Buffer) => target.open(createHead(), null).finish(body).bind(ops);
  t.equal(bind(CREATE).match([op]).op, op);
  const changed = Buffer.from(CREATE.toString().replace('blue', 'green'));
  t.equal(code(() => bind(changed).match([op])), 'body_mismatch');
  t.equal(code(() => bind(CREATE).match([{ ...op, namespace: 'kube-system' }])), 'contract_mismatch');
});

t.test('drift: pre_state is probed as the read executor; a probe that contradicts it is refused', async (t) => {
  const absent = { ...capturedOp(createHead(), CREATE), pre_state: { absent: true as const } };
  const before = apiserver.arrivals.length;
  const create = target.open(createHead(), null).finish(CREATE).bind(ops);
  t.equal(await codeOf(create.drift(create.match([absent]), certificate(absent))), 'ok', 'the stand-in answers 404');
  const probe = apiserver.arrivals[before]!;
  t.same([probe.method, probe.url], ['GET', `${CONFIGMAPS}/cfg`]);
  t.same([probe.headers['impersonate-user'], probe.headers.authorization], ['seb-reader', 'Bearer fake-broker-token']);

  const pinned = { ...capturedOp(deleteHead(), Buffer.alloc(0)), pre_state: { resource_version: '7' } };
  const del = target.open(deleteHead(), null).finish(Buffer.alloc(0)).bind(ops);
  t.equal(await codeOf(del.drift(del.match([pinned]), certificate(pinned))), 'drift', 'the object does not exist');
});

t.test('identity: the executor is named, not minted; a read goes out as the read executor', async (t) => {
  const op = capturedOp(createHead(), CREATE);
  t.same((await admitted(createHead(), CREATE, op)).identityRecord(), { type: 'k8s', user: 'seb-ops', groups: ['seb-writers'] });
  const read = await target.open(head('GET', `${CONFIGMAPS}/cfg`, Buffer.alloc(0)), null).passRead(Buffer.alloc(0), target.reader!).identity(null);
  t.same(read.identityRecord(), { type: 'k8s', user: 'seb-reader', groups: [] });
  // A certified request under an executor the certificate does not name is the runner's to refuse;
  // here the adapter's part: an executor without a k8s profile cannot be bound at all.
  t.equal(target.executor('nobody'), null);
});

t.test('prepare: impersonation with the broker token, the agent token and its own Impersonate-* gone, the drift guard in the body', async (t) => {
  const op = capturedOp(createHead(), CREATE);
  const cert = certificate(op);
  const hostile = createHead({ 'impersonate-user': 'system:admin', 'impersonate-uid': 'system:uid', 'impersonate-group': 'system:masters', 'x-seb-certificate': AGENT_TOKEN });
  const up = await (await admitted(hostile, CREATE, op)).prepare(cert);
  t.same([up.origin, up.method, up.path, up.body], [apiserver.origin, 'POST', CONFIGMAPS, CREATE]);
  t.match(up.headers, {
    'impersonate-user': 'seb-ops',
    'impersonate-group': ['seb-writers'],
    'impersonate-extra-seb.io%2fcertificate': 'cert-kube-1',
    authorization: 'Bearer fake-broker-token',
    'content-type': 'application/json',
  });
  t.notOk(JSON.stringify(up.headers).includes(AGENT_TOKEN), 'the agent certificate goes nowhere upstream');
  t.notOk(JSON.stringify(up.headers).includes('system:'), 'the agent impersonation headers are dropped');

  // What the runner sends reaches the apiserver as prepared.
  const answer = await upstream.dispatcher.request({ origin: up.origin, path: up.path, method: up.method, headers: up.headers, body: up.body });
  await answer.body.dump();
  const arrived = apiserver.arrivals.at(-1)!;
  t.same([answer.statusCode, arrived.method, arrived.url, arrived.headers['impersonate-user'], arrived.body], [201, 'POST', CONFIGMAPS, 'seb-ops', CREATE]);

  // A delete pinned to a resourceVersion goes out with that precondition in its body.
  const pinned = { ...capturedOp(deleteHead(), Buffer.alloc(0)), pre_state: { resource_version: '7' } };
  apiserver.answerFor = (method) => (method === 'GET' ? { kind: 'status', status: 200, type: 'application/json', body: JSON.stringify({ metadata: { uid: 'u-1', resourceVersion: '7' } }) } : undefined);
  t.teardown(() => void (apiserver.answerFor = undefined));
  const guarded = await (await admitted(deleteHead(), Buffer.alloc(0), pinned)).prepare(certificate(pinned));
  t.same(JSON.parse(guarded.body.toString()).preconditions, { uid: 'u-1', resourceVersion: '7' });
});

t.test('tunnel: exec goes out on its own connection as the executor, spent on its 101', async (t) => {
  const exec = `/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true`;
  const upgrade = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-protocol': 'v5.channel.k8s.io' };
  const op = capturedOp(head('POST', exec, Buffer.alloc(0)), Buffer.alloc(0));
  const tunnel = (await admitted(head('POST', exec, Buffer.alloc(0)), Buffer.alloc(0), op, upgrade)).tunnel(certificate(op));
  t.same([tunnel.host, tunnel.port, tunnel.path, tunnel.spendsOnUpgrade], ['127.0.0.1', String(apiserver.port), exec, true]);
  t.match(tunnel.headers, { 'impersonate-user': 'seb-ops', authorization: 'Bearer fake-broker-token', upgrade: 'websocket' });
  t.notOk(JSON.stringify(tunnel.headers).includes(AGENT_TOKEN), 'the agent certificate goes nowhere upstream');
  t.ok(tunnel.tls.ca, 'the tunnel trusts the apiserver CA only');
  t.equal(target.open(head('POST', exec, Buffer.alloc(0)), upgrade).early!.kind.longRunning, true);
  const other = head('POST', exec.replace('command=ls', 'command=sh'), Buffer.alloc(0));
  t.equal(code(() => target.open(other, upgrade).finish(Buffer.alloc(0)).bind(ops).match([op])), 'contract_mismatch', 'another command');
});

/**
 * `seb inject` behind the stand-in apiserver's mutating admission, driven by the real kubectl 1.32:
 * the MutatingWebhookConfiguration of the sidecar contract (Service seb-system/seb-injector, the
 * test's CA as caBundle), labelled and unlabelled pods, a denial, reinvocation after a later
 * webhook (an IRSA look-alike) changed the pod, a webhook that times out, and the injector down.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStandInApiserver, type StandInApiserver } from '../../src/dev/apiserver/server.js';
import { kubectl as runKubectl } from '../helpers/kubectl.js';
import { until } from '../helpers/until.js';
import { SERVICE_HOST, servingPair, startInjector, type Injector, type TlsFiles } from './injector.js';
import { invariantProblems } from './invariants.js';

type Obj = Record<string, any>;
const dir = mkdtempSync(join(tmpdir(), 'seb-inject-standin-'));
let api: StandInApiserver;
let injector: Injector;
let injectorTls: TlsFiles;
let kubeconfig = '';
const servers: Server[] = [];

t.before(async () => {
  injectorTls = await servingPair(dir, 'injector', [SERVICE_HOST]);
  injector = await startInjector(injectorTls);
  const apiTls = await servingPair(dir, 'apiserver', ['127.0.0.1']);
  api = await startStandInApiserver({
    tls: { certPem: readFileSync(apiTls.certPath, 'utf8'), keyPem: readFileSync(apiTls.keyPath, 'utf8') },
    tokens: { 'admin-token': { user: 'admin', groups: ['system:masters'] } },
    impersonators: [],
    rbac: { 'system:masters': [{ verbs: ['*'], resources: ['*'] }] },
    webhookServices: { 'seb-system/seb-injector:443': `https://127.0.0.1:${injector.port}` },
  });
  writeFileSync(join(dir, 'apiserver-ca.crt'), apiTls.ca.certPem);
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 's', cluster: { server: api.url, 'certificate-authority': join(dir, 'apiserver-ca.crt') } }],
    users: [{ name: 'admin', user: { token: 'admin-token' } }],
    contexts: [{ name: 'c', context: { cluster: 's', user: 'admin' } }],
    'current-context': 'c',
  }));
});
t.teardown(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await injector?.stop();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runKubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args]);
}

let files = 0;
async function apply(obj: unknown, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const path = join(dir, `manifest-${files++}.json`);
  writeFileSync(path, JSON.stringify(obj));
  return kubectl('apply', '-f', path, ...extra);
}

async function getPod(namespace: string, name: string): Promise<Obj> {
  const r = await kubectl('get', 'pod', name, '-n', namespace, '-o', 'json');
  if (r.code !== 0) throw new Error(`get pod ${namespace}/${name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Obj;
}

/** A pod as the ServiceAccount admission plugin leaves it: automount on, kube-api-access mounted. */
function pod(namespace: string, name: string, labels: Record<string, string>): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      serviceAccountName: 'agent-deployer',
      containers: [{
        name: 'agent',
        image: 'registry.example/agent:1',
        env: [{ name: 'AWS_PROFILE', value: 'prod' }],
        volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
      }],
      volumes: [{ name: 'kube-api-access-abcde', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } }],
    },
  };
}

/** A MutatingWebhookConfiguration shaped like k8s/'s `seb-injector`. */
function injectorConfig(failurePolicy: 'Fail' | 'Ignore'): Obj {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'seb-injector' },
    webhooks: [{
      name: 'inject.seb.dev',
      clientConfig: { service: { namespace: 'seb-system', name: 'seb-injector', path: '/mutate', port: 443 }, caBundle: Buffer.from(injectorTls.ca.certPem).toString('base64') },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      objectSelector: { matchLabels: { 'seb.dev/inject': 'true' } },
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'seb-system'] }] },
      failurePolicy,
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      reinvocationPolicy: 'IfNeeded',
      timeoutSeconds: 5,
    }],
  };
}

const OPT_IN = { 'seb.dev/inject': 'true' };

t.test('set-up: namespaces and the injector webhook apply with kubectl', async (t) => {
  for (const ns of ['agents', 'seb-system']) {
    const r = await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    t.equal(r.code, 0, r.stderr);
  }
  const r = await apply(injectorConfig('Fail'));
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /mutatingwebhookconfiguration.admissionregistration.k8s.io\/seb-injector created/);
  const listed = await kubectl('get', 'mutatingwebhookconfigurations');
  t.match(listed.stdout, /seb-injector/, 'kubectl lists it (discovery knows the resource)');
});

t.test('a labelled pod is stored injected', async (t) => {
  const r = await apply(pod('agents', 'agent-1', { app: 'agent', ...OPT_IN }));
  t.equal(r.code, 0, r.stderr);
  const stored = await getPod('agents', 'agent-1');
  t.same(invariantProblems(stored), [], 'every SPEC §11 invariant holds on the stored pod');
  t.same(stored['spec'].initContainers.map((c: Obj) => c['name']), ['seb-init', 'seb-broker']);
  t.equal(stored['spec'].automountServiceAccountToken, false);
  // (kubectl's last-applied annotation still names it: only the spec counts.)
  t.notOk(JSON.stringify(stored['spec']).includes('kube-api-access-abcde'), 'the ServiceAccount token volume and its mounts are gone');
  const agent = stored['spec'].containers[0];
  t.notOk(agent['env'].some((e: Obj) => e['name'] === 'AWS_PROFILE'), 'AWS_PROFILE removed');
  t.ok(await until(() => /agents\/agent-1: injected/.test(injector.stderr()), 5_000), 'the injector logged it');
});

t.test('server-side dry run shows the injected pod without storing it', async (t) => {
  const r = await apply(pod('agents', 'agent-dry', OPT_IN), '--dry-run=server', '-o', 'json');
  t.equal(r.code, 0, r.stderr);
  t.same(invariantProblems(JSON.parse(r.stdout)), []);
  t.match((await kubectl('get', 'pod', 'agent-dry', '-n', 'agents')).stderr, /NotFound/);
});

t.test('pods the webhook does not select are left alone', async (t) => {
  const plain = pod('agents', 'no-label', { app: 'other' });
  t.equal((await apply(plain)).code, 0);
  const stored = await getPod('agents', 'no-label');
  t.equal(stored['spec'].initContainers, undefined, 'no sidecar without the label');
  t.equal(stored['metadata'].annotations?.['seb.dev/injected'], undefined);
  t.same(stored['spec'].volumes, plain['spec'].volumes);

  t.equal((await apply(pod('kube-system', 'system-pod', OPT_IN))).code, 0);
  t.equal((await getPod('kube-system', 'system-pod'))['spec'].initContainers, undefined, 'kube-system is excluded by the namespaceSelector');
});

t.test('a denied pod is refused with the injector reason', async (t) => {
  const bad = pod('agents', 'host-net', OPT_IN);
  bad['spec'].hostNetwork = true;
  const r = await apply(bad);
  t.not(r.code, 0);
  t.match(r.stderr, /Error from server \(Forbidden\).*admission webhook "inject\.seb\.dev" denied the request: seb sidecar injection: hostNetwork is true/);
  t.match((await kubectl('get', 'pod', 'host-net', '-n', 'agents')).stderr, /NotFound/, 'nothing stored');
});

t.test('reinvocation: a later webhook gives the agent IRSA credentials, the injector moves them to the broker', async (t) => {
  const irsaTls = await servingPair(dir, 'irsa', ['127.0.0.1']);
  let calls = 0;
  const server = createServer({ cert: readFileSync(irsaTls.certPath), key: readFileSync(irsaTls.keyPath) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls++;
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj;
      const object = review['request'].object as Obj;
      // What the EKS pod identity webhook adds, to every container that lacks it.
      const ops: Obj[] = [{ op: 'add', path: '/spec/volumes/-', value: { name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } } }];
      for (const list of ['initContainers', 'containers']) {
        (object['spec'][list] ?? []).forEach((c: Obj, i: number) => {
          if ((c['env'] ?? []).some((e: Obj) => e['name'] === 'AWS_ROLE_ARN')) return;
          if (c['env'] === undefined) ops.push({ op: 'add', path: `/spec/${list}/${i}/env`, value: [] });
          ops.push({ op: 'add', path: `/spec/${list}/${i}/env/-`, value: { name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/seb-broker' } });
          ops.push({ op: 'add', path: `/spec/${list}/${i}/env/-`, value: { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' } });
          if (c['volumeMounts'] === undefined) ops.push({ op: 'add', path: `/spec/${list}/${i}/volumeMounts`, value: [] });
          ops.push({ op: 'add', path: `/spec/${list}/${i}/volumeMounts/-`, value: { name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount', readOnly: true } });
        });
      }
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review['request'].uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') } });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/mutate`;
  // Named after seb-injector, so it runs second, as the EKS webhook may.
  const config = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'zz-irsa' },
    webhooks: [{
      name: 'irsa.example.test',
      clientConfig: { url, caBundle: Buffer.from(irsaTls.ca.certPem).toString('base64') },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'agents' } },
      failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'],
    }],
  };
  t.equal((await apply(config)).code, 0);
  const r = await apply(pod('agents', 'agent-irsa', OPT_IN));
  t.equal(r.code, 0, r.stderr);
  t.equal(calls, 1, 'the later webhook ran once');
  const stored = await getPod('agents', 'agent-irsa');
  t.same(invariantProblems(stored), [], 'the invariants hold after both webhooks');
  const broker = stored['spec'].initContainers.find((c: Obj) => c['name'] === 'seb-broker');
  t.equal(broker['env'].filter((e: Obj) => e['name'] === 'AWS_ROLE_ARN').length, 1, 'the broker has the role ARN once');
  t.ok(broker['volumeMounts'].some((m: Obj) => m['name'] === 'aws-iam-token'), 'and the IRSA token');
  t.equal(stored['spec'].initContainers.filter((c: Obj) => c['name'] === 'seb-broker').length, 1, 'no second broker');
  t.ok(await until(() => /agents\/agent-irsa: already injected, hardening re-applied/.test(injector.stderr()), 5_000), 'the injector was reinvoked');
  t.equal((await kubectl('delete', 'mutatingwebhookconfiguration', 'zz-irsa')).code, 0);
});

t.test('a webhook that does not answer in timeoutSeconds: Fail refuses, Ignore lets the pod through', async (t) => {
  const slowTls = await servingPair(dir, 'slow', ['127.0.0.1']);
  const server = createServer({ cert: readFileSync(slowTls.certPath), key: readFileSync(slowTls.keyPath) }, () => {
    // Never answers: the apiserver's timeout must end the call.
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const config = (failurePolicy: string): Obj => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'slow' },
    webhooks: [{
      name: 'slow.example.test',
      clientConfig: { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`, caBundle: Buffer.from(slowTls.ca.certPem).toString('base64') },
      rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }],
      objectSelector: { matchExpressions: [{ key: 'slow', operator: 'Exists' }] },
      failurePolicy, sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 1,
    }],
  });
  t.equal((await apply(config('Fail'))).code, 0);
  const started = Date.now();
  const refused = await apply(pod('agents', 'slow-1', { slow: 'yes' }));
  t.not(refused.code, 0);
  t.match(refused.stderr, /Internal error occurred: failed calling webhook "slow\.example\.test": failed to call webhook: .*context deadline exceeded/);
  t.ok(Date.now() - started < 20_000, 'the call ended at the timeout, not when kubectl gave up');
  t.equal((await kubectl('delete', 'mutatingwebhookconfiguration', 'slow')).code, 0);
  t.equal((await apply(config('Ignore'))).code, 0);
  t.equal((await apply(pod('agents', 'slow-2', { slow: 'yes' }))).code, 0, 'failurePolicy Ignore creates the pod');
  t.equal((await getPod('agents', 'slow-2'))['spec'].initContainers, undefined, 'unchanged');
  t.equal((await kubectl('delete', 'mutatingwebhookconfiguration', 'slow')).code, 0);
});

t.test('the injector down: failurePolicy Fail refuses labelled pods only', async (t) => {
  t.equal(await injector.stop(), 0);
  const r = await apply(pod('agents', 'agent-2', OPT_IN));
  t.not(r.code, 0);
  t.match(r.stderr, /Internal error occurred: failed calling webhook "inject\.seb\.dev": failed to call webhook: Post "https:\/\/seb-injector\.seb-system\.svc:443\/mutate\?timeout=5s"/);
  t.match((await kubectl('get', 'pod', 'agent-2', '-n', 'agents')).stderr, /NotFound/, 'no pod without its broker');
  t.equal((await apply(pod('agents', 'unlabelled-2', { app: 'x' }))).code, 0, 'an unselected pod does not need the injector');
});

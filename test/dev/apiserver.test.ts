/**
 * The stand-in apiserver driven by the real kubectl 1.32 (reference/k8s.md §8) and by raw HTTPS for
 * what kubectl cannot express (preconditions, JSON Patch tests, watch parameters). No broker here.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStandInApiserver, type StandInApiserver } from '../../src/dev/apiserver/server.js';
import { AGGREGATED_CONTENT_TYPE } from '../../src/dev/apiserver/discovery.js';
import { issueServingCert, makeLocalCa } from '../../src/targets/kube/local-pki.js';

const KUBECTL = '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
// Required, never skipped (test/helpers/peers.ts): fail loudly when the binary is missing.
accessSync(KUBECTL, constants.X_OK);

const dir = mkdtempSync(join(tmpdir(), 'seb-standin-'));
const ca = await makeLocalCa('stand-in test CA');
const tls = { ...(await issueServingCert(ca, ['127.0.0.1'])), caPath: join(dir, 'ca.pem') };
writeFileSync(tls.caPath, ca.certPem);
const TOKENS = {
  'admin-token': { user: 'admin', groups: ['system:masters'] },
  'agent-token': { user: 'agent', groups: [] },
};
let api: StandInApiserver;

t.before(async () => {
  api = await startStandInApiserver({
    tls: { certPem: tls.certPem, keyPem: tls.keyPem },
    tokens: TOKENS,
    impersonators: ['admin'],
    rbac: {
      'system:masters': [{ verbs: ['*'], resources: ['*'] }],
      agent: [{ verbs: ['get', 'list'], resources: ['pods'] }],
      reader: [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }],
    },
  });
});
t.teardown(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(token: string): string {
  const path = join(dir, `kubeconfig-${token}`);
  writeFileSync(path, [
    'apiVersion: v1', 'kind: Config',
    'clusters:', '- name: s', '  cluster:', `    server: ${api.url}`, `    certificate-authority: ${tls.caPath}`,
    'users:', '- name: u', '  user:', `    token: ${token}`,
    'contexts:', '- name: c', '  context: {cluster: s, user: u, namespace: default}',
    'current-context: c', '',
  ].join('\n'));
  return path;
}

interface Run { code: number | null; stdout: string; stderr: string }

function kubectl(args: string[], opts: { token?: string; stdin?: string; onStdout?: () => void } = {}): Promise<Run> {
  const child = spawn(KUBECTL, ['--kubeconfig', kubeconfig(opts.token ?? 'admin-token'), '--cache-dir', join(dir, 'cache'), ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: dir },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    opts.onStdout?.();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.stdin ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function manifest(name: string, fields: Record<string, unknown>): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(fields));
  return path;
}

function deployment(image: string, replicas: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: {
      replicas, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image, ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }] }] } },
    },
  };
}

interface Reply { status: number; headers: Record<string, unknown>; text: string; json: () => Record<string, any> }

function call(method: string, path: string, opts: { token?: string | null; body?: unknown; contentType?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== null) headers['authorization'] = `Bearer ${opts.token ?? 'admin-token'}`;
  if (body !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    // Node sends a DELETE body only with an explicit length (no chunking by default for DELETE).
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { method, headers, ca: readFileSync(tls.caPath) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, any> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads a watch until `done` holds for the events seen so far, then leaves. */
function watchUntil(path: string, done: (events: { type: string; object: Record<string, any> }[]) => boolean, act: () => Promise<unknown> = async () => undefined): Promise<{ type: string; object: Record<string, any> }[]> {
  return new Promise((resolve, reject) => {
    const events: { type: string; object: Record<string, any> }[] = [];
    const req = request(`${api.url}${path}`, { headers: { authorization: 'Bearer admin-token' }, ca: readFileSync(tls.caPath) }, (res) => {
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)) as { type: string; object: Record<string, any> });
          buf = buf.slice(nl + 1);
        }
        if (done(events)) {
          req.destroy();
          resolve(events);
        }
      });
      void act().catch(reject);
    });
    req.on('error', (e) => (done(events) ? resolve(events) : reject(e)));
    req.end();
  });
}

t.test('authentication: no or unknown token is a 401 Status; /version is public', async (t) => {
  const none = await call('GET', '/api/v1/namespaces', { token: null });
  t.equal(none.status, 401);
  t.match(none.json(), { kind: 'Status', reason: 'Unauthorized', code: 401 });
  const bad = await kubectl(['get', 'ns'], { token: 'wrong-token' });
  t.not(bad.code, 0);
  // kubectl 1.32 reports a discovery 401 as "(the server has asked for the client to provide credentials)".
  t.match(bad.stderr, /error: You must be logged in to the server/);
  const version = await call('GET', '/version', { token: null });
  t.equal(version.json()['minor'], '32');
});

t.test('discovery: aggregated v2 only when asked for, legacy lists otherwise; OpenAPI v3', async (t) => {
  const agg = await call('GET', '/apis', { headers: { accept: `${AGGREGATED_CONTENT_TYPE},application/json` } });
  t.equal(agg.headers['content-type'], AGGREGATED_CONTENT_TYPE);
  const apps = agg.json()['items'].find((g: any) => g.metadata.name === 'apps');
  const deploy = apps.versions[0].resources.find((r: any) => r.resource === 'deployments');
  t.match(deploy, { scope: 'Namespaced', singularResource: 'deployment', shortNames: ['deploy'] });
  t.match(deploy.subresources.find((s: any) => s.subresource === 'scale'), { responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' } });
  const legacy = await call('GET', '/apis', { headers: { accept: 'application/json' } });
  t.equal(legacy.headers['content-type'], 'application/json');
  t.equal(legacy.json()['kind'], 'APIGroupList');
  const core = await call('GET', '/api/v1');
  t.ok(core.json()['resources'].some((r: any) => r.name === 'pods/exec'));

  const root = (await call('GET', '/openapi/v3')).json();
  const url: string = root['paths']['apis/apps/v1'].serverRelativeURL;
  t.match(url, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]+$/);
  const doc = (await call('GET', url)).json();
  const patch = doc['paths']['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
  t.same(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
  t.ok(patch.parameters.some((p: any) => p.name === 'fieldValidation'));
  t.equal((await call('GET', '/openapi/v2')).status, 404);
});

t.test('kubectl get ns', async (t) => {
  const r = await kubectl(['get', 'ns']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^default\s/m);
  t.match(r.stdout, /^kube-system\s/m);
});

t.test('kubectl deployment life cycle: apply, apply again, server-side apply, scale, patch, rollout restart', async (t) => {
  const get = async () => JSON.parse((await kubectl(['get', 'deploy', 'web', '-o', 'json'])).stdout) as Record<string, any>;
  let r = await kubectl(['apply', '-f', manifest('web', deployment('nginx:1.25', 1))]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'deployment.apps/web created');
  r = await kubectl(['apply', '-f', manifest('web', deployment('nginx:1.26', 1))]);
  t.match(r.stdout, 'deployment.apps/web configured');
  let d = await get();
  t.equal(d['spec'].template.spec.containers[0].image, 'nginx:1.26');
  t.equal(d['metadata'].generation, 2);
  t.match(d['metadata'].uid, /^[0-9a-f-]{36}$/);

  r = await kubectl(['apply', '--server-side', '-f', manifest('web', deployment('nginx:1.26', 2))]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'serverside-applied');
  t.equal((await get())['spec'].replicas, 2);
  r = await kubectl(['apply', '--server-side', '--field-manager=other', '-f', manifest('web', deployment('nginx:1.26', 4))]);
  t.not(r.code, 0, 'another manager changing an owned field conflicts');
  t.match(r.stderr, /conflict with "kubectl": \.spec\.replicas/);
  r = await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=other', '-f', manifest('web', deployment('nginx:1.26', 4))]);
  t.equal(r.code, 0, r.stderr);
  t.equal((await get())['spec'].replicas, 4);

  r = await kubectl(['scale', 'deploy', 'web', '--replicas=3']);
  t.match(r.stdout, 'deployment.apps/web scaled');
  t.equal((await get())['spec'].replicas, 3);
  const scale = (await call('GET', '/apis/apps/v1/namespaces/default/deployments/web/scale')).json();
  t.match(scale, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 }, status: { selector: 'app=web' } });

  r = await kubectl(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}']);
  t.equal(r.code, 0, r.stderr);
  r = await kubectl(['patch', 'deploy', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"tier":"front"}}}']);
  t.equal(r.code, 0, r.stderr);
  r = await kubectl(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":5}]']);
  t.equal(r.code, 0, r.stderr);
  d = await get();
  const [container] = d['spec'].template.spec.containers;
  t.equal(d['spec'].template.spec.containers.length, 1, 'strategic merge merged the container by name');
  t.match(container, { name: 'web', image: 'nginx:2', env: [{ name: 'A', value: '1' }] });
  t.match(d['metadata'].labels, { app: 'web', tier: 'front' });
  t.equal(d['spec'].replicas, 5);

  r = await kubectl(['rollout', 'restart', 'deploy', 'web']);
  t.match(r.stdout, 'deployment.apps/web restarted');
  d = await get();
  t.ok(d['spec'].template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
  r = await kubectl(['rollout', 'status', 'deploy', 'web', '--timeout=5s']);
  t.match(r.stdout, 'successfully rolled out');
  r = await kubectl(['get', 'deploy']);
  t.match(r.stdout, /^NAME +READY +UP-TO-DATE +AVAILABLE +AGE\nweb +5\/5 +5 +5 +\d+s\n$/, 'server-side printing (Table)');
});

t.test('kubectl get -w sees the scale and the delete; delete', async (t) => {
  // The watch resumes from the list's resourceVersion, so changing after the list is printed is race-free.
  let listed!: () => void;
  const printed = new Promise<void>((resolve) => (listed = resolve));
  let tabled!: () => void;
  const printedTable = new Promise<void>((resolve) => (tabled = resolve));
  const watch = kubectl(['get', 'deploy', 'web', '-w', '--request-timeout=4s', '-o', 'jsonpath={.spec.replicas}{"\\n"}'], { onStdout: () => listed() });
  const tableWatch = kubectl(['get', 'deploy', '-w', '--request-timeout=4s', '--output-watch-events'], { onStdout: () => tabled() });
  await Promise.all([printed, printedTable]);
  t.equal((await kubectl(['scale', 'deploy', 'web', '--replicas=7'])).code, 0);
  const del = await kubectl(['delete', 'deploy', 'web']);
  t.match(del.stdout, 'deployment.apps "web" deleted');
  const seen = await watch;
  t.same(seen.stdout.trim().split('\n'), ['5', '7', '7'], 'listed, then MODIFIED, then DELETED');
  const rows = (await tableWatch).stdout.trim().split('\n').map((l) => l.split(/ +/).slice(0, 3).join(' '));
  t.same(rows, ['EVENT NAME READY', 'ADDED web 5/5', 'MODIFIED web 7/7', 'DELETED web 7/7'], 'a Table watch prints server-side rows');
  const gone = await kubectl(['get', 'deploy', 'web']);
  t.match(gone.stderr, 'Error from server (NotFound): deployments.apps "web" not found');
});

t.test('kubectl logs and exec', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  t.equal((await kubectl(['apply', '-f', manifest('pod', pod)])).code, 0);
  const logs = await kubectl(['logs', 'p']);
  t.equal(logs.stdout, [1, 2, 3].map((n) => `log line ${n} from default/p/c\n`).join(''));
  const follow = await kubectl(['logs', '-f', 'p', '--request-timeout=2500ms']);
  t.match(follow.stdout, 'log line 4 from default/p/c', 'follow keeps writing a line a second');
  t.notMatch(follow.stdout, 'log line 9');
  const echo = await kubectl(['exec', 'p', '--', 'echo', 'hi']);
  t.equal(echo.code, 0, echo.stderr);
  t.equal(echo.stdout, 'hi\n');
  const cat = await kubectl(['exec', '-i', 'p', '--', 'cat'], { stdin: 'through stdin' });
  t.equal(cat.stdout, 'through stdin');
  const fail = await kubectl(['exec', 'p', '--', 'false']);
  t.equal(fail.code, 1);
  t.match(fail.stderr, 'command terminated with exit code 1');
});

t.test('preconditions: stale PUT, stale patches, JSON Patch test, DELETE preconditions, dryRun', async (t) => {
  const base = '/api/v1/namespaces/default/configmaps';
  const created = await call('POST', base, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: '1' } } });
  t.equal(created.status, 201);
  const cm = created.json();
  t.equal((await call('POST', base, { body: { metadata: { name: 'cm' } } })).json()['reason'], 'AlreadyExists');
  t.equal((await call('PATCH', `${base}/cm`, { body: { data: { a: '2' } }, contentType: 'application/merge-patch+json' })).status, 200);

  const stale = manifest('stale-cm', cm);
  const put = await kubectl(['replace', '-f', stale]);
  t.match(put.stderr, /Error from server \(Conflict\): .*the object has been modified/);
  const cases: [string, string, unknown, number][] = [
    ['merge patch with a stale resourceVersion', 'application/merge-patch+json', { metadata: { resourceVersion: cm['metadata'].resourceVersion }, data: { a: '3' } }, 409],
    ['strategic patch with a stale resourceVersion', 'application/strategic-merge-patch+json', { metadata: { resourceVersion: cm['metadata'].resourceVersion }, data: { a: '3' } }, 409],
    ['JSON Patch test on a stale resourceVersion', 'application/json-patch+json', [{ op: 'test', path: '/metadata/resourceVersion', value: cm['metadata'].resourceVersion }, { op: 'replace', path: '/data/a', value: '3' }], 422],
    ['protobuf body', 'application/vnd.kubernetes.protobuf', 'x', 415],
  ];
  for (const [name, contentType, body, status] of cases) {
    t.equal((await call('PATCH', `${base}/cm`, { body, contentType })).status, status, name);
  }
  const current = (await call('GET', `${base}/cm`)).json();
  t.equal(current['data'].a, '2', 'no refused write landed');
  const fresh = await call('PATCH', `${base}/cm`, { body: [{ op: 'test', path: '/metadata/resourceVersion', value: current['metadata'].resourceVersion }, { op: 'replace', path: '/data/a', value: '4' }], contentType: 'application/json-patch+json' });
  t.equal(fresh.json()['data'].a, '4');

  const dry = await call('DELETE', `${base}/cm?dryRun=All`, {});
  t.equal(dry.status, 200);
  const afterDry = await call('GET', `${base}/cm`);
  t.equal(afterDry.status, 200, `dryRun deleted nothing ${afterDry.text}`);
  const wrongUid = await call('DELETE', `${base}/cm`, { body: { propagationPolicy: 'Background', preconditions: { uid: '00000000-0000-0000-0000-000000000000' } } });
  t.equal(wrongUid.status, 409, wrongUid.text);
  t.match(wrongUid.json(), { reason: 'Conflict', code: 409 });
  const staleRv = await call('DELETE', `${base}/cm`, { body: { preconditions: { resourceVersion: cm['metadata'].resourceVersion } } });
  t.equal(staleRv.status, 409);
  const ok = await call('DELETE', `${base}/cm`, { body: { propagationPolicy: 'Background', preconditions: { uid: cm['metadata'].uid } } });
  t.equal(ok.status, 200);
  t.equal((await call('GET', `${base}/cm`)).status, 404);
});

t.test('impersonation: only impersonators may, and then the impersonated user is authorized', async (t) => {
  const byAgent = await kubectl(['get', 'pods', '--as=reader'], { token: 'agent-token' });
  t.match(byAgent.stderr, /Error from server \(Forbidden\): users "reader" is forbidden: User "agent" cannot impersonate/);
  const asReader = await kubectl(['get', 'pods', '--as=reader', '-o', 'name']);
  t.equal(asReader.stdout, 'pod/p\n');
  const deleteAsReader = await kubectl(['delete', 'pod', 'p', '--as=reader']);
  t.match(deleteAsReader.stderr, /Error from server \(Forbidden\): pods "p" is forbidden: User "reader" cannot delete resource "pods"/);
  const agentDelete = await kubectl(['delete', 'pod', 'p'], { token: 'agent-token' });
  t.match(agentDelete.stderr, /\(Forbidden\)/);
  const groupOnly = await call('GET', '/api/v1/namespaces/default/pods', { headers: { 'impersonate-group': 'x' } });
  t.equal(groupOnly.status, 400, 'a group without a user is a bad request');
  const asGroup = await call('GET', '/api/v1/namespaces/default/pods', { headers: { 'impersonate-user': 'someone', 'impersonate-group': 'reader' } });
  t.equal(asGroup.status, 200, 'RBAC by impersonated group');
  t.equal((await call('GET', '/api/v1/namespaces/default/pods/p')).status, 200, 'the pod survived');
});

t.test('watch: resourceVersion, fieldSelector, bookmarks and DELETED over raw HTTPS', async (t) => {
  const base = '/api/v1/namespaces/default/configmaps';
  const a = (await call('POST', base, { body: { metadata: { name: 'a' } } })).json();
  await call('POST', base, { body: { metadata: { name: 'b' } } });
  const events = await watchUntil(
    `${base}?watch=true&resourceVersion=${a['metadata'].resourceVersion}&fieldSelector=metadata.name%3Da&allowWatchBookmarks=true`,
    (es) => es.some((e) => e.type === 'DELETED'),
    async () => {
      await call('PATCH', `${base}/a`, { body: { data: { x: 'y' } }, contentType: 'application/merge-patch+json' });
      await call('DELETE', `${base}/a`);
    },
  );
  const types = events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${String(e.object['metadata'].name)}`);
  t.same(types, ['MODIFIED a', 'DELETED a'], 'events after the given resourceVersion, for the selected name only');
  t.ok(events.some((e) => e.type === 'BOOKMARK' && e.object['metadata'].resourceVersion !== undefined), 'a bookmark');
  const initial = await watchUntil(`${base}?watch=1`, (es) => es.length >= 1);
  t.match(initial[0], { type: 'ADDED', object: { metadata: { name: 'b' } } }, 'no resourceVersion: current objects as ADDED');
  const started = Date.now();
  const timed = await call('GET', `${base}?watch=1&timeoutSeconds=1`);
  t.ok(Date.now() - started >= 900, 'the server ends the watch after timeoutSeconds');
  t.same(timed.text.trim().split('\n').map((l) => JSON.parse(l).type), ['ADDED']);
});

t.test('lists page with limit/continue; deletecollection by label; namespaces cascade; dryRun and generateName', async (t) => {
  t.equal((await call('POST', '/api/v1/namespaces', { body: { metadata: { name: 'team' } } })).status, 201);
  const base = '/api/v1/namespaces/team/secrets';
  for (const [name, tier] of [['s1', 'a'], ['s2', 'a'], ['s3', 'b']] as const) {
    t.equal((await call('POST', base, { body: { metadata: { name, labels: { tier } }, data: {} } })).status, 201);
  }
  const dry = await call('POST', `${base}?dryRun=All`, { body: { metadata: { generateName: 'gen-' } } });
  t.equal(dry.status, 201);
  t.match(dry.json()['metadata'].name, /^gen-[0-9a-f]{5}$/);
  const page1 = (await call('GET', `${base}?limit=2`)).json();
  t.same(page1['items'].map((i: any) => i.metadata.name), ['s1', 's2'], 'dryRun created nothing');
  t.match(page1['metadata'], { resourceVersion: /^\d+$/, remainingItemCount: 1 });
  const page2 = (await call('GET', `${base}?limit=2&continue=${String(page1['metadata'].continue)}`)).json();
  t.same(page2['items'].map((i: any) => i.metadata.name), ['s3']);
  t.equal(page2['metadata'].continue, undefined);
  t.equal((await call('DELETE', `${base}?labelSelector=tier%3Da`)).status, 200);
  t.same((await call('GET', base)).json()['items'].map((i: any) => i.metadata.name), ['s3']);
  t.equal((await call('DELETE', '/api/v1/namespaces/team')).status, 200);
  t.equal((await call('GET', `${base}/s3`)).status, 404, 'the namespace took its objects with it');
  const orphan = await call('POST', base, { body: { metadata: { name: 's4' } } });
  t.match(orphan.json(), { reason: 'NotFound', message: 'namespaces "team" not found' });
});

t.test('exec: a SPDY upgrade offering no protocol the stand-in speaks is a Status, and exec needs create on pods/exec', async (t) => {
  const spdy = await call('POST', '/api/v1/namespaces/default/pods/p/exec?command=echo&stdout=true', {
    headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v1.channel.k8s.io' },
  });
  t.equal(spdy.status, 400);
  t.match(spdy.json(), { kind: 'Status', reason: 'BadRequest', message: /unable to negotiate protocol/ });
  const denied = await kubectl(['exec', 'p', '--', 'echo', 'hi'], { token: 'agent-token' });
  t.match(denied.stderr, /pods "p" is forbidden: User "agent" cannot create resource "pods\/exec" in API group "" in the namespace "default"/);
});

t.test('fieldValidation: a duplicate field is an error under Strict, a Warning header under Warn, silent under Ignore', async (t) => {
  const base = '/api/v1/namespaces/default/configmaps';
  const dup = (name: string) => `{"metadata":{"name":"${name}"},"data":{"k":"1","k":"2"}}`;
  const cases: [string, string, number, boolean][] = [
    ['Strict', 'dup-strict', 400, false],
    ['Warn', 'dup-warn', 201, true],
    ['Ignore', 'dup-ignore', 201, false],
    ['Bogus', 'dup-bogus', 400, false],
  ];
  for (const [mode, name, status, warned] of cases) {
    const r = await call('POST', `${base}?fieldValidation=${mode}`, { body: dup(name) });
    t.equal(r.status, status, mode);
    t.equal(r.headers['warning'] !== undefined, warned, `${mode} warning header`);
    if (status === 201) t.equal(r.json()['data'].k, '2', `${mode}: the last value wins`);
  }
  const warn = await call('POST', base, { body: dup('dup-default') });
  t.match(warn.headers['warning'], /^299 - "the request body has a duplicate field/, 'Warn is the server default');
});

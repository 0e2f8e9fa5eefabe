/**
 * `seb inject`'s decisions on AdmissionReview fixtures (test/fixtures/inject/): each patch is
 * applied with the test's own RFC 6902 apply and the result checked against every SPEC §11
 * invariant; denials, malformed reviews, reinvocation and a forged injection.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { reviewResponse } from '../../src/inject/review.js';
import { injectPod } from '../../src/inject/inject.js';
import { diff, pointerSegment } from '../../src/inject/json-patch.js';
import { NODE_OPTIONS } from '../../src/inject/sidecar.js';
import type { InjectOptions } from '../../src/inject/settings.js';
import { applyPatch } from './apply-patch.js';
import { invariantProblems } from './invariants.js';

const OPTIONS: InjectOptions = { image: 'ghcr.io/seb-broker/seb:0.1.0', initImage: 'ghcr.io/seb-broker/seb-init:0.1.0', brokerUid: 15000, version: '0.1.0' };
type Obj = Record<string, any>;

function fixture(name: string): Obj {
  return JSON.parse(readFileSync(new URL(`../fixtures/inject/${name}`, import.meta.url), 'utf8')) as Obj;
}

function reviewOf(pod: unknown, uid = 'a1b2c3'): Obj {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'agents', object: pod } };
}

/** The review's answer, its decoded patch, and the pod with the patch applied. */
function admit(review: Obj): { response: Obj; patch: Obj[]; pod: Obj } {
  const answer = reviewResponse(review, OPTIONS);
  if (answer.status !== 200) throw new Error(`expected 200, got 400: ${answer.error}`);
  const response = answer.body['response'] as Obj;
  const patch = response['patch'] === undefined ? [] : (JSON.parse(Buffer.from(response['patch'], 'base64').toString('utf8')) as Obj[]);
  return { response, patch, pod: applyPatch(review['request'].object, patch as never) as Obj };
}

const container = (pod: Obj, name: string): Obj => [...(pod['spec'].initContainers ?? []), ...pod['spec'].containers].find((c: Obj) => c['name'] === name);
const envOf = (c: Obj): Record<string, unknown> => Object.fromEntries((c['env'] ?? []).map((e: Obj) => [e['name'], e['value'] ?? e['valueFrom']]));
const mountAt = (c: Obj, path: string): Obj | undefined => (c['volumeMounts'] ?? []).find((m: Obj) => m['mountPath'] === path);

for (const name of ['plain.json', 'kube-api-access.json', 'irsa.json', 'pod-identity.json', 'multi-container.json', 'reinvoked.json']) {
  t.test(`${name}: injected pod holds every SPEC §11 invariant`, async (t) => {
    const review = fixture(name);
    const { response, patch, pod } = admit(review);
    t.equal(response['uid'], review['request'].uid, 'the response carries the request uid');
    t.equal(response['allowed'], true);
    t.equal(response['patchType'], 'JSONPatch');
    t.ok(patch.length > 0, 'something to patch');
    t.same(invariantProblems(pod), [], 'no invariant is broken');
    t.ok(invariantProblems(review['request'].object).length > 0, 'the pod as sent breaks them (the check is not vacuous)');
    const again = injectPod(pod, OPTIONS);
    t.same(again, { patch: [], action: 'reinvoke' }, 'injecting the result again changes nothing');
  });
}

t.test('plain pod without annotations: the annotations object is created, the agent gets the default UID', async (t) => {
  const { patch, pod } = admit(fixture('plain.json'));
  t.same(patch.find((op) => op['path'] === '/metadata/annotations'), { op: 'add', path: '/metadata/annotations', value: { 'seb.dev/injected': '0.1.0' } });
  t.equal(container(pod, 'agent')['securityContext'].runAsUser, 1000);
  const broker = container(pod, 'seb-broker');
  t.equal(broker['image'], OPTIONS.image);
  t.same(envOf(broker), { NODE_OPTIONS }, 'no credential to move');
  t.same(broker['resources'], { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '384Mi' } });
  t.equal(container(pod, 'seb-init')['image'], OPTIONS.initImage);
  const volumes = Object.fromEntries(pod['spec'].volumes.map((v: Obj) => [v['name'], v]));
  t.equal(volumes['seb-config'].configMap.name, 'seb-broker');
  t.equal(volumes['seb-signing-key'].secret.secretName, 'seb-broker-key');
});

t.test('ServiceAccount token: the kube-api-access volume and every mount of it go; the broker gets its own projected token', async (t) => {
  const { patch, pod } = admit(fixture('kube-api-access.json'));
  t.ok(patch.some((op) => op['path'] === '/metadata/annotations/seb.dev~1injected' && op['op'] === 'add'), 'the annotation key is escaped');
  t.notOk(JSON.stringify(pod).includes('kube-api-access-'), 'nothing refers to kube-api-access-*');
  t.equal(pod['spec'].automountServiceAccountToken, false);
  const token = pod['spec'].volumes.find((v: Obj) => v['name'] === 'seb-kube-token');
  t.same(token.projected.sources.map((s: Obj) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
  t.equal(mountAt(container(pod, 'seb-broker'), '/var/run/secrets/kubernetes.io/serviceaccount')?.['name'], 'seb-kube-token');
});

t.test('IRSA: role and token move to the broker; the agent keeps its region', async (t) => {
  const { pod } = admit(fixture('irsa.json'));
  const broker = envOf(container(pod, 'seb-broker'));
  t.equal(broker['AWS_ROLE_ARN'], 'arn:aws:iam::111122223333:role/seb-broker');
  t.equal(broker['AWS_WEB_IDENTITY_TOKEN_FILE'], '/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
  t.equal(broker['AWS_REGION'], 'eu-west-1', 'the broker gets the region for STS');
  t.same(mountAt(container(pod, 'seb-broker'), '/var/run/secrets/eks.amazonaws.com/serviceaccount'), { name: 'aws-iam-token', readOnly: true, mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' });
  const agent = envOf(container(pod, 'agent'));
  t.equal(agent['AWS_REGION'], 'eu-west-1');
  t.equal(agent['AWS_ROLE_ARN'], undefined);
  t.ok(pod['spec'].volumes.some((v: Obj) => v['name'] === 'aws-iam-token'), 'the IRSA volume stays for the broker');
});

t.test('EKS Pod Identity: the credential URI and token move to the broker', async (t) => {
  const { pod } = admit(fixture('pod-identity.json'));
  const broker = envOf(container(pod, 'seb-broker'));
  t.equal(broker['AWS_CONTAINER_CREDENTIALS_FULL_URI'], 'http://169.254.170.23/v1/credentials');
  t.equal(broker['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'], '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token');
  t.equal(mountAt(container(pod, 'seb-broker'), '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount')?.['name'], 'eks-pod-identity-token');
  t.equal(envOf(container(pod, 'agent'))['AWS_CONTAINER_CREDENTIALS_FULL_URI'], undefined);
});

t.test('several agents and annotations', async (t) => {
  const { pod } = admit(fixture('multi-container.json'));
  const agent = container(pod, 'agent');
  t.equal(agent['securityContext'].runAsUser, 3000, "a container's own UID is kept");
  t.same(agent['securityContext'].capabilities, { add: ['NET_BIND_SERVICE'], drop: ['ALL'] });
  t.equal(agent['securityContext'].allowPrivilegeEscalation, false, 'an explicit true is overridden');
  t.equal(container(pod, 'shell-tools')['securityContext'].runAsUser, 4242, 'seb.dev/agent-uid for a container without one');
  t.equal(container(pod, 'fetch-tools')['securityContext'].runAsUser, 4242, "the pod's own init containers are agents too");
  t.equal(pod['spec'].initContainers.map((c: Obj) => c['name']).join(','), 'seb-init,seb-broker,fetch-tools');
  const env = envOf(agent);
  t.equal(env['LOG_LEVEL'], 'info', 'unrelated env stays');
  for (const gone of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ENDPOINT_URL_S3']) t.equal(env[gone], undefined, `${gone} is removed`);
  t.equal(env['AWS_ACCESS_KEY_ID'], 'AKIASEBPLACEHOLDER00', "the user's key is replaced by the placeholder");
  t.equal(env['KUBECONFIG'], '/var/run/seb/kubeconfig');
  t.equal((container(pod, 'shell-tools')['volumeMounts'] as Obj[]).filter((m) => m['name'] === 'seb-client').length, 1, 'an existing read-only client mount is not doubled');
  const initEnv = envOf(container(pod, 'seb-init'));
  t.equal(initEnv['SEB_AGENT_EGRESS'], '10.20.0.0/16:3128,fd12:3456::/48:3128');
  const volumes = Object.fromEntries(pod['spec'].volumes.map((v: Obj) => [v['name'], v]));
  t.equal(volumes['seb-config'].configMap.name, 'seb-broker-team-a');
  t.equal(volumes['seb-signing-key'].secret.secretName, 'seb-team-a-key');
  t.equal(pod['metadata'].annotations['example.com/odd~key'], 'x', 'other annotations are untouched');
});

t.test("the injected broker gets the image's own V8 heap flags (its env replaces the image's NODE_OPTIONS)", async (t) => {
  const dockerfile = readFileSync(new URL('../../sidecar/Dockerfile', import.meta.url), 'utf8');
  t.equal(/^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile)?.[1], NODE_OPTIONS);
  t.equal(NODE_OPTIONS, '--max-semi-space-size=4 --max-old-space-size=128', 'the flags bench/README.md measured');
});

t.test('reinvocation after the EKS webhook ran: credentials move again, no second broker', async (t) => {
  const review = fixture('reinvoked.json');
  const { response, pod } = admit(review);
  t.ok(response['patch'], 'the agent hardening is re-applied');
  t.equal(pod['spec'].initContainers.filter((c: Obj) => c['name'] === 'seb-broker').length, 1);
  const broker = container(pod, 'seb-broker');
  t.equal((broker['env'] as Obj[]).filter((e) => e['name'] === 'AWS_ROLE_ARN').length, 1, 'the role ARN once, on the broker');
  t.equal(mountAt(broker, '/var/run/secrets/eks.amazonaws.com/serviceaccount')?.['name'], 'aws-iam-token');
  t.same(Object.keys(envOf(container(pod, 'seb-init'))), ['SEB_BROKER_UID', 'SEB_AGENT_EGRESS'], 'seb-init loses what the EKS webhook gave it');
  t.same(container(pod, 'seb-init')['volumeMounts'], undefined);
});

t.test('a forged seb.dev/injected annotation cannot bring its own broker', async (t) => {
  const pod = fixture('plain.json')['request'].object;
  pod.metadata.annotations = { 'seb.dev/injected': '0.1.0' };
  pod.spec.initContainers = [
    { name: 'seb-broker', image: 'attacker.example/broker:1', restartPolicy: 'Always', env: [{ name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/x' }, { name: 'EXFIL', value: '1' }], securityContext: { runAsUser: 0, privileged: true } },
  ];
  const { pod: out } = admit(reviewOf(pod));
  t.same(invariantProblems(out), []);
  const broker = container(out, 'seb-broker');
  t.equal(broker['image'], OPTIONS.image, 'the broker image is the configured one');
  t.equal(envOf(broker)['EXFIL'], undefined, 'env other than credentials is not carried');
  t.equal(broker['securityContext'].privileged, undefined);
});

t.test('conflicting credentials are refused, not guessed', async (t) => {
  const pod = fixture('irsa.json')['request'].object;
  pod.spec.containers.push({ name: 'second', image: 'x', env: [{ name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/other' }] });
  const answer = reviewResponse(reviewOf(pod), OPTIONS);
  t.equal(answer.status, 200);
  const response = (answer as { body: Obj }).body['response'];
  t.equal(response.allowed, false);
  t.match(response.status.message, /containers "agent" and "second" set AWS_ROLE_ARN differently/);
});

const denied = fixture('denied.json') as unknown as { case: string; expect: string[]; pod: Obj }[];
t.test('denials: allowed false, 403, every reason named, no patch', async (t) => {
  t.ok(denied.length >= 20, 'the corpus is there');
  for (const c of denied) {
    const answer = reviewResponse(reviewOf(c.pod, `uid-${c.case}`), OPTIONS);
    t.equal(answer.status, 200, c.case);
    const response = (answer as { body: Obj }).body['response'];
    t.equal(response.uid, `uid-${c.case}`, `${c.case}: uid`);
    t.equal(response.allowed, false, `${c.case}: refused`);
    t.equal(response.status?.code, 403, `${c.case}: 403`);
    t.equal(response.patch, undefined, `${c.case}: no patch`);
    for (const fragment of c.expect) t.ok(String(response.status?.message).includes(fragment), `${c.case}: says ${JSON.stringify(fragment)}`);
  }
});

t.test('a pod without the opt-in label is left alone', async (t) => {
  for (const labels of [undefined, { 'seb.dev/inject': 'false' }, { app: 'x' }]) {
    const pod = { metadata: { name: 'p', ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'a', image: 'x', securityContext: { privileged: true } }] } };
    const { response } = admit(reviewOf(pod));
    t.same(response, { uid: 'a1b2c3', allowed: true }, JSON.stringify(labels));
  }
});

t.test('malformed reviews are a 400 that names the problem', async (t) => {
  const pod = fixture('plain.json')['request'].object;
  const base = reviewOf(pod);
  const withRequest = (fields: Obj): Obj => ({ ...base, request: { ...base['request'], ...fields } });
  const withPod = (spec: Obj): Obj => withRequest({ object: { ...pod, spec: { ...pod.spec, ...spec } } });
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [], /not an AdmissionReview/],
    ['v1beta1', { ...base, apiVersion: 'admission.k8s.io/v1beta1' }, /not an AdmissionReview admission.k8s.io\/v1/],
    ['wrong kind', { ...base, kind: 'Pod' }, /not an AdmissionReview/],
    ['no request', { ...base, request: undefined }, /request must be an object/],
    ['no uid', withRequest({ uid: '' }), /request.uid/],
    ['deployment', withRequest({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), /core\/v1 Pod/],
    ['ephemeral containers', withRequest({ subResource: 'ephemeralcontainers' }), /subResource/],
    ['update', withRequest({ operation: 'UPDATE' }), /CREATE/],
    ['no object', withRequest({ object: undefined }), /must be a Pod object/],
    ['no containers', withPod({ containers: [] }), /spec.containers must be a non-empty list/],
    ['containers not a list', withPod({ containers: {} }), /spec.containers must be a non-empty list/],
    ['env without name', withPod({ containers: [{ name: 'a', env: [{ value: 'x' }] }] }), /spec.containers\[0\].env\[0\].name/],
    ['mount without path', withPod({ containers: [{ name: 'a', volumeMounts: [{ name: 'v' }] }] }), /mountPath must be a string/],
    ['uid as text', withPod({ containers: [{ name: 'a', securityContext: { runAsUser: '0' } }] }), /runAsUser must be a number/],
    ['capabilities not a list', withPod({ containers: [{ name: 'a', securityContext: { capabilities: { add: 'NET_ADMIN' } } }] }), /capabilities.add must be a list of strings/],
    ['annotations not strings', withRequest({ object: { ...pod, metadata: { ...pod.metadata, annotations: { a: 1 } } } }), /metadata.annotations/],
    ['volume without name', withPod({ volumes: [{ emptyDir: {} }] }), /spec.volumes\[0\].name/],
  ];
  for (const [name, review, message] of cases) {
    const answer = reviewResponse(review, OPTIONS);
    t.equal(answer.status, 400, name);
    t.match((answer as { error: string }).error, message, name);
  }
});

t.test('JSON Pointer and the patch builder', async (t) => {
  t.equal(pointerSegment('seb.dev/injected'), 'seb.dev~1injected');
  t.equal(pointerSegment('a~b/c~1'), 'a~0b~1c~01', '~ is escaped before /');
  t.same(diff({ a: 1 }, { a: 1 }), []);
  t.same(diff({ metadata: {} }, { metadata: { annotations: { 'x/y': 'z' } } }), [{ op: 'add', path: '/metadata/annotations', value: { 'x/y': 'z' } }]);
  t.same(diff({ l: [1, 2] }, { l: [1, 3] }), [{ op: 'replace', path: '/l/1', value: 3 }]);
  t.same(diff({ l: [1, 2] }, { l: [0, 1, 2] }), [{ op: 'replace', path: '/l', value: [0, 1, 2] }], 'a list whose length changes is replaced whole');
  t.same(diff({ a: 1, b: 2 }, { b: 2 }), [{ op: 'remove', path: '/a' }]);
  const from = { m: { 'k~/': [1, { x: 1 }] }, gone: true };
  const to = { m: { 'k~/': [1, { x: 2, y: [] }], n: null }, added: 'v' };
  t.same(applyPatch(from, diff(from, to) as never), to, 'diff then apply gives the target');
});

t.test('--broker-uid other than 15000 moves the protected UID with it', async (t) => {
  const pod = fixture('plain.json')['request'].object;
  pod.spec.containers[0].securityContext = { runAsUser: 15000 };
  const other = { ...OPTIONS, brokerUid: 20000 };
  const result = injectPod(pod, other);
  t.ok('patch' in result, '15000 is an ordinary UID when the broker runs as 20000');
  pod.spec.containers[0].securityContext = { runAsUser: 20000 };
  const refused = injectPod(pod, other);
  t.match((refused as { denied: string }).denied, /runs as UID 20000, the broker's/);
});

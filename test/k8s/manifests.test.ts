// The kustomize base and overlays under k8s/ (README "Manifests"), rendered with the real kubectl
// 1.32 and checked against the sidecar contract (src/inject/contract.ts) and SPEC §11.
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import * as contract from '../../src/inject/contract.js';
import { brokerContainer, initContainer, sidecarVolumes } from '../../src/inject/sidecar.js';
import { find, get, kustomizations, render, type K8sObject } from './render.js';
import { allContainers, effectiveUid, envOf, mountsOf, templateOf, type Container, type PodSpec } from './pod.js';

const OVERLAYS = ['dev', 'eks', 'static'] as const;
type Overlay = (typeof OVERLAYS)[number];
/** The overlays that run the injector webhook; `static` writes the sidecar out instead. */
const WEBHOOK_OVERLAYS: readonly Overlay[] = ['dev', 'eks'];
const AGENT_NS = 'agents';
const BROKER_SA = 'agent-deployer';
const IMPERSONATE_ROLE = 'seb-broker-impersonate';

interface Rule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}
interface Subject {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}
const rulesOf = (o: K8sObject): readonly Rule[] => (o['rules'] ?? []) as Rule[];
const subjectsOf = (o: K8sObject): readonly Subject[] => (o['subjects'] ?? []) as Subject[];
const roleRefOf = (o: K8sObject): { kind: string; name: string } => o['roleRef'] as { kind: string; name: string };
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

function brokerConfig(objects: readonly K8sObject[]): Config {
  const cm = get(objects, 'ConfigMap', contract.DEFAULT_CONFIG_MAP, AGENT_NS);
  const text = (cm['data'] as Record<string, string>)[contract.CONFIG_KEY];
  if (text === undefined) throw new Error(`ConfigMap ${contract.DEFAULT_CONFIG_MAP} has no key ${contract.CONFIG_KEY}`);
  return parseConfig(text, contract.CONFIG_DIR);
}

function agentDeployment(objects: readonly K8sObject[]): K8sObject {
  return get(objects, 'Deployment', 'agent', AGENT_NS);
}

/** The k8s identities the broker may act as: the executors' users and groups, from seb.yaml. */
function executorIdentities(config: Config): { users: string[]; groups: string[] } {
  const k8s = Object.values(config.executors).flatMap((e) => (e.k8s ? [e.k8s] : []));
  return { users: sorted(k8s.map((e) => e.user)), groups: sorted(k8s.flatMap((e) => e.groups)) };
}

const rendered = new Map<Overlay, K8sObject[]>();
t.before(async () => {
  for (const overlay of OVERLAYS) rendered.set(overlay, await render(`overlays/${overlay}`));
});
const objectsOf = (overlay: Overlay): K8sObject[] => rendered.get(overlay)!;

t.test('every kustomization under k8s/ renders, with unique objects', async (t) => {
  const dirs = kustomizations();
  t.same(dirs.filter((d) => d.startsWith('overlays/')), OVERLAYS.map((o) => `overlays/${o}`), 'the overlays are dev, eks and static');
  for (const dir of dirs) {
    const objects = await render(dir);
    t.ok(objects.length > 0, `${dir} renders objects`);
    const ids = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    t.same(ids.filter((id, i) => ids.indexOf(id) !== i), [], `${dir}: no object twice`);
  }
});

for (const overlay of OVERLAYS) {
  t.test(`overlays/${overlay}`, async (t) => {
    const objects = objectsOf(overlay);
    const config = brokerConfig(objects);

    t.test("the broker's seb.yaml is a valid config for an in-cluster sidecar", async (t) => {
      t.equal(config.broker.signing_key, `${contract.KEYS_DIR}/${contract.SIGNING_KEY_FILE}`);
      t.same(config.listen, { aws: '127.0.0.1:15001', kube: '127.0.0.1:15002', admin: `0.0.0.0:${contract.ADMIN_PORT}` }, 'agent listeners on loopback, admin probe-able');
      t.match(config.kube, { in_cluster: true, client_dir: contract.CLIENT_DIR });
      t.equal(config.records.sink, 'stdout', 'records on stdout, for Fluent Bit');
      t.ok(config.aws, 'the aws target is served');
      t.equal(config.aws?.credentials, 'default', 'AWS credentials from the default chain (IRSA / Pod Identity in the broker only)');
      t.ok(config.read_executor !== null && config.executors[config.read_executor]?.k8s, 'a k8s read executor for reads and drift probes');
      for (const [name, e] of Object.entries(config.executors)) {
        if (e.aws) t.match(e.aws.role_arn, /^arn:aws:iam::111122223333:role\/seb-exec-/, `${name}: an executor role the broker's policy covers`);
      }
    });

    t.test('no RBAC rule grants a wildcard', async (t) => {
      const roles = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
      t.ok(roles.length >= 4);
      for (const role of roles) {
        t.notOk(role['aggregationRule'], `${role.metadata.name}: no aggregation`);
        for (const rule of rulesOf(role)) {
          for (const field of ['verbs', 'resources', 'apiGroups', 'resourceNames', 'nonResourceURLs'] as const) {
            const values = rule[field] ?? [];
            t.notOk(values.some((v) => v.includes('*')), `${role.metadata.name}: no * in ${field} (${values.join(', ')})`);
          }
        }
      }
    });

    t.test('the broker may impersonate exactly its executor identities', async (t) => {
      const role = get(objects, 'ClusterRole', IMPERSONATE_ROLE);
      const rules = rulesOf(role);
      t.ok(rules.every((r) => r.verbs.length === 1 && r.verbs[0] === 'impersonate'), 'only the impersonate verb');
      const rule = (group: string, resource: string): Rule[] => rules.filter((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource));
      const { users, groups } = executorIdentities(config);
      t.same(sorted(rule('', 'users').flatMap((r) => r.resourceNames ?? [])), users, 'users: the executors of seb.yaml');
      t.ok(rule('', 'users').every((r) => (r.resourceNames ?? []).length > 0), 'every users rule is limited by resourceNames');
      t.same(sorted(rule('', 'groups').flatMap((r) => r.resourceNames ?? [])), groups, 'groups: the executors of seb.yaml');
      t.ok(rule('', 'groups').every((r) => (r.resourceNames ?? []).length > 0), 'every groups rule is limited by resourceNames');
      // The one extra key the broker sends (Impersonate-Extra-seb.io%2Fcertificate); its values are jtis.
      t.same(rule('authentication.k8s.io', 'userextras/seb.io/certificate').length, 1, 'the certificate extra');
      const known = new Set(['users', 'groups', 'userextras/seb.io/certificate']);
      t.same(rules.flatMap((r) => r.resources ?? []).filter((r) => !known.has(r)), [], 'no serviceaccounts, uids or other extras');
      t.same(rules.flatMap((r) => r.nonResourceURLs ?? []), []);

      const bindings = objects.filter((o) => (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') && roleRefOf(o).name === IMPERSONATE_ROLE);
      t.same(bindings.map((b) => subjectsOf(b)), [[{ kind: 'ServiceAccount', name: BROKER_SA, namespace: AGENT_NS }]], "bound to the broker's ServiceAccount only");
    });

    t.test("the broker's own reads: its authority ConfigMap, nothing else", async (t) => {
      const source = config.authority.source;
      if (!('configmap' in source)) throw new Error('seb.yaml reads its authority from a ConfigMap');
      const role = get(objects, 'Role', 'seb-authority-reader', source.configmap.namespace);
      t.same(rulesOf(role), [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [source.configmap.name], verbs: ['get', 'list', 'watch'] }]);
      const bindings = objects.filter((o) => o.kind === 'RoleBinding' && roleRefOf(o).name === 'seb-authority-reader');
      t.same(bindings.map((b) => [b.metadata.namespace, subjectsOf(b)]), [[source.configmap.namespace, [{ kind: 'ServiceAccount', name: BROKER_SA, namespace: AGENT_NS }]]]);
      const brokerBindings = objects.filter((o) => subjectsOf(o).some((s) => s.kind === 'ServiceAccount' && s.name === BROKER_SA));
      t.same(sorted(brokerBindings.map((b) => roleRefOf(b).name)), sorted([IMPERSONATE_ROLE, 'seb-authority-reader']), 'the broker is bound to nothing else');
    });

    t.test('executors are bound per namespace, to their users, with the reader read-only', async (t) => {
      const executorRoles = ['seb-executor-deployer', 'seb-reader'];
      t.same(objects.filter((o) => o.kind === 'ClusterRoleBinding' && executorRoles.includes(roleRefOf(o).name)).map((o) => o.metadata.name), [], 'no ClusterRoleBinding gives an executor the whole cluster');
      const boundUsers = objects
        .filter((o) => o.kind === 'RoleBinding' && executorRoles.includes(roleRefOf(o).name))
        .flatMap((b) => subjectsOf(b).map((s) => { t.equal(s.kind, 'User', `${b.metadata.name} binds a user, not a group`); return s.name; }));
      t.same(sorted(boundUsers), executorIdentities(config).users, 'every executor user of seb.yaml is bound, and no one else');
      const reader = config.executors[config.read_executor!]!.k8s!.user;
      const readerBinding = objects.find((o) => o.kind === 'RoleBinding' && subjectsOf(o).some((s) => s.name === reader))!;
      const readerRules = rulesOf(get(objects, 'ClusterRole', roleRefOf(readerBinding).name));
      t.ok(readerRules.every((r) => r.verbs.every((v) => ['get', 'list', 'watch'].includes(v))), 'the reader: get, list, watch only (SPEC §5)');
      t.notOk(readerRules.some((r) => (r.resources ?? []).includes('secrets')), 'the reader reads no secrets (SPEC §7)');
      for (const ns of objects.filter((o) => o.kind === 'RoleBinding' && executorRoles.includes(roleRefOf(o).name)).map((o) => o.metadata.namespace)) {
        t.notOk(['seb-system', 'kube-system', AGENT_NS].includes(ns!), `executors act in a target namespace (${ns}), not in seb's own`);
      }
    });

    t.test('the agent opts in and holds no token', async (t) => {
      const template = templateOf(agentDeployment(objects));
      t.equal(template.metadata.labels?.[contract.INJECT_LABEL], 'true', 'the opt-in label on the pod template');
      t.equal(template.spec.serviceAccountName, BROKER_SA);
      t.equal(template.spec.automountServiceAccountToken, false, 'automount off for the pod');
      t.equal(template.metadata.annotations?.[contract.ANNOTATIONS.config], contract.DEFAULT_CONFIG_MAP);
      t.equal(template.metadata.annotations?.[contract.ANNOTATIONS.signingKey], contract.DEFAULT_SIGNING_KEY_SECRET);
      t.equal(template.metadata.annotations?.[contract.ANNOTATIONS.agentUid], String(contract.DEFAULT_AGENT_UID));
      const agent = template.spec.containers.find((c) => c.name === 'agent')!;
      t.match(agent.securityContext, { runAsUser: contract.DEFAULT_AGENT_UID, runAsNonRoot: true, allowPrivilegeEscalation: false });
      t.equal(get(objects, 'ServiceAccount', BROKER_SA, AGENT_NS)['automountServiceAccountToken'], false, 'and for the ServiceAccount');
      // The broker cannot serve past its request timeout once the kubelet kills the pod.
      t.ok((template.spec as PodSpec & { terminationGracePeriodSeconds: number }).terminationGracePeriodSeconds > config.limits.request_timeout);
    });

    t.test('the admission policy that refuses a labelled pod without the broker', async (t) => {
      const policy = get(objects, 'ValidatingAdmissionPolicy', 'seb-require-broker');
      const spec = policy['spec'] as {
        failurePolicy: string;
        matchConstraints: { objectSelector: unknown; resourceRules: { operations: string[]; resources: string[] }[] };
        validations: { expression: string; message: string }[];
      };
      t.equal(policy.apiVersion, 'admissionregistration.k8s.io/v1');
      t.equal(spec.failurePolicy, 'Fail');
      t.same(spec.matchConstraints.objectSelector, { matchLabels: { [contract.INJECT_LABEL]: 'true' } });
      t.ok(spec.matchConstraints.resourceRules.some((r) => r.resources.includes('pods') && r.operations.includes('CREATE')));
      t.ok(spec.validations.length >= 8 && spec.validations.every((v) => v.message.startsWith('seb: ')), 'each rule says what is wrong');
      const text = spec.validations.map((v) => v.expression).join('\n');
      for (const needle of [`'${contract.INIT_CONTAINER}'`, `'${contract.BROKER_CONTAINER}'`, "'Always'", 'automountServiceAccountToken', 'hostNetwork', 'privileged', String(contract.DEFAULT_BROKER_UID), `'${contract.VOLUMES.client}'`]) {
        t.ok(text.includes(needle), `a rule checks ${needle}`);
      }
      const binding = get(objects, 'ValidatingAdmissionPolicyBinding', 'seb-require-broker');
      t.same(binding['spec'], { policyName: 'seb-require-broker', validationActions: ['Deny'] });
    });

    t.test('the agent namespace egress policy', async (t) => {
      const policy = get(objects, 'NetworkPolicy', 'seb-agent-egress', AGENT_NS);
      const spec = policy['spec'] as { policyTypes: string[]; egress: { to: { ipBlock?: { cidr: string; except?: string[] } }[]; ports: { port: number }[] }[] };
      t.same(spec.policyTypes, ['Egress']);
      t.ok(spec.egress.some((e) => e.ports.every((p) => p.port === 53)), 'DNS');
      const blocks = spec.egress.flatMap((e) => e.to.flatMap((to) => (to.ipBlock ? [to.ipBlock] : [])));
      for (const block of blocks.filter((b) => b.cidr === '0.0.0.0/0')) t.ok(block.except?.includes('169.254.0.0/16'), 'no route to IMDS or the credential agents');
      t.ok(spec.egress.every((e) => e.ports.length > 0 && e.ports.every((p) => [53, 443, 6443].includes(p.port))), 'only DNS, 443 and 6443');
    });
  });
}

for (const overlay of WEBHOOK_OVERLAYS) {
  t.test(`overlays/${overlay}: the injector and its webhook`, async (t) => {
    const objects = objectsOf(overlay);
    const webhookConfig = get(objects, 'MutatingWebhookConfiguration', 'seb-injector');
    const webhooks = webhookConfig['webhooks'] as Record<string, unknown>[];
    t.equal(webhooks.length, 1);
    const hook = webhooks[0]!;
    t.match(hook, {
      name: 'inject.seb.dev',
      admissionReviewVersions: ['v1'],
      clientConfig: { service: { namespace: 'seb-system', name: 'seb-injector', path: '/mutate', port: 443 } },
      failurePolicy: 'Fail',
      sideEffects: 'None',
      reinvocationPolicy: 'IfNeeded',
      timeoutSeconds: 5,
    });
    t.same(hook['rules'], [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    t.same(hook['objectSelector'], { matchLabels: { [contract.INJECT_LABEL]: 'true' } });
    t.same(hook['namespaceSelector'], { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'seb-system'] }] });

    const service = get(objects, 'Service', 'seb-injector', 'seb-system');
    const deployment = get(objects, 'Deployment', 'seb-injector', 'seb-system');
    const template = templateOf(deployment);
    const serviceSpec = service['spec'] as { selector: Record<string, string>; ports: { port: number; targetPort: number | string }[] };
    t.ok(Object.keys(serviceSpec.selector).length > 0, 'the Service selects something');
    for (const [k, v] of Object.entries(serviceSpec.selector)) t.equal(template.metadata.labels?.[k], v, `the injector pods carry ${k}=${v}`);
    const injector = template.spec.containers.find((c) => c.name === 'seb-injector')!;
    const port = serviceSpec.ports.find((p) => p.port === 443);
    const target = typeof port?.targetPort === 'string' ? injector.ports?.find((p) => p.name === port.targetPort)?.containerPort : port?.targetPort;
    t.equal(target, 8443, 'Service port 443 reaches the injector on 8443');

    const args = injector.args ?? [];
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
    t.equal(args[0], 'inject');
    t.equal(flag('--tls-cert'), '/etc/seb-injector/tls/tls.crt');
    t.equal(flag('--tls-key'), '/etc/seb-injector/tls/tls.key');
    t.equal(flag('--image'), injector.image, 'the injector injects the broker image it runs itself');
    t.equal(flag('--init-image'), injector.image.replace('/seb:', '/seb-init:'), 'and the init image of the same tag');
    const tls = mountsOf(injector, 'tls');
    t.same(tls.map((m) => [m.mountPath, m.readOnly]), [['/etc/seb-injector/tls', true]]);
    t.equal(template.spec.volumes?.find((v) => v.name === 'tls')?.secret?.secretName, 'seb-injector-tls');
    t.match(injector.securityContext, {
      runAsUser: contract.DEFAULT_BROKER_UID,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const probe of [injector.startupProbe, injector.readinessProbe]) t.same(probe?.httpGet, { path: '/healthz', port: 8443, scheme: 'HTTPS' });
    t.equal(template.spec.automountServiceAccountToken, false, 'the injector needs no API access');
    t.same(objects.filter((o) => subjectsOf(o).some((s) => s.name === 'seb-injector')), [], 'and is bound to no role');
  });
}

t.test('overlays/dev: local images, one injector, no PDB blocking drains', async (t) => {
  const objects = objectsOf('dev');
  const deployment = get(objects, 'Deployment', 'seb-injector', 'seb-system');
  t.equal((deployment['spec'] as { replicas: number }).replicas, 1);
  t.equal(templateOf(deployment).spec.containers[0]!.image, 'ghcr.io/seb-broker/seb:dev');
  t.notOk(find(objects, 'PodDisruptionBudget', 'seb-injector', 'seb-system'));
});

t.test('overlays/eks: IRSA for the broker, cert-manager for the webhook', async (t) => {
  const objects = objectsOf('eks');
  t.equal((templateOf(get(objects, 'Deployment', 'seb-injector', 'seb-system'))).spec.containers[0]!.image, 'ghcr.io/seb-broker/seb:0.1.0');
  t.equal((get(objects, 'Deployment', 'seb-injector', 'seb-system')['spec'] as { replicas: number }).replicas, 2);
  t.ok(find(objects, 'PodDisruptionBudget', 'seb-injector', 'seb-system'));
  const sa = get(objects, 'ServiceAccount', BROKER_SA, AGENT_NS);
  t.equal(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::111122223333:role/seb-broker');
  const from = get(objects, 'MutatingWebhookConfiguration', 'seb-injector').metadata.annotations?.['cert-manager.io/inject-ca-from'];
  t.equal(from, 'seb-system/seb-injector');
  const cert = get(objects, 'Certificate', 'seb-injector', 'seb-system');
  const spec = cert['spec'] as { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } };
  t.equal(spec.secretName, 'seb-injector-tls', "the Secret the injector's Deployment mounts");
  t.ok(spec.dnsNames.includes('seb-injector.seb-system.svc'), 'the name the apiserver calls');
  const issuer = get(objects, spec.issuerRef.kind, spec.issuerRef.name, 'seb-system');
  t.ok((issuer['spec'] as { ca?: unknown }).ca, 'issued by a CA that outlives the serving certificate');
});

t.test('overlays/static: the sidecar written out per the contract', async (t) => {
  const objects = objectsOf('static');
  const config = brokerConfig(objects);
  t.notOk(find(objects, 'MutatingWebhookConfiguration', 'seb-injector'), 'no webhook');
  t.notOk(find(objects, 'Deployment', 'seb-injector', 'seb-system'), 'no injector');
  t.ok(find(objects, 'ValidatingAdmissionPolicy', 'seb-require-broker'), 'the policy still checks the pod');
  const spec = templateOf(agentDeployment(objects)).spec;
  t.equal(spec.automountServiceAccountToken, false);
  const inits = spec.initContainers ?? [];
  t.same(inits.map((c) => c.name), [contract.INIT_CONTAINER, contract.BROKER_CONTAINER], 'seb-init first, then the broker');

  const init = inits[0]!;
  t.equal(init.image, contract.defaultImages('0.1.0').initImage);
  t.same(envOf(init), { SEB_BROKER_UID: String(contract.DEFAULT_BROKER_UID), SEB_AGENT_EGRESS: '' });
  t.match(init.securityContext, { runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } });
  t.same(init.volumeMounts ?? [], [], 'seb-init mounts nothing');

  const broker = inits[1]!;
  t.equal(broker.image, contract.defaultImages('0.1.0').image);
  t.equal(broker.restartPolicy, 'Always', 'a native sidecar');
  t.same(broker.args, ['run', '--config', `${contract.CONFIG_DIR}/${contract.CONFIG_KEY}`]);
  t.same(broker.securityContext, {
    runAsUser: contract.DEFAULT_BROKER_UID,
    runAsGroup: contract.DEFAULT_BROKER_UID,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  t.same(broker.startupProbe?.httpGet, { path: '/healthz', port: contract.ADMIN_PORT });
  t.same(broker.readinessProbe?.httpGet, { path: '/readyz', port: contract.ADMIN_PORT });
  t.equal(config.listen.admin.split(':').at(-1), String(contract.ADMIN_PORT), 'the probes reach the admin listener');
  t.equal(envOf(broker)['NODE_OPTIONS'], '--max-semi-space-size=4 --max-old-space-size=128');
  t.same(broker.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '384Mi' } });
  const brokerMounts = Object.fromEntries((broker.volumeMounts ?? []).map((m) => [m.name, [m.mountPath, m.readOnly === true]]));
  t.same(brokerMounts, {
    [contract.VOLUMES.config]: [contract.CONFIG_DIR, true],
    [contract.VOLUMES.signingKey]: [contract.KEYS_DIR, true],
    [contract.VOLUMES.client]: [contract.CLIENT_DIR, false],
    [contract.VOLUMES.kubeToken]: [contract.SERVICE_ACCOUNT_DIR, true],
  });
  t.equal(config.broker.signing_key, `${contract.KEYS_DIR}/${contract.SIGNING_KEY_FILE}`, "seb.yaml's key is in the key mount");
  t.equal(config.kube?.client_dir, contract.CLIENT_DIR, "seb.yaml's client_dir is the shared volume");

  const volumes = Object.fromEntries((spec.volumes ?? []).map((v) => [v.name, v]));
  t.same(volumes[contract.VOLUMES.config]?.configMap, { name: contract.DEFAULT_CONFIG_MAP, items: [{ key: contract.CONFIG_KEY, path: contract.CONFIG_KEY }] });
  t.same(volumes[contract.VOLUMES.signingKey]?.secret, {
    secretName: contract.DEFAULT_SIGNING_KEY_SECRET,
    // kubelet makes a Secret's files root's: without a pod fsGroup, UID 15000 reads only 0444.
    defaultMode: 0o444,
    items: [{ key: contract.SIGNING_KEY_FILE, path: contract.SIGNING_KEY_FILE }],
  });
  t.equal(volumes[contract.VOLUMES.client]?.emptyDir?.medium, 'Memory');
  t.same(volumes[contract.VOLUMES.kubeToken]?.projected?.sources, [
    { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
    { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
    { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
  ]);

  // What the injector itself would add to this pod (no credentials to move: no IRSA here).
  const options = { ...contract.defaultImages('0.1.0'), brokerUid: contract.DEFAULT_BROKER_UID, version: '0.1.0' };
  const settings = { configMap: contract.DEFAULT_CONFIG_MAP, signingKeySecret: contract.DEFAULT_SIGNING_KEY_SECRET, agentUid: contract.DEFAULT_AGENT_UID, egress: '' };
  t.strictSame(inits, [initContainer(settings, options), brokerContainer(options, [], [])], 'the init containers are the injector\'s, field for field');
  t.strictSame((spec.volumes ?? []).filter((v) => contract.SEB_VOLUMES.has(v.name)), sidecarVolumes(settings), 'and so are the volumes');

  const others: Container[] = allContainers(spec).filter((c) => c.name !== contract.BROKER_CONTAINER);
  for (const c of others) {
    for (const v of contract.BROKER_ONLY_VOLUMES) t.same(mountsOf(c, v), [], `${c.name} does not mount ${v}`);
    for (const m of c.volumeMounts ?? []) {
      t.notOk(contract.CREDENTIAL_DIRS.some((d) => m.mountPath === d || m.mountPath.startsWith(`${d}/`)), `${c.name}: nothing mounted at ${m.mountPath}`);
    }
  }
  const agents = allContainers(spec).filter((c) => !contract.SEB_CONTAINERS.has(c.name));
  t.ok(agents.length > 0);
  for (const agent of agents) {
    const env = envOf(agent);
    for (const e of contract.AGENT_ENV) t.equal(env[e.name], e.value, `${agent.name}: ${e.name}`);
    t.same(mountsOf(agent, contract.VOLUMES.client).map((m) => [m.mountPath, m.readOnly]), [[contract.CLIENT_DIR, true]], `${agent.name}: the client dir read-only`);
    const uid = effectiveUid(agent, spec);
    t.ok(uid !== null && uid !== 0 && uid !== contract.DEFAULT_BROKER_UID, `${agent.name} runs as ${uid}, neither root nor the broker`);
    t.match(agent.securityContext, { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    t.notOk(agent.securityContext?.privileged);
  }
  t.notOk(spec.hostNetwork);
});

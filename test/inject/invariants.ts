/**
 * SPEC §11 on an injected pod, checked from the pod alone (README "Sidecar injection"): the
 * sidecar is there and first, the agent holds no credential and points at the broker, the broker
 * holds the credentials. Returns the problems found, so a property test can report them and a
 * table test can assert there are none.
 */
type Obj = Record<string, unknown>;

export const SEB_UID = 15000;
const CREDENTIAL_DIRS = ['/var/run/secrets/kubernetes.io/serviceaccount', '/var/run/secrets/eks.amazonaws.com', '/var/run/secrets/pods.eks.amazonaws.com'];
const BROKER_ONLY = new Set(['seb-signing-key', 'seb-kube-token', 'aws-iam-token', 'eks-pod-identity-token']);
const AGENT_ENV: Readonly<Record<string, string>> = {
  AWS_ENDPOINT_URL: 'http://127.0.0.1:15001',
  AWS_ACCESS_KEY_ID: 'AKIASEBPLACEHOLDER00',
  AWS_SECRET_ACCESS_KEY: 'seb-placeholder-not-a-credential',
  AWS_EC2_METADATA_DISABLED: 'true',
  KUBECONFIG: '/var/run/seb/kubeconfig',
};
const FORBIDDEN_AGENT_ENV = [
  'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_CONTAINER_AUTHORIZATION_TOKEN', 'AWS_SESSION_TOKEN', 'AWS_PROFILE',
];

const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});

function under(path: string, dir: string): boolean {
  const p = path.replace(/\/+$/, '').replace(/\/+/g, '/');
  return p === dir || p.startsWith(`${dir}/`);
}

export function invariantProblems(pod: unknown, version = '0.1.0'): string[] {
  const problems: string[] = [];
  const meta = obj(obj(pod)['metadata']);
  const spec = obj(obj(pod)['spec']);
  const inits = list(spec['initContainers']);
  const containers = list(spec['containers']);
  const all = [...inits, ...containers];
  const volumes = list(spec['volumes']);
  const volumeByName = new Map(volumes.map((v) => [String(v['name']), v]));

  if (obj(meta['annotations'])['seb.dev/injected'] !== version) problems.push('no seb.dev/injected annotation');
  if (spec['automountServiceAccountToken'] !== false) problems.push('automountServiceAccountToken is not false');
  if (inits[0]?.['name'] !== 'seb-init') problems.push('initContainers[0] is not seb-init');
  if (inits[1]?.['name'] !== 'seb-broker') problems.push('initContainers[1] is not seb-broker');
  for (const name of ['seb-init', 'seb-broker']) {
    const n = all.filter((c) => c['name'] === name).length;
    if (n !== 1) problems.push(`${n} containers named ${name}`);
  }
  if (new Set(volumes.map((v) => v['name'])).size !== volumes.length) problems.push('duplicate volume names');
  if (volumes.some((v) => String(v['name']).startsWith('kube-api-access-'))) problems.push('a kube-api-access volume is left');

  const init = inits[0] ?? {};
  const initEnv = Object.fromEntries(list(init['env']).map((e) => [e['name'], e['value']]));
  if (initEnv['SEB_BROKER_UID'] !== String(SEB_UID)) problems.push('seb-init lacks SEB_BROKER_UID');
  const initSc = obj(init['securityContext']);
  const initCaps = obj(initSc['capabilities']);
  if (JSON.stringify(initCaps['add']) !== '["NET_ADMIN","NET_RAW"]' || JSON.stringify(initCaps['drop']) !== '["ALL"]') problems.push('seb-init capabilities are not add [NET_ADMIN, NET_RAW] drop [ALL]');
  if (list(init['volumeMounts']).length > 0) problems.push('seb-init mounts a volume');
  if (Object.keys(initEnv).some((k) => k.startsWith('AWS_'))) problems.push('seb-init has AWS env');

  const broker = inits[1] ?? {};
  if (broker['restartPolicy'] !== 'Always') problems.push('seb-broker is not a native sidecar (restartPolicy Always)');
  if (JSON.stringify(broker['args']) !== '["run","--config","/etc/seb/seb.yaml"]') problems.push('seb-broker args');
  const bsc = obj(broker['securityContext']);
  if (bsc['runAsUser'] !== SEB_UID || bsc['runAsGroup'] !== SEB_UID || bsc['runAsNonRoot'] !== true || bsc['readOnlyRootFilesystem'] !== true || bsc['allowPrivilegeEscalation'] !== false) {
    problems.push('seb-broker securityContext is not hardened');
  }
  if (JSON.stringify(obj(bsc['capabilities'])['drop']) !== '["ALL"]' || obj(bsc['seccompProfile'])['type'] !== 'RuntimeDefault') problems.push('seb-broker capabilities/seccomp');
  if (obj(obj(broker['startupProbe'])['httpGet'])['port'] !== 15090 || obj(obj(broker['readinessProbe'])['httpGet'])['path'] !== '/readyz') problems.push('seb-broker probes');
  const bm = new Map(list(broker['volumeMounts']).map((m) => [String(m['mountPath']), m]));
  const wantBroker: [string, string, boolean][] = [
    ['/etc/seb', 'seb-config', true],
    ['/etc/seb/keys', 'seb-signing-key', true],
    ['/var/run/seb', 'seb-client', false],
    ['/var/run/secrets/kubernetes.io/serviceaccount', 'seb-kube-token', true],
  ];
  for (const [path, name, ro] of wantBroker) {
    const m = bm.get(path);
    if (m?.['name'] !== name || (m['readOnly'] === true) !== ro) problems.push(`seb-broker does not mount ${name} at ${path} ${ro ? 'read-only' : 'read-write'}`);
  }
  if (obj(volumeByName.get('seb-client')?.['emptyDir'])['medium'] !== 'Memory') problems.push('seb-client is not an emptyDir in memory');
  const sources = list(obj(volumeByName.get('seb-kube-token')?.['projected'])['sources']);
  if (!sources.some((s) => s['serviceAccountToken'] !== undefined)) problems.push('seb-kube-token has no service-account token');
  if (volumeByName.get('seb-config')?.['configMap'] === undefined || volumeByName.get('seb-signing-key')?.['secret'] === undefined) problems.push('seb-config / seb-signing-key volumes');

  const podUid = obj(spec['securityContext'])['runAsUser'];
  for (const c of all) {
    const name = String(c['name']);
    for (const m of list(c['volumeMounts'])) {
      if (!volumeByName.has(String(m['name']))) problems.push(`${name} mounts missing volume ${String(m['name'])}`);
    }
    const paths = list(c['volumeMounts']).map((m) => m['mountPath']);
    if (new Set(paths).size !== paths.length) problems.push(`${name} mounts two volumes at one path`);
    if (name === 'seb-init' || name === 'seb-broker') continue;

    for (const m of list(c['volumeMounts'])) {
      const path = String(m['mountPath']);
      const vol = String(m['name']);
      if (CREDENTIAL_DIRS.some((d) => under(path, d))) problems.push(`${name} mounts ${vol} at credential path ${path}`);
      if (BROKER_ONLY.has(vol) || vol.startsWith('kube-api-access-')) problems.push(`${name} mounts broker-only volume ${vol}`);
      if ((vol === 'seb-client' || vol === 'seb-config') && m['readOnly'] !== true) problems.push(`${name} mounts ${vol} writable`);
    }
    if (!list(c['volumeMounts']).some((m) => m['name'] === 'seb-client' && m['mountPath'] === '/var/run/seb' && m['readOnly'] === true)) {
      problems.push(`${name} lacks the read-only client dir at /var/run/seb`);
    }
    const env = list(c['env']);
    const names = env.map((e) => String(e['name']));
    if (new Set(names).size !== names.length) problems.push(`${name} has duplicate env names`);
    for (const [k, v] of Object.entries(AGENT_ENV)) {
      const e = env.find((x) => x['name'] === k);
      if (e?.['value'] !== v || e['valueFrom'] !== undefined) problems.push(`${name} env ${k} is not ${v}`);
    }
    for (const k of names) {
      if (FORBIDDEN_AGENT_ENV.includes(k) || k.startsWith('AWS_ENDPOINT_URL_')) problems.push(`${name} keeps credential or endpoint env ${k}`);
    }
    const sc = obj(c['securityContext']);
    if (sc['allowPrivilegeEscalation'] !== false || sc['runAsNonRoot'] !== true || sc['privileged'] === true) problems.push(`${name} securityContext is not hardened`);
    if (JSON.stringify(obj(sc['capabilities'])['drop']) !== '["ALL"]') problems.push(`${name} does not drop ALL capabilities`);
    const added = list(obj(sc['capabilities'])['add']) as unknown[];
    if (added.some((a) => !/^(CAP_)?NET_BIND_SERVICE$/i.test(String(a)))) problems.push(`${name} adds a capability`);
    const uid = sc['runAsUser'] ?? podUid;
    if (typeof uid !== 'number' || uid === 0 || uid === SEB_UID) problems.push(`${name} runs as UID ${String(uid)}`);
  }
  return problems;
}

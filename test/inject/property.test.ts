/**
 * For pods built from the pieces that matter to SPEC §11 (credential env and mounts, UIDs,
 * capabilities, look-alike sidecar names, a forged injection annotation), the injector either
 * refuses with a reason or answers a patch after which every invariant holds, and which a second
 * invocation leaves as it is.
 */
import t from 'tap';
import fc from 'fast-check';
import { injectPod } from '../../src/inject/inject.js';
import { applyPatch } from './apply-patch.js';
import { invariantProblems } from './invariants.js';

const OPTIONS = { image: 'ghcr.io/seb-broker/seb:0.1.0', initImage: 'ghcr.io/seb-broker/seb-init:0.1.0', brokerUid: 15000, version: '0.1.0' };
const token = (audience?: string) => ({ projected: { sources: [{ serviceAccountToken: { path: 'token', ...(audience ? { audience } : {}) } }] } });

/** Volume name -> [volume source, where a container mounts it]. */
const VOLUMES: Record<string, [Record<string, unknown>, string]> = {
  'kube-api-access-q8x2z': [token(), '/var/run/secrets/kubernetes.io/serviceaccount'],
  'aws-iam-token': [token('sts.amazonaws.com'), '/var/run/secrets/eks.amazonaws.com/serviceaccount'],
  'eks-pod-identity-token': [token('pods.eks.amazonaws.com'), '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount'],
  'vault-token': [token('vault'), '/var/run/vault'],
  work: [{ emptyDir: {} }, '/work'],
  'seb-client': [{ emptyDir: {} }, '/var/run/seb'],
  'seb-signing-key': [{ secret: { secretName: 'k' } }, '/keys'],
};
const ENV: Record<string, string[]> = {
  AWS_ROLE_ARN: ['arn:aws:iam::111122223333:role/a'],
  AWS_WEB_IDENTITY_TOKEN_FILE: ['/var/run/secrets/eks.amazonaws.com/serviceaccount/token'],
  AWS_CONTAINER_CREDENTIALS_FULL_URI: ['http://169.254.170.23/v1/credentials'],
  AWS_ACCESS_KEY_ID: ['AKIAREAL'],
  AWS_SESSION_TOKEN: ['tok'],
  AWS_REGION: ['eu-west-1', 'us-east-1'],
  AWS_ENDPOINT_URL_S3: ['https://s3.amazonaws.com'],
  KUBECONFIG: ['/root/.kube/config'],
  LOG_LEVEL: ['info'],
};
/** Mostly the benign values, now and then a hostile one: enough pods get through to check them. */
function rare<T>(benign: readonly T[], hostile: readonly T[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 10, arbitrary: fc.constantFrom(...benign) }, { weight: 1, arbitrary: fc.constantFrom(...hostile) });
}
const uid = rare<number | undefined>([undefined, 1000], [0, 15000]);

function containerArb(name: string, volumes: readonly string[]) {
  return fc.record({
    env: fc.subarray(Object.keys(ENV)).chain((names) =>
      fc.tuple(...names.map((n) => (n === 'AWS_ROLE_ARN' ? rare([ENV[n]![0]!], ['arn:aws:iam::111122223333:role/b']) : fc.constantFrom(...ENV[n]!)).map((value) => ({ name: n, value })))),
    ),
    mounts: fc.subarray([...new Set([...volumes, 'seb-client'])]).chain((names) =>
      fc.tuple(...names.map((n) => rare([true], [false]).map((readOnly) => ({ name: n, mountPath: VOLUMES[n]![1], ...(readOnly ? { readOnly: true } : {}) })))),
    ),
    runAsUser: uid,
    privileged: rare([undefined, false], [true]),
    add: rare([[], ['NET_BIND_SERVICE'], ['cap_net_bind_service']], [['NET_ADMIN'], ['NET_BIND_SERVICE', 'SYS_ADMIN']]),
  }).map((c) => ({
    name,
    image: `registry.example/${name}:1`,
    env: c.env,
    volumeMounts: c.mounts,
    securityContext: {
      ...(c.runAsUser !== undefined ? { runAsUser: c.runAsUser } : {}),
      ...(c.privileged !== undefined ? { privileged: c.privileged } : {}),
      ...(c.add.length > 0 ? { capabilities: { add: c.add } } : {}),
    },
  }));
}

const podArb = fc
  .record({
    volumes: fc.subarray(['kube-api-access-q8x2z', 'aws-iam-token', 'eks-pod-identity-token', 'work']),
    extraVolume: rare<string | undefined>([undefined], ['seb-client', 'seb-signing-key', 'vault-token']),
    names: fc.uniqueArray(rare(['agent', 'tools', 'shell'], ['seb-broker', 'seb-init']), { minLength: 1, maxLength: 3 }),
    initName: rare([undefined, 'setup'], ['seb-init', 'seb-broker']),
    podUid: uid,
    hostNetwork: rare([false], [true]),
    injected: fc.boolean(),
    agentUid: rare([undefined, '4242'], ['15000', '0']),
    egress: rare([undefined, '10.0.0.0/8:3128'], ['169.254.0.0/16:80']),
  })
  .chain((p) => {
    const volumes = [...p.volumes, ...(p.extraVolume ? [p.extraVolume] : [])];
    return fc
      .tuple(fc.tuple(...p.names.map((n) => containerArb(n, volumes))), p.initName ? containerArb(p.initName, volumes).map((c) => [c]) : fc.constant([]))
      .map(([containers, inits]) => ({
        metadata: {
          generateName: 'agent-',
          labels: { 'seb.dev/inject': 'true' },
          annotations: {
            ...(p.injected ? { 'seb.dev/injected': '0.1.0' } : {}),
            ...(p.agentUid ? { 'seb.dev/agent-uid': p.agentUid } : {}),
            ...(p.egress ? { 'seb.dev/agent-egress': p.egress } : {}),
          },
        },
        spec: {
          ...(p.hostNetwork ? { hostNetwork: true } : {}),
          ...(p.podUid !== undefined ? { securityContext: { runAsUser: p.podUid } } : {}),
          ...(inits.length > 0 ? { initContainers: inits } : {}),
          containers,
          volumes: volumes.map((v) => ({ name: v, ...VOLUMES[v]![0] })),
        },
      }));
  });

t.test('every pod is refused with a reason or injected so that SPEC §11 holds, and stays so', async (t) => {
  let injected = 0;
  let refused = 0;
  fc.assert(
    fc.property(podArb, (pod) => {
      const result = injectPod(pod, OPTIONS);
      if ('denied' in result) {
        refused++;
        return result.denied.length > 0;
      }
      injected++;
      const out = applyPatch(pod, result.patch);
      const problems = invariantProblems(out);
      if (problems.length > 0) throw new Error(problems.join('; '));
      const again = injectPod(out, OPTIONS);
      return 'patch' in again && again.patch.length === 0;
    }),
    { numRuns: 400, seed: 20260520 },
  );
  t.ok(injected > 20, `injected ${injected} pods`);
  t.ok(refused > 20, `refused ${refused} pods`);
});

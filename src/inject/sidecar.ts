/**
 * The containers and volumes the injector adds (README "Sidecar injection"). They are rebuilt
 * whole on every invocation, so a pod that arrives with a forged `seb.dev/injected` annotation and
 * a look-alike broker still ends up with exactly these.
 */
import {
  ADMIN_PORT,
  BROKER_CONTAINER,
  CLIENT_DIR,
  CONFIG_DIR,
  CONFIG_KEY,
  INIT_CONTAINER,
  KEYS_DIR,
  SERVICE_ACCOUNT_DIR,
  SIGNING_KEY_FILE,
  VOLUMES,
} from './contract.js';
import type { Container, EnvVar, Volume, VolumeMount } from './pod.js';
import type { InjectOptions, PodSettings } from './settings.js';

/**
 * The broker image's own V8 defaults (sidecar/Dockerfile, bench/README.md "V8 flags"), repeated
 * because this env replaces the image's. A 4 MiB semi-space and a 128 MiB old generation took an
 * AWS and Kubernetes broker from about 152 to 128 MiB idle and 220 to 164 MiB peak RSS (issue 14);
 * the cap is also below the memory limit, so the broker fails as itself, not as an OOM kill.
 */
export const NODE_OPTIONS = '--max-semi-space-size=4 --max-old-space-size=128';
/** As the ServiceAccount plugin's own volume: the kubelet rewrites the token file well before it expires. */
const TOKEN_EXPIRATION_SECONDS = 3600;

/** initContainers[0]: installs the iptables rules (sidecar/init/seb-init.sh) and exits. */
export function initContainer(settings: PodSettings, options: InjectOptions): Container {
  return {
    name: INIT_CONTAINER,
    image: options.initImage,
    env: [
      { name: 'SEB_BROKER_UID', value: String(options.brokerUid) },
      { name: 'SEB_AGENT_EGRESS', value: settings.egress },
    ],
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    securityContext: {
      // Explicit, so a pod-level runAsNonRoot or runAsUser cannot stop the rules being installed.
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

/**
 * initContainers[1]: the broker as a native sidecar (restartPolicy Always, Kubernetes >= 1.29), so
 * it starts, and passes its startup probe, before any agent container runs, and outlives them.
 * `env` and `mounts` are the credentials taken off the agent containers.
 */
export function brokerContainer(options: InjectOptions, env: readonly EnvVar[], mounts: readonly VolumeMount[]): Container {
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: ADMIN_PORT },
    periodSeconds,
    failureThreshold,
  });
  return {
    name: BROKER_CONTAINER,
    image: options.image,
    args: ['run', '--config', `${CONFIG_DIR}/${CONFIG_KEY}`],
    restartPolicy: 'Always',
    env: [{ name: 'NODE_OPTIONS', value: NODE_OPTIONS }, ...env],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '384Mi' } },
    securityContext: {
      runAsUser: options.brokerUid,
      runAsGroup: options.brokerUid,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    startupProbe: probe('/healthz', 1, 60),
    readinessProbe: probe('/readyz', 5, 3),
    volumeMounts: [
      { name: VOLUMES.config, mountPath: CONFIG_DIR, readOnly: true },
      { name: VOLUMES.signingKey, mountPath: KEYS_DIR, readOnly: true },
      { name: VOLUMES.client, mountPath: CLIENT_DIR },
      { name: VOLUMES.kubeToken, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
      ...mounts.map((m) => ({ ...m, readOnly: true })),
    ],
  };
}

export function sidecarVolumes(settings: PodSettings): Volume[] {
  return [
    { name: VOLUMES.config, configMap: { name: settings.configMap, items: [{ key: CONFIG_KEY, path: CONFIG_KEY }] } },
    {
      name: VOLUMES.signingKey,
      // 0444, not 0400: Secret files are owned by root, and without a pod fsGroup (which would
      // touch every volume of the agent) UID 15000 could not read a 0400 file. Only the broker
      // mounts this volume, so every reader is the broker.
      secret: { secretName: settings.signingKeySecret, defaultMode: 0o444, items: [{ key: SIGNING_KEY_FILE, path: SIGNING_KEY_FILE }] },
    },
    { name: VOLUMES.client, emptyDir: { medium: 'Memory' } },
    {
      name: VOLUMES.kubeToken,
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: TOKEN_EXPIRATION_SECONDS } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    },
  ];
}

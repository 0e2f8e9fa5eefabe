/**
 * Agent container hardening (SPEC §11): the agent keeps no credential of the pod and points its
 * unmodified clients at the broker. What it loses that the broker needs (IRSA / Pod Identity env
 * and token mounts) is handed back to be moved onto the broker.
 */
import {
  AGENT_ENV,
  AGENT_STRIPPED_ENV,
  BROKER_CREDENTIAL_ENV,
  BROKER_SHARED_ENV,
  CLIENT_DIR,
  CREDENTIAL_DIRS,
  CREDENTIAL_VOLUMES,
  KUBE_API_ACCESS_PREFIX,
  SERVICE_ENDPOINT_ENV,
  VOLUMES,
} from './contract.js';
import { normalise } from './policy.js';
import type { Container, EnvVar, SecurityContext, VolumeMount } from './pod.js';

export interface Hardened {
  readonly container: Container;
  /** Credential and region env the broker should have. */
  readonly env: EnvVar[];
  /** IRSA / Pod Identity token mounts the broker should have. */
  readonly mounts: VolumeMount[];
}

export function hardenAgent(c: Container, podRunAsUser: number | undefined, agentUid: number): Hardened {
  const env: EnvVar[] = [];
  const kept: EnvVar[] = [];
  for (const e of c.env ?? []) {
    if (BROKER_CREDENTIAL_ENV.has(e.name) || BROKER_SHARED_ENV.has(e.name)) env.push(e);
    if (!AGENT_STRIPPED_ENV.has(e.name) && !SERVICE_ENDPOINT_ENV.test(e.name)) kept.push(e);
  }

  const mounts: VolumeMount[] = [];
  const keptMounts: VolumeMount[] = [];
  for (const m of c.volumeMounts ?? []) {
    if (CREDENTIAL_VOLUMES.has(m.name)) mounts.push(m);
    else if (!isCredentialMount(m)) keptMounts.push(m);
  }
  // The policy has refused a writable one; the broker's kubeconfig names this path, so it must be there.
  if (!keptMounts.some((m) => m.name === VOLUMES.client && normalise(m.mountPath) === CLIENT_DIR)) {
    keptMounts.push({ name: VOLUMES.client, mountPath: CLIENT_DIR, readOnly: true });
  }

  const container: Container = {
    ...c,
    env: [...kept, ...AGENT_ENV.map((e) => ({ ...e }))],
    volumeMounts: keptMounts,
    securityContext: hardenSecurityContext(c.securityContext ?? {}, podRunAsUser, agentUid),
  };
  return { container, env, mounts };
}

/** The ServiceAccount token, IRSA and Pod Identity mounts, by volume or by where they land. */
export function isCredentialMount(m: VolumeMount): boolean {
  if (m.name.startsWith(KUBE_API_ACCESS_PREFIX) || CREDENTIAL_VOLUMES.has(m.name)) return true;
  const path = normalise(m.mountPath);
  return CREDENTIAL_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

/**
 * No privilege escalation, no capabilities but the allowed one, never root; a UID the pod leaves
 * to the image becomes the agent UID (the image's USER could be 0 or the broker's).
 */
function hardenSecurityContext(sc: SecurityContext, podRunAsUser: number | undefined, agentUid: number): SecurityContext {
  const out: SecurityContext = {
    ...sc,
    allowPrivilegeEscalation: false,
    capabilities: { ...(sc.capabilities ?? {}), drop: ['ALL'] },
    runAsNonRoot: true,
  };
  if (sc.runAsUser == null && podRunAsUser == null) out.runAsUser = agentUid;
  return out;
}

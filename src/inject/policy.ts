/**
 * What the injector refuses (README "Sidecar injection"): pod settings under which an agent
 * container could reach a credential or a route that bypasses the broker (SPEC §11) however the
 * rest of the pod is rewritten. Each problem is reported, all at once, with why it matters.
 */
import {
  ALLOWED_AGENT_CAPABILITIES,
  BROKER_ONLY_VOLUMES,
  CLIENT_DIR,
  CREDENTIAL_VOLUMES,
  KUBE_API_ACCESS_PREFIX,
  SEB_CONTAINERS,
  SEB_VOLUMES,
  VOLUMES,
} from './contract.js';
import { allContainers, isObject, type Container, type Pod, type Volume } from './pod.js';
import type { PodSettings } from './settings.js';

const HOST_NAMESPACES = [
  ['hostNetwork', "the agent would use the node's network, where the init container's rules do not apply"],
  ['hostPID', "the agent would see the node's processes"],
  ['hostIPC', "the agent would share the node's IPC namespace"],
  ['shareProcessNamespace', "the agent would share a process namespace with the broker and could reach its files through /proc"],
] as const;

/** The problems with `pod`; empty when it may be injected. `injected`: seb.dev/injected is set. */
export function policyProblems(pod: Pod, settings: PodSettings, brokerUid: number, injected: boolean): string[] {
  const spec = pod.spec;
  const problems: string[] = [];
  for (const [field, why] of HOST_NAMESPACES) if (spec[field] === true) problems.push(`${field} is true: ${why}`);

  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  for (const v of volumes.values()) {
    if (v['hostPath'] !== undefined) problems.push(`volume ${JSON.stringify(v.name)} is a hostPath: the node's files hold other pods' credentials`);
    if (!injected && SEB_VOLUMES.has(v.name)) problems.push(`volume ${JSON.stringify(v.name)} is reserved for the sidecar`);
  }

  for (const c of allContainers(spec)) {
    if (SEB_CONTAINERS.has(c.name)) {
      // The injector puts them among the init containers only, and only with its annotation.
      const ours = injected && (spec.initContainers ?? []).includes(c);
      if (!ours) problems.push(`container ${JSON.stringify(c.name)} is reserved for the sidecar (the injector did not add it)`);
      continue;
    }
    problems.push(...containerProblems(c, pod, settings, brokerUid, volumes));
  }
  return problems;
}

function containerProblems(c: Container, pod: Pod, settings: PodSettings, brokerUid: number, volumes: Map<string, Volume>): string[] {
  const problems: string[] = [];
  const at = `container ${JSON.stringify(c.name)}`;
  const sc = c.securityContext ?? {};
  if (sc.privileged === true) problems.push(`${at} is privileged: it could rewrite the pod's network rules`);
  const added = (sc.capabilities?.add ?? []).map(capabilityName).filter((cap) => !ALLOWED_AGENT_CAPABILITIES.has(cap));
  if (added.length > 0) problems.push(`${at} adds capabilities ${added.join(', ')}: only NET_BIND_SERVICE is allowed`);

  const uid = sc.runAsUser ?? pod.spec.securityContext?.runAsUser ?? settings.agentUid;
  if (uid === 0) problems.push(`${at} runs as UID 0: root could rewrite the pod's network rules`);
  if (uid === brokerUid) problems.push(`${at} runs as UID ${brokerUid}, the broker's: the network rules let that UID reach everything`);

  for (const m of c.volumeMounts ?? []) {
    const mount = `${at} mounts volume ${JSON.stringify(m.name)}`;
    if (BROKER_ONLY_VOLUMES.has(m.name)) problems.push(`${mount}: it holds the broker's credentials`);
    else if ((m.name === VOLUMES.client || m.name === VOLUMES.config) && m.readOnly !== true) problems.push(`${mount} writable: it must be read-only for the agent`);
    else if (normalise(m.mountPath) === CLIENT_DIR && m.name !== VOLUMES.client) problems.push(`${mount} at ${CLIENT_DIR}, where the broker's client directory goes`);
    else if (isStrayTokenVolume(volumes.get(m.name))) problems.push(`${mount}: a projected service-account token, which only the broker may hold`);
  }
  return problems;
}

/** `CAP_NET_ADMIN`, `net_admin` and `NET_ADMIN` are one capability to the container runtime. */
export function capabilityName(cap: string): string {
  const upper = cap.toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

/**
 * A projected service-account token the injector does not know: the ones it knows (the
 * ServiceAccount plugin's kube-api-access-*, IRSA's and Pod Identity's) are moved off the agent;
 * any other would hand the agent the broker's identity.
 */
function isStrayTokenVolume(v: Volume | undefined): boolean {
  if (v === undefined || v.name.startsWith(KUBE_API_ACCESS_PREFIX) || CREDENTIAL_VOLUMES.has(v.name) || SEB_VOLUMES.has(v.name)) return false;
  const projected = v['projected'];
  const sources = isObject(projected) && Array.isArray(projected['sources']) ? projected['sources'] : [];
  return sources.some((s) => isObject(s) && s['serviceAccountToken'] !== undefined);
}

/** `/var/run/seb/` and `/var/run//seb` are the same mount point as `/var/run/seb`. */
export function normalise(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return `/${parts.join('/')}`;
}

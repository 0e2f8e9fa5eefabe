/**
 * `injectPod`: the sidecar injection of one pod, as a JSON Patch against the pod the apiserver sent
 * (README "Sidecar injection", SPEC §11). Pure: the same pod and options give the same answer.
 *
 * The injector builds the whole pod it wants and diffs. On a reinvocation (the pod already carries
 * `seb.dev/injected`, and a later webhook such as the EKS pod identity webhook changed it) the same
 * build runs again: the agent hardening is re-applied, credentials a later webhook gave an agent
 * container move to the broker, and the sidecar containers are rebuilt in place, never added twice.
 */
import { isDeepStrictEqual } from 'node:util';
import { hardenAgent } from './agent.js';
import {
  ANNOTATIONS,
  BROKER_CONTAINER,
  BROKER_CREDENTIAL_ENV,
  BROKER_SHARED_ENV,
  CREDENTIAL_VOLUMES,
  INJECT_LABEL,
  KUBE_API_ACCESS_PREFIX,
  SEB_CONTAINERS,
} from './contract.js';
import { diff, type JsonPatchOp } from './json-patch.js';
import { policyProblems } from './policy.js';
import { readPod, type Container, type EnvVar, type Json, type Pod, type VolumeMount } from './pod.js';
import { podSettings, type InjectOptions } from './settings.js';
import { brokerContainer, initContainer, sidecarVolumes } from './sidecar.js';

export type InjectAction = 'inject' | 'reinvoke' | 'skip';
export type InjectResult = { readonly patch: JsonPatchOp[]; readonly action: InjectAction } | { readonly denied: string };

/** Throws MalformedInput when `input` is not shaped like a Pod. */
export function injectPod(input: unknown, options: InjectOptions): InjectResult {
  const pod = readPod(input);
  // The webhook's objectSelector should send only opted-in pods; a misconfigured one must not
  // turn every pod (the injector's own included) into a broker pod.
  if (pod.metadata.labels?.[INJECT_LABEL] !== 'true') return { patch: [], action: 'skip' };
  const settings = podSettings(pod, options);
  if ('denied' in settings) return settings;
  const injected = pod.metadata.annotations?.[ANNOTATIONS.injected] !== undefined;
  const problems = policyProblems(pod, settings, options.brokerUid, injected);
  if (problems.length > 0) return { denied: problems.join('; ') };

  const spec = pod.spec;
  const podRunAsUser = spec.securityContext?.runAsUser ?? undefined;
  const credentials = new Credentials();
  // What an earlier invocation moved onto the broker stays there.
  const earlier = (spec.initContainers ?? []).find((c) => c.name === BROKER_CONTAINER);
  if (injected && earlier !== undefined) {
    const env = (earlier.env ?? []).filter((e) => BROKER_CREDENTIAL_ENV.has(e.name) || BROKER_SHARED_ENV.has(e.name));
    credentials.add(earlier.name, env, (earlier.volumeMounts ?? []).filter((m) => CREDENTIAL_VOLUMES.has(m.name)));
  }
  const harden = (c: Container): Container => {
    const h = hardenAgent(c, podRunAsUser, settings.agentUid);
    credentials.add(c.name, h.env, h.mounts);
    return h.container;
  };
  const agentInits = (spec.initContainers ?? []).filter((c) => !SEB_CONTAINERS.has(c.name)).map(harden);
  const agents = spec.containers.map(harden);
  if (credentials.problems.length > 0) return { denied: credentials.problems.join('; ') };

  const want: Pod = structuredClone(pod);
  want.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [ANNOTATIONS.injected]: options.version };
  want.spec.automountServiceAccountToken = false;
  want.spec.initContainers = [initContainer(settings, options), brokerContainer(options, credentials.env(), credentials.mounts()), ...agentInits];
  want.spec.containers = agents;
  // The sidecar's volumes are rebuilt where they stand (the policy refused them on a first
  // injection), so a reinvocation patches them in place rather than shifting every volume.
  const sidecar = new Map(sidecarVolumes(settings).map((v) => [v.name, v]));
  const volumes = (spec.volumes ?? []).filter((v) => !v.name.startsWith(KUBE_API_ACCESS_PREFIX)).map((v) => sidecar.get(v.name) ?? v);
  want.spec.volumes = [...volumes, ...[...sidecar.values()].filter((v) => !volumes.some((have) => have.name === v.name))];
  // A JSON round trip drops the `undefined` members spreads can leave, which a patch cannot carry.
  const patch = diff(input, JSON.parse(JSON.stringify(want)) as Json);
  return { patch, action: injected ? 'reinvoke' : 'inject' };
}

/**
 * The credential env and token mounts bound for the broker. Two containers that disagree (two
 * different role ARNs, one path from two volumes) leave no single identity for the broker to take:
 * that is a denial, not a guess. Region settings are not identities: the first one is taken.
 */
class Credentials {
  private readonly envByName = new Map<string, { from: string; env: EnvVar }>();
  private readonly mountByPath = new Map<string, { from: string; mount: VolumeMount }>();
  readonly problems: string[] = [];

  add(from: string, env: readonly EnvVar[], mounts: readonly VolumeMount[]): void {
    for (const e of env) {
      const seen = this.envByName.get(e.name);
      if (seen === undefined) this.envByName.set(e.name, { from, env: e });
      else if (!isDeepStrictEqual(seen.env, e) && !BROKER_SHARED_ENV.has(e.name)) this.problems.push(`containers ${JSON.stringify(seen.from)} and ${JSON.stringify(from)} set ${e.name} differently: the broker can take only one`);
    }
    for (const m of mounts) {
      const key = m.mountPath;
      const seen = this.mountByPath.get(key);
      const same = seen !== undefined && seen.mount.name === m.name && (seen.mount['subPath'] ?? '') === (m['subPath'] ?? '');
      if (seen === undefined) this.mountByPath.set(key, { from, mount: m });
      else if (!same) this.problems.push(`containers ${JSON.stringify(seen.from)} and ${JSON.stringify(from)} mount different volumes at ${key}`);
    }
  }

  env(): EnvVar[] {
    return [...this.envByName.values()].map((v) => v.env);
  }

  mounts(): VolumeMount[] {
    return [...this.mountByPath.values()].map((v) => v.mount);
  }
}

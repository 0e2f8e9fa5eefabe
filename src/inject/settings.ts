/**
 * What one pod asks of the injector, from its annotations (README "Sidecar injection"), checked
 * before anything is built: a bad annotation is a denial naming it, never a pod that fails later.
 */
import { ANNOTATIONS, DEFAULT_AGENT_UID, DEFAULT_CONFIG_MAP, DEFAULT_SIGNING_KEY_SECRET } from './contract.js';
import { formatEgress, parseEgress } from './egress.js';
import type { Pod } from './pod.js';

/** The injector's own settings (`seb inject` flags), the same for every pod. */
export interface InjectOptions {
  readonly image: string;
  readonly initImage: string;
  readonly brokerUid: number;
  /** Written into `seb.dev/injected`. */
  readonly version: string;
}

export interface PodSettings {
  readonly configMap: string;
  readonly signingKeySecret: string;
  readonly agentUid: number;
  /** Normalised `CIDR:PORT,...` for SEB_AGENT_EGRESS; empty when none. */
  readonly egress: string;
}

/** Linux UIDs the kubelet accepts (`runAsUser` is an int64 limited to 0..2^31-1). */
const MAX_UID = 2 ** 31 - 1;
/** A DNS-1123 subdomain: the names ConfigMaps and Secrets may have. */
const OBJECT_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const UID = /^[1-9]\d{0,9}$/;

export function podSettings(pod: Pod, options: InjectOptions): PodSettings | { denied: string } {
  const annotations = pod.metadata.annotations ?? {};
  const problems: string[] = [];
  const name = (key: string, def: string): string => {
    const v = annotations[key] ?? def;
    if (!OBJECT_NAME.test(v)) problems.push(`annotation ${key}: ${JSON.stringify(v)} is not a valid object name`);
    return v;
  };
  const configMap = name(ANNOTATIONS.config, DEFAULT_CONFIG_MAP);
  const signingKeySecret = name(ANNOTATIONS.signingKey, DEFAULT_SIGNING_KEY_SECRET);

  const uidText = annotations[ANNOTATIONS.agentUid];
  const agentUid = uidText === undefined ? DEFAULT_AGENT_UID : Number(uidText);
  if (uidText !== undefined && (!UID.test(uidText) || agentUid > MAX_UID)) {
    problems.push(`annotation ${ANNOTATIONS.agentUid}: ${JSON.stringify(uidText)} must be a UID from 1 to ${MAX_UID}`);
  } else if (agentUid === options.brokerUid) {
    problems.push(`annotation ${ANNOTATIONS.agentUid}: ${agentUid} is the broker's UID; the agent must never run as it`);
  }

  let egress = '';
  try {
    egress = formatEgress(parseEgress(annotations[ANNOTATIONS.agentEgress] ?? ''));
  } catch (err) {
    problems.push(`annotation ${ANNOTATIONS.agentEgress}: ${(err as Error).message}`);
  }
  if (problems.length > 0) return { denied: problems.join('; ') };
  return { configMap, signingKeySecret, agentUid, egress };
}

/**
 * The part of a core/v1 Pod the injector reads and writes. Fields it does not know are kept as they
 * are (index signatures), because its output is a patch against the pod the apiserver sent: an
 * unknown field dropped here would be removed from the pod.
 *
 * `readPod` checks the shape of every field the injector relies on before anything reads it: the
 * apiserver sends pods it has decoded, so a wrong shape means a caller that is not the apiserver,
 * answered with a 400, never a crash halfway through a transformation.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface EnvVar {
  name: string;
  value?: string;
  [key: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [key: string]: unknown;
}

export interface Capabilities {
  add?: string[];
  drop?: string[];
  [key: string]: unknown;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: Capabilities;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  [key: string]: unknown;
}

export interface Volume {
  name: string;
  [key: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: { runAsUser?: number; [key: string]: Json | undefined };
  [key: string]: unknown;
}

export interface Pod {
  metadata: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [key: string]: Json | undefined };
  spec: PodSpec;
  [key: string]: unknown;
}

/** The review or the pod in it is not what an apiserver sends: answered with a 400. */
export class MalformedInput extends Error {
  override readonly name = 'MalformedInput';
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A deep copy of `obj` typed as a Pod, or MalformedInput naming the first field of the wrong shape. */
export function readPod(obj: unknown): Pod {
  if (!isObject(obj)) throw new MalformedInput('request.object must be a Pod object');
  const pod = structuredClone(obj);
  const meta = pod['metadata'] ?? {};
  if (!isObject(meta)) throw new MalformedInput('metadata must be an object');
  for (const field of ['name', 'generateName', 'namespace']) optional(meta[field], 'string', `metadata.${field}`);
  stringMap(meta['labels'], 'metadata.labels');
  stringMap(meta['annotations'], 'metadata.annotations');
  const spec = pod['spec'];
  if (!isObject(spec)) throw new MalformedInput('spec must be an object');
  if (!Array.isArray(spec['containers']) || spec['containers'].length === 0) throw new MalformedInput('spec.containers must be a non-empty list');
  containers(spec['containers'], 'spec.containers');
  if (spec['initContainers'] !== undefined) containers(spec['initContainers'], 'spec.initContainers');
  namedList(spec['volumes'], 'spec.volumes');
  securityContext(spec['securityContext'], 'spec.securityContext');
  return { ...pod, metadata: meta, spec } as Pod;
}

function optional(v: unknown, type: 'string' | 'number' | 'boolean', at: string): void {
  if (v !== undefined && v !== null && typeof v !== type) throw new MalformedInput(`${at} must be a ${type}`);
  if (type === 'number' && typeof v === 'number' && !Number.isSafeInteger(v)) throw new MalformedInput(`${at} must be an integer`);
}

function stringMap(v: unknown, at: string): void {
  if (v === undefined || v === null) return;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new MalformedInput(`${at} must map strings to strings`);
}

function namedList(v: unknown, at: string): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) throw new MalformedInput(`${at} must be a list`);
  v.forEach((item, i) => {
    if (!isObject(item) || typeof item['name'] !== 'string') throw new MalformedInput(`${at}[${i}].name must be a string`);
  });
}

function containers(v: unknown, at: string): void {
  namedList(v, at);
  (v as Record<string, unknown>[]).forEach((c, i) => {
    const here = `${at}[${i}]`;
    namedList(c['env'], `${here}.env`);
    namedList(c['volumeMounts'], `${here}.volumeMounts`);
    ((c['volumeMounts'] ?? []) as Record<string, unknown>[]).forEach((m, j) => {
      if (typeof m['mountPath'] !== 'string') throw new MalformedInput(`${here}.volumeMounts[${j}].mountPath must be a string`);
      optional(m['readOnly'], 'boolean', `${here}.volumeMounts[${j}].readOnly`);
    });
    securityContext(c['securityContext'], `${here}.securityContext`);
  });
}

function securityContext(v: unknown, at: string): void {
  if (v === undefined || v === null) return;
  if (!isObject(v)) throw new MalformedInput(`${at} must be an object`);
  for (const f of ['runAsUser', 'runAsGroup']) optional(v[f], 'number', `${at}.${f}`);
  for (const f of ['runAsNonRoot', 'privileged', 'allowPrivilegeEscalation']) optional(v[f], 'boolean', `${at}.${f}`);
  const caps = v['capabilities'];
  if (caps === undefined || caps === null) return;
  if (!isObject(caps)) throw new MalformedInput(`${at}.capabilities must be an object`);
  for (const f of ['add', 'drop']) {
    const list = caps[f];
    if (list !== undefined && list !== null && (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))) {
      throw new MalformedInput(`${at}.capabilities.${f} must be a list of strings`);
    }
  }
}

/** Every container of the pod, init containers first (the order the kubelet starts them). */
export function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

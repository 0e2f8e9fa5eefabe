/**
 * The resources the stand-in serves (issue 3, reference/k8s.md §8 item 2). Discovery, OpenAPI and
 * routing all read this one table, so a resource is served exactly when it is advertised.
 */
export interface Subresource {
  readonly name: string;
  /** The kind the subresource answers with: scale is `autoscaling/v1 Scale`, as on a real cluster. */
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly verbs: readonly string[];
}

export interface ResourceDef {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly kind: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly subresources: readonly Subresource[];
  /** Whether the registry strategy keeps `metadata.generation` (workloads do; ConfigMaps, Pods, Services do not). */
  readonly generation: boolean;
}

function def(
  group: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[],
  subresources: Subresource[] = [],
  categories: string[] = [],
): ResourceDef {
  const generation = group === 'apps';
  return { group, version: 'v1', resource, kind, singular: kind.toLowerCase(), namespaced, shortNames, categories, subresources, generation };
}

const core = (kind: string) => ({ group: '', version: 'v1', kind });

export const RESOURCES: readonly ResourceDef[] = [
  def('', 'namespaces', 'Namespace', false, ['ns']),
  def('', 'pods', 'Pod', true, ['po'], [
    { name: 'log', kind: core('Pod'), verbs: ['get'] },
    { name: 'exec', kind: core('PodExecOptions'), verbs: ['create', 'get'] },
    { name: 'attach', kind: core('PodAttachOptions'), verbs: ['create', 'get'] },
    { name: 'portforward', kind: core('PodPortForwardOptions'), verbs: ['create', 'get'] },
    { name: 'status', kind: core('Pod'), verbs: ['get', 'patch', 'update'] },
    { name: 'eviction', kind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] },
    // `kubectl debug` patches a debugging container in here (ephemeral.ts).
    { name: 'ephemeralcontainers', kind: core('Pod'), verbs: ['get', 'patch', 'update'] },
  ], ['all']),
  def('', 'configmaps', 'ConfigMap', true, ['cm']),
  def('', 'secrets', 'Secret', true, []),
  def('', 'services', 'Service', true, ['svc'], [], ['all']),
  def('', 'serviceaccounts', 'ServiceAccount', true, ['sa']),
  def('apps', 'deployments', 'Deployment', true, ['deploy'], [
    { name: 'scale', kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] },
    { name: 'status', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, verbs: ['get', 'patch', 'update'] },
  ], ['all']),
  // Made by the deployment controller (deployments.ts): `kubectl rollout undo` reads them back.
  def('apps', 'replicasets', 'ReplicaSet', true, ['rs'], [], ['all']),
  def('batch', 'jobs', 'Job', true, [], [], ['all']),
  // autoscaling/v1: the version `kubectl autoscale` (1.32) creates; the stand-in runs no autoscaler.
  def('autoscaling', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true, ['hpa'], [], ['all']),
  // Cluster-scoped: `kubectl cordon` patches one, `drain` cordons it and evicts its pods.
  def('', 'nodes', 'Node', false, ['no']),
  // Cluster-scoped; pod creates run the stored ones (admission.ts).
  def('admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false, []),
];

/** The verbs of every served resource (namespaces lack deletecollection, as on a real cluster). */
export const ALL_VERBS: readonly string[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function groupVersion(r: { group: string; version: string }): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

export function findResource(group: string, version: string, resource: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

/** The groups in the order a real apiserver lists them: the legacy core group first. */
export function groups(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version });
  return [...seen.values()];
}

import { createHash } from 'node:crypto';
import { ALL_VERBS, RESOURCES, groupVersion, groups, type ResourceDef } from './resources.js';

/**
 * Discovery and OpenAPI documents (reference/k8s.md §2, §8 items 2–3), all derived from the one
 * resource table. Each function returns a body; the server picks one by path and Accept.
 */

/** kubectl uses aggregated discovery only when the response carries exactly this Content-Type. */
export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

export function wantsAggregated(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((a) => {
    const params = new Set(a.split(';').map((p) => p.trim()));
    return params.has('g=apidiscovery.k8s.io') && params.has('v=v2') && params.has('as=APIGroupDiscoveryList');
  });
}

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-seb-standin',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** `/api` (legacy: true) or `/apis` as an APIGroupDiscoveryList. */
export function aggregated(legacy: boolean): Record<string, unknown> {
  const items = groups()
    .filter((g) => (g.group === '') === legacy)
    .map((g) => ({
      metadata: { name: g.group, creationTimestamp: null },
      versions: [
        {
          version: g.version,
          freshness: 'Current',
          resources: RESOURCES.filter((r) => r.group === g.group && r.version === g.version).map((r) => ({
            resource: r.resource,
            responseKind: { group: r.group, version: r.version, kind: r.kind },
            scope: r.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: r.singular,
            verbs: verbsOf(r),
            ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
            ...(r.categories.length > 0 ? { categories: r.categories } : {}),
            ...(r.subresources.length > 0
              ? { subresources: r.subresources.map((s) => ({ subresource: s.name, responseKind: s.kind, verbs: s.verbs })) }
              : {}),
          })),
        },
      ],
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}

function verbsOf(r: ResourceDef): string[] {
  return r.resource === 'namespaces' ? ALL_VERBS.filter((v) => v !== 'deletecollection') : [...ALL_VERBS];
}

export function legacyApiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function legacyGroupList(): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().filter((g) => g.group !== '').map(apiGroup) };
}

export function apiGroup(g: { group: string; version: string }): Record<string, unknown> {
  const gv = { groupVersion: groupVersion(g), version: g.version };
  return { kind: 'APIGroup', apiVersion: 'v1', name: g.group, versions: [gv], preferredVersion: gv };
}

/** `/api/v1` or `/apis/<group>/<version>`: the pre-aggregation per-group document. */
export function resourceList(group: string, version: string): Record<string, unknown> | undefined {
  const rs = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupVersion({ group, version }),
    resources: rs.flatMap((r) => [
      { name: r.resource, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: verbsOf(r), shortNames: r.shortNames, categories: r.categories },
      ...r.subresources.map((s) => ({
        name: `${r.resource}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s.kind.group === r.group ? {} : { group: s.kind.group, version: s.kind.version }),
        kind: s.kind.kind,
        verbs: s.verbs,
      })),
    ]),
  };
}

/**
 * `/openapi/v3/<api/v1 | apis/g/v>`: paths only, no schemas. kubectl needs just a PATCH operation
 * tagged with the GVK and a `fieldValidation` parameter to send `fieldValidation=Strict` and let
 * the server validate (kubectl `QueryParamVerifierV3`). Without component schemas kubectl's
 * client-side apply computes its patch from the compiled-in types, as for an OpenAPI v2 404.
 */
export function openApiGroupDoc(group: string, version: string): Record<string, unknown> | undefined {
  const rs = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const param = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
  for (const r of rs) {
    const base = `/${group === '' ? 'api' : `apis/${group}`}/${version}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.resource}`;
    const gvk = { group, version, kind: r.kind };
    const op = (verb: string, extra: string[]) => ({
      operationId: `${verb}${r.kind}`,
      'x-kubernetes-action': verb,
      'x-kubernetes-group-version-kind': gvk,
      parameters: extra.map(param),
      responses: { '200': { description: 'OK' } },
    });
    paths[base] = { get: op('list', ['labelSelector', 'fieldSelector', 'limit', 'continue', 'watch']), post: op('post', ['dryRun', 'fieldManager', 'fieldValidation']) };
    paths[`${base}/{name}`] = {
      get: op('get', []),
      put: op('put', ['dryRun', 'fieldManager', 'fieldValidation']),
      patch: op('patch', ['dryRun', 'fieldManager', 'fieldValidation', 'force']),
      delete: op('delete', ['dryRun', 'gracePeriodSeconds', 'propagationPolicy']),
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: VERSION_INFO.gitVersion }, paths, components: { schemas: {} } };
}

/** `/openapi/v3`: each group-version with a hash-pinned URL, as kubectl caches by that hash. */
export function openApiRoot(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const g of groups()) {
    const key = g.group === '' ? `api/${g.version}` : `apis/${g.group}/${g.version}`;
    const hash = createHash('sha512').update(JSON.stringify(openApiGroupDoc(g.group, g.version))).digest('hex').toUpperCase().slice(0, 128);
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
  }
  return { paths };
}

import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import canonicalize from 'canonicalize';
import { findResource, type ResourceDef } from './resources.js';
import type { KubeObject, ObjectStore, StoreEvent } from './store.js';

/**
 * The part of the deployment controller that kubectl reads back (`rollout undo`, `rollout
 * history`): every pod template a deployment has had is a ReplicaSet it controls (owner reference
 * with `controller: true`), named and labelled by the template's hash (`pod-template-hash`) and
 * numbered by `deployment.kubernetes.io/revision`; the deployment carries its current revision.
 * A template equal to an older ReplicaSet's (a rollback) takes that ReplicaSet back under the next
 * revision, as the real controller does. It runs after the write that changed the deployment, not
 * inside it (queueMicrotask), so a watch sees the deployment's own event before the controller's.
 * The stand-in runs no pods for them.
 */
export const REVISION = 'deployment.kubernetes.io/revision';
const HASH_LABEL = 'pod-template-hash';
/** Deployment annotations never copied to its ReplicaSets (deployment/util `annotationsToSkip`). */
const NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

type Obj = Record<string, unknown>;

/** Starts the controller on `store`; returns what stops it. */
export function runDeploymentController(store: ObjectStore): () => void {
  const deployments = findResource('apps', 'v1', 'deployments')!;
  const replicaSets = findResource('apps', 'v1', 'replicasets')!;
  return store.subscribe((e: StoreEvent) => {
    if (e.def !== deployments) return;
    if (e.type === 'DELETED') queueMicrotask(() => collectGarbage(store, replicaSets, e.namespace, String(e.object.metadata['uid'])));
    else queueMicrotask(() => sync(store, deployments, replicaSets, e.namespace, e.name));
  });
}

function sync(store: ObjectStore, deployments: ResourceDef, replicaSets: ResourceDef, namespace: string, name: string): void {
  const d = store.get(deployments, namespace, name);
  // Gone since, or paused: a paused deployment starts no rollout (`kubectl rollout pause`).
  if (d === undefined || (d['spec'] as Obj | undefined)?.['paused'] === true) return;
  const spec = (d['spec'] ?? {}) as Obj;
  const template = (spec['template'] ?? {}) as Obj;
  const owned = ownedBy(store, replicaSets, namespace, String(d.metadata['uid']));
  const latest = Math.max(0, ...owned.map(revisionOf));
  const current = owned.find((rs) => sameTemplate((rs['spec'] as Obj | undefined)?.['template'], template));
  const copied = Object.fromEntries(Object.entries(annotationsOf(d)).filter(([k]) => !NOT_COPIED.has(k)));
  const revision = current === undefined || revisionOf(current) < latest ? latest + 1 : revisionOf(current);
  const annotations = { ...(current === undefined ? {} : annotationsOf(current)), ...copied, [REVISION]: String(revision) };
  const replicas = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  if (current === undefined) store.create(replicaSets, namespace, newReplicaSet(d, template, annotations, replicas));
  // The current ReplicaSet runs the deployment's replicas, the older ones none (kubectl reads both counts).
  for (const rs of owned) {
    const want = rs === current ? { annotations, replicas } : { annotations: annotationsOf(rs), replicas: 0 };
    const rsSpec = (rs['spec'] ?? {}) as Obj;
    if (isDeepStrictEqual(annotationsOf(rs), want.annotations) && rsSpec['replicas'] === want.replicas) continue;
    store.update(replicaSets, namespace, String(rs.metadata['name']), { ...rs, metadata: { ...rs.metadata, annotations: want.annotations }, spec: { ...rsSpec, replicas: want.replicas } });
  }
  if (annotationsOf(d)[REVISION] !== String(revision)) {
    store.update(deployments, namespace, name, { ...d, metadata: { ...d.metadata, annotations: { ...annotationsOf(d), [REVISION]: String(revision) } } });
  }
}

/** The garbage collector's part: a deleted deployment's ReplicaSets go with it (propagation Background). */
function collectGarbage(store: ObjectStore, replicaSets: ResourceDef, namespace: string, uid: string): void {
  for (const rs of ownedBy(store, replicaSets, namespace, uid)) store.delete(replicaSets, namespace, String(rs.metadata['name']));
}

function ownedBy(store: ObjectStore, replicaSets: ResourceDef, namespace: string, uid: string): KubeObject[] {
  return store
    .list(replicaSets, namespace)
    .filter((rs) => ((rs.metadata['ownerReferences'] ?? []) as Obj[]).some((o) => o['controller'] === true && o['uid'] === uid));
}

function newReplicaSet(d: KubeObject, template: Obj, annotations: Record<string, string>, replicas: number): KubeObject {
  const hash = templateHash(template);
  const name = String(d.metadata['name']);
  const tmeta = (template['metadata'] ?? {}) as Obj;
  const labels = { ...((tmeta['labels'] ?? {}) as Record<string, string>), [HASH_LABEL]: hash };
  const selector = ((d['spec'] as Obj)['selector'] ?? {}) as Obj;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${name}-${hash}`,
      labels,
      annotations,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata['uid'], controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      replicas,
      selector: { ...selector, matchLabels: { ...((selector['matchLabels'] ?? {}) as Obj), [HASH_LABEL]: hash } },
      template: { ...template, metadata: { ...tmeta, labels } },
    },
  };
}

function annotationsOf(o: KubeObject): Record<string, string> {
  return (o.metadata['annotations'] ?? {}) as Record<string, string>;
}

function revisionOf(rs: KubeObject): number {
  const n = Number(annotationsOf(rs)[REVISION] ?? 0);
  return Number.isInteger(n) ? n : 0;
}

/** Templates compared as the controller does (`EqualIgnoreHash`): without the hash label, empty equal to absent. */
function sameTemplate(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalised(a), normalised(b));
}

function normalised(template: unknown): unknown {
  const t = structuredClone((template ?? {}) as Obj);
  const labels = ((t['metadata'] ?? {}) as Obj)['labels'] as Obj | undefined;
  if (labels !== undefined) delete labels[HASH_LABEL];
  return pruned(t);
}

/**
 * What the controller compares are Go structs: an absent field, a zero value ('' or false, which
 * the stand-in's protobuf decoding keeps) and an empty list or map are all the same there.
 */
function pruned(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(pruned);
  if (typeof v !== 'object' || v === null) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    const p = pruned(x);
    const empty = p === null || p === undefined || p === '' || p === false || (typeof p === 'object' && Object.keys(p as object).length === 0);
    if (!empty) out[k] = p;
  }
  return out;
}

/**
 * A stable hash of the template in the alphabet of the controller's names (rand.SafeEncodeString:
 * no vowels, no look-alike digits), so a ReplicaSet's name says which template it holds.
 */
function templateHash(template: Obj): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(canonicalize(normalised(template)) ?? '').digest();
  return [...digest.subarray(0, 10)].map((b) => alphabet[b % alphabet.length]).join('');
}

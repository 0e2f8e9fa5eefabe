import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { RESOURCES, type ResourceDef } from './resources.js';
import { alreadyExists, conflict, notFound, StatusError } from './status.js';

/**
 * The stand-in's in-memory object store (reference/k8s.md §8 item 4). One resourceVersion counter
 * for everything, as etcd's revision is on a real cluster, so a list's resourceVersion orders it
 * against every later watch event. Every write is recorded in `history` so a watch can resume from
 * any resourceVersion (item 6).
 */
export type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> };
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly type: EventType;
  readonly rv: number;
  readonly def: ResourceDef;
  readonly namespace: string;
  readonly name: string;
  readonly object: KubeObject;
}

export interface Preconditions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

export class ObjectStore {
  private revision = 1;
  private readonly objects = new Map<string, KubeObject>();
  readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  get resourceVersion(): string {
    return String(this.revision);
  }

  get(def: ResourceDef, namespace: string, name: string): KubeObject | undefined {
    const o = this.objects.get(key(def, namespace, name));
    return o === undefined ? undefined : structuredClone(o);
  }

  mustGet(def: ResourceDef, namespace: string, name: string): KubeObject {
    const o = this.get(def, namespace, name);
    if (o === undefined) throw notFound(def.resource, def.group, name);
    return o;
  }

  /** Objects of one resource, in one namespace (or all when `namespace` is ''), sorted by key as etcd lists. */
  list(def: ResourceDef, namespace: string): KubeObject[] {
    const prefix = `${def.group}/${def.resource}/${namespace === '' ? '' : `${namespace}/`}`;
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o));
  }

  create(def: ResourceDef, namespace: string, input: KubeObject, dryRun = false): KubeObject {
    const name = String(input.metadata['name'] ?? '');
    if (def.namespaced) this.requireNamespace(namespace);
    if (this.objects.has(key(def, namespace, name))) throw alreadyExists(def.resource, def.group, name);
    const obj = structuredClone(input);
    const meta = obj.metadata;
    delete meta['resourceVersion'];
    if (def.namespaced) meta['namespace'] = namespace;
    meta['uid'] = randomUUID();
    meta['creationTimestamp'] = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
    if (def.generation) meta['generation'] = 1;
    settle(def, obj);
    return dryRun ? obj : this.commit('ADDED', def, namespace, name, obj);
  }

  /**
   * A whole-object write (PUT, and every PATCH once merged). A non-empty `metadata.resourceVersion`
   * in the new object must equal the stored one (reference/k8s.md §5), else 409 Conflict; uid and
   * creationTimestamp cannot change. `subresource` 'status' keeps the stored spec, anything else
   * keeps the stored status, as the apiserver's status strategy does.
   */
  update(def: ResourceDef, namespace: string, name: string, input: KubeObject, opts: { dryRun?: boolean; subresource?: string } = {}): KubeObject {
    const old = this.mustGet(def, namespace, name);
    const rv = input.metadata['resourceVersion'];
    if (rv !== undefined && rv !== '' && rv !== old.metadata['resourceVersion']) {
      throw conflict(def.resource, def.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    const obj = structuredClone(input);
    const uid = obj.metadata['uid'];
    if (uid !== undefined && uid !== old.metadata['uid']) {
      throw new StatusError('Conflict', `Precondition failed: UID in precondition: ${String(uid)}, UID in object meta: ${String(old.metadata['uid'])}`, { name, group: def.group, kind: def.resource });
    }
    for (const k of ['uid', 'creationTimestamp', 'generation', 'namespace', 'name']) {
      if (old.metadata[k] === undefined) delete obj.metadata[k];
      else obj.metadata[k] = old.metadata[k];
    }
    if (opts.subresource === 'status') {
      for (const k of Object.keys(obj)) if (k !== 'status' && k !== 'metadata') delete obj[k];
      for (const k of Object.keys(old)) if (k !== 'status' && k !== 'metadata') obj[k] = old[k];
    } else if (opts.subresource === 'ephemeralcontainers') {
      keepAllButEphemeralContainers(old, obj);
    } else if ('status' in old) {
      obj['status'] = old['status'];
    } else {
      delete obj['status'];
    }
    // generation counts spec changes only (metadata.generation contract).
    if (def.generation && !isDeepStrictEqual(specOf(old), specOf(obj))) obj.metadata['generation'] = Number(old.metadata['generation'] ?? 0) + 1;
    settle(def, obj);
    if (opts.dryRun === true) return { ...obj, metadata: { ...obj.metadata, resourceVersion: old.metadata['resourceVersion'] } };
    return this.commit('MODIFIED', def, namespace, name, obj);
  }

  /** Delete with DeleteOptions.preconditions (reference/k8s.md §5): uid also catches delete-and-recreate. */
  delete(def: ResourceDef, namespace: string, name: string, pre: Preconditions = {}, dryRun = false): KubeObject {
    const old = this.mustGet(def, namespace, name);
    if (pre.uid !== undefined && pre.uid !== old.metadata['uid']) {
      throw conflict(def.resource, def.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(old.metadata['uid'])}`);
    }
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== old.metadata['resourceVersion']) {
      throw conflict(def.resource, def.group, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(old.metadata['resourceVersion'])}`);
    }
    if (dryRun) return old;
    if (def.resource === 'namespaces') {
      // The namespace controller empties a namespace before it goes; the stand-in does it at once.
      for (const [k, o] of [...this.objects.entries()]) {
        const parts = k.split('/');
        if (parts[2] === name && o.metadata['namespace'] === name) {
          this.objects.delete(k);
          const d = RESOURCES.find((r) => r.group === parts[0] && r.resource === parts[1])!;
          this.emit('DELETED', d, name, parts[3]!, o);
        }
      }
    }
    this.objects.delete(key(def, namespace, name));
    const gone = structuredClone(old);
    gone.metadata['resourceVersion'] = String(++this.revision);
    this.emit('DELETED', def, namespace, name, gone, this.revision);
    return gone;
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private requireNamespace(namespace: string): void {
    if (!this.objects.has(`/namespaces//${namespace}`)) throw notFound('namespaces', '', namespace);
  }

  private commit(type: EventType, def: ResourceDef, namespace: string, name: string, obj: KubeObject): KubeObject {
    obj.metadata['resourceVersion'] = String(++this.revision);
    this.objects.set(key(def, namespace, name), obj);
    this.emit(type, def, namespace, name, obj, this.revision);
    return structuredClone(obj);
  }

  private emit(type: EventType, def: ResourceDef, namespace: string, name: string, obj: KubeObject, rv = ++this.revision): void {
    const event: StoreEvent = { type, rv, def, namespace, name, object: structuredClone(obj) };
    this.history.push(event);
    for (const fn of this.listeners) fn(event);
  }
}

function key(def: ResourceDef, namespace: string, name: string): string {
  return `${def.group}/${def.resource}/${def.namespaced ? namespace : ''}/${name}`;
}

/**
 * The pod's ephemeralcontainers subresource writes `spec.ephemeralContainers` and nothing else,
 * metadata included (dropNonEphemeralContainerUpdates), and only adds to it: the apiserver refuses to change or remove one already there
 * (ValidatePodEphemeralContainersUpdate).
 */
function keepAllButEphemeralContainers(old: KubeObject, obj: KubeObject): void {
  type Spec = { ephemeralContainers?: unknown[] };
  const before = ((old['spec'] ?? {}) as Spec).ephemeralContainers ?? [];
  const after = ((obj['spec'] ?? {}) as Spec).ephemeralContainers ?? [];
  if (before.some((c) => !after.some((d) => isDeepStrictEqual(c, d)))) {
    throw new StatusError('Invalid', `Pod "${String(old.metadata['name'])}" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers may not be changed`);
  }
  for (const k of Object.keys(obj)) delete obj[k];
  for (const k of Object.keys(old)) obj[k] = structuredClone(old[k]);
  obj['spec'] = { ...(old['spec'] as object), ephemeralContainers: after };
}

function specOf(o: KubeObject): unknown {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

/**
 * What the controllers and kubelet would do, done at once so `rollout status`, `logs` and `exec`
 * see a settled object: deployments report all replicas ready for the current generation, pods
 * run, namespaces are Active.
 */
function settle(def: ResourceDef, obj: KubeObject): void {
  if (def.resource === 'deployments') {
    const spec = (obj['spec'] ?? {}) as Record<string, unknown>;
    const replicas = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
    spec['replicas'] = replicas;
    obj['spec'] = spec;
    obj['status'] = {
      observedGeneration: obj.metadata['generation'],
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
      ],
    };
  } else if (def.resource === 'pods') {
    const containers = (((obj['spec'] ?? {}) as Record<string, unknown>)['containers'] ?? []) as { name?: string; image?: string }[];
    obj['status'] = {
      phase: 'Running',
      containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, ready: true, restartCount: 0, state: { running: {} } })),
    };
  } else if (def.resource === 'namespaces') {
    obj['status'] = { phase: 'Active' };
  }
}

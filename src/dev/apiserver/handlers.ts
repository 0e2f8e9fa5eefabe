import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { parseStrictJson } from '../../lib/strict-json.js';
import { Denial } from '../../reasons.js';
import { serverSideApply } from './apply.js';
import { jsonPatch, mergePatch, strategicMerge } from './patch.js';
import { groupVersion, type ResourceDef } from './resources.js';
import type { Route } from './route.js';
import { matchesFields, matchesLabels } from './route.js';
import { StatusError, badRequest, notFound } from './status.js';
import { includeObjectOf, toTable } from './table.js';
import type { KubeObject, ObjectStore } from './store.js';

/**
 * CRUD on the stand-in's store (reference/k8s.md §8 items 4–5): get, list with limit/continue,
 * create, update, the four patch types, delete with preconditions, deletecollection, and the
 * scale and status subresources. Each handler returns the status and body to write.
 */
export type ResourceRoute = Extract<Route, { kind: 'resource' }>;
export interface Reply {
  readonly status: number;
  readonly body: unknown;
  /** Texts for `Warning: 299` headers, which kubectl prints as `Warning: <text>`. */
  readonly warnings?: readonly string[];
}

export interface RequestBody {
  readonly contentType: string;
  readonly bytes: Buffer;
  /** `fieldValidation`: Strict, Warn (the server default) or Ignore. */
  readonly fieldValidation: string;
  /** Collects what the decoder let through under `fieldValidation=Warn`. */
  readonly warnings: string[];
}

const FIELD_VALIDATION = new Set(['Strict', 'Warn', 'Ignore']);

export function fieldValidationOf(query: URLSearchParams): string {
  const v = query.get('fieldValidation') ?? 'Warn';
  if (!FIELD_VALIDATION.has(v)) throw badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
  return v;
}

const PATCH_TYPES = new Set([
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
]);

/** `table`: the client asked for server-side printing (table.ts), which only reads answer with. */
export function handle(store: ObjectStore, r: ResourceRoute, body: RequestBody, table: boolean): Reply {
  const reply = dispatch(store, r, body, table);
  return body.warnings.length === 0 ? reply : { ...reply, warnings: body.warnings };
}

function dispatch(store: ObjectStore, r: ResourceRoute, body: RequestBody, table: boolean): Reply {
  const dryRun = parseDryRun(r.query);
  const { def, namespace, name, subresource } = r;
  switch (r.verb) {
    case 'get': {
      const obj = store.mustGet(def, namespace, name);
      if (subresource === 'scale') return ok(toScale(obj));
      return ok(table && subresource === '' ? toTable(def, [obj], { resourceVersion: obj.metadata['resourceVersion'] }, includeObjectOf(r.query), new Date()) : obj);
    }
    case 'list': {
      const l = list(store, r);
      return ok(table ? toTable(def, l.items as KubeObject[], l.metadata, includeObjectOf(r.query), new Date()) : l);
    }
    case 'create': {
      if (subresource === 'eviction') return evict(store, r, body, dryRun);
      if (subresource !== '') throw new StatusError('MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const obj = asObject(decodeJson(body));
      return { status: 201, body: store.create(def, namespace, prepareCreate(def, namespace, obj), dryRun) };
    }
    case 'update': {
      const input = asObject(decodeJson(body));
      checkName(input, name);
      if (subresource === 'scale') return ok(toScale(updateScale(store, r, input, dryRun)));
      return ok(store.update(def, namespace, name, withType(def, input), { dryRun, subresource }));
    }
    case 'patch':
      return patch(store, r, body, dryRun);
    case 'delete': {
      const opts: Record<string, unknown> = body.bytes.length === 0 ? {} : asObject(decodeJson(body));
      const pre = (opts['preconditions'] ?? {}) as { uid?: string; resourceVersion?: string };
      const gone = store.delete(def, namespace, name, pre, dryRun || parseDryRunList(opts['dryRun']));
      return ok({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: def.group, kind: def.resource, uid: gone.metadata['uid'] },
      });
    }
    case 'deletecollection': {
      const items = list(store, r).items as KubeObject[];
      for (const o of items) store.delete(def, String(o.metadata['namespace'] ?? ''), String(o.metadata['name']), {}, dryRun);
      return ok({ ...list(store, r), items });
    }
    default:
      throw new StatusError('MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}

/** `dryRun` accepts only `All` (apiserver `ValidateDryRun`). */
function parseDryRun(q: URLSearchParams): boolean {
  return parseDryRunList(q.getAll('dryRun'));
}

function parseDryRunList(v: unknown): boolean {
  const values = Array.isArray(v) ? v : v === undefined ? [] : [v];
  for (const x of values) if (x !== 'All') throw new StatusError('Invalid', `dryRun: Unsupported value: "${String(x)}": supported values: "All"`);
  return values.length > 0;
}

/**
 * Bodies are JSON (server.ts decodes protobuf into JSON at the door). A duplicate field is what field validation
 * can still see without schemas: an error under Strict (`strict decoding error`), a warning under
 * Warn, and under Ignore the last value wins as in Go's encoding/json.
 */
function decodeJson(body: RequestBody): unknown {
  try {
    return parseStrictJson(body.bytes);
  } catch (e) {
    const duplicate = e instanceof Denial && (e.detail ?? '').includes('duplicate key');
    if (!duplicate) throw badRequest('the request body is not valid JSON');
    if (body.fieldValidation === 'Strict') throw badRequest('strict decoding error: the request body has a duplicate field');
    if (body.fieldValidation === 'Warn') body.warnings.push('the request body has a duplicate field; the last value was used');
    return JSON.parse(body.bytes.toString('utf8')) as unknown;
  }
}

function asObject(v: unknown): KubeObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('the request body must be a JSON object');
  const o = v as Record<string, unknown>;
  const meta = o['metadata'];
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) throw badRequest('metadata must be an object');
  return { ...o, metadata: (meta ?? {}) as Record<string, unknown> };
}

function withType(def: ResourceDef, o: KubeObject): KubeObject {
  return { ...o, apiVersion: groupVersion(def), kind: def.kind };
}

function prepareCreate(def: ResourceDef, namespace: string, obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  const bodyNs = meta['namespace'];
  if (def.namespaced && bodyNs !== undefined && bodyNs !== '' && bodyNs !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  if ((meta['name'] ?? '') === '') {
    const gen = meta['generateName'];
    if (typeof gen !== 'string' || gen === '') {
      throw new StatusError('Invalid', `${def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, { group: def.group, kind: def.kind });
    }
    meta['name'] = gen + randomBytes(4).toString('hex').slice(0, 5);
  }
  return withType(def, obj);
}

/**
 * A policy/v1 Eviction deletes the pod at once: the stand-in has no disruption budgets to refuse
 * it with. The apiserver answers 201 with a Success Status.
 */
function evict(store: ObjectStore, r: ResourceRoute, body: RequestBody, dryRun: boolean): Reply {
  const eviction = asObject(decodeJson(body));
  checkName(eviction, r.name);
  const opts = (eviction['deleteOptions'] ?? {}) as { preconditions?: { uid?: string; resourceVersion?: string } };
  store.delete(r.def, r.namespace, r.name, opts.preconditions ?? {}, dryRun);
  return { status: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' } };
}

function checkName(input: KubeObject, name: string): void {
  const n = input.metadata['name'];
  if (n !== undefined && n !== name) throw badRequest(`the name of the object (${String(n)}) does not match the name on the URL (${name})`);
}

function list(store: ObjectStore, r: ResourceRoute): { kind: string; apiVersion: string; metadata: Record<string, unknown>; items: unknown[] } {
  const labels = r.query.get('labelSelector') ?? '';
  const fields = r.query.get('fieldSelector') ?? '';
  const all = store
    .list(r.def, r.namespace)
    .filter((o) => matchesLabels((o.metadata['labels'] ?? {}) as Record<string, string>, labels) && matchesFields(o, fields));
  const start = decodeContinue(r.query.get('continue'));
  const limit = Number(r.query.get('limit') ?? '0');
  const end = limit > 0 ? start + limit : all.length;
  const metadata: Record<string, unknown> = { resourceVersion: store.resourceVersion };
  if (end < all.length) {
    metadata['continue'] = Buffer.from(JSON.stringify({ start: end })).toString('base64url');
    metadata['remainingItemCount'] = all.length - end;
  }
  return { kind: `${r.def.kind}List`, apiVersion: groupVersion(r.def), metadata, items: all.slice(start, end) };
}

function decodeContinue(token: string | null): number {
  if (token === null || token === '') return 0;
  try {
    const start = (JSON.parse(Buffer.from(token, 'base64url').toString()) as { start?: unknown }).start;
    if (typeof start === 'number' && Number.isInteger(start) && start >= 0) return start;
  } catch {
    // fall through to the apiserver's message for a bad token
  }
  throw badRequest('continue key is not valid');
}

function patch(store: ObjectStore, r: ResourceRoute, body: RequestBody, dryRun: boolean): Reply {
  const { def, namespace, name, subresource } = r;
  const type = body.contentType;
  if (!PATCH_TYPES.has(type)) throw new StatusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${[...PATCH_TYPES].join(', ')}`);
  if (type === 'application/apply-patch+yaml') {
    const manager = r.query.get('fieldManager') ?? '';
    if (manager === '') throw new StatusError('Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    let applied: KubeObject;
    try {
      // The body is YAML, and kubectl sends JSON, which YAML 1.2 reads the same.
      applied = asObject(parseYaml(body.bytes.toString('utf8'), { uniqueKeys: true }));
    } catch (e) {
      throw e instanceof StatusError ? e : badRequest('the apply patch is not valid YAML');
    }
    checkName(applied, name);
    const force = r.query.get('force') === 'true';
    const existing = store.get(def, namespace, name);
    if (existing === undefined) {
      if (subresource !== '') throw notFound(def.resource, def.group, name);
      const created = serverSideApply(undefined, withType(def, { ...applied, metadata: { ...applied.metadata, name } }), manager, force, new Date());
      return { status: 201, body: store.create(def, namespace, prepareCreate(def, namespace, created), dryRun) };
    }
    const base = subresource === 'scale' ? toScale(existing) : existing;
    const merged = serverSideApply(base, applied, manager, force, new Date());
    return ok(write(store, r, merged, dryRun));
  }
  const existing = store.mustGet(def, namespace, name);
  const base = subresource === 'scale' ? toScale(existing) : existing;
  // The stored resourceVersion is dropped before merging so that only a resourceVersion the patch
  // itself carries survives into the update, where it acts as a precondition (reference/k8s.md §5).
  // A JSON Patch keeps it, so its own `test` op can compare against it.
  const doc = decodeJson(body);
  let patched: unknown;
  if (type === 'application/json-patch+json') {
    patched = jsonPatch(base, doc);
    (patched as KubeObject).metadata['resourceVersion'] = '';
  } else {
    const unversioned = { ...base, metadata: { ...base.metadata, resourceVersion: undefined } };
    patched = type === 'application/merge-patch+json' ? mergePatch(unversioned, doc) : strategicMerge(unversioned, doc);
  }
  return ok(write(store, r, asObject(patched), dryRun));
}

function write(store: ObjectStore, r: ResourceRoute, obj: KubeObject, dryRun: boolean): unknown {
  if (r.subresource === 'scale') return toScale(updateScale(store, r, obj, dryRun));
  return store.update(r.def, r.namespace, r.name, withType(r.def, obj), { dryRun, subresource: r.subresource });
}

/** The `autoscaling/v1 Scale` view of a deployment, as the apiserver's scale subresource answers. */
function toScale(o: KubeObject): KubeObject {
  const m = o.metadata;
  const spec = (o['spec'] ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  const selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m['name'], namespace: m['namespace'], uid: m['uid'], resourceVersion: m['resourceVersion'], creationTimestamp: m['creationTimestamp'] },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: ((o['status'] ?? {}) as { replicas?: number }).replicas ?? 0, selector },
  };
}

function updateScale(store: ObjectStore, r: ResourceRoute, scale: KubeObject, dryRun: boolean): KubeObject {
  const replicas = ((scale['spec'] ?? {}) as { replicas?: unknown }).replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new StatusError('Invalid', `Scale.autoscaling "${r.name}" is invalid: spec.replicas: Invalid value: must be greater than or equal to 0`);
  }
  const obj = store.mustGet(r.def, r.namespace, r.name);
  obj['spec'] = { ...(obj['spec'] as object), replicas };
  obj.metadata['resourceVersion'] = scale.metadata['resourceVersion'] ?? '';
  return store.update(r.def, r.namespace, r.name, obj, { dryRun });
}

import { StatusError, badRequest } from './status.js';

/**
 * The four PATCH content types kubectl sends (reference/k8s.md §3). Each function is pure: it
 * returns the patched object and never touches the store, so the resourceVersion precondition a
 * merge or strategic patch carries is checked by the store's update like a PUT's
 * (reference/k8s.md §5, kubernetes/kubernetes#63104).
 */
type Json = unknown;
type Obj = Record<string, Json>;

const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 6902. A failed `test` is 422 as in apiserver `handlers/patch.go` (jsonpatch apply errors). */
export function jsonPatch(doc: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badRequest('json patch must be an array of operations');
  let out = structuredClone(doc);
  for (const op of ops) {
    if (!isObj(op) || typeof op['op'] !== 'string' || typeof op['path'] !== 'string') throw badRequest('invalid json patch operation');
    const path = op['path'];
    switch (op['op']) {
      case 'add': out = put(out, path, op['value'], true); break;
      case 'replace': get(out, path); out = put(out, path, op['value'], false); break;
      case 'remove': out = remove(out, path); break;
      case 'move': { const v = get(out, String(op['from'])); out = put(remove(out, String(op['from'])), path, v, true); break; }
      case 'copy': out = put(out, path, structuredClone(get(out, String(op['from']))), true); break;
      case 'test':
        if (JSON.stringify(get(out, path)) !== JSON.stringify(op['value'])) {
          throw new StatusError('Invalid', `the server rejected our request due to an error in our request: testing value ${path} failed: test failed`);
        }
        break;
      default: throw badRequest(`unknown json patch operation ${String(op['op'])}`);
    }
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid json pointer ${path}`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function get(doc: Json, path: string): Json {
  let cur = doc;
  for (const seg of pointer(path)) {
    if (Array.isArray(cur) && /^\d+$/.test(seg) && Number(seg) < cur.length) cur = cur[Number(seg)];
    else if (isObj(cur) && Object.hasOwn(cur, seg)) cur = cur[seg];
    else throw new StatusError('Invalid', `the server rejected our request due to an error in our request: path ${path} does not exist`);
  }
  return cur;
}

function parentOf(doc: Json, path: string): { parent: Json; last: string } {
  const segs = pointer(path);
  const last = segs.pop();
  if (last === undefined) throw badRequest('json patch cannot target the whole document');
  const parent = get(doc, segs.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join(''));
  return { parent, last };
}

function put(doc: Json, path: string, value: Json, insert: boolean): Json {
  if (path === '') return value;
  const { parent, last } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!/^\d+$|^-$/.test(last) || i > parent.length) throw badRequest(`invalid array index in ${path}`);
    parent.splice(i, insert ? 0 : 1, value);
  } else if (isObj(parent)) {
    parent[last] = value;
  } else {
    throw badRequest(`cannot add below a scalar at ${path}`);
  }
  return doc;
}

function remove(doc: Json, path: string): Json {
  get(doc, path);
  const { parent, last } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (isObj(parent)) delete parent[last];
  return doc;
}

/** RFC 7386 JSON merge patch: null deletes, objects merge, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Obj = isObj(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Patch merge keys of the built-in types (the `patchMergeKey` struct tags in k8s.io/api): lists
 * under these field names merge element-wise instead of being replaced. `ports` is keyed by
 * `containerPort` in a container and by `port` in a Service: the first key the elements carry wins.
 */
const MERGE_KEYS: Readonly<Record<string, readonly string[]>> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  env: ['name'],
  volumes: ['name'],
  volumeMounts: ['mountPath'],
  imagePullSecrets: ['name'],
  ports: ['containerPort', 'port'],
  conditions: ['type'],
};

/**
 * Strategic merge patch with the directives kubectl emits: `$patch: replace|delete`,
 * `$setElementOrder/<list>`, `$retainKeys`, `$deleteFromPrimitiveList/<list>` and null deletions.
 */
export function strategicMerge(target: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  if (patch['$patch'] === 'replace') return strip(patch);
  const out: Obj = isObj(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') || k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const drop = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[field])) out[field] = (out[field] as Json[]).filter((x) => !drop.has(JSON.stringify(x)));
    } else if (v === null) {
      delete out[k];
    } else if (Array.isArray(v) && MERGE_KEYS[k] !== undefined) {
      out[k] = mergeList(Array.isArray(out[k]) ? (out[k] as Json[]) : [], v, MERGE_KEYS[k]!);
    } else if (isObj(v) && v['$patch'] === 'delete') {
      delete out[k];
    } else {
      out[k] = isObj(v) ? strategicMerge(out[k], v) : structuredClone(v);
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') && Array.isArray(v)) {
      const field = k.slice('$setElementOrder/'.length);
      if (Array.isArray(out[field])) out[field] = reorder(out[field] as Json[], v, MERGE_KEYS[field] ?? []);
    }
  }
  if (Array.isArray(patch['$retainKeys'])) {
    const keep = new Set(patch['$retainKeys'] as Json[]);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

function strip(o: Obj): Obj {
  const out = structuredClone(o);
  delete out['$patch'];
  return out;
}

function keyOf(items: Json[], keys: readonly string[]): string | undefined {
  return keys.find((k) => items.some((i) => isObj(i) && i[k] !== undefined));
}

function mergeList(target: Json[], patch: Json[], keys: readonly string[]): Json[] {
  if (patch.some((p) => isObj(p) && p['$patch'] === 'replace')) return patch.filter((p) => !(isObj(p) && p['$patch'] === 'replace'));
  const mk = keyOf(patch, keys) ?? keyOf(target, keys);
  if (mk === undefined) return structuredClone(patch);
  const out = structuredClone(target);
  for (const p of patch) {
    if (!isObj(p)) continue;
    const i = out.findIndex((o) => isObj(o) && o[mk] === p[mk]);
    if (p['$patch'] === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) {
      out[i] = strategicMerge(out[i], p);
    } else {
      out.push(strategicMerge({}, p));
    }
  }
  return out;
}

function reorder(items: Json[], order: Json[], keys: readonly string[]): Json[] {
  const mk = keyOf(order, keys);
  if (mk === undefined) return items;
  const rank = (x: Json) => {
    const i = order.findIndex((o) => isObj(o) && isObj(x) && o[mk] === x[mk]);
    return i < 0 ? order.length : i;
  };
  return [...items].sort((a, b) => rank(a) - rank(b));
}

/** The leaf paths an applied configuration sets (lists count as one leaf), as segment arrays. */
export function appliedFields(applied: Json, prefix: readonly string[] = []): string[][] {
  if (!isObj(applied)) return [[...prefix]];
  const out: string[][] = [];
  for (const [k, v] of Object.entries(applied)) {
    if (prefix.length === 0 && (k === 'apiVersion' || k === 'kind')) continue;
    if (prefix.length === 0 && k === 'metadata' && isObj(v)) {
      for (const [mk, mv] of Object.entries(v)) if (mk === 'labels' || mk === 'annotations') out.push(...appliedFields(mv, ['metadata', mk]));
      continue;
    }
    out.push(...appliedFields(v, [...prefix, k]));
  }
  return out;
}

/** The value at a path, undefined when absent. */
export function valueAt(obj: Json, path: readonly string[]): Json {
  let cur = obj;
  for (const seg of path) cur = isObj(cur) ? cur[seg] : undefined;
  return cur;
}

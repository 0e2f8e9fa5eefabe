import { findResource, type ResourceDef } from './resources.js';
import { StatusError, badRequest } from './status.js';

/**
 * The stand-in's own reading of a request path, following apiserver RequestInfo
 * (reference/k8s.md §1): legacy `watch` verb-in-path, namespaces and their subresources, watch
 * detection from the query, `deletecollection`. The stand-in serves only resources in its table, so
 * anything else is a 404 here rather than a parse.
 */
export type Route =
  | { readonly kind: 'nonresource'; readonly path: string }
  | {
      readonly kind: 'resource';
      readonly verb: string;
      readonly def: ResourceDef;
      readonly namespace: string;
      readonly name: string;
      readonly subresource: string;
      readonly query: URLSearchParams;
    };

export function route(method: string, rawUrl: string): Route {
  const url = new URL(rawUrl, 'https://standin.invalid');
  const path = decodeURIComponent(url.pathname);
  const segs = path.replace(/^\/+|\/+$/g, '').split('/');
  if (segs.length < 3 || (segs[0] !== 'api' && segs[0] !== 'apis')) return { kind: 'nonresource', path };
  let i = 1;
  let group = '';
  if (segs[0] === 'apis') {
    if (segs.length < 4) return { kind: 'nonresource', path };
    group = segs[i++]!;
  }
  const version = segs[i++]!;
  let legacyWatch = false;
  if (segs[i] === 'watch') {
    if (i + 1 >= segs.length) throw new StatusError('InternalError', 'unable to determine the verb of the request');
    legacyWatch = true;
    i++;
  }
  let namespace = '';
  if (segs[i] === 'namespaces' && i + 1 < segs.length) {
    namespace = segs[i + 1]!;
    const third = segs[i + 2];
    if (third !== undefined && third !== 'status' && third !== 'finalize') i += 2;
  }
  const resource = segs[i] ?? '';
  const name = segs[i + 1] ?? '';
  const subresource = segs[i + 2] ?? '';
  const def = findResource(group, version, resource);
  if (def === undefined) throw new StatusError('NotFound', 'the server could not find the requested resource');
  if (!def.namespaced && resource !== 'namespaces') namespace = '';
  if (def.namespaced && namespace === '' && name !== '') throw new StatusError('NotFound', 'the server could not find the requested resource');
  if (subresource !== '' && !def.subresources.some((s) => s.name === subresource)) {
    throw new StatusError('NotFound', 'the server could not find the requested resource');
  }
  const query = url.searchParams;
  return { kind: 'resource', verb: verbOf(method, name, query, legacyWatch), def, namespace, name: name || selectedName(query, method), subresource, query };
}

function verbOf(method: string, name: string, query: URLSearchParams, legacyWatch: boolean): string {
  if (legacyWatch) return 'watch';
  switch (method) {
    case 'POST': return 'create';
    case 'GET':
    case 'HEAD': {
      if (name !== '') return 'get';
      const watch = query.getAll('watch');
      if (watch.length > 1) throw badRequest('the watch parameter may appear at most once');
      return watch.length === 1 && !['0', 'false'].includes(watch[0]!.toLowerCase()) ? 'watch' : 'list';
    }
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return name === '' ? 'deletecollection' : 'delete';
    default: throw new StatusError('MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }
}

/** An exact `metadata.name=X` field selector names the object of a list or watch (not of a delete). */
function selectedName(query: URLSearchParams, method: string): string {
  if (method !== 'GET') return '';
  const m = /^metadata\.name==?([^,]*)$/.exec(query.get('fieldSelector') ?? '');
  return m === null ? '' : m[1]!;
}

/** Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`) and set-based `in`/`notin`. */
export function matchesLabels(labels: Record<string, string>, selector: string): boolean {
  if (selector.trim() === '') return true;
  for (const term of selector.split(/,(?![^(]*\))/).map((t) => t.trim())) {
    let m: RegExpExecArray | null;
    if ((m = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(term)) !== null) {
      const set = m[3]!.split(',').map((v) => v.trim());
      const has = Object.hasOwn(labels, m[1]!) && set.includes(labels[m[1]!]!);
      if (m[2] === 'in' ? !has : has) return false;
    } else if ((m = /^([^!=]+)!=(.*)$/.exec(term)) !== null) {
      if (labels[m[1]!] === m[2]) return false;
    } else if ((m = /^([^!=]+)==?(.*)$/.exec(term)) !== null) {
      if (labels[m[1]!] !== m[2]) return false;
    } else if (term.startsWith('!')) {
      if (Object.hasOwn(labels, term.slice(1))) return false;
    } else if (!Object.hasOwn(labels, term)) {
      return false;
    }
  }
  return true;
}

/**
 * Field selectors on `metadata.name` and `metadata.namespace`, the ones every resource supports,
 * and a pod's `spec.nodeName` (`kubectl drain` lists a node's pods with it).
 */
export function matchesFields(obj: { readonly metadata: Record<string, unknown>; readonly spec?: unknown }, selector: string): boolean {
  if (selector.trim() === '') return true;
  for (const term of selector.split(',')) {
    const m = /^(metadata\.name|metadata\.namespace|spec\.nodeName)(==|=|!=)(.*)$/.exec(term.trim());
    if (m === null) throw badRequest(`"${term}" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.nodeName"`);
    const [section, field] = m[1]!.split('.') as [string, string];
    const fields = (section === 'metadata' ? obj.metadata : obj.spec ?? {}) as Record<string, unknown>;
    const v = String(fields[field] ?? '');
    if ((m[2] === '!=') === (v === m[3])) return false;
  }
  return true;
}

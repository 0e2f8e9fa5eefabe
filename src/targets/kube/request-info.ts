/**
 * Kubernetes request resolution: the apiserver's RequestInfo (k8s.io/apiserver
 * `pkg/endpoints/request/requestinfo.go`, reference/k8s.md §1), re-implemented so that the broker
 * reads every request exactly as the apiserver will, plus the refusals that close the parser
 * differentials between the two (SPEC §2.1: "the request must be read exactly one way").
 *
 * The apiserver decodes the path and query with Go's net/url before RequestInfo splits them, so
 * the decoding here follows Go (`url.PathUnescape`, `url.ParseQuery`) and refuses, as
 * `unparseable_request`, every input where Go, the apiserver's router and this code could disagree.
 */
import { unparseable } from '../../reasons.js';
import { pathSegments, parseKubeQuery } from './go-url.js';
import { fieldSelectorName, requireListIntegers } from './field-selector.js';

export interface KubeRequestInfo {
  /** false for discovery, OpenAPI, /version, /healthz and anything outside `/api` and `/apis`. */
  readonly isResource: boolean;
  /** The Kubernetes verb; for a non-resource request the lower-cased HTTP method (as upstream). */
  readonly verb: string;
  readonly apiPrefix: string;
  readonly group: string;
  readonly version: string;
  readonly namespace: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
  /** The percent-decoded path (Go's `req.URL.Path`). */
  readonly path: string;
  /** Segments from the resource on (`[resource, name, subresource, ...]`); `[]` for non-resource. */
  readonly parts: readonly string[];
  /**
   * The decoded path after a `proxy` subresource (or after the name for the legacy `proxy` verb),
   * `''` when nothing follows; `null` for every other request (SPEC §2.1 `path_suffix`).
   */
  readonly pathSuffix: string | null;
  /** The decoded `fieldSelector` for list, watch and deletecollection (apiserver behaviour); else null. */
  readonly fieldSelector: string | null;
  readonly labelSelector: string | null;
  /**
   * The decoded query (`parseKubeQuery`), kept so the matcher compares the parameters that were
   * read here and never parses the query a second, possibly different, way.
   */
  readonly query: ReadonlyMap<string, readonly string[]>;
}

// requestinfo.go: `specialVerbs`, `specialVerbsNoSubresources`, `namespaceSubresources`.
const SPECIAL_VERBS: ReadonlySet<string> = new Set(['watch', 'proxy']);
const NAMESPACE_SUBRESOURCES: ReadonlySet<string> = new Set(['status', 'finalize']);
// The apiserver is started with APIPrefixes {api, apis} and GrouplessAPIPrefixes {api}.
const API_PREFIXES: ReadonlySet<string> = new Set(['api', 'apis']);
const GROUPLESS_PREFIX = 'api';

/** Exactly one value or none: the apiserver reads the first of several, a reader could take another. */
function single(query: ReadonlyMap<string, readonly string[]>, name: string): string | null {
  const values = query.get(name);
  if (values === undefined) return null;
  if (values.length > 1) throw unparseable(`query parameter ${name} is sent more than once`);
  return values[0]!;
}

/**
 * The apiserver's `watch` truthiness (apimachinery `Convert_Slice_string_To_bool`): only `0` and
 * `false` (any case, `strings.EqualFold`) are false; anything else, the empty value included, is
 * true. Non-ASCII is refused: EqualFold folds `ſ` to `s` while RequestInfo's fallback path
 * (`strings.ToLower`) does not, so `falſe` is read two ways inside the apiserver itself.
 */
function watchIsTrue(value: string): boolean {
  if (!/^[\x00-\x7f]*$/.test(value)) throw unparseable('the watch parameter is not ASCII');
  return !(value === '0' || value.toLowerCase() === 'false');
}

function verbFromMethod(method: string): string {
  // Case-sensitive, as Go's switch on req.Method.
  switch (method) {
    case 'POST':
      return 'create';
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return '';
  }
}

/**
 * Resolves a request as the apiserver's RequestInfoFactory does (reference/k8s.md §1).
 * `rawPath` and `rawQuery` are the request target split at the first `?`, still percent-encoded.
 * Throws `unparseable` (SPEC §2.1, §3) for anything that could be read two ways.
 *
 * Beyond upstream, also refused: segments after a subresource other than `proxy` (RequestInfo
 * ignores them, so a certificate for `pods/p/status` would otherwise cover `pods/p/status/x`),
 * and a legacy `watch`/`proxy` verb with nothing after it (the apiserver answers 500).
 */
export function resolveRequestInfo(method: string, rawPath: string, rawQuery: string): KubeRequestInfo {
  const { path, segments } = pathSegments(rawPath);
  const query = parseKubeQuery(rawQuery);
  // Refused on every request, not just lists, so no later reader ever has to pick one.
  const watchValue = single(query, 'watch');
  const fieldSelector = single(query, 'fieldSelector');
  const labelSelector = single(query, 'labelSelector');

  const nonResource: KubeRequestInfo = {
    isResource: false,
    verb: method.toLowerCase(),
    apiPrefix: '',
    group: '',
    version: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    path,
    parts: [],
    pathSuffix: null,
    fieldSelector: null,
    labelSelector: null,
    query,
  };
  if (segments.length < 3 || !API_PREFIXES.has(segments[0]!)) return nonResource;
  const apiPrefix = segments[0]!;
  let rest = segments.slice(1);
  let group = '';
  if (apiPrefix !== GROUPLESS_PREFIX) {
    // `/apis/{group}/{version}` is discovery; a resource needs a fourth segment.
    if (rest.length < 3) return { ...nonResource, apiPrefix };
    group = rest[0]!;
    rest = rest.slice(1);
  }
  const version = rest[0]!;
  rest = rest.slice(1);

  let verb: string;
  const verbInPath = SPECIAL_VERBS.has(rest[0]!);
  if (verbInPath) {
    if (rest.length < 2) throw unparseable(`the request path ends at the ${rest[0]} verb`);
    verb = rest[0]!;
    rest = rest.slice(1);
  } else {
    verb = verbFromMethod(method);
  }

  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]!;
    // `/namespaces/{ns}/{resource}...`, unless the third segment is a namespace subresource:
    // then the Namespace object itself is the resource, named like the namespace.
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const parts = rest;
  const resource = parts[0] ?? '';
  let name = parts[1] ?? '';
  // The legacy proxy verb takes no subresource: everything after the name is the proxied path.
  const subresource = verb !== 'proxy' ? (parts[2] ?? '') : '';

  let pathSuffix: string | null = null;
  if (verb === 'proxy') pathSuffix = suffix(parts, 2);
  else if (subresource === 'proxy') pathSuffix = suffix(parts, 3);
  else if (parts.length > 3) throw unparseable(`the request path continues after subresource ${subresource}`);

  if (name === '' && verb === 'get') {
    verb = watchValue !== null && watchIsTrue(watchValue) ? 'watch' : 'list';
    if (fieldSelector !== null) {
      name = fieldSelectorName(fieldSelector);
      if (name !== '') requireListIntegers(query);
    }
  }
  // A field selector never names the object of a delete (RequestInfo checks only the path).
  if (name === '' && verb === 'delete') verb = 'deletecollection';

  // The apiserver keeps no selectors for the legacy verb-in-path forms (requestinfo.go
  // `verbViaPathPrefix`: its single-object watch takes none), so neither does the broker.
  const selects = !verbInPath && (verb === 'list' || verb === 'watch' || verb === 'deletecollection');
  return {
    isResource: true,
    verb,
    apiPrefix,
    group,
    version,
    namespace,
    resource,
    subresource,
    name,
    path,
    parts,
    pathSuffix,
    fieldSelector: selects ? fieldSelector : null,
    labelSelector: selects ? labelSelector : null,
    query,
  };
}

function suffix(parts: readonly string[], from: number): string {
  return parts.length > from ? `/${parts.slice(from).join('/')}` : '';
}

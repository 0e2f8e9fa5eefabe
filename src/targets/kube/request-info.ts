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

// Fatal: a path or query whose escapes are not UTF-8 is refused. Go keeps such bytes as they are;
// a JS string cannot, so two byte strings could otherwise read as one name.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Raw request-target characters kubectl and client-go ever send: printable ASCII. `#` is excluded
// because Go's ParseRequestURI keeps it in the path while other HTTP stacks cut a fragment there.
const RAW_CHAR = /^[\x21-\x22\x24-\x7e]*$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
// Go's strconv.ParseInt(s, 10, 64) syntax (no underscores in base 10).
const GO_INT = /^[+-]?[0-9]+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Percent-decodes like Go's `unescape` (strict `%XX`; `+` a space only when `plusIsSpace`, as in
 * url.QueryUnescape) and returns the UTF-8 text. Throws `unparseable` on a bad escape.
 */
function goUnescape(s: string, plusIsSpace: boolean, what: string): string {
  if (!RAW_CHAR.test(s)) throw unparseable(`the ${what} holds a character that is not printable ASCII or a raw #`);
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return s; // nothing to decode
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) throw unparseable(`the ${what} holds a % that is not followed by two hex digits`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(plusIsSpace && ch === 0x2b ? 0x20 : ch);
    }
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    throw unparseable(`percent-decoding the ${what} does not give valid UTF-8`);
  }
}

/**
 * Go's `url.ParseQuery` (Go 1.17+), which the apiserver uses for every query parameter: split on
 * `&`, skip empty pieces, refuse `;` (Go rejects it as a separator; `req.URL.Query()` would then
 * silently drop that piece), the name is up to the first `=` and a piece without `=` has the
 * value `''`, and `+` decodes to a space in names and values. Go drops pieces with a bad escape and
 * carries on; here any bad escape refuses the whole request. Values keep their order per name.
 */
export function parseKubeQuery(rawQuery: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (rawQuery.includes(';')) throw unparseable('the query holds a ; (Go refuses it as a separator)');
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = goUnescape(eq === -1 ? piece : piece.slice(0, eq), true, 'query');
    const value = eq === -1 ? '' : goUnescape(piece.slice(eq + 1), true, 'query');
    const values = out.get(name);
    if (values) values.push(value);
    else out.set(name, [value]);
  }
  return out;
}

/**
 * Decodes the path like Go's url.PathUnescape and splits it into segments, refusing everything
 * that the apiserver's RequestInfo, its router or a proxy in between could split differently.
 */
function pathSegments(rawPath: string): { path: string; segments: string[] } {
  if (!rawPath.startsWith('/')) throw unparseable('the request path does not start with /');
  // An encoded / would be decoded before the split (reference/k8s.md §1: `configmaps/a%2Fb` is
  // name `a`, subresource `b`); an encoded \ is a separator to some proxies.
  if (/%(2f|5c)/i.test(rawPath)) throw unparseable('the request path holds an encoded / or \\');
  const path = goUnescape(rawPath, false, 'path');
  // Control characters and \ never occur in a Kubernetes name; they only confuse readers and logs.
  if (/[\x00-\x1f\x7f\\]/.test(path)) throw unparseable('the request path holds a control character or \\');
  // Nor does % (path.IsValidPathSegmentName): an encoded % (`%252F`) only matters to a proxy
  // backend that decodes the path a second time, which is exactly the differential to avoid.
  if (path.includes('%')) throw unparseable('the request path holds an encoded %');
  if (path === '/') return { path, segments: [] };
  const segments = path.slice(1).split('/');
  // The apiserver trims slashes before splitting, but its router matches the untrimmed path:
  // `/api/v1/pods/` and `//api/v1/pods` could be read two ways, so empty segments are refused,
  // including a trailing / (clients build paths with path.Join and never send one).
  if (segments.includes('')) throw unparseable('the request path holds an empty segment');
  if (segments.includes('.') || segments.includes('..')) throw unparseable('the request path holds a . or .. segment');
  return { path, segments };
}

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

/** One term of a Go fields selector (k8s.io/apimachinery `fields.parseSelector`). */
interface FieldTerm {
  readonly field: string;
  readonly op: '!=' | '==' | '=';
  readonly value: string;
}

/**
 * `fields.ParseSelector`: split on `,` not escaped by `\`, split each non-empty term at the first
 * `!=`, `==` or `=` (left side taken literally, not trimmed), and unescape the value (`\\`, `\,`,
 * `\=`; any other escape, a trailing `\`, or a bare `,` or `=` is an error). Returns null on error.
 */
function parseFieldSelector(selector: string): FieldTerm[] | null {
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  if (selector !== '') terms.push(selector.slice(start));
  const out: FieldTerm[] = [];
  for (const term of terms) {
    if (term === '') continue;
    const at = term.search(/!=|==|=/);
    if (at === -1) return null;
    const op = term.startsWith('!=', at) ? '!=' : term.startsWith('==', at) ? '==' : '=';
    const value = unescapeFieldValue(term.slice(at + op.length));
    if (value === null) return null;
    out.push({ field: term.slice(0, at), op, value });
  }
  return out;
}

/** `fields.UnescapeValue`; null where Go returns an error. */
function unescapeFieldValue(s: string): string | null {
  let out = '';
  let escaped = false;
  for (const c of s) {
    if (escaped) {
      if (c !== '\\' && c !== ',' && c !== '=') return null;
      out += c;
      escaped = false;
    } else if (c === '\\') escaped = true;
    else if (c === ',' || c === '=') return null;
    else out += c;
  }
  return escaped ? null : out;
}

/**
 * The name a list or watch names through `fieldSelector=metadata.name=X` (or `==`), as
 * RequestInfo derives it: `RequiresExactMatch("metadata.name")` and then only when X is a valid
 * path segment name (`path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%`).
 * Refused: a selector the apiserver cannot parse (RequestInfo then ignores it, the list handler
 * rejects it: two readings), and more than one `metadata.name` equality (Go picks the first after
 * a byte-wise sort of the terms, which nobody reading the request would guess).
 */
function fieldSelectorName(selector: string): string {
  const terms = parseFieldSelector(selector);
  if (terms === null) throw unparseable('the fieldSelector does not parse as the apiserver parses it');
  const names = terms.filter((t) => t.field === 'metadata.name' && t.op !== '!=').map((t) => t.value);
  if (names.length > 1) throw unparseable('the fieldSelector names metadata.name more than once');
  const name = names[0] ?? '';
  if (name === '.' || name === '..' || name.includes('/') || name.includes('%')) return '';
  return name;
}

/**
 * RequestInfo takes a field-selector name only when all of ListOptions decodes; a `limit` or
 * `timeoutSeconds` that is not a Go int64 would make the apiserver drop the name we derived.
 * (A labelSelector that does not parse does the same; the apiserver's list handler then answers
 * 400 from the same decode, so that request has no effect and is not checked here.)
 */
function requireListIntegers(query: ReadonlyMap<string, readonly string[]>): void {
  for (const param of ['limit', 'timeoutSeconds']) {
    const first = query.get(param)?.[0];
    if (first === undefined) continue;
    const fits = GO_INT.test(first) && BigInt(first) >= INT64_MIN && BigInt(first) <= INT64_MAX;
    if (!fits) throw unparseable(`query parameter ${param} is not an integer`);
  }
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

// k8s.io/apiserver `BasicLongRunningRequestCheck` as the kube-apiserver configures it.
const LONG_RUNNING_VERBS: ReadonlySet<string> = new Set(['watch', 'proxy']);
const LONG_RUNNING_SUBRESOURCES: ReadonlySet<string> = new Set(['attach', 'exec', 'proxy', 'log', 'portforward']);

/** Long-running as the apiserver counts it: no response timeout, closed by the broker (SPEC §4). */
export function isLongRunning(info: KubeRequestInfo): boolean {
  return LONG_RUNNING_VERBS.has(info.verb) || (info.isResource && LONG_RUNNING_SUBRESOURCES.has(info.subresource));
}

const READ_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'watch']);
// SPEC §7: these give a shell, a tunnel or a credential even though RBAC calls them `get`
// (kubectl's WebSocket exec is a GET, `get pods/exec`).
const NOT_READ_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'proxy']);

/**
 * SPEC §7. Resource requests: get, list and watch, minus `secrets` (in any group: a read that
 * may return secret data is never free), the exec-like subresources and `serviceaccounts/token`.
 * Non-resource requests: only GET and HEAD of discovery (`/api`, `/api/{v}`, `/apis`,
 * `/apis/{g}`, `/apis/{g}/{v}`), OpenAPI (`/openapi/...`) and `/version`. Other non-resource
 * paths (`/healthz`, `/metrics`, `/logs`, ...) are not on the allow-list and so are mutations.
 */
export function isReadRequest(info: KubeRequestInfo): boolean {
  if (info.isResource) {
    return (
      READ_VERBS.has(info.verb) &&
      info.resource !== 'secrets' &&
      !NOT_READ_SUBRESOURCES.has(info.subresource) &&
      !(info.resource === 'serviceaccounts' && info.subresource === 'token')
    );
  }
  if (info.verb !== 'get' && info.verb !== 'head') return false;
  const segments = info.path === '/' ? [] : info.path.slice(1).split('/');
  switch (segments[0]) {
    // RequestInfo makes anything deeper a resource request, so every non-resource path under
    // these prefixes is discovery.
    case 'api':
    case 'apis':
      return true;
    case 'version':
      return segments.length === 1;
    case 'openapi':
      return segments.length >= 2;
    default:
      return false;
  }
}

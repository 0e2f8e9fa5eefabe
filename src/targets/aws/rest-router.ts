/**
 * Routes a rest-json or rest-xml request to its operation by the service model's `requestUri`
 * templates (SPEC §2.1), from the generated table data/rest-routes.json. The templates are
 * compiled once at import into one trie per service, keyed by path segment, so a lookup costs
 * O(path segments). A request is read exactly one way or refused: every route that could match
 * is collected, and more than one is `unparseable_request`, never a guess.
 */
import { unparseable } from '../../reasons.js';
import data from './data/rest-routes.json' with { type: 'json' };
import { decodeComponent, parseQuery } from './query-string.js';

/** One row of rest-routes.json: operation, method, requestUri, query-bound names, host prefix, model. */
type RouteRow = readonly [string, string, string, readonly string[], string, string];

export interface RestRoute {
  readonly operation: string;
  readonly method: string;
  /** Query literals in the template (`?website`, `?x-id=GetObject`): name → value (`''` bare). */
  readonly literals: Readonly<Record<string, string>>;
  /** Query parameter names the operation binds to members. */
  readonly bound: ReadonlySet<string>;
  /** A map member takes every query name (`location: querystring` on a map). */
  readonly anyQuery: boolean;
  /** The model's `endpoint.hostPrefix`; `''` when none. */
  readonly hostPrefix: string;
  /** botocore's model: several rest models can share a signing name, and one trie. */
  readonly model: string;
  /**
   * A row the generator dropped (rest-routes.json `unread`): another model behind the signing name
   * has the operation too. Never read; a request only such rows match is refused naming them.
   */
  readonly unread: boolean;
}

interface Node {
  readonly literal: Map<string, Node>;
  /** Child for a `{Label}` segment. */
  label: Node | null;
  /** Child for a `{Label+}` segment: one or more segments, then this node's children. */
  greedy: Node | null;
  /** Label names from the root to here, for the routes that end here. */
  readonly ends: { route: RestRoute; names: readonly string[] }[];
}

/** What the router read: the operation, its route, and every path label and query parameter. */
export interface RestMatch {
  readonly route: RestRoute;
  readonly params: Record<string, string>;
}

const NONE: ReadonlySet<string> = new Set();
const RAW_PATH_SYNTAX = /[;\\]/;
const newNode = (): Node => ({ literal: new Map(), label: null, greedy: null, ends: [] });

/** Compiles one service's rows into a trie. Exported for tests of hand-made tables. */
export function compileRoutes(rows: readonly RouteRow[], unread: readonly RouteRow[] = []): Node {
  const root = newNode();
  for (const [i, [operation, method, uri, query, hostPrefix, model]] of [...rows, ...unread].entries()) {
    const q = uri.indexOf('?');
    const literals: Record<string, string> = Object.create(null);
    if (q !== -1) {
      for (const pair of uri.slice(q + 1).split('&')) {
        const eq = pair.indexOf('=');
        literals[eq === -1 ? pair : pair.slice(0, eq)] = eq === -1 ? '' : pair.slice(eq + 1);
      }
    }
    const route: RestRoute = {
      operation,
      method,
      literals,
      bound: query.length === 0 ? NONE : new Set(query.filter((n) => n !== '')),
      anyQuery: query.includes(''),
      hostPrefix,
      model,
      unread: i >= rows.length,
    };
    let node = root;
    const names: string[] = [];
    for (const seg of (q === -1 ? uri : uri.slice(0, q)).slice(1).split('/')) {
      const label = /^\{([^{}]+?)(\+?)\}$/.exec(seg);
      if (label === null) {
        let next = node.literal.get(seg);
        if (next === undefined) node.literal.set(seg, (next = newNode()));
        node = next;
      } else {
        names.push(label[1]!);
        node = label[2] === '+' ? (node.greedy ??= newNode()) : (node.label ??= newNode());
      }
    }
    node.ends.push({ route, names });
  }
  return root;
}

const TABLE = data as unknown as { routes: Record<string, RouteRow[]>; unread: Record<string, RouteRow[]> };
const ROWS: ReadonlyMap<string, readonly RouteRow[]> = new Map(Object.entries(TABLE.routes));
const UNREAD: ReadonlyMap<string, readonly RouteRow[]> = new Map(Object.entries(TABLE.unread));
// Compiled on a service's first request: a broker uses a handful of the 200 routed services, and
// compiling all of them would cost idle memory for nothing (the hot path is the trie walk).
const TRIES = new Map<string, Node>();

/** Whether the service is routed by this table (a generic rest model). */
export function isRestRouted(service: string): boolean {
  return ROWS.has(service);
}

/** The one operation `method path?query` reads as in `service`'s table; throws `unparseable`. */
export function routeRest(service: string, method: string, path: string, query: string): RestMatch {
  let root = TRIES.get(service);
  if (root === undefined) {
    const rows = ROWS.get(service);
    if (rows === undefined) throw unparseable(`the service ${service} has no rest routes`);
    TRIES.set(service, (root = compileRoutes(rows, UNREAD.get(service))));
  }
  return matchIn(root, method, path, query, service);
}

/** `routeRest` over a compiled trie (`service` names the signing name in a refusal). */
export function matchIn(root: Node, method: string, path: string, query: string, service = ''): RestMatch {
  if (!path.startsWith('/')) throw unparseable('the path does not start with /');
  // The SDKs send `;` and `\` escaped. Raw, servers read them as path syntax (a Java container
  // drops a `;` parameter, so `..;` is `..`; some read `\` as `/`): a label would be a path step.
  if (RAW_PATH_SYNTAX.test(path)) throw unparseable('the path holds a raw ; or \\');
  const segments = path.slice(1).split('/').map(decodeComponent);
  // A proxy or the service could fold dot segments: such a path has no single reading.
  if (segments.some((s) => s === '.' || s === '..')) throw unparseable('a path segment is . or .. (never folded)');
  const found: { route: RestRoute; values: string[]; names: readonly string[] }[] = [];
  walk(root, segments, 0, [], (node, spans) => {
    for (const end of node.ends) {
      if (end.route.method === method) found.push({ ...end, values: spans.map(([from, to]) => segments.slice(from, to).join('/')) });
    }
  });
  const queryParams = parseQuery(query);
  const fitting = found.filter((f) => queryFits(f.route, queryParams));
  // Unread rows only name the refusal: a request a read row fits is read as before.
  const fits = fitting.filter((f) => !f.route.unread);
  if (fits.length === 0 && fitting.length > 0) {
    const which = fitting.map((f) => `${f.route.operation} of ${f.route.model}`).join(' or ');
    throw unparseable(`the request is ${which}, of models sharing the signing name ${service}: the request or a certificate for it could not tell them apart`);
  }
  if (fits.length === 0) {
    throw unparseable(
      found.length === 0
        ? `no operation of the service model is ${method} ${path}`
        : 'a query parameter is not one the operation binds',
    );
  }
  if (fits.length > 1) {
    const ops = fits.map((f) => f.route.operation).join(', ');
    throw unparseable(`the request could be read as more than one operation (${ops})`);
  }
  const { route, values, names } = fits[0]!;
  const params = queryParams;
  names.forEach((name, i) => {
    if (name in params) throw unparseable(`${name} is both a path and a query parameter`);
    params[name] = values[i]!;
  });
  return { route, params };
}

/**
 * Visits every node the decoded `segments` reach from `node`, with the spans of the label values on
 * the way. A label takes one non-empty segment; a greedy label one or more non-empty ones, joined
 * with `/` (an empty segment could be folded away on the way). A greedy label tries every end, so
 * its value is joined only for a route that ends there: joining at each try made a path of n
 * segments cost n² (a 64 KiB path held the event loop for seconds, before any certificate).
 */
function walk(node: Node, segments: readonly string[], i: number, spans: Span[], visit: (n: Node, spans: Span[]) => void): void {
  if (i === segments.length) {
    visit(node, spans);
    return;
  }
  const seg = segments[i]!;
  const lit = node.literal.get(seg);
  if (lit !== undefined) walk(lit, segments, i + 1, spans, visit);
  if (node.label !== null && seg !== '') walk(node.label, segments, i + 1, [...spans, [i, i + 1]], visit);
  if (node.greedy !== null) {
    for (let end = i + 1; end <= segments.length; end++) {
      if (segments[end - 1] === '') break;
      walk(node.greedy, segments, end, [...spans, [i, end]], visit);
    }
  }
}

/** Where a label's value lies in the path: segments [from, to). */
type Span = readonly [from: number, to: number];

/** The query literals are all present with their values and every other name is bound. */
function queryFits(route: RestRoute, params: Readonly<Record<string, string>>): boolean {
  for (const [name, value] of Object.entries(route.literals)) if (params[name] !== value) return false;
  for (const name of Object.keys(params)) {
    if (!(name in route.literals) && !route.bound.has(name) && !route.anyQuery) return false;
  }
  return true;
}

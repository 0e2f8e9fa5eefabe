/**
 * Fuzz: Kubernetes request facts and contract matching (src/targets/kube/facts.ts,
 * src/targets/kube/match.ts, capture.ts). The op `seb op capture` prints for a request admits it;
 * a request with one component changed is admitted only when an independent reading (the
 * apiserver's RequestInfo as kube-reference.ts transcribes it, Go's query parser, the body's JCS
 * form) says it is the same call; spelling-only changes stay admitted.
 */
import t from 'tap';
import fc from 'fast-check';
import type { K8sOp } from '../../src/certificate/types.js';
import { parseOp } from '../../src/contract/op-schema.js';
import { kubeOpFor } from '../../src/targets/kube/capture.js';
import { matchKubeOp } from '../../src/targets/kube/match.js';
import { parseStrictJson } from '../../src/lib/strict-json.js';
import { kubeFacts } from '../../src/targets/kube/facts.js';
import { withPreconditions } from '../../src/targets/kube/preconditions.js';
import { resolveRequestInfo } from '../../src/targets/kube/request-info.js';
import { applyEdit, edit, encodeWith, type Edit, jcsValue, KUBE_QUERY_ODD, KUBE_QUERY_PIECES, KUBE_SEGMENTS, kubeName, kubeResourcePath } from './arbitraries.js';
import { admitsExactly, check, Coverage, outcome, type ContractTarget, type Outcome } from './harness.js';
import { goQuery, goRequestInfo } from './kube-reference.js';
import { referenceJcs, sameJson } from './jcs-reference.js';

const TARGET = 'kube-match';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** RFC 7493: what the strict parser lets through (no integral number beyond ±(2^53-1)). */
function isIJson(v: unknown): boolean {
  if (typeof v === 'number') return !(Number.isInteger(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER);
  if (v === null || typeof v !== 'object') return true;
  return Object.values(v).every(isIJson);
}

interface KReq {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

const JSON_TYPES = ['application/json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json'];

const kubeRequest: fc.Arbitrary<KReq> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    path: kubeResourcePath,
    query: fc.array(fc.constantFrom(...KUBE_QUERY_PIECES), { maxLength: 5 }).map((p) => p.join('&')),
    type: fc.constantFrom(...JSON_TYPES, 'application/json; charset=utf-8', 'application/apply-patch+yaml'),
    object: fc.record({ metadata: fc.record({ name: kubeName, labels: fc.dictionary(fc.constantFrom('app', 'tier'), fc.constantFrom('web', 'db')) }, { requiredKeys: [] }), spec: jcsValue }, { requiredKeys: ['spec'] }),
    indent: fc.constantFrom(0, 2),
    withBody: fc.boolean(),
  })
  .map((g) => {
    const writes = g.method === 'POST' || g.method === 'PUT' || g.method === 'PATCH' || (g.method === 'DELETE' && g.withBody);
    if (!writes) return { method: g.method, path: g.path, query: g.query, contentType: undefined, body: Buffer.alloc(0) };
    return { method: g.method, path: g.path, query: g.query, contentType: g.type, body: Buffer.from(JSON.stringify(g.object, null, g.indent)) };
  });

function facts(r: KReq) {
  const info = resolveRequestInfo(r.method, r.path, r.query);
  return kubeFacts(info, r.contentType, r.body);
}

function capture(r: KReq): K8sOp {
  const op = kubeOpFor(facts(r), r.body);
  return parseOp(parseStrictJson(JSON.stringify(op)), 'op') as K8sOp;
}

function decide(op: K8sOp, r: KReq): Outcome<unknown> {
  return outcome(() => matchKubeOp([op], facts(r), r.body));
}

const STREAMS = new Set(['exec', 'attach', 'portforward']);
const UNPINNED = new Set(['pretty', 'timeout']);

/**
 * The call as the apiserver performs it, read without the broker's code: RequestInfo (exec-like
 * subresources are one `create` whatever the method, SPEC §2.1), the decoded path, every query value
 * in order per name but pretty and timeout (SPEC §2.1), the media type, and the body's JCS form.
 */
function fingerprint(r: KReq): string {
  const go = goRequestInfo(r.method, r.path, r.query);
  if (go.kind === 'error') return `error:${go.why}`;
  const { nameKnown: _known, fieldSelector: _f, labelSelector: _l, ...info } = go.info;
  const verb = STREAMS.has(info.subresource) ? 'create' : info.verb;
  const query = [...goQuery(r.query)].filter(([n]) => !UNPINNED.has(n)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const type = r.contentType?.split(';')[0]!.trim().toLowerCase() ?? null;
  let body: string = r.body.toString('hex');
  try {
    if (type !== null && type.endsWith('json')) body = referenceJcs(JSON.parse(r.body.toString('utf8')));
  } catch {
    // Not JSON: the bytes themselves.
  }
  return JSON.stringify([{ ...info, verb }, query, r.body.length === 0 ? null : type, body]);
}

type KMutation =
  | { kind: 'path'; edit: Edit }
  | { kind: 'segment'; at: number; seg: string }
  | { kind: 'add-param'; piece: string; at: number }
  | { kind: 'dup-param'; at: number }
  | { kind: 'drop-param'; at: number }
  | { kind: 'swap-params'; a: number; b: number }
  | { kind: 'respell-param'; at: number; choices: number[] }
  | { kind: 'method'; method: string }
  | { kind: 'type'; type: string | undefined }
  | { kind: 'reserialise'; indent: number; reverse: boolean }
  | { kind: 'body'; edit: Edit };

const pathChar = fc.constantFrom('/', '%', '%2F', 'a', '.', '..', '%61', 'p', '+', ' ', ';');
const mutation: fc.Arbitrary<KMutation> = fc.oneof(
  edit(pathChar).map((e) => ({ kind: 'path' as const, edit: e })),
  fc.record({ kind: fc.constant('segment' as const), at: fc.nat(), seg: fc.constantFrom(...KUBE_SEGMENTS) }),
  fc.record({ kind: fc.constant('add-param' as const), piece: fc.constantFrom(...KUBE_QUERY_PIECES, ...KUBE_QUERY_ODD), at: fc.nat() }),
  fc.record({ kind: fc.constant('dup-param' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('drop-param' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap-params' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('respell-param' as const), at: fc.nat(), choices: fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') }),
  fc.record({ kind: fc.constant('type' as const), type: fc.constantFrom(undefined, ...JSON_TYPES, 'APPLICATION/JSON', 'application/json;charset=utf-8', 'application/json; charset=latin1', 'application/yaml', 'application/apply-patch+yaml', 'application/vnd.kubernetes.protobuf') }),
  fc.record({ kind: fc.constant('reserialise' as const), indent: fc.constantFrom(0, 1, 4), reverse: fc.boolean() }),
  edit(fc.constantFrom('{', '}', '"', ' ', '1', 'a', ',', '\\', 'e', '0')).map((e) => ({ kind: 'body' as const, edit: e })),
);

/** Mutations that change only how the call is written, never which call it is. */
const SPELLING: ReadonlySet<KMutation['kind']> = new Set(['respell-param', 'reserialise']);
const KUBE_CONTRACT: ContractTarget<KReq, KMutation, K8sOp> = {
  capture,
  decide,
  mutate: (r, m) => mutate(r, m),
  fingerprint,
  isSpellingOnly: (m) => SPELLING.has(m.kind),
  show: (r) => JSON.stringify({ ...r, body: r.body.toString() }),
};

function reorderKeys(v: unknown, reverse: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => reorderKeys(x, reverse));
  if (v === null || typeof v !== 'object') return v;
  const entries = Object.entries(v).map(([k, x]) => [k, reorderKeys(x, reverse)] as const);
  const out: Record<string, unknown> = {};
  for (const [k, x] of reverse ? entries.reverse() : entries) Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  return out;
}

function mutate(r: KReq, m: KMutation): KReq {
  const pieces = r.query === '' ? [] : r.query.split('&');
  switch (m.kind) {
    case 'path':
      return { ...r, path: applyEdit(r.path, m.edit) };
    case 'segment': {
      const segs = r.path.split('/');
      segs[1 + (m.at % (segs.length - 1))] = m.seg;
      return { ...r, path: segs.join('/') };
    }
    case 'add-param':
      pieces.splice(m.at % (pieces.length + 1), 0, m.piece);
      return { ...r, query: pieces.join('&') };
    case 'dup-param':
      if (pieces.length === 0) return r;
      return { ...r, query: [...pieces, pieces[m.at % pieces.length]!].join('&') };
    case 'drop-param':
      if (pieces.length === 0) return r;
      pieces.splice(m.at % pieces.length, 1);
      return { ...r, query: pieces.join('&') };
    case 'swap-params': {
      if (pieces.length < 2) return r;
      const a = m.a % pieces.length;
      const b = m.b % pieces.length;
      [pieces[a], pieces[b]] = [pieces[b]!, pieces[a]!];
      return { ...r, query: pieces.join('&') };
    }
    case 'respell-param': {
      if (pieces.length === 0) return r;
      const i = m.at % pieces.length;
      const piece = pieces[i]!;
      const eq = piece.indexOf('=');
      if (eq === -1) return r;
      const value = decodeURIComponent(piece.slice(eq + 1).replace(/\+/g, ' '));
      pieces[i] = `${piece.slice(0, eq)}=${encodeWith(value, m.choices, 'query')}`;
      return { ...r, query: pieces.join('&') };
    }
    case 'method':
      return { ...r, method: m.method };
    case 'type':
      return { ...r, contentType: m.type };
    case 'reserialise': {
      if (r.body.length === 0) return r;
      return { ...r, body: Buffer.from(JSON.stringify(reorderKeys(JSON.parse(r.body.toString('utf8')), m.reverse), null, m.indent)) };
    }
    case 'body':
      return { ...r, body: Buffer.from(applyEdit(r.body.toString('utf8'), m.edit)) };
  }
}

t.test('capture admits its request; one changed component is admitted only if it is the same call', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 'capture/mutate', fc.property(kubeRequest, fc.array(mutation, { minLength: 1, maxLength: 4 }), (r, ms) => admitsExactly(KUBE_CONTRACT, cov, r, ms)));
  t.ok(cov.count('captured') > cov.count('refused') / 2, `${cov.count('captured')} captured, ${cov.count('refused')} refused, ${cov.count('admitted')} mutants admitted as the same call`);
});

t.test('preconditions: the forwarded body is the certified one plus exactly the checked state', async (t) => {
  const live = fc.record({ uid: fc.uuid(), resourceVersion: fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 8 }) });
  const verb = fc.constantFrom('update', 'patch', 'delete', 'create', 'get');
  const type = fc.constantFrom(null, ...JSON_TYPES, 'application/apply-patch+yaml', 'Application/Merge-Patch+JSON; charset=utf-8', 'text/plain');
  const body = fc.option(jcsValue.filter(isIJson), { nil: undefined });
  await check(t, TARGET, 'preconditions', fc.property(verb, type, body, live, (v, ct, b, l) => {
    // The body as the broker holds it: parsed strictly from what the agent sent.
    const parsed = b === undefined ? undefined : (parseStrictJson(JSON.stringify(b)) as Json);
    const got = outcome(() => withPreconditions(v, ct, parsed, l));
    if (!got.ok) return got.code === 'unparseable_request';
    if (got.value === null) return v === 'create' || v === 'get';
    const out = parseStrictJson(got.value) as Json;
    const rv = l.resourceVersion;
    if (v === 'delete') {
      const { preconditions, ...rest } = out as Record<string, Json>;
      const before = parsed === undefined ? { kind: 'DeleteOptions', apiVersion: 'v1' } : (parsed as Record<string, Json>);
      const { preconditions: _old, ...kept } = before;
      return JSON.stringify(preconditions) === JSON.stringify({ uid: l.uid, resourceVersion: rv }) && sameJson(rest, kept);
    }
    if (Array.isArray(out)) {
      return JSON.stringify(out[0]) === JSON.stringify({ op: 'test', path: '/metadata/resourceVersion', value: rv }) && sameJson(out.slice(1), parsed);
    }
    const { metadata, ...rest } = out as Record<string, Json>;
    const { metadata: oldMeta, ...oldRest } = parsed as Record<string, Json>;
    const { resourceVersion, ...meta } = metadata as Record<string, Json>;
    const { resourceVersion: _oldRv, ...oldMetaRest } = (oldMeta ?? {}) as Record<string, Json>;
    return resourceVersion === rv && sameJson(meta, oldMetaRest) && sameJson(rest, oldRest);
  }));
});

t.test('pinned regressions', async (t) => {
  const exec = (q: string): KReq => ({ method: 'GET', path: '/api/v1/namespaces/web/pods/p/exec', query: q, contentType: undefined, body: Buffer.alloc(0) });
  const op = capture(exec('command=sh&command=-c&command=echo+%24x&command=rm+-rf+%2F&container=c&stdout=true'));
  // sh -c 'echo $x' 'rm -rf /' prints; the same values in another order run `rm -rf /`.
  t.equal(decide(op, exec('command=sh&command=-c&command=rm+-rf+%2F&command=echo+%24x&container=c&stdout=true')).ok, false, 'exec command values in another order');
  t.ok(decide(op, exec('container=c&command=sh&command=-c&command=echo+%24x&stdout=true&command=rm+-rf+%2F')).ok, 'other names may move around');
  const list = (q: string): KReq => ({ method: 'GET', path: '/api/v1/namespaces/web/configmaps', query: q, contentType: undefined, body: Buffer.alloc(0) });
  t.equal(decide(capture(list('limit=1')), list('limit=1&__proto__=x')).ok, false, 'a parameter named __proto__ is a parameter like any other');
});

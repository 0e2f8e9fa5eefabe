/**
 * Fuzz: Kubernetes RequestInfo resolution (src/targets/kube/request-info.ts).
 * - Every case of the apiserver's own requestinfo_test.go (test/fixtures/kube/requestinfo-reference.json)
 *   resolves to the apiserver's answer, or is one the broker deliberately refuses (the entry says why).
 * - On generated paths and queries, whenever the broker resolves a request, it resolves it exactly
 *   as a second implementation transcribed from requestinfo.go (kube-reference.ts) does.
 * - The query reader agrees with Go's url.ParseQuery wherever it accepts a query.
 * - Resolution never throws anything but a Denial, and is deterministic.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import fc from 'fast-check';
import { resolveRequestInfo, type KubeRequestInfo } from '../../src/targets/kube/request-info.js';
import { parseKubeQuery } from '../../src/targets/kube/go-url.js';
import { check, Coverage, outcome } from './harness.js';
import { kubeMethod, kubePath, kubeQuery, kubeResourcePath, KUBE_QUERY_ODD, KUBE_QUERY_PIECES, plainText } from './arbitraries.js';
import { goQuery, goRequestInfo } from './kube-reference.js';

const TARGET = 'request-info';

interface Want {
  isResourceRequest: boolean;
  verb: string;
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  parts: string[];
  fieldSelector: string;
  labelSelector: string;
}
interface Case {
  test: string;
  case: string;
  method: string;
  path: string;
  query: string;
  want: Want;
  broker: 'same' | 'refused';
  why?: string;
}

const table = JSON.parse(readFileSync(new URL('../fixtures/kube/requestinfo-reference.json', import.meta.url), 'utf8')) as { source: { tests: string }; cases: Case[] };

/** The broker's resolution in the apiserver's field names (its null selectors are the apiserver's ""). */
function asApiserver(info: KubeRequestInfo): Want {
  return {
    isResourceRequest: info.isResource,
    verb: info.verb,
    apiPrefix: info.apiPrefix,
    apiGroup: info.group,
    apiVersion: info.version,
    namespace: info.namespace,
    resource: info.resource,
    subresource: info.subresource,
    name: info.name,
    parts: [...info.parts],
    fieldSelector: info.fieldSelector ?? '',
    labelSelector: info.labelSelector ?? '',
  };
}

t.test('the apiserver\'s own test cases (requestinfo_test.go) resolve as the apiserver resolves them', async (t) => {
  t.match(table.source.tests, /requestinfo_test\.go$/, 'the table names its source');
  t.ok(table.cases.length >= 60, `${table.cases.length} upstream cases`);
  for (const c of table.cases) {
    const label = `${c.test} ${c.case}: ${c.method} ${c.path}${c.query ? `?${c.query}` : ''}`;
    const got = outcome(() => resolveRequestInfo(c.method, c.path, c.query));
    if (c.broker === 'refused') {
      // Deliberate: the apiserver reads these one way, but another reader (its router, a proxy, the
      // list handler) could read them another; `why` in the table says which.
      t.equal(got.ok ? 'resolved' : got.code, 'unparseable_request', `${label}: refused (${c.why})`);
    } else {
      t.strictSame(got.ok ? asApiserver(got.value) : got.code, c.want, label);
    }
  }
});

const kubeRequest = fc.record({ method: kubeMethod, path: fc.oneof({ weight: 4, arbitrary: kubeResourcePath }, { weight: 1, arbitrary: kubePath }), query: kubeQuery });

t.test('generated requests: whatever the broker resolves, it resolves as requestinfo.go does', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 'broker vs requestinfo.go', fc.property(kubeRequest, ({ method, path, query }) => {
    const got = outcome(() => resolveRequestInfo(method, path, query));
    if (!got.ok) {
      cov.hit('refused');
      return got.code === 'unparseable_request';
    }
    const go = goRequestInfo(method, path, query);
    if (go.kind === 'error') throw new Error(`the broker resolved what the apiserver answers 500 to: ${go.why}`);
    const want = go.info;
    const mine = asApiserver(got.value);
    cov.hit(mine.isResourceRequest ? 'resource' : 'non-resource');
    if (got.value.path !== want.path) return false;
    const fields = ['isResourceRequest', 'verb', 'apiPrefix', 'apiGroup', 'apiVersion', 'namespace', 'resource', 'subresource', 'parts', 'fieldSelector', 'labelSelector'] as const;
    const theirs: Record<(typeof fields)[number], unknown> = {
      isResourceRequest: want.isResource, verb: want.verb, apiPrefix: want.apiPrefix, apiGroup: want.group, apiVersion: want.version,
      namespace: want.namespace, resource: want.resource, subresource: want.subresource, parts: want.parts,
      fieldSelector: want.fieldSelector, labelSelector: want.labelSelector,
    };
    for (const f of fields) {
      if (JSON.stringify(mine[f]) !== JSON.stringify(theirs[f])) throw new Error(`${f}: broker ${JSON.stringify(mine[f])}, apiserver ${JSON.stringify(theirs[f])}`);
    }
    if (want.nameKnown && mine.name !== want.name) throw new Error(`name: broker ${JSON.stringify(mine.name)}, apiserver ${JSON.stringify(want.name)}`);
    return true;
  }));
  t.ok(cov.count('resource') > 0 && cov.count('non-resource') > 0, `resolved ${cov.count('resource')} resource and ${cov.count('non-resource')} non-resource requests; refused ${cov.count('refused')}`);
});

t.test('resolution is deterministic and denies rather than crashes on any input', async (t) => {
  const wild = fc.record({
    method: fc.oneof(kubeMethod, plainText),
    path: fc.oneof(kubePath, plainText, fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `/${s}`)),
    query: fc.oneof(kubeQuery, fc.string({ maxLength: 30 })),
  });
  await check(t, TARGET, 'arbitrary input', fc.property(wild, ({ method, path, query }) => {
    const a = outcome(() => resolveRequestInfo(method, path, query));
    const b = outcome(() => resolveRequestInfo(method, path, query));
    return JSON.stringify(a.ok ? { ...a.value, query: [...a.value.query] } : a.code) === JSON.stringify(b.ok ? { ...b.value, query: [...b.value.query] } : b.code);
  }));
});

t.test('parseKubeQuery reads a query as Go url.ParseQuery does, or refuses it whole', async (t) => {
  const piece = fc.oneof(fc.constantFrom(...KUBE_QUERY_PIECES, ...KUBE_QUERY_ODD), plainText, fc.constantFrom('+', '%2B', '%20', 'a+b=c+d', '%e2%82%ac', '%C3%28', ';', '=', '=='));
  await check(t, TARGET, 'parseKubeQuery vs url.ParseQuery', fc.property(fc.array(piece, { maxLength: 6 }), (pieces) => {
    const raw = pieces.join('&');
    const got = outcome(() => parseKubeQuery(raw));
    if (!got.ok) return got.code === 'unparseable_request';
    return JSON.stringify([...got.value]) === JSON.stringify([...goQuery(raw)]);
  }));
});

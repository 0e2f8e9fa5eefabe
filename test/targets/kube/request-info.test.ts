import { readFileSync } from 'node:fs';
import t from 'tap';
import { code } from '../../helpers/reason.js';
import { resolveRequestInfo, type KubeRequestInfo } from '../../../src/targets/kube/request-info.js';
import { parseKubeQuery } from '../../../src/targets/kube/go-url.js';
import { isLongRunning, isReadRequest } from '../../../src/targets/kube/request-kind.js';

interface Case {
  from: string;
  method: string;
  path: string;
  query: string;
  note?: string;
  want: Omit<KubeRequestInfo, 'path' | 'query'>;
}
interface Refusal {
  from: string;
  method: string;
  path: string;
  query: string;
  why: string;
}
const fixtures = JSON.parse(
  readFileSync(new URL('../../fixtures/kube/requestinfo-cases.json', import.meta.url), 'utf8'),
) as { resolved: Case[]; refused: Refusal[] };

const label = (c: { method: string; path: string; query: string }): string =>
  `${c.method} ${c.path}${c.query === '' ? '' : `?${c.query}`}`;

t.test('resolves every reference and apiserver case as the apiserver does', async (t) => {
  const sources = new Set(fixtures.resolved.map((c) => c.from.split(' ')[0]));
  t.ok(sources.has('reference/k8s.md') && sources.has('apiserver'), 'both sources are in the table');
  for (const c of fixtures.resolved) {
    const { path: _path, query: _query, ...got } = resolveRequestInfo(c.method, c.path, c.query);
    t.strictSame(got, c.want, `${label(c)} (${c.from}${c.note ? `: ${c.note}` : ''})`);
  }
});

t.test('refuses what could be read two ways', async (t) => {
  t.ok(fixtures.refused.length >= 40, 'the refusal corpus is not empty');
  for (const c of fixtures.refused) {
    t.equal(code(() => resolveRequestInfo(c.method, c.path, c.query)), 'unparseable_request', `${label(c)}: ${c.why}`);
  }
});

t.test('path is the decoded path and query is the parsed query', async (t) => {
  const info = resolveRequestInfo('GET', '/api/v1/namespaces/a/configmaps/caf%C3%A9', 'labelSelector=a%3Db&x=1&x=2');
  t.equal(info.path, '/api/v1/namespaces/a/configmaps/caf\u00e9');
  t.same([...info.query], [
    ['labelSelector', ['a=b']],
    ['x', ['1', '2']],
  ]);
  t.equal(info.labelSelector, null, 'selectors are kept only for list, watch and deletecollection');
});

t.test('parseKubeQuery decodes like Go url.ParseQuery', async (t) => {
  const cases: [string, [string, string[]][]][] = [
    ['', []],
    ['a=1&a=2', [['a', ['1', '2']]]],
    ['a', [['a', ['']]]],
    ['a=', [['a', ['']]]],
    ['=v', [['', ['v']]]],
    ['a=b=c', [['a', ['b=c']]]],
    ['a+b=c+d', [['a b', ['c d']]]],
    ['a=%2B%20', [['a', ['+ ']]]],
    ['&&a=1&', [['a', ['1']]]],
    ['x=%e2%82%ac', [['x', ['\u20ac']]]],
    [
      'command=sh&command=-c&command=echo+hi&container=c&stdout=true',
      [
        ['command', ['sh', '-c', 'echo hi']],
        ['container', ['c']],
        ['stdout', ['true']],
      ],
    ],
    ['__proto__=1&constructor=2', [['__proto__', ['1']], ['constructor', ['2']]]],
  ];
  for (const [raw, want] of cases) t.strictSame([...parseKubeQuery(raw)], want, JSON.stringify(raw));
});

t.test('parseKubeQuery refuses what Go would refuse or silently drop', async (t) => {
  const cases = ['a=1;b=2', ';', 'a=%zz', 'a=%4', 'a%=1', 'a=%ff', 'a=%c3%28', 'a=b#c', 'a=caf\u00e9', 'a=b c', 'a=\t'];
  for (const raw of cases) t.equal(code(() => parseKubeQuery(raw)), 'unparseable_request', JSON.stringify(raw));
});

t.test('isReadRequest follows SPEC §7', async (t) => {
  const cases: [string, string, string, boolean][] = [
    ['GET', '/api/v1/namespaces/a/pods', '', true],
    ['GET', '/api/v1/namespaces/a/pods/p', '', true],
    ['HEAD', '/api/v1/namespaces/a/pods/p', '', true],
    ['GET', '/api/v1/pods', 'watch=true', true],
    ['GET', '/api/v1/watch/namespaces/a/pods/p', '', true],
    ['GET', '/apis/apps/v1/namespaces/a/deployments/web/scale', '', true],
    ['GET', '/api/v1/namespaces/a/pods/p/log', 'follow=true', true],
    ['GET', '/api/v1/namespaces/a/pods/p/status', '', true],
    ['GET', '/api/v1/namespaces/a', '', true],
    ['GET', '/api/v1/namespaces/a/secrets', '', false],
    ['GET', '/api/v1/namespaces/a/secrets/s', '', false],
    ['GET', '/api/v1/secrets', 'watch=1', false],
    ['GET', '/api/v1/namespaces/a/pods/p/exec', 'command=sh', false],
    ['GET', '/api/v1/namespaces/a/pods/p/attach', '', false],
    ['GET', '/api/v1/namespaces/a/pods/p/portforward', '', false],
    ['GET', '/api/v1/namespaces/a/services/web/proxy/healthz', '', false],
    ['GET', '/api/v1/nodes/n/proxy', '', false],
    ['GET', '/api/v1/proxy/namespaces/a/pods/p', '', false],
    ['GET', '/api/v1/namespaces/a/serviceaccounts/sa/token', '', false],
    ['GET', '/api/v1/namespaces/a/serviceaccounts/sa', '', true],
    ['POST', '/api/v1/namespaces/a/pods', '', false],
    ['PUT', '/api/v1/namespaces/a/pods/p', '', false],
    ['PATCH', '/apis/apps/v1/namespaces/a/deployments/web', '', false],
    ['DELETE', '/api/v1/namespaces/a/pods/p', '', false],
    ['DELETE', '/api/v1/namespaces/a/pods', '', false],
    ['OPTIONS', '/api/v1/namespaces/a/pods', '', false],
    ['GET', '/api', '', true],
    ['GET', '/api/v1', '', true],
    ['GET', '/apis', '', true],
    ['GET', '/apis/apps', '', true],
    ['GET', '/apis/apps/v1', '', true],
    ['HEAD', '/apis/apps/v1', '', true],
    ['GET', '/version', 'timeout=5s', true],
    ['GET', '/openapi/v2', '', true],
    ['GET', '/openapi/v3', '', true],
    ['GET', '/openapi/v3/apis/apps/v1', 'hash=abc', true],
    ['POST', '/api', '', false],
    ['PUT', '/openapi/v3', '', false],
    ['GET', '/openapi', '', false],
    ['GET', '/version/x', '', false],
    ['GET', '/healthz', '', false],
    ['GET', '/metrics', '', false],
    ['GET', '/logs/kube-apiserver.log', '', false],
    ['GET', '/', '', false],
    ['GET', '/API/v1/pods', '', false],
  ];
  for (const [method, path, query, want] of cases) {
    t.equal(isReadRequest(resolveRequestInfo(method, path, query)), want, label({ method, path, query }));
  }
});

t.test('isLongRunning matches the apiserver long-running check', async (t) => {
  const cases: [string, string, string, boolean][] = [
    ['GET', '/api/v1/pods', 'watch=true', true],
    ['GET', '/api/v1/watch/namespaces/a/pods', '', true],
    ['GET', '/api/v1/proxy/namespaces/a/pods/p/metrics', '', true],
    ['GET', '/api/v1/namespaces/a/pods/p/log', '', true],
    ['GET', '/api/v1/namespaces/a/pods/p/log', 'follow=true', true],
    ['GET', '/api/v1/namespaces/a/pods/p/exec', 'command=sh', true],
    ['POST', '/api/v1/namespaces/a/pods/p/exec', 'command=sh', true],
    ['POST', '/api/v1/namespaces/a/pods/p/attach', '', true],
    ['GET', '/api/v1/namespaces/a/pods/p/portforward', '', true],
    ['GET', '/api/v1/namespaces/a/services/web/proxy/x', '', true],
    ['GET', '/api/v1/pods', '', false],
    ['GET', '/api/v1/pods', 'watch=false', false],
    ['GET', '/api/v1/namespaces/a/pods/p', '', false],
    ['PATCH', '/apis/apps/v1/namespaces/a/deployments/web/scale', '', false],
    ['GET', '/api', '', false],
    ['GET', '/healthz', '', false],
  ];
  for (const [method, path, query, want] of cases) {
    t.equal(isLongRunning(resolveRequestInfo(method, path, query)), want, label({ method, path, query }));
  }
});

import t from 'tap';
import { matchesFields, matchesLabels, route } from '../../../src/dev/apiserver/route.js';
import { codeOf } from '../../helpers/status-error.js';


t.test('paths resolve as apiserver RequestInfo does (reference/k8s.md §1)', async (t) => {
  const cases: [string, string, string][] = [
    // method path -> "verb group ns resource/sub name"
    ['GET', '/api/v1/namespaces', 'list  - namespaces -'],
    ['POST', '/api/v1/namespaces', 'create  - namespaces -'],
    ['GET', '/api/v1/namespaces/a', 'get  a namespaces a'],
    ['GET', '/api/v1/namespaces/a/pods', 'list  a pods -'],
    ['GET', '/api/v1/pods?watch=1', 'watch  - pods -'],
    ['GET', '/api/v1/namespaces/a/pods?watch=', 'watch  a pods -'],
    ['GET', '/api/v1/namespaces/a/pods?watch=false', 'list  a pods -'],
    ['GET', '/api/v1/watch/namespaces/a/pods/p', 'watch  a pods p'],
    ['GET', '/api/v1/namespaces/a/pods?fieldSelector=metadata.name%3Dp&watch=true', 'watch  a pods p'],
    ['HEAD', '/api/v1/namespaces/a/pods/p', 'get  a pods p'],
    ['GET', '/api/v1/namespaces/a/pods/p/log?follow=true', 'get  a pods/log p'],
    ['POST', '/api/v1/namespaces/a/pods/p/exec', 'create  a pods/exec p'],
    ['PATCH', '/apis/apps/v1/namespaces/a/deployments/web/scale', 'patch apps a deployments/scale web'],
    ['DELETE', '/apis/apps/v1/namespaces/a/deployments', 'deletecollection apps a deployments -'],
    ['DELETE', '/apis/apps/v1/namespaces/a/deployments?fieldSelector=metadata.name%3Dweb', 'deletecollection apps a deployments -'],
    ['GET', '/apis/apps/v1/deployments', 'list apps - deployments -'],
  ];
  for (const [method, path, want] of cases) {
    const r = route(method, path);
    if (r.kind !== 'resource') {
      t.fail(`${method} ${path} is a resource request`);
      continue;
    }
    const sub = r.subresource === '' ? '' : `/${r.subresource}`;
    t.equal(`${r.verb} ${r.def.group} ${r.namespace || '-'} ${r.def.resource}${sub} ${r.name || '-'}`, want, `${method} ${path}`);
  }
  for (const path of ['/api', '/apis', '/api/v1', '/apis/apps', '/apis/apps/v1', '/version', '/openapi/v3/apis/apps/v1']) {
    t.equal(route('GET', path).kind, 'nonresource', path);
  }
});

t.test('refused paths carry a Status', async (t) => {
  const cases: [string, string, number][] = [
    ['GET', '/api/v1/namespaces/a/widgets', 404],
    ['GET', '/api/v1/namespaces/a/pods/p/bogus', 404],
    ['GET', '/api/v1/pods?watch=1&watch=0', 400],
    ['OPTIONS', '/api/v1/namespaces/a/pods', 405],
    ['GET', '/api/v1/watch/namespaces', 200],
  ];
  for (const [method, path, code] of cases) {
    if (code === 200) {
      t.equal((route(method, path) as { verb: string }).verb, 'watch', path);
      continue;
    }
    t.equal(codeOf(() => route(method, path)), code, `${method} ${path}`);
  }
});

t.test('selectors', async (t) => {
  const labels = { app: 'web', tier: 'front' };
  const cases: [string, boolean][] = [
    ['', true], ['app=web', true], ['app==web', true], ['app!=web', false], ['app', true], ['!app', false],
    ['app=web,tier=back', false], ['tier in (back, front)', true], ['tier notin (front)', false], ['missing', false],
  ];
  for (const [sel, want] of cases) t.equal(matchesLabels(labels, sel), want, `labels ${sel}`);
  t.equal(matchesFields({ metadata: { name: 'a', namespace: 'n' } }, 'metadata.name=a,metadata.namespace!=x'), true);
  t.equal(matchesFields({ metadata: { name: 'a' } }, 'metadata.name=b'), false);
  t.equal(matchesFields({ metadata: { name: 'a' }, spec: { nodeName: 'n1' } }, 'spec.nodeName=n1'), true, 'kubectl drain lists a node\'s pods');
  t.equal(matchesFields({ metadata: { name: 'a' } }, 'spec.nodeName=n1'), false);
  t.equal(codeOf(() => matchesFields({ metadata: { name: 'a' } }, 'status.phase=Running')), 400);
});

import t from 'tap';
import { withPreconditions } from '../../../src/targets/kube/preconditions.js';
import { code } from '../../helpers/reason.js';

const live = { uid: 'u-1', resourceVersion: '81234' };

t.test('each verb carries the checked state as an upstream precondition', async (t) => {
  t.same(JSON.parse(withPreconditions('update', 'application/json', { metadata: { name: 'web', resourceVersion: '1' }, spec: {} }, live)!), {
    metadata: { name: 'web', resourceVersion: '81234' },
    spec: {},
  });
  t.same(JSON.parse(withPreconditions('patch', 'application/merge-patch+json', { spec: { replicas: 3 } }, live)!), {
    spec: { replicas: 3 },
    metadata: { resourceVersion: '81234' },
  });
  t.same(JSON.parse(withPreconditions('patch', 'application/strategic-merge-patch+json; charset=utf-8', { metadata: { labels: { a: 'b' } } }, live)!), {
    metadata: { labels: { a: 'b' }, resourceVersion: '81234' },
  });
  t.same(JSON.parse(withPreconditions('patch', 'application/json-patch+json', [{ op: 'replace', path: '/spec/replicas', value: 2 }], live)!), [
    { op: 'test', path: '/metadata/resourceVersion', value: '81234' },
    { op: 'replace', path: '/spec/replicas', value: 2 },
  ]);
  t.same(JSON.parse(withPreconditions('delete', 'application/json', { propagationPolicy: 'Background' }, live)!), {
    propagationPolicy: 'Background',
    preconditions: { uid: 'u-1', resourceVersion: '81234' },
  });
  t.same(JSON.parse(withPreconditions('delete', null, undefined, live)!), {
    kind: 'DeleteOptions',
    apiVersion: 'v1',
    preconditions: { uid: 'u-1', resourceVersion: '81234' },
  });
  t.equal(withPreconditions('create', 'application/json', {}, live), null);
});

t.test('bodies that cannot carry a precondition are refused, never forwarded unguarded', async (t) => {
  const table: [string, string | null, unknown][] = [
    ['update', 'application/json', undefined],
    ['update', 'application/json', []],
    ['update', 'application/json', { metadata: 'x' }],
    ['patch', 'application/json-patch+json', { op: 'add' }],
    ['patch', 'application/x-unknown', {}],
    ['patch', null, undefined],
    ['delete', 'application/json', [1]],
  ];
  for (const [verb, type, body] of table) {
    t.equal(code(() => withPreconditions(verb, type, body as never, live)), 'unparseable_request', `${verb} ${type} ${JSON.stringify(body)}`);
  }
});

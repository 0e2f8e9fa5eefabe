import t from 'tap';
import { jsonPatch, mergePatch, strategicMerge } from '../../../src/dev/apiserver/patch.js';
import { codeOf } from '../../helpers/status-error.js';

const pod = {
  metadata: { name: 'p', labels: { a: '1', b: '2' } },
  spec: {
    containers: [
      { name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80 }] },
      { name: 'side', image: 'envoy:1' },
    ],
    args: ['x', 'y'],
  },
};


t.test('strategic merge: list merge keys and directives as kubectl sends them', async (t) => {
  const cases: [string, unknown, unknown][] = [
    ['container merged by name, others kept', { spec: { containers: [{ name: 'web', image: 'nginx:2' }] } },
      { ...pod.spec, containers: [{ ...pod.spec.containers[0], image: 'nginx:2' }, pod.spec.containers[1]] }],
    ['env merged by name inside a container', { spec: { containers: [{ name: 'web', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }] }] } },
      { ...pod.spec, containers: [{ ...pod.spec.containers[0], env: [{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }] }, pod.spec.containers[1]] }],
    ['container port merged by containerPort', { spec: { containers: [{ name: 'web', ports: [{ containerPort: 443 }] }] } },
      { ...pod.spec, containers: [{ ...pod.spec.containers[0], ports: [{ containerPort: 80 }, { containerPort: 443 }] }, pod.spec.containers[1]] }],
    ['$patch: delete removes a list element', { spec: { containers: [{ name: 'side', $patch: 'delete' }] } },
      { ...pod.spec, containers: [pod.spec.containers[0]] }],
    ['$setElementOrder reorders', { spec: { '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }] } },
      { ...pod.spec, containers: [pod.spec.containers[1], pod.spec.containers[0]] }],
    ['a list without merge key is replaced', { spec: { args: ['z'] } }, { ...pod.spec, args: ['z'] }],
    ['$deleteFromPrimitiveList', { spec: { '$deleteFromPrimitiveList/args': ['x'] } }, { ...pod.spec, args: ['y'] }],
    ['null deletes a field', { spec: { args: null } }, { containers: pod.spec.containers }],
    ['$patch: replace on a map replaces it', { spec: { $patch: 'replace', args: ['q'] } }, { args: ['q'] }],
    ['$retainKeys drops the keys not listed', { spec: { $retainKeys: ['args'], args: ['r'] } }, { args: ['r'] }],
  ];
  for (const [name, patch, spec] of cases) t.same((strategicMerge(pod, patch) as typeof pod).spec, spec, name);
  t.same((strategicMerge(pod, { metadata: { labels: { b: null, c: '3' } } }) as typeof pod).metadata.labels, { a: '1', c: '3' }, 'labels merge');
});

t.test('merge patch (RFC 7386): lists replace, null deletes', async (t) => {
  const out = mergePatch(pod, { metadata: { labels: { a: null } }, spec: { containers: [{ name: 'only' }] } }) as typeof pod;
  t.same(out.metadata.labels, { b: '2' });
  t.same(out.spec.containers, [{ name: 'only' }]);
});

t.test('JSON patch (RFC 6902): every op, and a failed test is 422 Invalid', async (t) => {
  const doc = { a: { b: [1, 2] }, c: 'x' };
  const cases: [string, unknown[], unknown][] = [
    ['add to the end of a list', [{ op: 'add', path: '/a/b/-', value: 3 }], { a: { b: [1, 2, 3] }, c: 'x' }],
    ['add inserts at an index', [{ op: 'add', path: '/a/b/0', value: 0 }], { a: { b: [0, 1, 2] }, c: 'x' }],
    ['replace', [{ op: 'replace', path: '/c', value: 'y' }], { a: { b: [1, 2] }, c: 'y' }],
    ['remove', [{ op: 'remove', path: '/a/b/1' }], { a: { b: [1] }, c: 'x' }],
    ['move', [{ op: 'move', from: '/c', path: '/d' }], { a: { b: [1, 2] }, d: 'x' }],
    ['copy', [{ op: 'copy', from: '/c', path: '/d' }], { a: { b: [1, 2] }, c: 'x', d: 'x' }],
    ['test that holds', [{ op: 'test', path: '/c', value: 'x' }], doc],
    ['escaped pointer', [{ op: 'add', path: '/k~1e~0y', value: 1 }], { ...doc, 'k/e~y': 1 }],
  ];
  for (const [name, ops, want] of cases) t.same(jsonPatch(doc, ops), want, name);
  const refused: [string, unknown, number][] = [
    ['failed test', [{ op: 'test', path: '/c', value: 'z' }], 422],
    ['replace of a missing path', [{ op: 'replace', path: '/zz', value: 1 }], 422],
    ['not an array', { op: 'add' }, 400],
    ['unknown op', [{ op: 'frob', path: '/c' }], 400],
  ];
  for (const [name, ops, code] of refused) {
    t.equal(codeOf(() => jsonPatch(doc, ops)), code, name);
  }
  t.same(doc, { a: { b: [1, 2] }, c: 'x' }, 'the input is never mutated');
});

import t from 'tap';
import { findResource } from '../../../src/dev/apiserver/resources.js';
import { ObjectStore, type KubeObject } from '../../../src/dev/apiserver/store.js';
import { codeOf } from '../../helpers/status-error.js';

const ns = findResource('', 'v1', 'namespaces')!;
const deploy = findResource('apps', 'v1', 'deployments')!;
const cm = findResource('', 'v1', 'configmaps')!;
const NOW = new Date('2026-01-02T03:04:05.678Z');

function fresh(): ObjectStore {
  const s = new ObjectStore(() => NOW);
  s.create(ns, '', { metadata: { name: 'a' } });
  return s;
}

t.test('create fills system fields; generation counts spec changes of workloads only', async (t) => {
  const s = fresh();
  const d = s.create(deploy, 'a', { metadata: { name: 'web' }, spec: { replicas: 2 } } as KubeObject);
  t.match(d.metadata, { namespace: 'a', generation: 1, creationTimestamp: '2026-01-02T03:04:05Z', uid: /^[0-9a-f-]{36}$/ });
  t.match(d['status'], { observedGeneration: 1, readyReplicas: 2 });
  const labelled = s.update(deploy, 'a', 'web', { ...d, metadata: { ...d.metadata, labels: { x: 'y' } } });
  t.equal(labelled.metadata['generation'], 1, 'a metadata change keeps the generation');
  const scaled = s.update(deploy, 'a', 'web', { ...labelled, spec: { replicas: 3 } });
  t.equal(scaled.metadata['generation'], 2);
  t.ok(Number(scaled.metadata['resourceVersion']) > Number(d.metadata['resourceVersion']));
  t.equal(s.create(cm, 'a', { metadata: { name: 'c' } }).metadata['generation'], undefined, 'no generation on a ConfigMap');
});

t.test('writes refused with their Status code', async (t) => {
  const s = fresh();
  const c = s.create(cm, 'a', { metadata: { name: 'c' }, data: { k: 'v' } } as KubeObject);
  const rv = String(c.metadata['resourceVersion']);
  s.update(cm, 'a', 'c', { ...c, data: { k: 'w' } });
  const cases: [string, () => unknown, number | undefined][] = [
    ['create again', () => s.create(cm, 'a', { metadata: { name: 'c' } }), 409],
    ['create in a missing namespace', () => s.create(cm, 'nope', { metadata: { name: 'c' } }), 404],
    ['update with a stale resourceVersion', () => s.update(cm, 'a', 'c', { ...c, data: { k: 'x' } }), 409],
    ['update with another uid', () => s.update(cm, 'a', 'c', { metadata: { name: 'c', uid: 'other' } }), 409],
    ['update of a missing object', () => s.update(cm, 'a', 'zz', { metadata: { name: 'zz' } }), 404],
    ['delete with a stale resourceVersion', () => s.delete(cm, 'a', 'c', { resourceVersion: rv }), 409],
    ['delete with another uid', () => s.delete(cm, 'a', 'c', { uid: 'other' }), 409],
    ['unconditional update', () => s.update(cm, 'a', 'c', { metadata: { name: 'c' }, data: { k: 'y' } }), undefined],
    ['dry-run delete', () => s.delete(cm, 'a', 'c', { uid: String(c.metadata['uid']) }, true), undefined],
  ];
  for (const [name, fn, code] of cases) t.equal(codeOf(fn), code, name);
  t.same(s.get(cm, 'a', 'c')?.['data'], { k: 'y' }, 'only the unconditional update landed');
});

t.test('history and subscribers see every change in resourceVersion order', async (t) => {
  const s = fresh();
  const seen: string[] = [];
  s.subscribe((e) => seen.push(`${e.type} ${e.name}`));
  const c = s.create(cm, 'a', { metadata: { name: 'c' } });
  s.update(cm, 'a', 'c', c);
  s.delete(ns, '', 'a');
  t.same(seen, ['ADDED c', 'MODIFIED c', 'DELETED c', 'DELETED a'], 'a namespace takes its objects with it');
  const rvs = s.history.map((e) => e.rv);
  t.same(rvs, [...rvs].sort((x, y) => x - y));
  t.equal(String(rvs[rvs.length - 1]), s.resourceVersion);
});

t.test('the ephemeralcontainers subresource adds debugging containers and writes nothing else', async (t) => {
  const s = fresh();
  const pods = findResource('', 'v1', 'pods')!;
  const pod = s.create(pods, 'a', { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'busybox' }] } } as KubeObject);
  const debug = { name: 'debugger', image: 'busybox' };
  const written = s.update(pods, 'a', 'p', { ...pod, metadata: { ...pod.metadata, labels: { sneaked: 'in' } }, spec: { containers: [], ephemeralContainers: [debug] } }, { subresource: 'ephemeralcontainers' });
  t.same(written['spec'], { containers: [{ name: 'app', image: 'busybox' }], ephemeralContainers: [debug] });
  t.equal(written.metadata['labels'], undefined, 'labels are not written through it');
  const refused = () => s.update(pods, 'a', 'p', { ...written, spec: { ephemeralContainers: [{ ...debug, image: 'alpine' }] } }, { subresource: 'ephemeralcontainers' });
  t.equal(codeOf(refused), 422, 'an existing one cannot change');
});

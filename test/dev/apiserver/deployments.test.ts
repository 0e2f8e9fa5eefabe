import t, { type Test } from 'tap';
import { REVISION, runDeploymentController } from '../../../src/dev/apiserver/deployments.js';
import { findResource } from '../../../src/dev/apiserver/resources.js';
import { ObjectStore, type KubeObject } from '../../../src/dev/apiserver/store.js';

const ns = findResource('', 'v1', 'namespaces')!;
const deploy = findResource('apps', 'v1', 'deployments')!;
const rs = findResource('apps', 'v1', 'replicasets')!;
/** The controller runs after the write, as a microtask: one turn of the event loop lets it finish. */
const settled = () => new Promise((r) => setImmediate(r));

const template = (image: string) => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image }] } });

function world(t: Test) {
  const store = new ObjectStore();
  store.create(ns, '', { metadata: { name: 'a' } });
  t.teardown(runDeploymentController(store));
  const setImage = (image: string) => {
    const d = store.mustGet(deploy, 'a', 'web');
    store.update(deploy, 'a', 'web', { ...d, spec: { ...(d['spec'] as object), template: template(image) } });
  };
  /** Each ReplicaSet as `image revision replicas`, in revision order. */
  const history = () =>
    store
      .list(rs, 'a')
      .map((r) => {
        const spec = r['spec'] as { replicas: number; template: ReturnType<typeof template> };
        return { rev: Number((r.metadata['annotations'] as Record<string, string>)[REVISION]), line: `${spec.template.spec.containers[0]!.image} ${spec.replicas}` };
      })
      .sort((x, y) => x.rev - y.rev)
      .map((x) => `${x.rev}: ${x.line}`);
  return { store, setImage, history };
}

t.test('each template is a ReplicaSet the deployment controls, numbered by revision; a rollback takes the old one back', async (t) => {
  const { store, setImage, history } = world(t);
  const d = store.create(deploy, 'a', { metadata: { name: 'web', annotations: { owner: 'team-a' } }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template('nginx:1.27') } } as KubeObject);
  await settled();
  t.same(history(), ['1: nginx:1.27 2']);
  const [first] = store.list(rs, 'a');
  t.match(first!.metadata, {
    name: /^web-[bcdfghjklmnpqrstvwxz2456789]{10}$/,
    labels: { app: 'web', 'pod-template-hash': /.+/ },
    annotations: { owner: 'team-a', [REVISION]: '1' },
    ownerReferences: [{ kind: 'Deployment', name: 'web', uid: d.metadata['uid'], controller: true }],
  });
  t.equal((first!['spec'] as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels['pod-template-hash'], first!.metadata['name']!.toString().slice(4));

  setImage('nginx:1.29');
  await settled();
  t.same(history(), ['1: nginx:1.27 0', '2: nginx:1.29 2']);
  // What kubectl rollout undo writes back: the old template, here with zero values the protobuf decoding keeps.
  setImage('nginx:1.27');
  const d2 = store.mustGet(deploy, 'a', 'web');
  store.update(deploy, 'a', 'web', { ...d2, spec: { ...(d2['spec'] as object), template: { ...template('nginx:1.27'), metadata: { labels: { app: 'web' }, name: '' } } } });
  await settled();
  t.same(history(), ['2: nginx:1.29 0', '3: nginx:1.27 2'], 'no new ReplicaSet: the first one is revision 3 now');
  t.equal((store.mustGet(deploy, 'a', 'web').metadata['annotations'] as Record<string, string>)[REVISION], '3', 'the deployment carries its revision');
});

t.test('a paused deployment starts no rollout; a deleted one takes its ReplicaSets with it', async (t) => {
  const { store, setImage, history } = world(t);
  const d = store.create(deploy, 'a', { metadata: { name: 'web' }, spec: { replicas: 1, template: template('nginx:1.27') } } as KubeObject);
  await settled();
  store.update(deploy, 'a', 'web', { ...store.mustGet(deploy, 'a', 'web'), spec: { ...(d['spec'] as object), paused: true } });
  setImage('nginx:1.29');
  await settled();
  t.same(history(), ['1: nginx:1.27 1']);
  store.delete(deploy, 'a', 'web');
  await settled();
  t.same(store.list(rs, 'a'), []);
});

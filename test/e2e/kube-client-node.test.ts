// The same flows from @kubernetes/client-node as the agent's client: reads need no certificate,
// a certified JSON Patch is admitted once, an uncertified one is a Forbidden Status.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startKubeBroker } from '../helpers/kube-broker.js';
import { kubectl } from '../helpers/kubectl.js';

const { dir, world, clientDir, tb } = await startKubeBroker(t, 'seb-kube-node-');

function client(kubeconfig: string, token: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.users[0] = { ...kc.users[0]!, token };
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

const manifest = join(dir, 'deploy.yaml');
writeFileSync(manifest, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: api, namespace: default }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: api } }\n  template:\n    metadata: { labels: { app: api } }\n    spec: { containers: [ { name: app, image: nginx } ] }\n');
const created = await kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', join(dir, 'c'), 'apply', '-f', manifest]);
if (created.code !== 0) throw new Error(`setup failed: ${created.stderr}`);

const patch = [{ op: 'replace', path: '/spec/replicas', value: 4 }];
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

t.test('client-node: list namespaces as a read', async (t) => {
  const { core } = client(join(clientDir, 'kubeconfig'), 'placeholder');
  const list = await core.listNamespace();
  t.ok(list.items.some((ns) => ns.metadata?.name === 'default'));
});

t.test('client-node: a certified JSON Patch is admitted once; without a certificate it is Forbidden', async (t) => {
  const ops = await tb.capture(async (_url, kubeconfig) => {
    const { apps } = client(kubeconfig, 'placeholder');
    await apps.patchNamespacedDeployment({ name: 'api', namespace: 'default', body: patch }, jsonPatch);
  });
  t.equal(ops.length, 1);
  t.match(ops[0], { verb: 'patch', group: 'apps', resource: 'deployments', name: 'api', content_type: 'application/json-patch+json' });
  const uncertified = client(join(clientDir, 'kubeconfig'), 'placeholder');
  const denied = await uncertified.apps.patchNamespacedDeployment({ name: 'api', namespace: 'default', body: patch }, jsonPatch).then(
    () => null,
    (err: { code?: number; body?: string }) => err,
  );
  t.equal(denied?.code, 403);
  t.match(String(denied?.body), /no_certificate/);

  const { jws } = await tb.cert(ops);
  const { apps } = client(join(clientDir, 'kubeconfig'), jws);
  const patched = await apps.patchNamespacedDeployment({ name: 'api', namespace: 'default', body: patch }, jsonPatch);
  t.equal(patched.spec?.replicas, 4);
  const replay = await apps.patchNamespacedDeployment({ name: 'api', namespace: 'default', body: patch }, jsonPatch).then(
    () => null,
    (err: { code?: number; body?: string }) => err,
  );
  t.equal(replay?.code, 403);
  t.match(String(replay?.body), /replay/);
});

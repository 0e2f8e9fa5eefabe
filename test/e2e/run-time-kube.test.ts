// SPEC §2.2 end to end with the real kubectl: `kubectl rollout restart deployment/web`, run
// unchanged, is captured with restartedAt marked as a timestamp, certified, executed (kubectl
// writes a new time, which the broker checks and records), and refused as replay when run again.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKubeBroker } from '../helpers/kube-broker.js';
import { kubectl } from '../helpers/kubectl.js';

const RESTARTED = '/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt';
const { dir, world, clientDir, tb } = await startKubeBroker(t, 'seb-rt-kube-');
const agent = (args: string[], token: string) =>
  kubectl(['--kubeconfig', join(clientDir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), '--token', token, ...args]);
const admin = (args: string[]) => kubectl(['--kubeconfig', world.adminKubeconfig, '--cache-dir', join(dir, 'admin-cache'), ...args]);

const manifest = join(dir, 'web.yaml');
writeFileSync(manifest, [
  'apiVersion: apps/v1',
  'kind: Deployment',
  'metadata: { name: web, namespace: default }',
  'spec:',
  '  replicas: 1',
  '  selector: { matchLabels: { app: web } }',
  '  template:',
  '    metadata: { labels: { app: web } }',
  '    spec: { containers: [ { name: app, image: nginx } ] }',
  '',
].join('\n'));

t.test('kubectl rollout restart: capture, certify, execute, replay refused', async (t) => {
  t.equal((await admin(['apply', '-f', manifest])).code, 0);
  const restart = ['rollout', 'restart', 'deployment/web', '-n', 'default'];
  const ops = await tb.capture((_url, kubeconfig) => kubectl(['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cap-cache'), '--token', 'placeholder', ...restart]));
  t.equal(ops.length, 1);
  t.match(ops[0], { verb: 'patch', resource: 'deployments', name: 'web', params: { fieldManager: ['kubectl-rollout'] }, body: { jcs_sha256: /^[0-9a-f]{64}$/ }, volatile: [{ at: RESTARTED, kind: 'timestamp' }] });
  const { jws, jti } = await tb.cert(ops);
  // kubectl writes the time in whole seconds: wait for the next one, so the executed body differs from the captured one.
  await new Promise((r) => setTimeout(r, 1_100));
  const ok = await agent(restart, jws);
  t.equal(ok.code, 0, ok.stderr);
  const written = (await admin(['get', 'deployment', 'web', '-n', 'default', '-o', 'jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}'])).stdout;
  t.match(written, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/, 'the restart was applied upstream');
  const admitted = tb.records.map((l) => JSON.parse(l)).find((r) => r.decision === 'admit' && r.certificate?.jti === jti);
  t.same(admitted?.request.run_time_values, [{ at: RESTARTED, kind: 'timestamp', value: written }], 'the record states the value seen');
  // kubectl itself refuses a second restart within the same second, before sending anything.
  await new Promise((r) => setTimeout(r, 1_100));
  const again = await agent(restart, jws);
  t.not(again.code, 0);
  t.match(again.stderr, new RegExp(`replay.*${jti}`));
});

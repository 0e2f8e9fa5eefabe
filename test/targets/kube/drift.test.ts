import t from 'tap';
import { createHash } from 'node:crypto';
import { objectPath, pickFields, probeDrift } from '../../../src/targets/kube/drift.js';
import type { KubeFacts } from '../../../src/targets/kube/facts.js';
import { canonicalJson } from '../../../src/lib/jcs.js';
import { Denial } from '../../../src/reasons.js';

const facts: KubeFacts = {
  verb: 'patch',
  group: 'apps',
  version: 'v1',
  resource: 'deployments',
  subresource: 'scale',
  path_suffix: null,
  namespace: 'web',
  name: 'api',
  generate_name: null,
  params: {},
  content_type: 'application/merge-patch+json',
};
const live = { metadata: { name: 'api', uid: 'u-1', resourceVersion: '7', labels: { a: 'b' } }, spec: { replicas: 2 }, status: { ready: 1 } };
const get = (status: number, body: unknown = live) => async (path: string) => {
  t.equal(path, '/apis/apps/v1/namespaces/web/deployments/api', 'probes the parent object');
  return { status, body: Buffer.from(JSON.stringify(body)) };
};
const digest = (fields: string[]) => createHash('sha256').update(canonicalJson(pickFields(live, fields))).digest('hex');
const patch = Buffer.from('{"spec":{"replicas":3}}');

async function reason(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => (e instanceof Denial ? e.code : String(e)),
  );
}

t.test('objectPath and pickFields', async (t) => {
  t.equal(objectPath({ ...facts, group: '', version: 'v1', resource: 'pods', name: 'p', subresource: 'exec' }), '/api/v1/namespaces/web/pods/p');
  t.equal(objectPath({ ...facts, namespace: '', resource: 'namespaces', name: 'web' }), '/apis/apps/v1/namespaces/web');
  t.same(pickFields(live, ['spec', 'metadata.labels', 'missing.field']), { spec: { replicas: 2 }, metadata: { labels: { a: 'b' } } });
});

t.test('each pre_state form admits when it holds, denies drift when it does not', async (t) => {
  const guarded = await probeDrift(get(200), facts, { resource_version: '7' }, patch);
  t.same(JSON.parse(guarded!.toString()), { spec: { replicas: 3 }, metadata: { resourceVersion: '7' } }, 'the checked version rides upstream');
  t.equal(await reason(probeDrift(get(200), facts, { resource_version: '6' }, patch)), 'drift');
  t.equal(await reason(probeDrift(get(200), facts, { jcs_sha256: digest(['spec', 'metadata.labels']), fields: ['spec', 'metadata.labels'] }, patch)), 'ok');
  t.equal(await reason(probeDrift(get(200), facts, { jcs_sha256: digest(['spec']), fields: ['spec', 'metadata.labels'] }, patch)), 'drift');
  t.equal(await reason(probeDrift(get(404), { ...facts, verb: 'create', subresource: null }, { absent: true }, patch)), 'ok');
  t.equal(await reason(probeDrift(get(200), { ...facts, verb: 'create', subresource: null }, { absent: true }, patch)), 'drift');
  t.equal(await reason(probeDrift(get(404), facts, { resource_version: '7' }, patch)), 'drift');
  t.equal(await reason(probeDrift(get(500), facts, { resource_version: '7' }, patch)), 'drift', 'a failed probe never passes');
});

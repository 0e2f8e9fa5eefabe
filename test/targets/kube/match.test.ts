import t from 'tap';
import { createHash } from 'node:crypto';
import { resolveRequestInfo } from '../../../src/targets/kube/request-info.js';
import { kubeFacts } from '../../../src/targets/kube/facts.js';
import { matchKubeOp } from '../../../src/targets/kube/match.js';
import { canonicalJson } from '../../../src/lib/jcs.js';
import type { K8sOp } from '../../../src/certificate/types.js';
import { code } from '../../helpers/reason.js';

const jcs = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex');

function facts(method: string, target: string, contentType?: string, body = '') {
  const q = target.indexOf('?');
  const info = resolveRequestInfo(method, q === -1 ? target : target.slice(0, q), q === -1 ? '' : target.slice(q + 1));
  return kubeFacts(info, contentType, Buffer.from(body));
}

function op(fields: Partial<K8sOp>): K8sOp {
  return {
    target: 'k8s',
    verb: 'patch',
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    subresource: 'scale',
    path_suffix: null,
    namespace: 'web',
    name: 'api',
    generate_name: null,
    params: { fieldManager: ['kubectl-scale'] },
    content_type: 'application/merge-patch+json',
    body: { jcs_sha256: jcs({ spec: { replicas: 3 } }) },
    pre_state: null,
    max_uses: 1,
    ...fields,
  };
}

const scale = op({});
const scaleBody = '{"spec":{"replicas":3}}';
const scalePath = '/apis/apps/v1/namespaces/web/deployments/api/scale';

t.test('kubectl scale matches its op, whitespace in the JSON body notwithstanding (jcs_sha256)', async (t) => {
  const m = matchKubeOp([scale], facts('PATCH', `${scalePath}?fieldManager=kubectl-scale`, 'application/merge-patch+json', scaleBody), Buffer.from(scaleBody));
  t.equal(m.index, 0);
  const spaced = '{ "spec" : { "replicas" : 3 } }';
  t.equal(matchKubeOp([scale], facts('PATCH', `${scalePath}?fieldManager=kubectl-scale&pretty=true`, 'application/merge-patch+json', spaced), Buffer.from(spaced)).index, 0, 'pretty is not pinned');
});

t.test('anything else is a mismatch', async (t) => {
  const table: [string, string, string, string, string][] = [
    ['another name', 'PATCH', '/apis/apps/v1/namespaces/web/deployments/other/scale?fieldManager=kubectl-scale', 'application/merge-patch+json', 'contract_mismatch'],
    ['another namespace', 'PATCH', '/apis/apps/v1/namespaces/prod/deployments/api/scale?fieldManager=kubectl-scale', 'application/merge-patch+json', 'contract_mismatch'],
    ['an added dryRun', 'PATCH', `${scalePath}?fieldManager=kubectl-scale&dryRun=All`, 'application/merge-patch+json', 'contract_mismatch'],
    ['an added force', 'PATCH', `${scalePath}?fieldManager=kubectl-scale&force=true`, 'application/merge-patch+json', 'contract_mismatch'],
    ['another field manager', 'PATCH', `${scalePath}?fieldManager=other`, 'application/merge-patch+json', 'contract_mismatch'],
    ['a repeated parameter', 'PATCH', `${scalePath}?fieldManager=kubectl-scale&fieldManager=kubectl-scale`, 'application/merge-patch+json', 'contract_mismatch'],
    ['another patch type, same bytes', 'PATCH', `${scalePath}?fieldManager=kubectl-scale`, 'application/strategic-merge-patch+json', 'contract_mismatch'],
    ['the main resource, not scale', 'PATCH', '/apis/apps/v1/namespaces/web/deployments/api?fieldManager=kubectl-scale', 'application/merge-patch+json', 'contract_mismatch'],
    ['an update instead of a patch', 'PUT', `${scalePath}?fieldManager=kubectl-scale`, 'application/merge-patch+json', 'contract_mismatch'],
  ];
  for (const [name, method, target, type, reason] of table) {
    t.equal(code(() => matchKubeOp([scale], facts(method, target, type, scaleBody), Buffer.from(scaleBody))), reason, name);
  }
  const other = '{"spec":{"replicas":30}}';
  t.equal(code(() => matchKubeOp([scale], facts('PATCH', `${scalePath}?fieldManager=kubectl-scale`, 'application/merge-patch+json', other), Buffer.from(other))), 'body_mismatch');
});

t.test('exec: the WebSocket GET and the SPDY POST match one create op; another command does not', async (t) => {
  const exec = op({
    verb: 'create',
    group: '',
    resource: 'pods',
    subresource: 'exec',
    name: 'p',
    params: { command: ['echo', 'hi'], container: ['c'], stdout: ['true'], stderr: ['true'] },
    content_type: null,
    body: null,
  });
  const q = 'command=echo&command=hi&container=c&stdout=true&stderr=true';
  t.equal(matchKubeOp([exec], facts('GET', `/api/v1/namespaces/web/pods/p/exec?${q}`), Buffer.alloc(0)).index, 0, 'WebSocket GET');
  t.equal(matchKubeOp([exec], facts('POST', `/api/v1/namespaces/web/pods/p/exec?${q}`), Buffer.alloc(0)).index, 0, 'SPDY POST');
  t.equal(code(() => matchKubeOp([exec], facts('GET', '/api/v1/namespaces/web/pods/p/exec?command=sh&container=c&stdout=true&stderr=true'), Buffer.alloc(0))), 'contract_mismatch');
  t.equal(code(() => matchKubeOp([exec], facts('GET', `/api/v1/namespaces/web/pods/p/exec?${q}&stdin=true`), Buffer.alloc(0))), 'contract_mismatch');
});

t.test('a create takes its name from the body, or pins generateName', async (t) => {
  const body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"b"}}';
  const f = facts('POST', '/api/v1/namespaces/web/configmaps?fieldManager=kubectl-client-side-apply', 'application/json', body);
  t.match(f, { verb: 'create', resource: 'configmaps', name: 'cfg', generate_name: null, content_type: 'application/json' });
  const gen = '{"metadata":{"generateName":"job-"}}';
  t.match(facts('POST', '/api/v1/namespaces/web/configmaps', 'application/json', gen), { name: null, generate_name: 'job-' });
});

t.test('bodies the broker cannot read are refused', async (t) => {
  const table: [string, string | undefined, string][] = [
    ['protobuf without its envelope', 'application/vnd.kubernetes.protobuf', '\x0a\x00'],
    ['a protobuf watch stream', 'application/vnd.kubernetes.protobuf;stream=watch', 'k8s\x00\x0a\x00'],
    ['no content-type', undefined, '{}'],
    ['odd parameter', 'application/json; foo=bar', '{}'],
    ['duplicate keys in a create', 'application/json', '{"metadata":{"name":"a","name":"b"}}'],
  ];
  for (const [name, type, body] of table) {
    t.equal(code(() => facts('POST', '/api/v1/namespaces/web/configmaps', type, body)), 'unparseable_request', name);
  }
});

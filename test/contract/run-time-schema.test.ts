// SPEC §2.2 op fields `volatile` and `bind`: valid entries parse, and every malformed entry is
// malformed_certificate (table of input -> detail); an op without them parses as before.
import t from 'tap';
import { parseOp } from '../../src/contract/op-schema.js';
import type { Op } from '../../src/certificate/types.js';

const HEX = 'ab'.repeat(32);
const TS = '\u0000seb:timestamp';
const TOKEN = '\u0000seb:idempotency_token';
const BIND = '\u0000seb:bind';
const RESTARTED = '/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt';

const restart = {
  target: 'k8s', verb: 'patch', group: 'apps', version: 'v1', resource: 'deployments', subresource: null,
  path_suffix: null, namespace: 'web', name: 'web', generate_name: null, params: { fieldManager: ['kubectl-rollout'] },
  content_type: 'application/strategic-merge-patch+json', body: { jcs_sha256: HEX }, pre_state: null, max_uses: 1,
  volatile: [{ at: RESTARTED, kind: 'timestamp' }],
};
const create = {
  target: 'aws', service: 's3', region: 'us-east-1', operation: 'CreateMultipartUpload', resource: 'arn:aws:s3:::b/k',
  params: {}, headers: {}, body: null, pre_state: null, max_uses: 1,
};
const part = { ...create, operation: 'UploadPart', params: { partNumber: '1', uploadId: BIND }, body: { sha256: HEX },
  bind: [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' } }] };
const complete = { ...create, operation: 'CompleteMultipartUpload', params: { uploadId: BIND }, body: { sha256: HEX },
  bind: [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' } }, { at: 'xml:Part[1]/ETag', from: { op: 1, value: 'header:etag' } }] };
const runInstances = { ...create, service: 'ec2', operation: 'RunInstances', resource: '*', body: { sha256: HEX },
  volatile: [{ at: 'form:ClientToken', kind: 'idempotency_token' }] };

t.test('run-time entries parse and are kept as given', async (t) => {
  const k = parseOp(restart, 'op');
  t.same(k.volatile, restart.volatile);
  t.ok(Object.isFrozen(k.volatile));
  const c = parseOp(create, 'op', []);
  const p = parseOp(part, 'op', [c]);
  t.same(p.bind, part.bind);
  t.same(parseOp(complete, 'op', [c, p]).bind, complete.bind);
  t.same(parseOp(runInstances, 'op').volatile, runInstances.volatile);
  t.ok(parseOp({ ...create, headers: { 'x-amz-client-token': TOKEN }, volatile: [{ at: 'header:x-amz-client-token', kind: 'idempotency_token' }] }, 'op'));
  t.ok(parseOp({ ...create, body: { jcs_sha256: HEX }, volatile: [{ at: '/ClientToken', kind: 'idempotency_token' }] }, 'op'));
  t.ok(parseOp({ ...restart, params: { at: [TS] }, volatile: [{ at: 'query:at', kind: 'timestamp' }] }, 'op'));
  const plain = parseOp(create, 'op');
  t.notOk('volatile' in plain || 'bind' in plain, 'an op without them has neither field');
});

t.test('malformed entries are malformed_certificate', async (t) => {
  const c: Op = parseOp(create, 'op');
  const k: Op = parseOp(restart, 'op');
  const cases: [string, Record<string, unknown>, readonly Op[], RegExp][] = [
    ['empty volatile', { ...restart, volatile: [] }, [], /op\.volatile: must be an array of 1 to 32/],
    ['volatile not an array', { ...restart, volatile: {} }, [], /op\.volatile: must be an array/],
    ['unknown entry field', { ...restart, volatile: [{ at: RESTARTED, kind: 'timestamp', pattern: '*' }] }, [], /volatile\[0\]\.pattern: unknown field/],
    ['unknown kind', { ...restart, volatile: [{ at: RESTARTED, kind: 'any' }] }, [], /volatile\[0\]\.kind: must be one of/],
    ['missing kind', { ...restart, volatile: [{ at: RESTARTED }] }, [], /volatile\[0\]\.kind: missing/],
    ['wildcard pointer', { ...restart, volatile: [{ at: '/spec/~2', kind: 'timestamp' }] }, [], /volatile\[0\]\.at: must be/],
    ['unknown scheme', { ...restart, volatile: [{ at: 'path:x', kind: 'timestamp' }] }, [], /volatile\[0\]\.at: must be/],
    ['empty name', { ...runInstances, volatile: [{ at: 'form:', kind: 'idempotency_token' }] }, [], /volatile\[0\]\.at: must be/],
    ['xml step pattern', { ...complete, bind: [{ at: 'xml:Part[*]/ETag', from: { op: 0, value: 'header:etag' } }] }, [c], /bind\[0\]\.at: must be/],
    ['same location twice', { ...restart, volatile: [{ at: RESTARTED, kind: 'timestamp' }, { at: RESTARTED, kind: 'timestamp' }] }, [], /volatile\[1\]\.at: names a location already named/],
    ['query not pinned to the marker', { ...part, params: { partNumber: '1', uploadId: 'abc' } }, [c], /bind\[0\]\.at: params\.uploadId must be pinned to the marker/],
    ['query absent', { ...part, params: { partNumber: '1' } }, [c], /params\.uploadId must be pinned/],
    ['marker of another kind', { ...part, params: { partNumber: '1', uploadId: TS } }, [c], /params\.uploadId must be pinned/],
    ['header absent', { ...create, volatile: [{ at: 'header:x-amz-client-token', kind: 'idempotency_token' }] }, [], /headers\.x-amz-client-token must be pinned/],
    ['json place with sha256 body', { ...restart, body: { sha256: HEX }, content_type: 'application/apply-patch+yaml' }, [], /needs a jcs_sha256 body binding/],
    ['json place with any body', { ...create, body: { any: true }, volatile: [{ at: '/ClientToken', kind: 'idempotency_token' }] }, [], /needs a jcs_sha256 body binding/],
    ['form place with jcs body', { ...runInstances, body: { jcs_sha256: HEX } }, [], /needs a sha256 body binding/],
    ['form place without body', { ...runInstances, body: null }, [], /needs a sha256 body binding/],
    ['k8s header place', { ...restart, volatile: [{ at: 'header:x', kind: 'timestamp' }] }, [], /a k8s op names a JSON pointer or query:NAME/],
    ['k8s bind', { ...restart, bind: [{ at: RESTARTED, from: { op: 0, value: 'json:x' } }] }, [k], /op\.bind: only aws ops take bindings/],
    ['bind from a later op', part, [], /bind\[0\]\.from\.op: must be the index of an earlier op/],
    ['bind from itself', { ...part, bind: [{ at: 'query:uploadId', from: { op: 1, value: 'xml:UploadId' } }] }, [c], /from\.op: must be the index of an earlier op/],
    ['bind from a k8s op', part, [k], /from\.op: must name an aws op/],
    ['bind op not an integer', { ...part, bind: [{ at: 'query:uploadId', from: { op: '0', value: 'xml:UploadId' } }] }, [c], /from\.op: must be the index/],
    ['bind source unknown', { ...part, bind: [{ at: 'query:uploadId', from: { op: 0, value: 'UploadId' } }] }, [c], /from\.value: must be header:NAME, xml:NAME or json:NAME/],
    ['bind source header upper-case', { ...part, bind: [{ at: 'query:uploadId', from: { op: 0, value: 'header:ETag' } }] }, [c], /from\.value/],
    ['bind from field unknown', { ...part, bind: [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId', any: true } }] }, [c], /from\.any: unknown field/],
    ['bind without from', { ...part, bind: [{ at: 'query:uploadId' }] }, [c], /bind\[0\]\.from: missing/],
  ];
  for (const [name, input, earlier, detail] of cases) {
    t.throws(() => parseOp(input, 'op', earlier), { name: 'Denial', code: 'malformed_certificate', detail }, name);
  }
});

import t from 'tap';
import { completeOp, parseOp } from '../../src/contract/op-schema.js';

const HEX = 'ab'.repeat(32);
const aws = {
  target: 'aws', service: 's3', region: 'us-east-1', operation: 'PutObject',
  resource: 'arn:aws:s3:::reports/q3.csv', params: { 'x-id': 'PutObject' }, headers: { 'content-type': 'text/csv' },
  body: { sha256: HEX }, pre_state: { etag: '"abc"' }, max_uses: 1,
};
const k8s = {
  target: 'k8s', verb: 'patch', group: 'apps', version: 'v1', resource: 'deployments', subresource: 'scale',
  path_suffix: null, namespace: 'web', name: 'api', generate_name: null, params: { fieldManager: ['kubectl'] },
  content_type: 'application/merge-patch+json', body: { jcs_sha256: HEX }, pre_state: { resource_version: '81234' },
  max_uses: 1,
};

t.test('valid ops are returned frozen and equal to the input', async (t) => {
  const a = parseOp(aws, 'op');
  t.same(a, aws);
  t.ok(Object.isFrozen(a));
  t.equal(Object.getPrototypeOf(a.params), null, 'records have no prototype');
  const k = parseOp(k8s, 'op');
  t.same(k, k8s);
  t.same(parseOp({ ...aws, region: null, params: {}, headers: {}, body: null, pre_state: null, max_uses: 100 }, 'op').max_uses, 100);
  t.ok(parseOp({ ...aws, body: { any: true }, pre_state: { absent: true } }, 'op'));
  t.ok(parseOp({ ...aws, pre_state: { probe: 'lambda', code_sha256: 'x' } }, 'op'), 'other probe families pass the schema');
  t.ok(parseOp({ ...k8s, pre_state: { jcs_sha256: HEX, fields: ['spec', 'metadata.labels'] } }, 'op'));
  t.ok(parseOp({ ...k8s, pre_state: { absent: true }, namespace: '', group: '' }, 'op'));
  t.ok(parseOp({ ...k8s, content_type: 'application/apply-patch+yaml', body: { sha256: HEX } }, 'op'));
  t.ok(parseOp({ ...k8s, content_type: 'application/vnd.kubernetes.protobuf', body: { sha256: HEX } }, 'op'), 'protobuf bound by sha256');
  t.ok(parseOp({ ...k8s, content_type: null, body: null, verb: 'delete' }, 'op'));
  t.ok(parseOp({ ...k8s, subresource: 'proxy', path_suffix: '' }, 'op'));
  const withProto = parseOp(JSON.parse('{"target":"aws","service":"s3","region":null,"operation":"X","resource":"*","params":{"__proto__":"p"},"headers":{},"body":null,"pre_state":null,"max_uses":1}'), 'op');
  t.equal(withProto.params['__proto__'], 'p', 'a pinned __proto__ is data');
});

t.test('bad ops are malformed_certificate naming the field', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [aws], /^op: /],
    ['no target', { ...aws, target: undefined }, /op\.target: missing/],
    ['unknown target', { ...aws, target: 'gcp' }, /op\.target/],
    ['aws missing headers', { ...aws, headers: undefined }, /op\.headers: missing/],
    ['aws unknown field', { ...aws, action: 's3:PutObject' }, /op\.action: unknown/],
    ['aws k8s field', { ...aws, namespace: 'x' }, /op\.namespace: unknown/],
    ['empty service', { ...aws, service: '' }, /op\.service/],
    ['region empty string', { ...aws, region: '' }, /op\.region/],
    ['region number', { ...aws, region: 1 }, /op\.region/],
    ['empty resource', { ...aws, resource: '' }, /op\.resource/],
    ['param value not a string', { ...aws, params: { a: 1 } }, /op\.params\.a/],
    ['param value array (aws)', { ...aws, params: { a: ['x'] } }, /op\.params\.a/],
    ['params array', { ...aws, params: [] }, /op\.params/],
    ['header upper-case', { ...aws, headers: { 'Content-Type': 'x' } }, /op\.headers\.Content-Type/],
    ['header name with space', { ...aws, headers: { 'a b': 'x' } }, /op\.headers/],
    ['header value number', { ...aws, headers: { a: 1 } }, /op\.headers\.a/],
    ['body upper hex', { ...aws, body: { sha256: HEX.toUpperCase() } }, /op\.body\.sha256/],
    ['body short hex', { ...aws, body: { sha256: 'ab' } }, /op\.body\.sha256/],
    ['body two forms', { ...aws, body: { sha256: HEX, any: true } }, /op\.body/],
    ['body any false', { ...aws, body: { any: false } }, /op\.body\.any/],
    ['body unknown form', { ...aws, body: { md5: HEX } }, /op\.body\.md5/],
    ['body empty object', { ...aws, body: {} }, /op\.body/],
    ['pre_state absent false', { ...aws, pre_state: { absent: false } }, /op\.pre_state\.absent/],
    ['pre_state absent plus etag', { ...aws, pre_state: { absent: true, etag: 'x' } }, /op\.pre_state/],
    ['pre_state etag empty', { ...aws, pre_state: { etag: '' } }, /op\.pre_state\.etag/],
    ['pre_state empty object', { ...aws, pre_state: {} }, /op\.pre_state/],
    ['max_uses 0', { ...aws, max_uses: 0 }, /op\.max_uses/],
    ['max_uses 101', { ...aws, max_uses: 101 }, /op\.max_uses/],
    ['max_uses 1.5', { ...aws, max_uses: 1.5 }, /op\.max_uses/],
    ['max_uses string', { ...aws, max_uses: '1' }, /op\.max_uses/],
    ['k8s missing path_suffix', { ...k8s, path_suffix: undefined }, /op\.path_suffix: missing/],
    ['k8s aws field', { ...k8s, region: null }, /op\.region: unknown/],
    ['k8s namespace null', { ...k8s, namespace: null }, /op\.namespace/],
    ['k8s name empty', { ...k8s, name: '' }, /op\.name/],
    ['k8s subresource empty', { ...k8s, subresource: '' }, /op\.subresource/],
    ['k8s params string value', { ...k8s, params: { dryRun: 'All' } }, /op\.params\.dryRun/],
    ['k8s params empty list', { ...k8s, params: { dryRun: [] } }, /op\.params\.dryRun/],
    ['k8s params number in list', { ...k8s, params: { a: [1] } }, /op\.params\.a\[0\]/],
    ['k8s jcs with yaml', { ...k8s, content_type: 'application/apply-patch+yaml' }, /op\.body/],
    ['k8s protobuf with jcs', { ...k8s, content_type: 'application/vnd.kubernetes.protobuf', body: { jcs_sha256: HEX } }, /op\.body/],
    ['k8s protobuf with any', { ...k8s, content_type: 'application/vnd.kubernetes.protobuf', body: { any: true } }, /op\.body/],
    ['k8s other protobuf type', { ...k8s, content_type: 'application/x-protobuf', body: { sha256: HEX } }, /op\.content_type/],
    ['k8s protobuf with a parameter', { ...k8s, content_type: 'application/vnd.kubernetes.protobuf;stream=watch', body: { sha256: HEX } }, /op\.content_type/],
    ['k8s content_type without body', { ...k8s, body: null }, /op\.content_type/],
    ['k8s jcs without content_type', { ...k8s, content_type: null }, /op\.content_type/],
    ['k8s pre_state rv empty', { ...k8s, pre_state: { resource_version: '' } }, /op\.pre_state\.resource_version/],
    ['k8s pre_state etag', { ...k8s, pre_state: { etag: 'x' } }, /op\.pre_state/],
    ['k8s pre_state fields empty', { ...k8s, pre_state: { jcs_sha256: HEX, fields: [] } }, /op\.pre_state\.fields/],
    ['k8s pre_state fields duplicate', { ...k8s, pre_state: { jcs_sha256: HEX, fields: ['spec', 'spec'] } }, /op\.pre_state\.fields\[1\]/],
    ['k8s pre_state extra', { ...k8s, pre_state: { resource_version: '1', uid: 'u' } }, /op\.pre_state\.uid: unknown/],
  ];
  for (const [name, value, detail] of cases) {
    const input = JSON.parse(JSON.stringify(value)); // drops the `undefined` fields: "missing"
    t.throws(() => parseOp(input, 'op'), { name: 'Denial', code: 'malformed_certificate', detail }, name);
  }
});

t.test('completeOp fills only the fields an issuer may omit', async (t) => {
  t.same(completeOp({ target: 'aws', service: 's3', region: null, operation: 'ListBuckets', resource: '*' }), {
    target: 'aws', service: 's3', region: null, operation: 'ListBuckets', resource: '*',
    params: {}, headers: {}, body: null, pre_state: null, max_uses: 1,
  });
  const k = completeOp({ target: 'k8s', verb: 'delete', group: '', version: 'v1', resource: 'pods', namespace: 'web', name: 'p', max_uses: 3 }) as Record<string, unknown>;
  t.same(k, {
    target: 'k8s', verb: 'delete', group: '', version: 'v1', resource: 'pods', namespace: 'web', name: 'p', max_uses: 3,
    params: {}, body: null, pre_state: null, subresource: null, path_suffix: null, generate_name: null, content_type: null,
  });
  t.ok(parseOp(k, 'op'));
  t.throws(() => parseOp(completeOp({ target: 'k8s', verb: 'get', version: 'v1', resource: 'pods', namespace: '' }), 'op'), { code: 'malformed_certificate', detail: /op\.group: missing/ }, 'group is not defaulted');
  const a = completeOp({ target: 'aws' }) as Record<string, unknown>;
  const b = completeOp({ target: 'aws' }) as Record<string, unknown>;
  t.not(a['params'], b['params'], 'each op gets its own empty record');
  t.equal(completeOp('x'), 'x');
  t.same(completeOp({ target: 'gcp' }), { target: 'gcp' });
});

import t from 'tap';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { readProtobufBody } from '../../../src/targets/kube/protobuf-body.js';
import { resolveRequestInfo } from '../../../src/targets/kube/request-info.js';
import { kubeFacts } from '../../../src/targets/kube/facts.js';
import { code } from '../../helpers/reason.js';
import { MAGIC, envelope, objectBytes, objectMeta, protobufBody, typeMeta } from '../../helpers/k8s-protobuf.js';

const LD = WireType.LengthDelimited;
const ld = (no: number, payload: Uint8Array | string) => new BinaryWriter().tag(no, LD).bytes(typeof payload === 'string' ? Buffer.from(payload) : payload).finish();
const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const TM = typeMeta('v1', 'ConfigMap');
const withRaw = (raw: Uint8Array) => envelope(TM, raw);
const withMeta = (meta: Uint8Array) => withRaw(ld(1, meta));

t.test('reads the envelope and the names, skipping the rest of the object', async (t) => {
  const spec = ld(2, cat(ld(1, 'nested'), new BinaryWriter().tag(3, WireType.Varint).int32(7).finish()));
  const body = protobufBody({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'prod', labels: { app: 'web', tier: 'x' }, rest: spec });
  t.same(readProtobufBody(body), { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', generateName: null, namespace: 'prod' });
  t.same(readProtobufBody(protobufBody({ generateName: 'job-' })), { apiVersion: 'v1', kind: 'ConfigMap', name: null, generateName: 'job-', namespace: null });
  t.same(readProtobufBody(withRaw(new Uint8Array(0))), { apiVersion: 'v1', kind: 'ConfigMap', name: null, generateName: null, namespace: null }, 'an empty object');
});

t.test('anything the apiserver could read another way is unparseable_request', async (t) => {
  const meta = objectMeta({ name: 'a' });
  const table: [string, Uint8Array][] = [
    ['no envelope', Buffer.from('{"metadata":{}}')],
    ['the magic alone', MAGIC],
    ['JSON behind the magic', cat(MAGIC, Buffer.from('{}'))],
    ['unknown envelope field', cat(withMeta(meta), ld(5, 'x'))],
    ['typeMeta twice (Go merges)', cat(withMeta(meta), ld(1, TM))],
    ['raw twice (Go keeps the last)', cat(withMeta(meta), ld(2, objectBytes({ name: 'b' })))],
    ['a content encoding', cat(withMeta(meta), ld(3, 'gzip'))],
    ['a content type', cat(withMeta(meta), ld(4, 'application/json'))],
    ['unknown typeMeta field', envelope(cat(TM, ld(3, 'x')), ld(1, meta))],
    ['typeMeta kind as a varint', envelope(new BinaryWriter().tag(2, WireType.Varint).int32(1).finish(), ld(1, meta))],
    ['metadata twice', withRaw(cat(ld(1, meta), ld(1, objectMeta({ name: 'b' }))))],
    ['metadata as a varint', withRaw(new BinaryWriter().tag(1, WireType.Varint).int32(1).finish())],
    ['name twice', withMeta(cat(meta, ld(1, 'b')))],
    ['namespace twice', withMeta(cat(ld(3, 'x'), ld(3, 'y')))],
    ['name as fixed32', withMeta(new BinaryWriter().tag(1, WireType.Bit32).fixed32(1).finish())],
    ['generation as a string', withMeta(cat(meta, ld(7, 'x')))],
    ['unknown metadata field (clusterName, 15)', withMeta(cat(meta, ld(15, 'x')))],
    ['a group in the object', withRaw(cat(ld(1, meta), Buffer.from([0x1b, 0x1c])))],
    ['name not UTF-8', withMeta(ld(1, Buffer.from([0x61, 0xff])))],
    ['a padded tag', withMeta(Buffer.from([0x8a, 0x00, 0x01, 0x61]))],
    ['a padded length', withMeta(Buffer.from([0x0a, 0x81, 0x00, 0x61]))],
    ['a length past the end', withMeta(Buffer.from([0x0a, 0x05, 0x61]))],
    ['a length past 2^32 that wraps to 1', withMeta(Buffer.from([0x0a, 0x81, 0x80, 0x80, 0x80, 0x10, 0x61]))],
    ['a padded varint in the metadata', withMeta(cat(meta, Buffer.from([0x38, 0x81, 0x00])))],
    ['a trailing zero byte', cat(withMeta(meta), Buffer.from([0x00]))],
    ['a truncated body', withMeta(meta).subarray(0, -1)],
  ];
  for (const [name, body] of table) t.equal(code(() => readProtobufBody(body)), 'unparseable_request', name);
});

t.test('a create takes its name from a protobuf body, and the namespace must be the URL\'s', async (t) => {
  const info = resolveRequestInfo('POST', '/api/v1/namespaces/web/configmaps', 'fieldManager=kubectl-create');
  const type = 'application/vnd.kubernetes.protobuf';
  t.match(kubeFacts(info, type, protobufBody({ name: 'cfg', namespace: 'web' })), { verb: 'create', name: 'cfg', content_type: type });
  t.match(kubeFacts(info, type, protobufBody({ generateName: 'cfg-' })), { name: null, generate_name: 'cfg-' });
  t.equal(code(() => kubeFacts(info, type, protobufBody({ name: 'cfg', namespace: 'kube-system' }))), 'unparseable_request');
  const put = resolveRequestInfo('PUT', '/api/v1/namespaces/web/configmaps/cfg', '');
  t.match(kubeFacts(put, type, protobufBody({ name: 'cfg' })), { verb: 'update', name: 'cfg' });
  t.equal(code(() => kubeFacts(put, type, Buffer.from('{}'))), 'unparseable_request', 'an update body is read too');
  t.equal(code(() => kubeFacts(info, 'application/vnd.kubernetes.protobuf;stream=watch', protobufBody({ name: 'cfg' }))), 'unparseable_request');
});

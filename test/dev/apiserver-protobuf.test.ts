import t from 'tap';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { protobufToJson } from '../../src/dev/apiserver/protobuf.js';
import { StatusError } from '../../src/dev/apiserver/status.js';
import { envelope, objectMeta, protobufBody, typeMeta } from '../helpers/k8s-protobuf.js';

const LD = WireType.LengthDelimited;
const status = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof StatusError ? err.reason : 'crash';
  }
};

t.test('a ConfigMap and a Deployment decode to the JSON kubectl would have sent', async (t) => {
  const data = new BinaryWriter().tag(2, LD).fork().tag(1, LD).string('mode').tag(2, LD).string('fast').join().finish();
  const cm = JSON.parse(protobufToJson(protobufBody({ name: 'settings', namespace: 'default', labels: { app: 'x' }, rest: data })).toString());
  t.same(cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'default', labels: { app: 'x' } }, data: { mode: 'fast' } });

  const container = new BinaryWriter().tag(1, LD).string('web').tag(2, LD).string('nginx')
    .tag(8, LD).fork().tag(1, LD).fork().tag(1, LD).string('cpu').tag(2, LD).fork().tag(1, LD).string('100m').join().join().join().finish();
  const template = new BinaryWriter().tag(1, LD).bytes(objectMeta({ labels: { app: 'web' } })).tag(2, LD).fork().tag(2, LD).bytes(container).join().finish();
  const spec = new BinaryWriter().tag(2, LD).fork().tag(1, WireType.Varint).int32(2).tag(3, LD).bytes(template).tag(9, WireType.Varint).int32(600).join().finish();
  const deploy = JSON.parse(protobufToJson(protobufBody({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', rest: spec })).toString());
  t.same(deploy.spec, {
    replicas: 2,
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx', resources: { limits: { cpu: '100m' } } }] } },
  }, 'fields the stand-in does not keep (progressDeadlineSeconds) are dropped');
});

t.test('kinds without a schema are 415, broken bodies 400', async (t) => {
  t.equal(status(() => protobufToJson(envelope(typeMeta('v1', 'Endpoints'), new Uint8Array(0)))), 'UnsupportedMediaType');
  t.equal(status(() => protobufToJson(Buffer.from('{}'))), 'BadRequest');
  t.equal(status(() => protobufToJson(Buffer.concat([protobufBody({ name: 'a' }), Buffer.from([0x0a, 0x09])]))), 'BadRequest');
});

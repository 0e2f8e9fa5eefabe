/**
 * Protobuf request bodies, turned into the JSON the stand-in stores. kubectl sends protobuf for
 * the built-in types of its `create` subcommands; a real apiserver decodes them with generated
 * code, the stand-in with the small schemas below (field numbers from k8s.io/api and
 * apimachinery generated.proto). Fields not listed are dropped: the stand-in keeps what kubectl's
 * later commands read back (names, labels, data, replicas, selectors, containers).
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { StatusError } from './status.js';

/**
 * `quantity`: a resource.Quantity, a message whose one string (field 1) is its JSON form;
 * `intOrString`: intstr.IntOrString (type 1, intVal 2, strVal 3), a number or a string in JSON.
 */
type Scalar = 'string' | 'bytes' | 'int' | 'bool' | 'quantity' | 'intOrString';
type FieldType = Scalar | Schema | { readonly map: 'string' | 'bytes' | 'quantity' | Schema } | { readonly list: 'string' | Schema };
interface Schema {
  readonly [field: number]: readonly [string, FieldType];
}

const OBJECT_META: Schema = {
  1: ['name', 'string'], 2: ['generateName', 'string'], 3: ['namespace', 'string'],
  11: ['labels', { map: 'string' }], 12: ['annotations', { map: 'string' }],
};
const LABEL_SELECTOR: Schema = { 1: ['matchLabels', { map: 'string' }] };
const CONTAINER: Schema = {
  1: ['name', 'string'], 2: ['image', 'string'], 3: ['command', { list: 'string' }], 4: ['args', { list: 'string' }],
  6: ['ports', { list: { 1: ['name', 'string'], 3: ['containerPort', 'int'], 4: ['protocol', 'string'] } }],
  7: ['env', { list: { 1: ['name', 'string'], 2: ['value', 'string'] } }],
  8: ['resources', { 1: ['limits', { map: 'quantity' }], 2: ['requests', { map: 'quantity' }] }],
  14: ['imagePullPolicy', 'string'], 16: ['stdin', 'bool'], 18: ['tty', 'bool'],
};
const POD_SPEC: Schema = { 2: ['containers', { list: CONTAINER }], 3: ['restartPolicy', 'string'], 8: ['serviceAccountName', 'string'] };
const POD_TEMPLATE: Schema = { 1: ['metadata', OBJECT_META], 2: ['spec', POD_SPEC] };

/** Each kind's object: metadata is field 1 in all of them. */
const KINDS: Readonly<Record<string, Schema>> = {
  ConfigMap: { 1: ['metadata', OBJECT_META], 2: ['data', { map: 'string' }], 3: ['binaryData', { map: 'bytes' }], 4: ['immutable', 'bool'] },
  Secret: { 1: ['metadata', OBJECT_META], 2: ['data', { map: 'bytes' }], 3: ['type', 'string'], 4: ['stringData', { map: 'string' }], 5: ['immutable', 'bool'] },
  Namespace: { 1: ['metadata', OBJECT_META] },
  ServiceAccount: { 1: ['metadata', OBJECT_META], 4: ['automountServiceAccountToken', 'bool'] },
  Pod: { 1: ['metadata', OBJECT_META], 2: ['spec', POD_SPEC] },
  Eviction: { 1: ['metadata', OBJECT_META] },
  Service: {
    1: ['metadata', OBJECT_META],
    2: ['spec', {
      1: ['ports', { list: { 1: ['name', 'string'], 2: ['protocol', 'string'], 3: ['port', 'int'], 4: ['targetPort', 'intOrString'] } }],
      2: ['selector', { map: 'string' }], 4: ['type', 'string'],
    }],
  },
  Deployment: {
    1: ['metadata', OBJECT_META],
    2: ['spec', { 1: ['replicas', 'int'], 2: ['selector', LABEL_SELECTOR], 3: ['template', POD_TEMPLATE], 4: ['strategy', { 1: ['type', 'string'] }] }],
  },
  // autoscaling/v1, what `kubectl autoscale` sends.
  HorizontalPodAutoscaler: {
    1: ['metadata', OBJECT_META],
    2: ['spec', {
      1: ['scaleTargetRef', { 1: ['kind', 'string'], 2: ['name', 'string'], 3: ['apiVersion', 'string'] }],
      2: ['minReplicas', 'int'], 3: ['maxReplicas', 'int'], 4: ['targetCPUUtilizationPercentage', 'int'],
    }],
  },
  Job: {
    1: ['metadata', OBJECT_META],
    2: ['spec', { 1: ['parallelism', 'int'], 2: ['completions', 'int'], 4: ['selector', LABEL_SELECTOR], 6: ['template', POD_TEMPLATE], 7: ['backoffLimit', 'int'] }],
  },
};

const MAGIC = Buffer.from('k8s\0', 'latin1');
const ENVELOPE: Schema = { 1: ['typeMeta', { 1: ['apiVersion', 'string'], 2: ['kind', 'string'] }], 2: ['raw', 'bytes'] };

/** The object a protobuf body holds, as the JSON the store keeps; 415 for kinds it has no schema for. */
export function protobufToJson(body: Buffer): Buffer {
  if (!MAGIC.equals(body.subarray(0, MAGIC.length))) throw new StatusError('BadRequest', 'provided data does not appear to be a protobuf message');
  try {
    const envelope = decode(body.subarray(MAGIC.length), ENVELOPE);
    const typeMeta = (envelope['typeMeta'] ?? {}) as Record<string, string>;
    const schema = KINDS[typeMeta['kind'] ?? ''];
    if (schema === undefined) throw new StatusError('UnsupportedMediaType', `the stand-in reads no protobuf ${typeMeta['kind'] ?? ''}: send JSON`);
    const raw = Buffer.from(String(envelope['raw'] ?? ''), 'base64');
    return Buffer.from(JSON.stringify({ apiVersion: typeMeta['apiVersion'], kind: typeMeta['kind'], ...decode(raw, schema) }));
  } catch (err) {
    if (err instanceof StatusError) throw err;
    throw new StatusError('BadRequest', 'the protobuf body could not be decoded');
  }
}

function decode(buf: Uint8Array, schema: Schema): Record<string, unknown> {
  const reader = new BinaryReader(buf);
  const out: Record<string, unknown> = {};
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    const field = schema[no];
    if (field === undefined) {
      reader.skip(wireType, no);
      continue;
    }
    const [name, type] = field;
    if (typeof type === 'object' && 'map' in type) {
      const entry = decode(reader.bytes(), { 1: ['k', 'string'], 2: ['v', type.map] });
      const map = (out[name] ??= {}) as Record<string, unknown>;
      map[String(entry['k'] ?? '')] = entry['v'] ?? (typeof type.map === 'string' ? '' : {});
    } else if (typeof type === 'object' && 'list' in type) {
      ((out[name] ??= []) as unknown[]).push(value(reader, type.list));
    } else {
      out[name] = value(reader, type);
    }
  }
  return out;
}

function value(reader: BinaryReader, type: Scalar | Schema): unknown {
  switch (type) {
    case 'string':
      return reader.string();
    case 'bytes':
      return Buffer.from(reader.bytes()).toString('base64');
    case 'int':
      return Number(reader.int64());
    case 'bool':
      return reader.bool();
    case 'quantity':
      return decode(reader.bytes(), { 1: ['s', 'string'] })['s'] ?? '0';
    case 'intOrString': {
      const v = decode(reader.bytes(), { 1: ['type', 'int'], 2: ['int', 'int'], 3: ['string', 'string'] });
      return v['type'] === 1 ? (v['string'] ?? '') : (v['int'] ?? 0);
    }
    default:
      return decode(reader.bytes(), type);
  }
}


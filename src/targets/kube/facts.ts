/**
 * What a Kubernetes request does, in the fields of a certificate's k8s op (SPEC §2.1). Built from
 * the resolved RequestInfo and the body, once; the matcher compares these and nothing else.
 */
import { unparseable } from '../../reasons.js';
import { parseStrictJson } from '../../lib/strict-json.js';
import { PROTOBUF_MEDIA_TYPE, readProtobufBody } from './protobuf-body.js';
import type { KubeRequestInfo } from './request-info.js';
import type { K8sOp } from '../../certificate/types.js';

/**
 * The request in the fields a k8s op pins (SPEC §2.1), so matching compares like with like.
 * `content_type` is the body's media type (lower-cased, without parameters), null without a body;
 * `params` are the query as the apiserver reads it, minus `pretty` and `timeout`.
 */
export type KubeFacts = Omit<K8sOp, 'target' | 'body' | 'pre_state' | 'max_uses'>;

/** Exec-like subresources: one op covers kubectl's WebSocket GET and its SPDY POST (SPEC §2.1). */
const STREAM_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);
const UNPINNED_PARAMS: ReadonlySet<string> = new Set(['pretty', 'timeout']);

/**
 * The body's media type. Of the protobuf types only kubectl's `application/vnd.kubernetes.protobuf`
 * is read (SPEC §2.1; a watch stream or another framing is not a request body); the only parameter
 * accepted is `charset=utf-8`, so two spellings of one type cannot mean two things.
 */
export function bodyMediaType(contentType: string | undefined, hasBody: boolean): string | null {
  if (!hasBody) return null;
  if (contentType === undefined) throw unparseable('a body without a content-type');
  const [type, ...parameters] = contentType.split(';').map((p) => p.trim().toLowerCase());
  if (!type || !/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type)) throw unparseable(`content-type ${contentType} is not a media type`);
  if (type.includes('protobuf') && type !== PROTOBUF_MEDIA_TYPE) throw unparseable(`content-type ${type} is not a body the broker reads`);
  for (const p of parameters) if (p !== 'charset=utf-8') throw unparseable(`content-type parameter ${p} is not accepted`);
  return type;
}

interface BodyNames {
  readonly name: string | null;
  readonly generateName: string | null;
}

function bodyNames(json: () => unknown, mediaType: string | null): BodyNames {
  if (mediaType === null || !mediaType.endsWith('json')) return { name: null, generateName: null };
  const body = json();
  const metadata = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)['metadata'] : undefined;
  if (metadata === undefined) return { name: null, generateName: null };
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw unparseable('metadata is not an object');
  const m = metadata as Record<string, unknown>;
  const text = (v: unknown, what: string): string | null => {
    if (v === undefined || v === '') return null;
    if (typeof v !== 'string') throw unparseable(`metadata.${what} is not a string`);
    return v;
  };
  return { name: text(m['name'], 'name'), generateName: text(m['generateName'], 'generateName') };
}

/**
 * A protobuf body is read whatever the verb (an update's body is an object too), so one that the
 * apiserver could read another way never goes upstream. Its namespace, where set, must be the
 * URL's: the apiserver refuses a mismatch, and the broker must not pin one namespace and send another.
 */
function protobufNames(info: KubeRequestInfo, payload: Buffer): BodyNames {
  const body = readProtobufBody(payload);
  if (body.namespace !== null && body.namespace !== info.namespace) throw unparseable('metadata.namespace is not the namespace of the URL');
  return body;
}

export function kubeFacts(info: KubeRequestInfo, contentType: string | undefined, payload: Buffer, json: () => unknown = () => parseStrictJson(payload)): KubeFacts {
  if (!info.isResource) throw unparseable(`${info.path} is not a resource request`);
  const mediaType = bodyMediaType(contentType, payload.length > 0);
  const fromProtobuf = mediaType === PROTOBUF_MEDIA_TYPE ? protobufNames(info, payload) : null;
  const streams = STREAM_SUBRESOURCES.has(info.subresource);
  const verb = streams ? 'create' : info.verb;
  let name: string | null = info.name === '' ? null : info.name;
  let generateName: string | null = null;
  // SPEC §2.1: a create's name is the URL's where it has one (subresource creates), else the body's.
  if (verb === 'create' && !streams && name === null) ({ name, generateName } = fromProtobuf ?? bodyNames(json, mediaType));
  // Null prototype: a parameter named `__proto__` must stay a parameter, not vanish into the
  // prototype and let a request carrying it match an op without it (found by test/fuzz/kube-match).
  const params: Record<string, string[]> = Object.create(null);
  for (const [key, values] of info.query) if (!UNPINNED_PARAMS.has(key)) params[key] = [...values];
  return {
    verb,
    group: info.group,
    version: info.version,
    resource: info.resource,
    subresource: info.subresource === '' ? null : info.subresource,
    path_suffix: info.pathSuffix,
    namespace: info.namespace,
    name,
    generate_name: generateName,
    params,
    content_type: mediaType,
  };
}

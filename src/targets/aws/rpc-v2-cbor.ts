/**
 * The smithy-rpc-v2-cbor protocol (Smithy's rpcv2Cbor): `POST /service/{ServiceName}/operation/
 * {OperationName}` with `smithy-protocol: rpc-v2-cbor` and a CBOR map body. The path alone names
 * the operation; anything else that could name one (X-Amz-Target, a query string, a top-level
 * `Action` a query-compatible upstream might read) is refused, as for json (SPEC §2.1).
 */
import { unparseable } from '../../reasons.js';
import { decodeStrictCbor, type CborValue } from './cbor.js';
import type { ServiceModel, SigningGroup } from './services.js';
import type { AwsHttpRequest } from './types.js';

export const CBOR_PROTOCOL = 'smithy-rpc-v2-cbor';
const CONTENT_TYPE = 'application/cbor';
// Service and operation names are Smithy identifiers: a percent-escape or any other byte would
// need decoding, which is a second way to read the path.
const PATH = /^\/service\/([A-Za-z_][A-Za-z0-9_]*)\/operation\/([A-Za-z_][A-Za-z0-9_]*)$/;

/** Checks the request line and headers; returns the model and operation the path names. */
export function readCborHead(group: SigningGroup, req: AwsHttpRequest): { model: ServiceModel; operation: string } {
  if (req.method !== 'POST') throw unparseable('an rpc-v2-cbor request must be POST');
  if (req.query !== '') throw unparseable('an rpc-v2-cbor request carries no query string');
  if (req.headers['smithy-protocol'] !== 'rpc-v2-cbor') throw unparseable('an rpc-v2-cbor request needs smithy-protocol: rpc-v2-cbor');
  if (req.headers['x-amz-target'] !== undefined) throw unparseable('an rpc-v2-cbor request carries no X-Amz-Target');
  const type = req.headers['content-type'];
  if (type !== undefined && type.toLowerCase() !== CONTENT_TYPE) throw unparseable(`rpc-v2-cbor requests must be ${CONTENT_TYPE}`);
  const path = PATH.exec(req.path);
  if (path === null) throw unparseable('an rpc-v2-cbor path must be /service/{ServiceName}/operation/{OperationName}');
  const [, service, operation] = path as unknown as [string, string, string];
  // botocore writes the model's targetPrefix as the service name (BaseRpcV2Serializer); it is the
  // Smithy service shape's name, which the other SDKs write.
  const named = (group.byTarget.get(service) ?? []).filter((m) => m.protocols.includes(CBOR_PROTOCOL) && m.operations.has(operation));
  if (named.length === 0) throw unparseable(`${service}/${operation} is not an rpc-v2-cbor operation of ${group.own.signingName}`);
  if (named.length > 1) throw unparseable(`${operation} is an operation of ${named.map((m) => m.model).join(' and ')}: the request cannot tell which`);
  return { model: named[0]!, operation };
}

/**
 * Reads the body: empty (Smithy: no input) or one strict CBOR map (cbor.ts). A body needs the
 * content type: without it the upstream could read the bytes as something else.
 */
export function readCborBody(model: ServiceModel, operation: string, req: AwsHttpRequest, payload: Buffer): Readonly<Record<string, unknown>> {
  if (payload.length === 0) return Object.create(null) as Record<string, unknown>;
  if (req.headers['content-type'] === undefined) throw unparseable(`an rpc-v2-cbor body needs Content-Type: ${CONTENT_TYPE}`);
  const body = decodeStrictCbor(payload);
  if (!isMap(body)) {
    throw unparseable('an rpc-v2-cbor body must be a CBOR map');
  }
  if (Object.hasOwn(body, 'Action') && !model.actionMember.has(operation)) {
    throw unparseable('the body names an Action besides the path');
  }
  return body;
}

/** cbor.ts gives maps, and only maps, a null prototype (arrays, byte strings, timestamps have one). */
function isMap(value: CborValue): value is Readonly<Record<string, CborValue>> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null;
}

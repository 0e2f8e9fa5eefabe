/**
 * Lambda resources other than functions, as the service authorization reference writes their
 * ARNs (layer, layer version, event source mapping, code signing config): each is read from the
 * path labels exactly one way, in the request's region, or refused.
 */
import { unparseable } from '../../reasons.js';
import { ACCOUNT, arnPartition } from './arn.js';

/** The resource a route's path labels name, in `region`; throws `unparseable`. */
export type ResourceOf = (vars: Readonly<Record<string, string>>, region: string) => string;

const LAYER = '[a-zA-Z0-9_-]{1,140}';
const LAYER_NAME = new RegExp(`^${LAYER}$`);
const LAYER_ARN = new RegExp(`^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\\d{12}):layer:(${LAYER})$`);
// A layer version is a positive integer; a leading zero or a sign could be read as the same number.
const VERSION = /^[1-9][0-9]{0,15}$/;
// Lambda answers with lower-case UUIDs; any other spelling is refused rather than normalised.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CODE_SIGNING_CONFIG_ARN = /^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):code-signing-config:csc-[a-z0-9]{17}$/;

/** Operations on the account, not on one resource (List*, Create* without a resource type). */
export const anyResource: ResourceOf = () => '*';

/** `arn:…:layer:NAME` from `{LayerName}`: a name, or a layer ARN of the request's region. */
export const layerOf: ResourceOf = (vars, region) => {
  const name = vars['LayerName']!;
  const partition = arnPartition(region);
  if (LAYER_NAME.test(name)) return `arn:${partition}:lambda:${region}:${ACCOUNT}:layer:${name}`;
  const m = LAYER_ARN.exec(name);
  if (m === null) throw unparseable('LayerName is not a layer name or ARN');
  if (m[1] !== partition || m[2] !== region) throw unparseable("a layer ARN must be in the request's region");
  return name;
};

/** `arn:…:layer:NAME:VERSION` from `{LayerName}` and `{VersionNumber}`. */
export const layerVersionOf: ResourceOf = (vars, region) => {
  const version = vars['VersionNumber']!;
  if (!VERSION.test(version)) throw unparseable('VersionNumber is not a layer version number');
  return `${layerOf(vars, region)}:${version}`;
};

/** `?Arn=arn:…:layer:NAME:VERSION` (GetLayerVersionByArn), read as `{LayerName}` and `{VersionNumber}` are. */
export const layerVersionArnOf: ResourceOf = (vars, region) => {
  const arn = vars['Arn'];
  const colon = arn === undefined ? -1 : arn.lastIndexOf(':');
  if (colon === -1) throw unparseable('Arn is not a layer version ARN');
  const layer = arn!.slice(0, colon);
  if (!LAYER_ARN.test(layer)) throw unparseable('Arn is not a layer version ARN');
  return layerVersionOf({ LayerName: layer, VersionNumber: arn!.slice(colon + 1) }, region);
};

/** `arn:…:event-source-mapping:UUID` from `{UUID}`. */
export const eventSourceMappingOf: ResourceOf = (vars, region) => {
  const uuid = vars['UUID']!;
  if (!UUID.test(uuid)) throw unparseable('UUID is not an event source mapping id');
  return `arn:${arnPartition(region)}:lambda:${region}:${ACCOUNT}:event-source-mapping:${uuid}`;
};

/** `{CodeSigningConfigArn}` itself, when it is one of the request's region. */
export const codeSigningConfigOf: ResourceOf = (vars, region) => {
  const arn = vars['CodeSigningConfigArn']!;
  const m = CODE_SIGNING_CONFIG_ARN.exec(arn);
  if (m === null) throw unparseable('CodeSigningConfigArn is not a code signing config ARN');
  if (m[1] !== arnPartition(region) || m[2] !== region) throw unparseable("a code signing config ARN must be in the request's region");
  return arn;
};

/**
 * Lambda resources other than functions, as the service authorization reference writes their
 * ARNs (layer, layer version, event source mapping, code signing config, capacity provider): each is read from the
 * path labels exactly one way, in the request's region, or refused.
 */
import { unparseable } from '../../reasons.js';
import { ACCOUNT, arnPartition } from './arn.js';
import { decodeComponent } from './query-string.js';

/** The resource a route's path labels name, in `region`; throws `unparseable`. */
export type ResourceOf = (vars: Readonly<Record<string, string>>, region: string) => string;

// Layer and capacity provider names (botocore `LayerName`, `CapacityProviderName`).
const NAME = '[a-zA-Z0-9_-]{1,140}';
const PLAIN_NAME = new RegExp(`^${NAME}$`);
const arnOfKind = (kind: string): RegExp => new RegExp(`^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\\d{12}):${kind}:(${NAME})$`);
const LAYER_ARN = arnOfKind('layer');
const CAPACITY_PROVIDER_ARN = arnOfKind('capacity-provider');
// A layer version is a positive integer; a leading zero or a sign could be read as the same number.
const VERSION = /^[1-9][0-9]{0,15}$/;
// Lambda answers with lower-case UUIDs; any other spelling is refused rather than normalised.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CODE_SIGNING_CONFIG_ARN = /^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):code-signing-config:csc-[a-z0-9]{17}$/;

/** Operations on the account, not on one resource (List*, Create* without a resource type). */
export const anyResource: ResourceOf = () => '*';

/** `arn:…:{kind}:NAME` from the label `member`: a name, or an ARN of that kind in the request's region. */
function named(member: string, kind: string, arn: RegExp): ResourceOf {
  return (vars, region) => {
    const name = vars[member]!;
    const partition = arnPartition(region);
    if (PLAIN_NAME.test(name)) return `arn:${partition}:lambda:${region}:${ACCOUNT}:${kind}:${name}`;
    const m = arn.exec(name);
    if (m === null) throw unparseable(`${member} is not a ${kind} name or ARN`);
    if (m[1] !== partition || m[2] !== region) throw unparseable(`a ${kind} ARN must be in the request's region`);
    return name;
  };
}

/** `arn:…:layer:NAME` from `{LayerName}`. */
export const layerOf: ResourceOf = named('LayerName', 'layer', LAYER_ARN);

/** `arn:…:capacity-provider:NAME` from `{CapacityProviderName}`. */
export const capacityProviderOf: ResourceOf = named('CapacityProviderName', 'capacity-provider', CAPACITY_PROVIDER_ARN);

/** `arn:…:layer:NAME:VERSION` from `{LayerName}` and `{VersionNumber}`. */
export const layerVersionOf: ResourceOf = (vars, region) => {
  const version = vars['VersionNumber']!;
  if (!VERSION.test(version)) throw unparseable('VersionNumber is not a layer version number');
  return `${layerOf(vars, region)}:${version}`;
};

/** `?Arn=arn:…:layer:NAME:VERSION` (GetLayerVersionByArn), read as `{LayerName}` and `{VersionNumber}` are. */
export const layerVersionArnOf: ResourceOf = (vars, region) => {
  const arn = vars['Arn'] ?? '';
  const colon = arn.lastIndexOf(':');
  if (colon === -1) throw unparseable('Arn is not a layer version ARN');
  const layer = arn.slice(0, colon);
  if (!LAYER_ARN.test(layer)) throw unparseable('Arn is not a layer version ARN');
  return layerVersionOf({ LayerName: layer, VersionNumber: arn.slice(colon + 1) }, region);
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

/**
 * One path label, decoded strictly once. No Lambda name or ARN holds `/`, `;` or `\`, and servers
 * read them as path syntax: a Java container drops a `;` path parameter (`..;` is then `..`), some
 * read `\` as `/`. An alias or statement id label, which no pattern checks, would then be GetAlias
 * here and GetFunction (whose answer holds secrets) upstream.
 */
export function decodeSegment(raw: string): string {
  if (raw === '' || raw === '.' || raw === '..') throw unparseable('the path holds an empty or dot segment');
  const value = decodeComponent(raw);
  if (/[/;\\]/.test(value)) throw unparseable('a path segment holds an encoded /, a ; or a \\');
  if (value === '.' || value === '..') throw unparseable('the path holds an encoded dot segment');
  return value;
}

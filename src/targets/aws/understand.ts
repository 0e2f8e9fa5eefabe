/**
 * Reads an AWS request exactly (SPEC §2.1): the credential scope names the signing name and
 * region, the broker's own service table names the models behind it and their protocols, the
 * request picks one model the way the service does, and that protocol's reader names the
 * operation. The IAM scope, read flag and credential-vending flag come from the catalog.
 */
import { unparseable } from '../../reasons.js';
import { isCredentialVending, isRead, scopeOf } from './catalog.js';
import { routedScope } from './catalog-rest.js';
import { anyResourceScope } from './iam-actions.js';
import { readJsonBody, readJsonHead } from './json.js';
import { understandLambda } from './lambda.js';
import { checkQueryHead, readQueryBody } from './query.js';
import { isRestRouted, routeRest } from './rest-router.js';
import { CBOR_PROTOCOL, readCborBody, readCborHead } from './rpc-v2-cbor.js';
import { understandS3 } from './s3.js';
import { credentialScope } from './scope.js';
import { semanticHeaders } from './semantic-headers.js';
import { signingGroup, type ServiceModel, type SigningGroup } from './services.js';
import type { AwsHttpRequest, AwsOperation, Protocol, Upstream } from './types.js';
import { checkHostPrefix, fillHostPrefix, isS3Control } from './upstream-host.js';

/**
 * The exactly-read meaning of `req`, or `null` when it cannot be known without the body and
 * `payload` is still `null` (query protocol; json and rpc-v2-cbor, whose resource is in the body). Throws an
 * `unparseable` Denial for anything that could be read more than one way.
 */
export function understandAws(req: AwsHttpRequest, payload: Buffer): AwsOperation;
export function understandAws(req: AwsHttpRequest, payload: Buffer | null): AwsOperation | null;
export function understandAws(req: AwsHttpRequest, payload: Buffer | null): AwsOperation | null {
  const scope = credentialScope(req);
  const group = signingGroup(scope.service);
  if (group === undefined) throw unparseable(`the service ${scope.service} is not served`);
  const protocol = pickProtocol(group.protocols, req);
  if (protocol === 'rest-xml' && group.own.model === 's3') {
    return isS3Control(req) ? understandRouted(group, scope.region, protocol, req) : understandS3(req, scope.region, payload);
  }
  if (protocol === 'rest-json' && group.own.model === 'lambda') return understandLambda(req, scope.region, payload);
  if (protocol === 'rest-json' || protocol === 'rest-xml') return understandRouted(group, scope.region, protocol, req);

  let model: ServiceModel;
  let operation: string;
  let input: Readonly<Record<string, unknown>>;
  let hostPrefix = '';
  if (protocol === 'json' || protocol === CBOR_PROTOCOL) {
    // One model and operation, named by X-Amz-Target (json) or the path (rpc-v2-cbor).
    const cbor = protocol === CBOR_PROTOCOL;
    ({ model, operation } = cbor ? readCborHead(group, req) : readJsonHead(group, req));
    // A few json operations live at a prefixed host (Step Functions' `sync-`, Cloud Map's `data-`):
    // forwarded there, as a client with host prefix injection on would address them.
    hostPrefix = model.hostPrefix.get(operation) ?? '';
    checkHostPrefix(req, model.endpointPrefix, hostPrefix);
    if (payload === null) return null;
    input = cbor ? readCborBody(model, operation, req, payload) : readJsonBody(model, operation, payload);
  } else {
    checkQueryHead(req);
    if (payload === null) return null;
    ({ model, operation, form: input } = readQueryBody(group, payload));
  }
  // Global services are addressed without a region (SPEC §2.1): their ARNs carry none either.
  const region = model.global ? null : scope.region;
  const own = model === group.own;
  // The catalog's resource rules are written for the signing name's own model; another model's
  // operations are scoped to `*` under the same IAM prefix (dynamodb:ListStreams, timestream:WriteRecords).
  const { resource, permissions } = own
    ? scopeOf(model.signingName, region, operation, input)
    : anyResourceScope(model.signingName, operation);
  return {
    service: model.signingName,
    region,
    protocol,
    operation,
    resource,
    params: Object.create(null) as Record<string, string>,
    headers: semanticHeaders(req.headers),
    permissions,
    read: own && isRead(model.signingName, operation),
    credentialVending: isCredentialVending(model.signingName, operation),
    ...(own && hostPrefix === '' ? {} : { upstream: upstreamOf(model, hostPrefix) }),
    ...(protocol === 'json' ? { json: input } : {}),
  };
}

/**
 * A rest request of a generically routed model: the path, method and query name the model and
 * operation (rest-router.ts); the body is pinned by its hash like any other, so it is not read
 * here. The resource is `*` (catalog-rest.ts names API Gateway's) until the IAM tables name each
 * operation's ARN.
 */
function understandRouted(group: SigningGroup, region: string, protocol: Protocol, req: AwsHttpRequest): AwsOperation {
  const service = group.own.signingName;
  if (!isRestRouted(service)) throw unparseable(`${service} has no rest routes`);
  const { route, params } = routeRest(service, req.method, req.path, req.query);
  const model = group.byModel.get(route.model);
  if (model === undefined) throw unparseable(`${service} routes to a model it does not serve`);
  const hostPrefix = fillHostPrefix(route.hostPrefix, req.headers);
  checkHostPrefix(req, model.endpointPrefix, hostPrefix);
  const own = model === group.own;
  const scopeRegion = model.global ? null : region;
  const { resource, permissions } = routedScope(service, scopeRegion, req.method, req.path, route.operation);
  return {
    service,
    region: scopeRegion,
    protocol,
    operation: route.operation,
    resource,
    params,
    headers: semanticHeaders(req.headers),
    permissions,
    read: own && isRead(service, route.operation),
    credentialVending: isCredentialVending(service, route.operation),
    ...(own && hostPrefix === '' ? {} : { upstream: upstreamOf(model, hostPrefix) }),
  };
}

function upstreamOf(model: ServiceModel, hostPrefix: string): Upstream {
  return { model: model.model, endpointPrefix: model.endpointPrefix, hostPrefix };
}

/**
 * The protocol a request speaks, over every model behind its signing name. Most have one;
 * CloudWatch takes rpc-v2-cbor, json and query, SES query, json and rest-json, so the request says
 * which (reference/aws.md §1: detect per request): a smithy-protocol header means rpc-v2-cbor,
 * X-Amz-Target json, `POST /` query, anything else rest. The chosen reader then checks every other part of the request against that protocol.
 */
function pickProtocol(protocols: ReadonlySet<Protocol>, req: AwsHttpRequest): Protocol {
  const [only] = protocols;
  if (protocols.size === 1 && only !== undefined) return only;
  const rest: Protocol = protocols.has('rest-xml') ? 'rest-xml' : 'rest-json';
  let wanted: Protocol;
  if (req.headers['smithy-protocol'] !== undefined) wanted = CBOR_PROTOCOL;
  else if (req.headers['x-amz-target'] !== undefined) wanted = 'json';
  else if (protocols.has('query') && req.method === 'POST' && req.path === '/') wanted = 'query';
  else wanted = protocols.has(rest) ? rest : 'query';
  if (!protocols.has(wanted)) throw unparseable(`the ${wanted} protocol is not served for this service`);
  return wanted;
}

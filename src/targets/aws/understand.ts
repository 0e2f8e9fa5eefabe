/**
 * Reads an AWS request exactly (SPEC §2.1): the credential scope names the service and region,
 * the broker's own service table names the protocol, and that protocol's reader names the
 * operation. The IAM scope, read flag and credential-vending flag come from the catalog.
 */
import { unparseable } from '../../reasons.js';
import { isCredentialVending, isRead, scopeOf } from './catalog.js';
import { routedScope } from './catalog-rest.js';
import { readJsonBody, readJsonHead } from './json.js';
import { understandLambda } from './lambda.js';
import { checkQueryHead, readQueryBody } from './query.js';
import { isRestRouted, routeRest } from './rest-router.js';
import { understandS3 } from './s3.js';
import { credentialScope } from './scope.js';
import { semanticHeaders } from './semantic-headers.js';
import { serviceModel } from './services.js';
import type { AwsHttpRequest, AwsOperation, Protocol } from './types.js';

/**
 * The exactly-read meaning of `req`, or `null` when it cannot be known without the body and
 * `payload` is still `null` (query protocol; json, whose resource is in the body). Throws an
 * `unparseable` Denial for anything that could be read more than one way.
 */
export function understandAws(req: AwsHttpRequest, payload: Buffer | null): AwsOperation | null {
  const scope = credentialScope(req);
  const model = serviceModel(scope.service);
  if (model === undefined) throw unparseable(`the service ${scope.service} is not served`);
  const protocol = pickProtocol(model.protocols, req);
  // Global services are addressed without a region (SPEC §2.1): their ARNs carry none either.
  const region = model.global ? null : scope.region;
  if (isRestRouted(model.signingName)) return understandRouted(model.signingName, region, protocol, req);
  if (protocol === 'rest-xml') return understandS3(req, scope.region, payload);
  if (protocol === 'rest-json') return understandLambda(req, scope.region, payload);

  let operation: string;
  let input: Readonly<Record<string, unknown>>;
  if (protocol === 'json') {
    operation = readJsonHead(model, req);
    if (payload === null) return null;
    input = readJsonBody(model, operation, payload);
  } else {
    checkQueryHead(req);
    if (payload === null) return null;
    ({ operation, form: input } = readQueryBody(model, payload));
  }
  const { resource, permissions } = scopeOf(model.signingName, region, operation, input);
  return {
    service: model.signingName,
    region,
    protocol,
    operation,
    resource,
    params: Object.create(null) as Record<string, string>,
    headers: semanticHeaders(req.headers),
    permissions,
    read: isRead(model.signingName, operation),
    credentialVending: isCredentialVending(model.signingName, operation),
  };
}

/**
 * A rest request of a generically routed model: the path, method and query name the operation
 * (rest-router.ts); the body is pinned by its hash like any other, so it is not read here. The
 * resource is `*` (catalog-rest.ts names API Gateway's) until the IAM tables name each operation's ARN.
 */
function understandRouted(service: string, region: string | null, protocol: Protocol, req: AwsHttpRequest): AwsOperation {
  const { route, params } = routeRest(service, req.method, req.path, req.query);
  // The broker picks the host from its own table; a host-prefixed operation would need the prefix
  // the client sent, which the broker does not forward yet.
  if (route.hostPrefix !== '') throw unparseable(`${route.operation} uses a host prefix, which is not served yet`);
  const { resource, permissions } = routedScope(service, region, req.method, req.path, route.operation);
  return {
    service,
    region,
    protocol,
    operation: route.operation,
    resource,
    params,
    headers: semanticHeaders(req.headers),
    permissions,
    read: isRead(service, route.operation),
    credentialVending: isCredentialVending(service, route.operation),
  };
}

/**
 * The protocol a request speaks. Most services have one; CloudWatch takes json and query, so the
 * request says which (reference/aws.md §1: detect per request): X-Amz-Target means json. The
 * chosen reader then checks every other part of the request against that protocol.
 */
function pickProtocol(protocols: readonly Protocol[], req: AwsHttpRequest): Protocol {
  if (protocols.length === 1) return protocols[0]!;
  const wanted: Protocol = req.headers['x-amz-target'] !== undefined ? 'json' : 'query';
  if (!protocols.includes(wanted)) throw unparseable(`the ${wanted} protocol is not served for this service`);
  return wanted;
}

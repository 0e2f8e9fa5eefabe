/**
 * Reads an AWS request exactly (SPEC §2.1): the credential scope names the service and region,
 * the broker's own service table names the protocol, and that protocol's reader names the
 * operation. The IAM scope, read flag and credential-vending flag come from the catalog.
 */
import { unparseable } from '../../reasons.js';
import { isCredentialVending, isRead, scopeOf } from './catalog.js';
import { readJsonBody, readJsonHead } from './json.js';
import { understandLambda } from './lambda.js';
import { checkQueryHead, readQueryBody } from './query.js';
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
  // Global services are addressed without a region (SPEC §2.1): their ARNs carry none either.
  const region = model.global ? null : scope.region;
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

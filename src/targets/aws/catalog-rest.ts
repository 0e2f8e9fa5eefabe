/**
 * The IAM scope of a request read by the generic REST router (rest-router.ts). Most services name
 * their IAM action like the operation; API Gateway (v1 and v2, one signing name) does not: its
 * actions are the HTTP verbs (`apigateway:POST`) on the request path as an ARN
 * (`arn:aws:apigateway:us-east-1::/restapis`), per the IAM Service Authorization Reference. moto
 * ignores session policies, so only this table keeps such a call working on AWS.
 */
import { arnPartition, iamLiteral } from './arn.js';
import type { Scope } from './catalog-describer.js';
import { anyResourceScope } from './iam-actions.js';
import { decodeComponent } from './query-string.js';

/** The verbs API Gateway's IAM actions are named after. */
const APIGATEWAY_VERBS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The primary resource and the session-policy statements of a routed request. `path` is the
 * request path as sent; the router has already decoded every segment strictly, so decoding here
 * cannot fail on a request that routed.
 */
export function routedScope(service: string, region: string | null, method: string, path: string, operation: string): Scope {
  if (service === 'apigateway' && APIGATEWAY_VERBS.has(method)) {
    const resourcePath = path.split('/').map(decodeComponent).join('/');
    const arn = `arn:${arnPartition(region)}:apigateway:${region ?? ''}::${iamLiteral(resourcePath)}`;
    return { resource: arn, permissions: [{ action: `apigateway:${method}`, resource: arn }] };
  }
  return anyResourceScope(service, operation);
}

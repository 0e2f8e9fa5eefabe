/** `seb op capture`: the exact AWS op a certificate would need to admit a request (SPEC §9). */
import type { AwsOp, BoundValue } from '../../contract/types.js';
import { bodyBinding, capturedFields } from '../../contract/capture-body.js';
import { entriesOf } from '../../contract/run-time-values.js';
import { parseLocation } from '../../contract/locations.js';
import { resolveArn } from './arn.js';
import type { AwsOperation } from './types.js';
import { awsVolatile } from './capture-known.js';

/**
 * The AWS op for a request: its bytes pinned, except the run-time values capture knows (SPEC §2.2)
 * and the `bind` entries the capture broker adds for values it answered itself (S3 multipart).
 */
export function awsOpFor(request: AwsOperation, account: string, payload: Buffer, contentType?: string, bind: readonly BoundValue[] = []): AwsOp {
  const volatile = awsVolatile(request, payload, contentType);
  const fields = capturedFields(volatile, bind);
  const params: Record<string, string> = { ...request.params };
  const headers: Record<string, string> = { ...request.headers };
  for (const e of entriesOf(fields)) {
    if (e.place.in === 'query') params[e.place.name] = e.mark;
    if (e.place.in === 'header') headers[e.place.name] = e.mark;
  }
  const json = volatile.some((v) => parseLocation(v.at)?.in === 'json');
  return {
    target: 'aws',
    service: request.service,
    region: request.region,
    operation: request.operation,
    resource: resolveArn(request.resource, account),
    params,
    headers,
    body: payload.length ? bodyBinding(fields, payload, json) : null,
    pre_state: null,
    max_uses: 1,
    ...fields,
  };
}

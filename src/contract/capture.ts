/** `seb op capture`: the exact op a certificate would need to admit a request (SPEC §9). */
import type { AwsOp } from '../certificate/types.js';
import { sha256Hex } from '../lib/digest.js';
import { resolveArn } from '../targets/aws/arn.js';
import type { AwsOperation } from '../targets/aws/types.js';

export function awsOpFor(request: AwsOperation, account: string, payload: Buffer): AwsOp {
  return {
    target: 'aws',
    service: request.service,
    region: request.region,
    operation: request.operation,
    resource: resolveArn(request.resource, account),
    params: { ...request.params },
    headers: { ...request.headers },
    body: payload.length ? { sha256: sha256Hex(payload) } : null,
    pre_state: null,
    max_uses: 1,
  };
}

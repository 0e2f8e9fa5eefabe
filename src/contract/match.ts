/**
 * Contract matching (SPEC §2.1): a request matches an op only when every pinned field is equal.
 * No wildcards, no case folding. Pure functions.
 */
import { Denial } from '../reasons.js';
import type { AwsOp, Op } from '../certificate/types.js';
import type { AwsOperation } from '../targets/aws/types.js';
import { resolveArn } from '../targets/aws/arn.js';
import { bodyMatches } from './body.js';

export interface Matched<O extends Op> {
  readonly index: number;
  readonly op: O;
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const k of ak) if (!Object.prototype.hasOwnProperty.call(b, k) || a[k] !== b[k]) return false;
  return true;
}

function sameAwsRequest(op: AwsOp, request: AwsOperation, account: string): boolean {
  return (
    op.service === request.service &&
    op.region === request.region &&
    op.operation === request.operation &&
    op.resource === resolveArn(request.resource, account) &&
    sameRecord(op.params, request.params) &&
    sameRecord(op.headers, request.headers)
  );
}

/**
 * Finds the op that pins this request. `payload` null means the body is not read yet (an
 * `Expect: 100-continue` pre-check): then only the request line and headers are compared.
 * Throws `contract_mismatch` when no op pins the request, `body_mismatch` when ops do but none
 * binds this body.
 */
export function matchAwsOp(
  ops: readonly Op[],
  request: AwsOperation,
  account: string,
  payload: Buffer | null,
  contentType: string | undefined,
): Matched<AwsOp> | null {
  let sameRequest = false;
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index]!;
    if (op.target !== 'aws' || !sameAwsRequest(op, request, account)) continue;
    sameRequest = true;
    if (payload === null) return null;
    if (bodyMatches(op.body, payload, contentType)) return { index, op };
  }
  if (!sameRequest) throw new Denial('contract_mismatch', describeAws(request, account));
  if (payload === null) return null;
  throw new Denial('body_mismatch', `the body of ${request.operation} is not the certified one`);
}

/** What the request does, for the denial message: the client prints it, so keep it short. */
export function describeAws(request: AwsOperation, account: string): string {
  const params = Object.keys(request.params);
  const headers = Object.keys(request.headers);
  return (
    `${request.service}:${request.operation} on ${resolveArn(request.resource, account)}` +
    (params.length ? ` params [${params.join(', ')}]` : '') +
    (headers.length ? ` headers [${headers.join(', ')}]` : '')
  );
}


/**
 * Contract matching for AWS ops (SPEC §2.1): the service, region, operation, resource, parameters
 * and headers the op pins, each equal; contract/matcher.ts finds the op and binds the body. Pure.
 */
import type { AwsOp, Op } from '../../contract/types.js';
import { matchHead, matchOp, type Matched, type Pins } from '../../contract/matcher.js';
import { entriesOf, maskFields, type SeenValue } from '../../contract/run-time-values.js';
import { resolveArn } from './arn.js';
import type { AwsOperation } from './types.js';

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const k of ak) if (!Object.prototype.hasOwnProperty.call(b, k) || a[k] !== b[k]) return false;
  return true;
}

/** Run-time values in parameters and headers are compared as their markers (SPEC §2.2), and collected in `seen`. */
function sameAwsRequest(op: AwsOp, request: AwsOperation, account: string, seen: SeenValue[]): boolean {
  const entries = entriesOf(op);
  const params = maskFields(request.params, entries, 'query', seen);
  const headers = maskFields(request.headers, entries, 'header', seen);
  return (
    op.service === request.service &&
    op.region === request.region &&
    op.operation === request.operation &&
    op.resource === resolveArn(request.resource, account) &&
    params !== null &&
    headers !== null &&
    sameRecord(op.params, params) &&
    sameRecord(op.headers, headers)
  );
}

function awsPins(request: AwsOperation, account: string): Pins<AwsOp> {
  return {
    pins: (op: Op, seen: SeenValue[]): op is AwsOp => op.target === 'aws' && sameAwsRequest(op, request, account, seen),
    describe: () => describeAws(request, account),
    what: request.operation,
  };
}

/**
 * The op that pins this request and binds its body. Throws `contract_mismatch` when no op pins
 * the request, `body_mismatch` when ops do but none binds this body.
 */
export function matchAwsOp(ops: readonly Op[], request: AwsOperation, account: string, payload: Buffer, contentType: string | undefined): Matched<AwsOp> {
  // Parse once: a json-protocol body was strictly parsed when the request was understood.
  const parsed = request.json;
  return matchOp(ops, awsPins(request, account), { payload, contentType, json: parsed === undefined ? undefined : () => parsed });
}

/** Before the body is read (`Expect: 100-continue`): throws `contract_mismatch` when no op pins the head. */
export function matchAwsHead(ops: readonly Op[], request: AwsOperation, account: string): void {
  matchHead(ops, awsPins(request, account));
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

/**
 * Contract matching (SPEC §2.1): a request matches an op only when every pinned field is equal.
 * No wildcards, no case folding. Pure functions.
 */
import { Denial } from '../reasons.js';
import type { AwsOp, Op } from '../certificate/types.js';
import type { AwsOperation } from '../targets/aws/types.js';
import { resolveArn } from '../targets/aws/arn.js';
import { bodyMatches } from './body.js';
import { entriesOf, hasBodyPlaces, markedBodyMatches, maskFields, type SeenValue } from './run-time-values.js';

export interface Matched<O extends Op> {
  readonly index: number;
  readonly op: O;
  /** The run-time values the request carried at the op's named locations (SPEC §2.2); [] for most ops. */
  readonly values: readonly SeenValue[];
}

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

/** The body binding, over the marked body when the op names places in it. */
export function opBodyMatches(op: Op, payload: Buffer, contentType: string | undefined, seen: SeenValue[], json?: () => unknown): boolean {
  const entries = entriesOf(op);
  return hasBodyPlaces(entries) ? markedBodyMatches(op.body, entries, payload, contentType, seen) : bodyMatches(op.body, payload, contentType, json);
}

/**
 * Finds the op that pins this request. `payload` null means the body is not read yet (an
 * `Expect: 100-continue` pre-check): then only the request line and headers are compared.
 * Throws `contract_mismatch` when no op pins the request, `body_mismatch` when ops do but none
 * binds this body.
 */
export function matchAwsOp(ops: readonly Op[], request: AwsOperation, account: string, payload: Buffer, contentType: string | undefined): Matched<AwsOp>;
export function matchAwsOp(ops: readonly Op[], request: AwsOperation, account: string, payload: null, contentType: string | undefined): null;
export function matchAwsOp(
  ops: readonly Op[],
  request: AwsOperation,
  account: string,
  payload: Buffer | null,
  contentType: string | undefined,
): Matched<AwsOp> | null {
  let sameRequest = false;
  // Parse once: a json-protocol body was strictly parsed when the request was understood.
  const parsed = request.json;
  const json = parsed === undefined ? undefined : () => parsed;
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index]!;
    const values: SeenValue[] = [];
    if (op.target !== 'aws' || !sameAwsRequest(op, request, account, values)) continue;
    sameRequest = true;
    if (payload === null) return null;
    if (opBodyMatches(op, payload, contentType, values, json)) return { index, op, values };
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


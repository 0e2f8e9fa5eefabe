/**
 * Contract matching (SPEC §2.1): a request matches an op only when every pinned field is equal and
 * the op binds its body. No wildcards, no case folding. Each target brings its own equality
 * (targets/aws/match.ts, targets/kube/match.ts); finding the op and binding the body is the same
 * for every target, here. Pure functions.
 */
import { Denial } from '../reasons.js';
import type { Op } from './types.js';
import { bodyMatches } from './body.js';
import { entriesOf, hasBodyPlaces, markedBodyMatches, type SeenValue } from './run-time-values.js';

export interface Matched<O extends Op> {
  readonly index: number;
  readonly op: O;
  /** The run-time values the request carried at the op's named locations (SPEC §2.2); [] for most ops. */
  readonly values: readonly SeenValue[];
}

/** A target's side of matching: its equality, and what a denial says the request does. */
export interface Pins<O extends Op> {
  /** Every field `op` pins equals the request's; run-time values compared as markers and collected in `seen`. */
  pins(op: Op, seen: SeenValue[]): op is O;
  /** What the request does, for `contract_mismatch`: the client prints it, so it is short. */
  describe(): string;
  /** What the request is, for `body_mismatch`. */
  readonly what: string;
}

/** The request's body as matching reads it; `json` is the body parsed once (lib/parsed-body.ts). */
export interface MatchedBody {
  readonly payload: Buffer;
  readonly contentType: string | undefined;
  readonly json?: (() => unknown) | undefined;
}

/** The body binding, over the marked body when the op names places in it. */
export function opBodyMatches(op: Op, body: MatchedBody, seen: SeenValue[]): boolean {
  const entries = entriesOf(op);
  return hasBodyPlaces(entries) ? markedBodyMatches(op.body, entries, body.payload, body.contentType, seen, body.json) : bodyMatches(op.body, body.payload, body.contentType, body.json);
}

/**
 * The op that pins this request and binds its body. Throws `contract_mismatch` when no op pins
 * the request, `body_mismatch` when ops do but none binds this body.
 */
export function matchOp<O extends Op>(ops: readonly Op[], request: Pins<O>, body: MatchedBody): Matched<O> {
  let pinned = false;
  for (const [index, op] of ops.entries()) {
    const values: SeenValue[] = [];
    if (!request.pins(op, values)) continue;
    pinned = true;
    if (opBodyMatches(op, body, values)) return { index, op, values };
  }
  if (!pinned) throw new Denial('contract_mismatch', request.describe());
  throw new Denial('body_mismatch', `the body of ${request.what} is not the certified one`);
}

/**
 * Before the body is read (an `Expect: 100-continue` pre-check): only the request line and
 * headers are compared. Throws `contract_mismatch` when no op pins them.
 */
export function matchHead(ops: readonly Op[], request: Pins<Op>): void {
  if (!ops.some((op) => request.pins(op, []))) throw new Denial('contract_mismatch', request.describe());
}

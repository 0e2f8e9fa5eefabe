/**
 * What one request carries through the pipeline. Every field is assigned in the constructor; the
 * nullable ones are what a denial record names when the stage that fills them was not reached.
 * Stages that need a verified certificate or a matched op take them as parameters instead
 * (runner.ts), so no stage asserts what an earlier one did.
 */
import type { IncomingMessage } from 'node:http';
import type { Certificate, Op } from '../certificate/types.js';
import { claimedJti } from '../certificate/carrier.js';
import type { CompactJws } from '../certificate/compact-jws.js';
import type { Matched } from '../contract/matcher.js';
import type { ReplayLedger, Reservation } from '../replay/types.js';
import type { RecordRef } from '../records/types.js';
import type { Config } from '../config/types.js';
import type { Audit } from './responses.js';
import type { Lanes } from './lanes.js';
import type { Denial } from '../reasons.js';
import type { AdmittedRequest, RequestHead, RequestView, TargetName } from '../targets/target.js';
import { StageClock, type Metrics } from './metrics.js';
import type { StreamGuard } from './stream-guard.js';

export class Exchange<P = unknown> {
  head: RequestHead | null = null;
  /** The latest phase of the target's one reading of the request (targets/target.ts), for records and denials. */
  view: RequestView<P> | null = null;
  /** The target's profile of the executor, once resolved (the certificate's, or the read executor). */
  profile: P | null = null;
  /** The certificate as carried, before it is verified. */
  jws: CompactJws | null = null;
  certificate: Certificate | null = null;
  matched: Matched<Op> | null = null;
  reservation: Reservation | null = null;
  record: RecordRef | null = null;
  bodyRead = false;
  /** Why the broker closed a long-lived request, for its outcome record. */
  closedBecause: string | null = null;
  readonly clock = new StageClock();
  readonly started = performance.now();
  constructor(readonly req: IncomingMessage) {}

  /** The jti a denial names: from the unverified payload, decoded once and shared with the verifier (compact-jws.ts). */
  get claimedJti(): string | null {
    return this.jws === null ? null : claimedJti(this.jws);
  }
}

export type Decision = 'admit' | 'read';

/**
 * A request that passed admission: its decision record is written, its use reserved (admit).
 * `upstream` is what the sign stage prepared: the HTTP request (forward.ts) or an upgrade's own
 * connection (tunnel.ts).
 */
export type Admitted<U> = { readonly request: AdmittedRequest<unknown>; readonly upstream: U } & (
  | { readonly decision: 'admit'; readonly certificate: Certificate; readonly matched: Matched<Op> }
  | { readonly decision: 'read'; readonly certificate: null; readonly matched: null }
);

/** What the upstream stage (forward.ts, tunnel.ts) uses of the runner that admitted the request. */
export interface Relay {
  readonly d: { readonly config: Config; readonly metrics: Metrics; readonly lanes: Lanes; readonly ledger: ReplayLedger; readonly log: (line: string) => void };
  readonly target: { readonly name: TargetName };
  readonly streams: StreamGuard;
  readonly audit: Audit;
  /** limits.request_timeout in ms. */
  readonly timeoutMs: number;
  sebHeaders(x: Exchange, set: (name: string, value: string) => void, decision: Decision | 'deny', denial: Denial | null): void;
}

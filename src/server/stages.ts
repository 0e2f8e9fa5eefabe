/**
 * The admission pipeline (SPEC §4) as one ordered table: the single place that says in which order
 * a request is checked. The reason registry's order (reasons.ts), the stage names of the metrics
 * and `Server-Timing` (`STAGES`), and the stage table of docs/architecture.md are derived from it,
 * and test/server/stages.test.ts keeps them in sync. server/runner.ts executes the stages in
 * this order for every request of every target.
 */
import type { ReasonCode } from '../reasons.js';

export interface StageSpec {
  readonly name: string;
  /** The reason codes this stage is the first to deny with, in SPEC §4 order. */
  readonly reasons: readonly ReasonCode[];
  /**
   * Timed on its own in `seb_stage_seconds` and `Server-Timing`. The stages between two timed
   * ones are charged to the next timed one (carrier, authority, executor: `certificate`).
   */
  readonly timed: boolean;
  /** What the stage does, for the docs. */
  readonly does: string;
}

export const PIPELINE = [
  { name: 'hygiene', timed: false, reasons: ['unparseable_request', 'client_impersonation'], does: 'one reading of the head (SPEC §3); the target reads what the head tells' },
  { name: 'carrier', timed: false, reasons: ['no_certificate'], does: 'find the certificate where the unmodified client carries it' },
  {
    name: 'certificate',
    timed: true,
    reasons: ['malformed_certificate', 'untrusted_issuer', 'bad_signature', 'wrong_audience', 'not_yet_valid', 'expired', 'validity_too_long'],
    does: 'verify shape, issuer, signature, audience and time (SPEC §2)',
  },
  { name: 'authority', timed: false, reasons: ['authority_stale', 'policy_epoch_mismatch', 'revoked'], does: 'epochs and revocation (SPEC §6)' },
  { name: 'executor', timed: false, reasons: ['unknown_execution_identity'], does: "the target's profile of the certificate's executor" },
  { name: 'vending', timed: false, reasons: ['credential_vending'], does: 'no credentials or secrets to the agent (SPEC §4)' },
  { name: 'match', timed: true, reasons: ['contract_mismatch', 'body_mismatch'], does: 'the op that pins the request, then its body binding (SPEC §2.1)' },
  { name: 'replay', timed: true, reasons: ['replay', 'replay_unavailable'], does: 'reserve one use of the op' },
  { name: 'drift', timed: true, reasons: ['drift'], does: 'probe pre_state under the read executor' },
  { name: 'mint', timed: true, reasons: ['mint_failed'], does: 'mint (AWS) or name (Kubernetes) the scoped identity (SPEC §5)' },
  { name: 'sign', timed: true, reasons: [], does: 'prepare the upstream request: SigV4 or impersonation headers' },
  { name: 'record', timed: true, reasons: ['audit_unavailable'], does: 'write the decision record ahead of forwarding (SPEC §8)' },
  { name: 'upstream', timed: true, reasons: [], does: 'commit the use, forward, stream the answer back, write the outcome record' },
] as const satisfies readonly StageSpec[];

export type StageName = (typeof PIPELINE)[number]['name'];

type Timed<S> = S extends { readonly timed: true; readonly name: infer N } ? N : never;
/** The stages timed on their own, in pipeline order. */
export type Stage = Timed<(typeof PIPELINE)[number]>;

export const STAGES: readonly Stage[] = PIPELINE.filter((s): s is Extract<(typeof PIPELINE)[number], { timed: true }> => s.timed).map((s) => s.name);

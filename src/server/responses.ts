/**
 * What both listeners say about a decision, in one place: the `X-SEB-*` and `Server-Timing`
 * headers, the denial message clients print, and the outcome record (SPEC §4, §8).
 */
import { ClientGone, Denial, REASONS } from '../reasons.js';
import type { Reservation } from '../replay/types.js';
import type { RecordRef } from '../records/types.js';
import type { RecordWriter } from '../records/writer.js';
import type { StageClock } from './metrics.js';
import { safeText } from './record-fields.js';

export type Decision = 'admit' | 'deny' | 'read';

export function sebHeaders(
  set: (name: string, value: string) => void,
  decision: Decision,
  denial: Denial | null,
  record: RecordRef | null,
  clock: StageClock,
): void {
  set('x-seb-decision', decision);
  if (denial) set('x-seb-reason', denial.code);
  if (record) set('x-seb-record', `${record.stream}:${record.seq}`);
  const timing = clock.header();
  if (timing) set('server-timing', timing);
}

/** SPEC §4: the message names the reason code as written and the certificate id, never a peer's error text. */
export function denialMessage(denial: Denial | null, certificateId: string | null): string {
  if (!denial) return 'seb: internal error';
  return `seb denied the request: ${denial.code} (certificate ${certificateId ?? 'none'}): ${denial.detail ?? REASONS[denial.code].message}`;
}

/** The decision record's `detail`: what the agent was told, and what the peer said (SPEC §8). */
export function recordedDetail(denial: Denial | null): string | null {
  if (!denial?.detail) return denial?.internal ? safeText(denial.internal) : null;
  return safeText(denial.internal ? `${denial.detail} (${denial.internal})` : denial.detail);
}

/** Where a handler's records and operational log lines go (the broker's injected logger, not the console). */
export interface Audit {
  readonly records: RecordWriter;
  readonly log: (line: string) => void;
}

/** Writes the deny record; the denial stands even when the sink refuses it (/readyz shows that). */
export async function recordDenial(audit: Audit, write: () => Promise<RecordRef>, denial: Denial): Promise<RecordRef | null> {
  if (denial.internal) audit.log(`seb: ${denial.code}: ${denial.detail ?? ''}: ${denial.internal}`);
  try {
    return await write();
  } catch (err) {
    // The writer keeps a refused line queued and writes it again once the sink is back; only a
    // full backlog refuses a record outright, and the error says so.
    audit.log(`seb: deny record not accepted by the sink (${denial.code}): ${String(err)}`);
    return null;
  }
}

/**
 * How a request ended, beside the upstream's status (SPEC §8 outcome records):
 * - `relayed`: the upstream answered and its whole answer reached the client (a tunnel: it ended);
 * - `upstream_failed`: the upstream was unreachable, timed out or cut its answer (502, 504, a cut body);
 * - `client_gone`: the client went away (before forwarding: nothing was sent; after: the relay was cut);
 * - `not_forwarded`: the broker did not send it (the ledger did not confirm the use, no upstream
 *   connection was free within limits.request_timeout);
 * - `closed`: the broker closed it (a long-lived request outliving its certificate or authority,
 *   limits.max_stream, shutdown, an answer slower than limits.min_read_rate).
 */
export type OutcomeKind = 'relayed' | 'upstream_failed' | 'client_gone' | 'not_forwarded' | 'closed';

export interface OutcomeFields {
  readonly outcome: OutcomeKind;
  readonly status: number | null;
  readonly upstreamRequestId: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly error: string | null;
}

export function recordOutcome(audit: Audit, decision: RecordRef | null, started: number, o: OutcomeFields): void {
  if (!decision) return;
  audit.records
    .outcome({
      decision_seq: decision.seq,
      status: o.status,
      upstream_request_id: o.upstreamRequestId,
      bytes_in: o.bytesIn,
      bytes_out: o.bytesOut,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      error: o.error,
      outcome: o.outcome,
    })
    .catch((err: unknown) => audit.log(`seb: outcome record not accepted by the sink: ${String(err)}`));
}

/**
 * The client left while its request was being admitted (a slow STS, a drift probe, the ledger):
 * the request is not sent. Nobody would read its answer, and a client that gave up retries, so a
 * mutation executed for nobody would spend the use its retry needs. The decision record gets its
 * outcome (`client_gone`); the ClientGone that follows releases the use and answers nobody.
 */
export function refuseIfClientLeft(client: { readonly destroyed: boolean }, audit: Audit, decision: RecordRef | null, started: number, bytesIn: number): void {
  if (!client.destroyed) return;
  const gone = new ClientGone('the client went away before the request went upstream');
  recordOutcome(audit, decision, started, { outcome: 'client_gone', status: null, upstreamRequestId: null, bytesIn, bytesOut: 0, error: `not forwarded: ${gone.detail}` });
  throw gone;
}

/**
 * A ClientGone before any decision record (mid-upload): after its deny record, the outcome that
 * tells an abandoned request from a malformed one.
 */
export function recordClientGone(audit: Audit, denial: Denial, decision: RecordRef | null, started: number): void {
  if (!(denial instanceof ClientGone)) return;
  recordOutcome(audit, decision, started, { outcome: 'client_gone', status: null, upstreamRequestId: null, bytesIn: 0, bytesOut: 0, error: `not forwarded: ${denial.detail}` });
}

/**
 * SPEC §4: the use is spent when the request goes upstream, so nothing goes upstream before the
 * ledger confirms it (a shared ledger may be unreachable). The admit record is already written:
 * its outcome says the request was not forwarded, then the denial stands.
 */
export async function commitBeforeForward(reservation: Reservation | null, audit: Audit, decision: RecordRef | null, started: number, bytesIn: number): Promise<void> {
  if (!reservation) return;
  try {
    await reservation.commit();
  } catch (err) {
    // A store's own error text can name its address: the record and the log get it, the agent not.
    const denial = err instanceof Denial ? err : new Denial('replay_unavailable', 'the replay store did not confirm the use', undefined, String(err));
    const error = `not forwarded: ${denial.code}${denial.detail ? `: ${denial.detail}` : ''}${denial.internal ? ` (${denial.internal})` : ''}`;
    recordOutcome(audit, decision, started, { outcome: 'not_forwarded', status: null, upstreamRequestId: null, bytesIn, bytesOut: 0, error });
    throw denial;
  }
}

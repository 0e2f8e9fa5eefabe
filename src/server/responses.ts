/**
 * What both listeners say about a decision, in one place: the `X-SEB-*` and `Server-Timing`
 * headers, the denial message clients print, and the outcome record (SPEC §4, §8).
 */
import { Denial, REASONS } from '../reasons.js';
import type { Reservation } from '../replay/types.js';
import type { RecordRef } from '../records/types.js';
import type { RecordWriter } from '../records/writer.js';
import type { StageClock } from './metrics.js';

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

/** SPEC §4: the message names the reason code as written and the certificate id. */
export function denialMessage(denial: Denial | null, certificateId: string | null): string {
  if (!denial) return 'seb: internal error';
  return `seb denied the request: ${denial.code} (certificate ${certificateId ?? 'none'}): ${denial.detail ?? REASONS[denial.code].message}`;
}

/** Writes the deny record; the denial stands even when the sink refuses it (/readyz shows that). */
export async function recordDenial(write: () => Promise<RecordRef>, denial: Denial): Promise<RecordRef | null> {
  try {
    return await write();
  } catch (err) {
    // The writer keeps a refused line queued and writes it again once the sink is back; only a
    // full backlog refuses a record outright, and the error says so.
    console.error(`seb: deny record not accepted by the sink (${denial.code}): ${String(err)}`);
    return null;
  }
}

export interface OutcomeFields {
  readonly status: number | null;
  readonly upstreamRequestId: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly error: string | null;
}

export function recordOutcome(records: RecordWriter, decision: RecordRef | null, started: number, o: OutcomeFields): void {
  if (!decision) return;
  records
    .outcome({
      decision_seq: decision.seq,
      status: o.status,
      upstream_request_id: o.upstreamRequestId,
      bytes_in: o.bytesIn,
      bytes_out: o.bytesOut,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      error: o.error,
    })
    .catch((err: unknown) => console.error(`seb: outcome record not accepted by the sink: ${String(err)}`));
}

/**
 * The client left while its request was being admitted (a slow STS, a drift probe, the ledger):
 * the request is not sent. Nobody would read its answer, and a client that gave up retries, so a
 * mutation executed for nobody would spend the use its retry needs. The admit record gets its
 * outcome; the denial that follows releases the use and is recorded.
 */
export function refuseIfClientLeft(client: { readonly destroyed: boolean }, records: RecordWriter, decision: RecordRef | null, started: number, bytesIn: number): void {
  if (!client.destroyed) return;
  const denial = new Denial('unparseable_request', 'the client went away before the request went upstream');
  recordOutcome(records, decision, started, { status: null, upstreamRequestId: null, bytesIn, bytesOut: 0, error: `not forwarded: ${denial.code}: ${denial.detail}` });
  throw denial;
}

/**
 * SPEC §4: the use is spent when the request goes upstream, so nothing goes upstream before the
 * ledger confirms it (a shared ledger may be unreachable). The admit record is already written:
 * its outcome says the request was not forwarded, then the denial stands.
 */
export async function commitBeforeForward(
  reservation: Reservation | null,
  records: RecordWriter,
  decision: RecordRef | null,
  started: number,
  bytesIn: number,
): Promise<void> {
  if (!reservation) return;
  try {
    await reservation.commit();
  } catch (err) {
    const denial = err instanceof Denial ? err : new Denial('replay_unavailable', String(err));
    const error = `not forwarded: ${denial.code}${denial.detail ? `: ${denial.detail}` : ''}`;
    recordOutcome(records, decision, started, { status: null, upstreamRequestId: null, bytesIn, bytesOut: 0, error });
    throw denial;
  }
}

/**
 * What a request that failed after admission tells the agent, and what it tells the log and the
 * record (SPEC §4: 502 unreachable, 504 timeout; issue 11 §3: 503 when no connection came free).
 * An upstream's error text names internal addresses (`connect ECONNREFUSED 10.0.3.7:443`), so
 * the agent reads only which of the three happened and the certificate id; the text goes to the
 * outcome record and the broker's log.
 */
import { NoCapacity } from './lanes.js';
import type { OutcomeKind } from './responses.js';

export interface UpstreamFailure {
  readonly status: 502 | 503 | 504;
  /** The message the agent's client prints. */
  readonly message: string;
  /** The outcome record's error: the whole story. */
  readonly error: string;
  readonly outcome: OutcomeKind;
}

export function upstreamFailure(err: unknown, certificateId: string | null): UpstreamFailure {
  const error = errorText(err);
  const cert = `(certificate ${certificateId ?? 'none'})`;
  if (err instanceof NoCapacity) {
    return { status: 503, message: `seb: no upstream connection was free within limits.request_timeout ${cert}`, error: `not forwarded: ${error}`, outcome: 'not_forwarded' };
  }
  if (/timeout/i.test(error)) return { status: 504, message: `seb: upstream timed out ${cert}`, error, outcome: 'upstream_failed' };
  return { status: 502, message: `seb: upstream unreachable ${cert}`, error, outcome: 'upstream_failed' };
}

/** One line for the record and the log: the error's code (undici's `UND_ERR_*`, `ECONNRESET`) and message. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as Error & { code?: unknown }).code;
  return code === undefined ? err.message : `${String(code)}: ${err.message}`;
}

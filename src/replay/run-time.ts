/**
 * The replay stage of an op with run-time values (SPEC §2.2 with §4): bindings must equal what the
 * broker relayed from the earlier op's answer, each idempotency token is a use of its own, and
 * answers later ops bind to are remembered before the client sees them. I/O: the ledger only.
 */
import { Denial } from '../reasons.js';
import type { Certificate, Op } from '../certificate/types.js';
import { checkVolatile, mismatch } from '../contract/run-time-values.js';
import type { Matched } from '../contract/matcher.js';
import { answerValue } from '../contract/answers.js';
import type { ReplayLedger, Reservation } from './types.js';

/**
 * Reserves the matched op's use, and a use of each idempotency token it carries, after checking the
 * run-time values; one reservation for all. `now` and `skew` are seconds (the broker's clock and
 * `trust.clock_skew`).
 */
export async function reserveUse(ledger: ReplayLedger, cert: Certificate, matched: Matched<Op>, now: number, skew: number): Promise<Reservation> {
  const keepUntil = cert.exp + skew;
  const { iss, jti } = cert;
  checkVolatile(matched.values, { nbf: cert.nbf, exp: cert.exp, now, skew });
  for (const v of matched.values) {
    if (!v.from) continue;
    const relayed = await ledger.recall({ iss, jti, op: v.from.op, source: v.from.value });
    // Not answered yet and answered otherwise are one denial: the request is not the certified one now.
    if (relayed === null) throw mismatch(v, `has no value yet: op ${v.from.op} has not answered ${v.from.value}`);
    if (relayed !== v.value) throw mismatch(v, `is not the ${v.from.value} op ${v.from.op} answered`);
  }
  const held: Reservation[] = [await ledger.reserve({ iss, jti, op: matched.index }, matched.op.max_uses, cert.iat, keepUntil)];
  try {
    for (const v of matched.values) {
      if (v.kind !== 'idempotency_token') continue;
      held.push(
        await ledger.reserve({ iss, jti, op: matched.index, token: v.value }, 1, cert.iat, keepUntil).catch((err: unknown) => {
          throw err instanceof Denial && err.code === 'replay' ? new Denial('replay', `the idempotency token at ${v.at} was used already under this certificate`) : err;
        }),
      );
    }
  } catch (err) {
    for (const r of held) r.release();
    throw err;
  }
  return held.length === 1 ? held[0]! : joined(held);
}

/** Several reservations settled as one: all committed, or all released. */
function joined(held: readonly Reservation[]): Reservation {
  return {
    commit: () => Promise.all(held.map((r) => r.commit())).then(() => undefined),
    release: () => held.forEach((r) => r.release()),
  };
}

/**
 * Keeps each value later ops bind to from op `index`'s successful answer (SPEC §2.2). Awaited
 * before the answer is relayed, so a client that sends the next op at once finds the value kept.
 * A source missing from the answer keeps nothing: the op binding to it is then denied.
 */
export async function rememberAnswer(
  ledger: ReplayLedger,
  cert: Certificate,
  index: number,
  sources: readonly string[],
  answer: { readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly body: Buffer | null },
  skew: number,
): Promise<readonly { source: string; value: string }[]> {
  const kept: { source: string; value: string }[] = [];
  for (const source of sources) {
    const value = answerValue(source, answer.headers, answer.body);
    if (value === null) continue;
    await ledger.remember({ iss: cert.iss, jti: cert.jti, op: index, source }, value, cert.exp + skew);
    kept.push({ source, value });
  }
  return kept;
}

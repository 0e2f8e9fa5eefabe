import type { StreamPointer } from './types.js';

/** What `seb records verify` names as broken (verify.ts reports it). */
export type Problem =
  /** A record's content differs from what was signed or chained. */
  | 'changed'
  /** Records are missing: a seq gap, or a stream whose first record is not seq 0. */
  | 'deleted'
  /** A missing seq turns up later in the stream. */
  | 'reordered'
  /** A second record with a seq already seen. */
  | 'inserted'
  /** The input ends inside a record, or a stream lacks the tail the next stream's start names. */
  | 'truncated'
  /** A `sig` that no Ed25519 / ES256 signer could have produced (wrong length or alphabet). */
  | 'bad-signature'
  | 'unknown-key'
  | 'not-a-record'
  /** Seq 0 is not a start record, or a start record comes later in the stream. */
  | 'misplaced-start'
  | 'after-end'
  /** An unsigned record in a stream whose start says `sign: every`, or an unsigned start that states a mode. */
  | 'unsigned'
  /**
   * Records no signature covers: after the last signed record of their stream and after the
   * record the next stream's start (or the given state file) names. A forger can rewrite them.
   */
  | 'uncovered'
  /** A start record names a previous stream that is not in the input (and not declared out of scope). */
  | 'missing-stream';

export type Fail = (line: number, stream: string | null, seq: number | null, problem: Problem, message: string) => void;

/**
 * The checks `seb records verify` can make only once the whole input is read (SPEC §8): the links
 * between streams, and that a signature covers every record. verify.ts checks each record as it
 * comes; this file takes the streams it built.
 */

/** One stream as verify.ts reads it. */
export interface StreamState {
  readonly id: string;
  nextSeq: number;
  lastHash: string | null;
  lastSigned: boolean;
  /** The last signed record's seq: its signature covers every record up to it, through the chain. */
  lastSignedSeq: number;
  /** The highest seq of this stream a checked link (a later start, the state file) names. */
  linkedSeq: number;
  /** The signing mode its start states; null until the start is read. */
  sign: 'every' | 'checkpoint' | null;
  /** Hash and input line of each record by seq, to check links that name them. */
  readonly hashes: string[];
  readonly lines: number[];
  ended: boolean;
  previous: StreamPointer | null;
  startLine: number;
  failed: boolean;
  /** A seq jump whose kind (deleted or reordered) the rest of the stream decides. */
  gap: { readonly line: number; readonly seq: number; readonly expected: number } | null;
}

/**
 * How a stream's start relates to the stream before it: `none` (the broker had no state file, or
 * this was its first start), `checked` (that stream is in the input and holds the named record),
 * `out-of-scope` (the caller verifies that stream elsewhere).
 */
export type Link = 'none' | 'checked' | 'out-of-scope';

export interface StreamChecks {
  readonly outOfScope: ReadonlySet<string>;
  readonly state: StreamPointer | null;
  /** The input's last line, where a problem with the state file is reported. */
  readonly lastLine: number;
}

/** Checks every link, then every stream's coverage; returns each stream's link. */
export function checkStreams(streams: ReadonlyMap<string, StreamState>, o: StreamChecks, fail: Fail): Map<string, Link> {
  const links = new Map<string, Link>();
  for (const st of streams.values()) {
    if (st.previous === null || st.failed) continue;
    const named = `stream ${st.id} (line ${st.startLine})`;
    links.set(st.id, checkLink(streams, st.previous, named, st.startLine, o.outOfScope, fail));
  }
  if (o.state !== null) checkLink(streams, o.state, 'the state file', o.lastLine, new Set(), fail);
  for (const st of streams.values()) if (!st.failed) checkCovered(st, fail);
  return links;
}

/**
 * SPEC §8: a start record names the previous stream's last record, so a cut tail of that stream
 * shows. A named stream missing from the input is a failure unless declared out of scope: a whole
 * run deleted from the middle of a log must not verify.
 */
function checkLink(
  streams: ReadonlyMap<string, StreamState>,
  p: StreamPointer,
  named: string,
  line: number,
  outOfScope: ReadonlySet<string>,
  fail: Fail,
): Link {
  const prior = streams.get(p.stream);
  if (prior === undefined) {
    if (outOfScope.has(p.stream)) return 'out-of-scope';
    fail(line, p.stream, p.seq, 'missing-stream', `${named} names seq ${p.seq} of stream ${p.stream}, which is not in the input (declare it out of scope if it is verified elsewhere)`);
    return 'checked';
  }
  // Its own failure is reported already.
  if (prior.failed) return 'checked';
  if (prior.nextSeq <= p.seq) {
    const at = prior.lines[prior.nextSeq - 1] ?? line;
    fail(at, p.stream, prior.nextSeq, 'truncated', `the stream ends at seq ${prior.nextSeq - 1}, but ${named} names seq ${p.seq} as its last`);
  } else if (prior.hashes[p.seq] !== p.hash) {
    fail(prior.lines[p.seq] as number, p.stream, p.seq, 'changed', `the record differs from the one ${named} names`);
  } else if (p.seq > prior.linkedSeq) {
    prior.linkedSeq = p.seq;
  }
  return 'checked';
}

/**
 * Every record must be covered: by a later signed record of its stream (through the chain), or by
 * a checked link naming it or a later record (the naming start is signed). What is left can be
 * rewritten at will, e.g. an unsigned admit turned into a deny with its outcome dropped, so it
 * fails: the tail of a `sign: checkpoint` stream before its next checkpoint, or after a crash.
 */
function checkCovered(st: StreamState, fail: Fail): void {
  const covered = Math.max(st.lastSignedSeq, st.linkedSeq);
  const last = st.nextSeq - 1;
  if (covered >= last) return;
  const first = covered + 1;
  fail(
    st.lines[first] as number,
    st.id,
    first,
    'uncovered',
    `records ${first}..${last} are covered by no signature (a sign: checkpoint stream before its next checkpoint, or cut short by a crash); they cannot be vouched for`,
  );
}

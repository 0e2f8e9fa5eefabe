import { sha256Base64url } from '../lib/digest.js';
import { canonicalJson } from '../lib/jcs.js';
import { LogLineReader } from './log-lines.js';
import type { StreamPointer } from './types.js';
import { importVerifyKeys, type SigCheck } from './verify-keys.js';
import { checkStreams, type Fail, type Link, type Problem, type StreamState } from './verify-streams.js';

export type { Fail, Problem };

/**
 * `seb records verify` (SPEC §8, §9): checks signatures, per-stream seq and prev chains, the
 * start/end framing, the links between streams and that a signature covers every record, and
 * names the first broken record. Everything is checked on the JCS form of each parsed record, so
 * records a log pipeline re-serialised (keys reordered, whitespace changed) still verify.
 */


export interface StreamSummary {
  readonly stream: string;
  readonly records: number;
  /** Whether the stream's end record was seen; false for a broker still running or one that crashed. */
  readonly ended: boolean;
  /** From its start record; `checkpoint` also for a start written before starts stated it. */
  readonly sign: 'every' | 'checkpoint';
  readonly previous: StreamPointer | null;
  readonly link: Link;
}

export interface VerifyOptions {
  /** The broker's public record-signing JWKS. */
  readonly keys: readonly unknown[];
  /**
   * Skip byte-for-byte copies (same JCS form) of a record already verified: an at-least-once
   * pipeline resends a chunk whose ack was lost. A second record with the same seq and other
   * content is still `inserted`.
   */
  readonly allowCopies?: boolean;
  /**
   * Streams verified elsewhere (an earlier log file): a start record may name one of them as its
   * previous stream although it is not in the input. Any other missing stream is `missing-stream`.
   */
  readonly outOfScope?: readonly string[];
  /**
   * The broker's `records.state_file`: the input must hold the record it names, as if a next start
   * named it. Without it, a cut of the newest stream's tail (after its last admit) cannot show.
   */
  readonly state?: StreamPointer;
}

export type VerifyReport =
  | {
      readonly ok: true;
      /** Distinct records verified, copies not counted. */
      readonly records: number;
      readonly streams: readonly StreamSummary[];
      /** Copies skipped under `allowCopies`. */
      readonly copies: number;
    }
  | {
      readonly ok: false;
      /** 1-based line of the input. */
      readonly line: number;
      readonly stream: string | null;
      readonly seq: number | null;
      readonly problem: Problem;
      readonly message: string;
    };

type Failure = Extract<VerifyReport, { ok: false }>;

const TYPES = new Set(['start', 'decision', 'outcome', 'checkpoint', 'end']);
const HASH = /^[A-Za-z0-9_-]{43}$/;

interface Rec {
  readonly type: string;
  readonly stream: string;
  readonly seq: number;
  readonly prev: string | null;
  readonly kid?: string;
  readonly sig?: string;
  readonly [k: string]: unknown;
}

export async function verifyRecords(lines: AsyncIterable<string>, options: VerifyOptions): Promise<VerifyReport> {
  const checks = importVerifyKeys(options);
  const allowCopies = options.allowCopies === true;
  const streams = new Map<string, StreamState>();
  const problems: Failure[] = [];
  const reader = new LogLineReader();
  let lineNo = 0;
  let records = 0;
  let copies = 0;
  /** A line that did not parse: not-a-record if anything follows, truncated if it was the last. */
  let unparsed: { line: number; detail: string; text: string } | null = null;

  const fail = (line: number, stream: string | null, seq: number | null, problem: Problem, message: string): void => {
    problems.push({ ok: false, line, stream, seq, problem, message });
  };

  for await (const raw of lines) {
    lineNo++;
    const got = reader.read(raw);
    if (got.kind === 'blank') continue;
    if (unparsed !== null) {
      fail(unparsed.line, null, null, 'not-a-record', unparsed.detail);
      unparsed = null;
    }
    if (got.kind === 'partial') continue;
    if (got.kind === 'bad') {
      unparsed = { line: lineNo, detail: got.detail, text: raw };
      continue;
    }
    const rec = asRecord(got.value);
    if (typeof rec === 'string') {
      fail(lineNo, null, null, 'not-a-record', rec);
      continue;
    }
    let st = streams.get(rec.stream);
    if (st === undefined) {
      st = newStream(rec.stream);
      streams.set(rec.stream, st);
    }
    if (allowCopies && isCopy(st, rec)) {
      copies++;
      continue;
    }
    records++;
    checkRecord(st, rec, lineNo, checks, fail);
  }

  if (unparsed !== null || reader.open) {
    const cut = unparsed?.text ?? '';
    // Name the cut record where its head survived (the writer puts stream and seq first).
    const stream = /"stream":\s*"([0-9a-f-]{36})"/.exec(cut)?.[1] ?? null;
    const seq = /"seq":\s*(\d{1,15})[,}\s]/.exec(cut)?.[1];
    fail(unparsed?.line ?? lineNo, stream, seq === undefined ? null : Number(seq), 'truncated', 'the input ends inside a record');
  }
  for (const st of streams.values()) {
    if (st.gap !== null) fail(st.gap.line, st.id, st.gap.seq, 'deleted', `records ${st.gap.expected}..${st.gap.seq - 1} are missing`);
  }
  const links = checkStreams(streams, { outOfScope: new Set(options.outOfScope ?? []), state: options.state ?? null, lastLine: lineNo }, fail);

  if (problems.length > 0) {
    // The first broken record by input line; a later check may name an earlier line.
    return problems.reduce((a, b) => (b.line < a.line ? b : a));
  }
  const summaries = [...streams.values()].map((st) => ({
    stream: st.id,
    records: st.nextSeq,
    ended: st.ended,
    sign: st.sign ?? 'checkpoint',
    previous: st.previous,
    link: links.get(st.id) ?? 'none',
  }));
  return { ok: true, records, streams: summaries, copies };
}

/** Whether `rec` repeats, byte for byte in JCS form, a record of its stream that was already verified. */
function isCopy(st: StreamState, rec: Rec): boolean {
  return !st.failed && rec.seq < st.nextSeq && st.hashes[rec.seq] === hashOf(rec);
}

function checkRecord(st: StreamState, rec: Rec, line: number, checks: Map<string, SigCheck>, fail: Fail): void {
  const { stream, seq } = rec;
  if (st.failed) {
    // Only a pending gap still needs this stream: a missing seq turning up later means the
    // records were reordered; if none does by the end of the input, they were deleted.
    const { gap } = st;
    if (gap !== null && seq >= gap.expected && seq < gap.seq) {
      st.gap = null;
      fail(gap.line, stream, gap.seq, 'reordered', `seq ${gap.seq} comes before seq ${seq}`);
    }
    return;
  }
  if (seq < st.nextSeq) {
    st.failed = true;
    const copy = st.hashes[seq] === hashOf(rec);
    return fail(line, stream, seq, 'inserted', copy ? `a second copy of seq ${seq}` : `a second record with seq ${seq}`);
  }
  if (st.ended) {
    st.failed = true;
    return fail(line, stream, seq, 'after-end', 'a record after the end of its stream');
  }
  if (seq > st.nextSeq) {
    st.failed = true;
    st.gap = { line, seq, expected: st.nextSeq };
    return;
  }

  // seq is the expected one: check the signature, then the chain.
  const signed = rec.sig !== undefined;
  if (signed) {
    const check = checks.get(rec.kid as string);
    if (check === undefined) {
      st.failed = true;
      return fail(line, stream, seq, 'unknown-key', `no key with kid ${JSON.stringify(rec.kid)}`);
    }
    const { sig, ...unsigned } = rec;
    const verdict = check(canonicalJson(unsigned), sig as string);
    if (verdict !== 'ok') {
      st.failed = true;
      if (verdict === 'malformed') return fail(line, stream, seq, 'bad-signature', 'the signature is not a 64-byte base64url value');
      return fail(line, stream, seq, 'changed', 'the signature does not match the record');
    }
  }
  if (!signed && st.sign === 'every') {
    st.failed = true;
    return fail(line, stream, seq, 'unsigned', 'an unsigned record in a stream whose start says sign: every');
  }
  if (rec.prev !== st.lastHash) {
    st.failed = true;
    // A valid signature vouches for this record's prev, so the previous record is what changed;
    // for an unsigned record next to a signed one, this record is the one that cannot be vouched for.
    if (seq > 0 && (signed || !st.lastSigned)) {
      return fail(st.lines[seq - 1] as number, stream, seq - 1, 'changed', `the record does not hash to seq ${seq}'s prev`);
    }
    return fail(line, stream, seq, 'changed', 'prev does not hash the previous record');
  }
  if ((seq === 0) !== (rec.type === 'start')) {
    st.failed = true;
    return fail(line, stream, seq, 'misplaced-start', seq === 0 ? 'the stream does not open with a start record' : 'a second start record');
  }
  if (rec.type === 'start') {
    const previous = rec.previous === null ? null : asPointer(rec.previous);
    if (previous === undefined) {
      st.failed = true;
      return fail(line, stream, seq, 'not-a-record', 'previous is not a {stream, seq, hash} pointer');
    }
    if (rec.sign !== undefined && rec.sign !== 'every' && rec.sign !== 'checkpoint') {
      st.failed = true;
      return fail(line, stream, seq, 'not-a-record', 'sign is neither "every" nor "checkpoint"');
    }
    if (rec.sign !== undefined && !signed) {
      st.failed = true;
      return fail(line, stream, seq, 'unsigned', 'the start record states its signing mode but is not signed');
    }
    st.previous = previous;
    st.startLine = line;
    // A start without `sign` predates it: its stream is held to the checkpoint rules (every record covered).
    st.sign = rec.sign ?? 'checkpoint';
  }
  if (rec.type === 'checkpoint' && rec.head !== rec.prev) {
    st.failed = true;
    return fail(line, stream, seq, 'changed', 'the checkpoint head is not the previous record');
  }
  const hash = hashOf(rec);
  st.nextSeq++;
  st.lastHash = hash;
  st.lastSigned = signed;
  if (signed) st.lastSignedSeq = seq;
  st.hashes.push(hash);
  st.lines.push(line);
  if (rec.type === 'end') st.ended = true;
}

function hashOf(rec: Rec): string {
  return sha256Base64url(canonicalJson(rec));
}

function newStream(id: string): StreamState {
  return {
    id,
    nextSeq: 0,
    lastHash: null,
    lastSigned: false,
    lastSignedSeq: -1,
    linkedSeq: -1,
    sign: null,
    hashes: [],
    lines: [],
    ended: false,
    previous: null,
    startLine: 0,
    failed: false,
    gap: null,
  };
}

/** The common fields every record has (SPEC §8), or what is wrong with them. */
function asRecord(v: unknown): Rec | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'the line does not hold a JSON object';
  const r = v as Record<string, unknown>;
  if (r.v !== 1) return 'not a version 1 record';
  if (typeof r.type !== 'string' || !TYPES.has(r.type)) return 'unknown record type';
  if (typeof r.stream !== 'string' || r.stream === '') return 'no stream';
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return 'no valid seq';
  if (r.prev !== null && !(typeof r.prev === 'string' && HASH.test(r.prev))) return 'no valid prev';
  if (typeof r.ts !== 'string' || typeof r.broker !== 'string') return 'no ts or broker';
  if (r.sig !== undefined && (typeof r.sig !== 'string' || typeof r.kid !== 'string')) return 'sig without kid';
  return r as Rec;
}

function asPointer(v: unknown): StreamPointer | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const p = v as Record<string, unknown>;
  if (typeof p.stream !== 'string' || !Number.isSafeInteger(p.seq) || (p.seq as number) < 0 || typeof p.hash !== 'string') return undefined;
  return { stream: p.stream, seq: p.seq as number, hash: p.hash };
}

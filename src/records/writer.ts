import { randomUUID, type KeyObject } from 'node:crypto';
import { after, SYSTEM_CLOCK, type Clock } from '../lib/clock.js';
import { sha256Base64url } from '../lib/digest.js';
import { fragment, join, LAYOUTS, signerFor } from './format.js';
import type { RecordSink } from './sinks.js';
import { readState, StateAnchor } from './state-file.js';
import type { DecisionBody, OutcomeBody, RecordRef, RecordType } from './types.js';
import { wellFormedString } from './well-formed.js';
import { settleWithin } from '../lib/settle-within.js';

export interface RecordWriterOptions {
  readonly brokerId: string;
  readonly key: { readonly kid: string; readonly privateKey: KeyObject };
  readonly sink: RecordSink;
  readonly sign: 'every' | 'checkpoint';
  readonly stateFile: string | null;
  /** Record timestamps, the checkpoint delay and the retry of a failed sink (default: the system clock). */
  readonly clock?: Clock;
}

/** SPEC §8: a checkpoint follows any unsigned record within 100 ms. */
export const CHECKPOINT_DELAY_MS = 100;
/** While the sink is down, a failed line is retried this often so healthy() can recover without traffic. */
export const RETRY_MS = 1000;
/** Lines held for a sink that is down; beyond this new records are refused before taking a seq. */
export const MAX_BACKLOG = 10_000;
/**
 * A sink that has not taken a line for this long counts as failed (a stdout pipe nobody reads, a
 * file on a hung mount, a fluent peer that stopped acknowledging): the requests waiting on it are
 * denied audit_unavailable instead of being held for as long as the sink hangs.
 */
export const STALL_MS = 5_000;
/** Lines handed to a sink's writeMany at once (well under the fluent sink's queue cap). */
export const WRITE_BATCH = 256;

interface Entry {
  readonly line: string;
  readonly seq: number;
  readonly hash: string;
  settled: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Writes signed, hash-chained records (SPEC §8). seq, prev and the signature are fixed
 * synchronously when a record is asked for, so concurrent callers get one consistent chain;
 * the lines then reach the sink one at a time, in seq order.
 */
export class RecordWriter {
  readonly stream: string = randomUUID();
  private readonly sink: RecordSink;
  private readonly everyRecordSigned: boolean;
  private readonly sign: 'every' | 'checkpoint';
  private readonly signer: (data: string) => string;
  private readonly clock: Clock;
  /** Null without `records.state_file`. */
  private readonly state: StateAnchor | null;
  /** Fragments that never change within a stream, serialised once. */
  private readonly fixed: Readonly<Record<string, string>>;
  private seq = 0;
  private lastHash: string | null = null;
  private readonly queue: Entry[] = [];
  private draining = false;
  /** A write went out in this event-loop turn: later records wait for its end (scheduleDrain). */
  private turnOpen = false;
  private ok = true;
  /** A write has been pending for STALL_MS: new records are refused at once until it settles. */
  private stalled = false;
  private closing: Promise<void> | null = null;
  /** Cancels the pending checkpoint (a signed record covers the unsigned ones before it). */
  private cancelCheckpoint: (() => void) | null = null;
  /** Cancels the pending retry of lines a failed sink refused. */
  private cancelRetry: (() => void) | null = null;

  private constructor(opts: RecordWriterOptions) {
    this.sink = opts.sink;
    this.sign = opts.sign;
    this.everyRecordSigned = opts.sign === 'every';
    this.signer = signerFor(opts.key.privateKey);
    this.clock = opts.clock ?? SYSTEM_CLOCK;
    this.state = opts.stateFile === null ? null : new StateAnchor(opts.stateFile);
    this.fixed = {
      v: '1',
      stream: JSON.stringify(this.stream),
      broker: fragment(wellFormedString(opts.brokerId)),
      kid: fragment(wellFormedString(opts.key.kid)),
    };
  }

  /** Reads the state file, then writes the start record; rejects if the sink refuses it. */
  static async open(opts: RecordWriterOptions): Promise<RecordWriter> {
    const previous = opts.stateFile === null ? null : await readState(opts.stateFile);
    const writer = new RecordWriter(opts);
    // The start states the signing mode, so verify can refuse an unsigned record in an `every`
    // stream (a rewritten one whose next prev was recomputed), and is signed in both modes.
    await writer.append('start', { previous: fragment(previous), sign: fragment(writer.sign) });
    return writer;
  }

  /**
   * Resolves once the sink has accepted the line: only then may the request be forwarded (SPEC §8).
   * An admit also waits until the state file names it or a later record (see anchor).
   */
  async decision(body: DecisionBody): Promise<RecordRef> {
    const seq = this.seq;
    await this.append('decision', {
      request: fragment(body.request),
      certificate: fragment(body.certificate),
      decision: fragment(body.decision),
      reason: fragment(body.reason),
      detail: fragment(body.detail),
      identity: fragment(body.identity),
    });
    if (body.decision === 'admit') await this.state?.anchor(seq);
    return { stream: this.stream, seq };
  }

  async outcome(body: OutcomeBody): Promise<RecordRef> {
    const seq = this.seq;
    await this.append('outcome', {
      decision_seq: fragment(body.decision_seq),
      status: fragment(body.status),
      upstream_request_id: fragment(body.upstream_request_id),
      bytes_in: fragment(body.bytes_in),
      bytes_out: fragment(body.bytes_out),
      duration_ms: fragment(body.duration_ms),
      error: fragment(body.error),
      outcome: fragment(body.outcome ?? null),
    });
    return { stream: this.stream, seq };
  }

  /** False after a sink failure, until a write succeeds again (feeds /readyz, SPEC §1). */
  healthy(): boolean {
    return this.ok;
  }

  /** Writes the signed end record, flushes the sink and records the stream's last record in the state file. */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    this.cancelCheckpoint?.();
    this.cancelCheckpoint = null;
    this.cancelRetry?.();
    this.cancelRetry = null;
    this.state?.stop();
    const end = this.append('end', {});
    try {
      await end;
    } finally {
      try {
        await settleWithin(this.sink.close(), STALL_MS, 'the record sink did not close');
      } finally {
        await this.state?.save();
      }
    }
  }

  /**
   * Fixes seq, prev and sig now (synchronously) and queues the line. Body fragments come in
   * already serialised so that a value JCS cannot hold throws before a seq is taken.
   */
  private append(type: RecordType, body: Record<string, string>): Promise<void> {
    if (this.closing !== null && type !== 'end') return Promise.reject(new Error('the record writer is closed'));
    if (this.queue.length >= MAX_BACKLOG) return Promise.reject(new Error('the record sink is down and the backlog is full'));
    // start vouches for the stream's signing mode, end closes the stream and checkpoint is the
    // signature unsigned records wait for: always signed.
    const signed = this.everyRecordSigned || !(type === 'decision' || type === 'outcome');
    const layout = signed ? LAYOUTS[type].signed : LAYOUTS[type].unsigned;
    const seq = this.seq++;
    const frags: Record<string, string> = {
      ...this.fixed,
      ...body,
      type: `"${type}"`,
      seq: String(seq),
      ts: `"${new Date(this.clock.now()).toISOString()}"`,
      prev: this.lastHash === null ? 'null' : `"${this.lastHash}"`,
    };
    if (layout.signed !== null) frags.sig = `"${this.signer(join(layout.signed, frags))}"`;
    const hash = sha256Base64url(join(layout.hashed, frags));
    this.lastHash = hash;
    const line = join(layout.line, frags);

    if (signed) {
      this.cancelCheckpoint?.();
      this.cancelCheckpoint = null;
    } else {
      this.cancelCheckpoint ??= after(this.clock, CHECKPOINT_DELAY_MS, () => this.checkpoint());
    }

    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { line, seq, hash, settled: false, resolve, reject };
      this.queue.push(entry);
      // Queued all the same: the chain already runs through it, and it is written once the sink moves.
      if (this.stalled) {
        entry.settled = true;
        reject(stallError());
      }
      this.scheduleDrain();
    });
  }

  /**
   * The first record of an event-loop turn goes out at once; later ones in the same turn wait for
   * its end and go out in one sink write (issue 14: one pipe system call per turn, not per record;
   * at 300 req/s no record waits). Records asked for while a write is out join the running drain.
   */
  private scheduleDrain(): void {
    if (this.draining || this.turnOpen) return;
    this.turnOpen = true;
    setImmediate(this.endTurn);
    void this.drain();
  }

  private readonly endTurn = (): void => {
    this.turnOpen = false;
    void this.drain();
  };

  private checkpoint(): void {
    this.cancelCheckpoint = null;
    if (this.closing !== null) return;
    // Nobody awaits a checkpoint; a sink failure already shows in healthy().
    this.append('checkpoint', { head: JSON.stringify(this.lastHash) }).catch(() => undefined);
  }

  /**
   * Writes queued lines in order, one at a time. When the sink fails, every waiting caller is
   * failed at once (their requests are denied audit_unavailable rather than held), but the lines
   * stay queued and are retried first: later records already chain to them, so dropping them
   * would leave a hole that verify reports as deleted.
   */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        // A sink that can take several lines at once gets what queued meanwhile: one round trip for all.
        const batch = this.sink.writeMany ? this.queue.slice(0, WRITE_BATCH) : [this.queue[0] as Entry];
        const watchdog = setTimeout(() => this.stall(), STALL_MS);
        try {
          if (batch.length > 1 && this.sink.writeMany) await this.sink.writeMany(batch.map((e) => e.line));
          else await this.sink.write((batch[0] as Entry).line);
        } catch (err) {
          this.ok = false;
          for (const e of this.queue) {
            if (!e.settled) {
              e.settled = true;
              e.reject(err);
            }
          }
          if (this.closing === null) this.cancelRetry ??= after(this.clock, RETRY_MS, () => this.retry());
          return;
        } finally {
          clearTimeout(watchdog);
          this.stalled = false;
        }
        this.queue.splice(0, batch.length);
        this.ok = true;
        const last = batch[batch.length - 1] as Entry;
        this.state?.accepted({ stream: this.stream, seq: last.seq, hash: last.hash });
        for (const entry of batch) {
          if (!entry.settled) {
            entry.settled = true;
            entry.resolve();
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** The sink has sat on a write for STALL_MS: fail every waiting caller now, keep the lines queued. */
  private stall(): void {
    this.ok = false;
    this.stalled = true;
    for (const e of this.queue) {
      if (!e.settled) {
        e.settled = true;
        e.reject(stallError());
      }
    }
  }

  private retry(): void {
    this.cancelRetry = null;
    void this.drain();
  }
}

function stallError(): Error {
  return new Error(`the record sink has not accepted a write for ${STALL_MS} ms`);
}

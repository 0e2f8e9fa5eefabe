/**
 * The Fluent forward sink (SPEC §8: "TCP, a write counts only when acknowledged"): Forward
 * Protocol v1 in Forward mode, `[tag, [[time, record], ...], {chunk, size}]`, without shared_key
 * or TLS. A line counts as written when the receiver answers `{ack: <its chunk id>}`.
 *
 * One chunk is in flight at a time; lines written while it is (or in the same turn of the event
 * loop) go together in the next one, so a burst costs one round trip, not one per record.
 *
 * Failure never resolves anything: on a lost connection, an ack timeout or a malformed answer,
 * every unacknowledged write rejects (the broker denies its request audit_unavailable) and the
 * sink reconnects in the background with capped backoff. The sink never resends a chunk by itself:
 * the record writer keeps a refused line and writes it again later, as a new write, which is the
 * only write that can then resolve. So a receiver that took a chunk but whose ack was lost holds
 * that record twice (byte-identical), and a receiver may hold the decision record of a request that
 * was denied; the chain stays whole because that decision is followed by its
 * `deny audit_unavailable` record (README "Records").
 */
import { connect, type Socket } from 'node:net';
import { after, SYSTEM_CLOCK, type Clock } from '../lib/clock.js';
import type { RecordSink } from './sinks.js';
import { ackOf, encodeChunk, forwardEntry, newChunkId, readAnswers, type ForwardEntry } from './fluent-forward.js';

/** A receiver that does not answer the TCP handshake within this is down. */
export const CONNECT_TIMEOUT_MS = 3_000;
/** A chunk not acknowledged within this fails, with every write waiting behind it. */
export const ACK_TIMEOUT_MS = 5_000;
/** Reconnect delays after a loss: doubling from the first to the cap. */
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 2_000;
/** Unacknowledged lines held at most; beyond either cap writes reject at once. */
export const MAX_QUEUED_LINES = 10_000;
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** A chunk stays below Fluent Bit's default in_forward Buffer_Chunk_Size (1024000); one oversized record still goes alone. */
export const MAX_CHUNK_BYTES = 1_000_000;

export interface FluentTarget {
  readonly host: string;
  readonly port: number;
  readonly tag: string;
}

/** The bounds above, shortened by tests; `clock` times the waits (default: the system clock). */
export interface FluentSinkOptions {
  readonly clock?: Clock;
  readonly connectTimeoutMs?: number;
  readonly ackTimeoutMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly maxQueuedLines?: number;
  readonly maxQueuedBytes?: number;
  readonly maxChunkBytes?: number;
}

export interface FluentSink extends RecordSink {
  /** Hands several lines over at once: they share a chunk (the record writer's batches). */
  writeMany(lines: readonly string[]): Promise<void>;
  /** False while disconnected: the last connection was lost or refused and no new one is up yet (feeds /readyz). */
  healthy(): boolean;
}

interface Item {
  /** `[time, record]`, the Forward mode entry. */
  readonly entry: ForwardEntry;
  readonly bytes: number;
  resolve(): void;
  reject(err: Error): void;
}

interface InFlight {
  readonly id: string;
  readonly items: readonly Item[];
  /** Cancels the ack timeout. */
  readonly cancel: () => void;
}

type State = 'connecting' | 'open' | 'down' | 'closed';

/** Starts connecting at once, so that the first record (the stream's start) finds the connection up. */
export function fluentSink(target: FluentTarget, opts: FluentSinkOptions = {}): FluentSink {
  return new ForwardSink(target, opts);
}

class ForwardSink implements FluentSink {
  private readonly address: string;
  private readonly limits: Required<Omit<FluentSinkOptions, 'clock'>>;
  private readonly clock: Clock;
  private state: State = 'connecting';
  private socket: Socket | null = null;
  private lastError = 'not connected yet';
  private readonly queue: Item[] = [];
  private inFlight: InFlight | null = null;
  private queuedLines = 0;
  private queuedBytes = 0;
  private flushScheduled = false;
  private backoff: number;
  private cancelReconnect: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly target: FluentTarget,
    opts: FluentSinkOptions,
  ) {
    this.address = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    this.limits = {
      connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      ackTimeoutMs: opts.ackTimeoutMs ?? ACK_TIMEOUT_MS,
      reconnectMinMs: opts.reconnectMinMs ?? RECONNECT_MIN_MS,
      reconnectMaxMs: opts.reconnectMaxMs ?? RECONNECT_MAX_MS,
      maxQueuedLines: opts.maxQueuedLines ?? MAX_QUEUED_LINES,
      maxQueuedBytes: opts.maxQueuedBytes ?? MAX_QUEUED_BYTES,
      maxChunkBytes: opts.maxChunkBytes ?? MAX_CHUNK_BYTES,
    };
    this.clock = opts.clock ?? SYSTEM_CLOCK;
    this.backoff = this.limits.reconnectMinMs;
    this.connect();
  }

  write(line: string): Promise<void> {
    return this.writeMany([line]);
  }

  writeMany(lines: readonly string[]): Promise<void> {
    if (this.closing !== null) return Promise.reject(new Error('the fluent sink is closed'));
    // While reconnecting after a failure, refuse at once: the request is denied now rather than held.
    if (this.state === 'down') return Promise.reject(new Error(`the fluent receiver at ${this.address} is unreachable: ${this.lastError}`));
    let total = 0;
    const parsed: Pick<Item, 'entry' | 'bytes'>[] = [];
    for (const line of lines) {
      const entry = forwardEntry(line);
      if (typeof entry === 'string') return Promise.reject(new TypeError(entry));
      const bytes = Buffer.byteLength(line);
      parsed.push({ entry, bytes });
      total += bytes;
    }
    if (this.queuedLines + lines.length > this.limits.maxQueuedLines || this.queuedBytes + total > this.limits.maxQueuedBytes) {
      return Promise.reject(new Error(`the fluent sink queue is full (${this.queuedLines} records, ${this.queuedBytes} bytes unacknowledged)`));
    }
    this.queuedLines += lines.length;
    this.queuedBytes += total;
    const written = parsed.map((p) => new Promise<void>((resolve, reject) => this.queue.push({ ...p, resolve, reject })));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Lines written in the same turn of the event loop share the chunk.
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return Promise.all(written).then(() => undefined);
  }

  healthy(): boolean {
    return this.state === 'open';
  }

  /** Waits for outstanding acks (bounded by one connect and one ack timeout), then ends the connection. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.cancelReconnect?.();
    this.cancelReconnect = null;
    const unacked = this.queuedLines === 0 ? 0 : await this.settledWithin(this.limits.connectTimeoutMs + this.limits.ackTimeoutMs);
    if (unacked > 0) this.failAll(new Error('the fluent sink closed before the receiver acknowledged'));
    const socket = this.socket;
    this.state = 'closed';
    if (socket !== null) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.end();
      // A receiver that never finishes the close does not hold the broker's shutdown.
      const cut = after(this.clock, this.limits.connectTimeoutMs, () => socket.destroy());
      await closed;
      cut();
    }
    if (unacked > 0) throw new Error(`the fluent sink closed with ${unacked} records unacknowledged by ${this.address}`);
  }

  /** Resolves with 0 once nothing is unacknowledged, or with how many still are after `ms`. */
  private settledWithin(ms: number): Promise<number> {
    return new Promise((resolve) => {
      const cancel = after(this.clock, ms, () => resolve(this.queuedLines));
      this.idleWaiters.push(() => {
        cancel();
        resolve(0);
      });
    });
  }

  private connect(): void {
    this.state = 'connecting';
    const socket = connect({ host: this.target.host, port: this.target.port });
    this.socket = socket;
    socket.setNoDelay(true);
    let failure: Error | null = null;
    const cancel = after(this.clock, this.limits.connectTimeoutMs, () => socket.destroy(new Error(`no connection within ${this.limits.connectTimeoutMs} ms`)));
    socket.once('connect', () => {
      cancel();
      if (this.socket !== socket) return;
      this.state = 'open';
      this.flush();
    });
    socket.on('error', (err) => (failure ??= err));
    socket.once('close', () => {
      cancel();
      this.lost(socket, failure ?? new Error('the receiver closed the connection'));
    });
    void readAnswers(socket, (answer) => this.onAnswer(answer));
  }

  private onAnswer(answer: unknown): void {
    const flight = this.inFlight;
    const ack = ackOf(answer);
    // An ack that names no chunk in flight means the two ends disagree about the stream: start over.
    if (flight === null || ack !== flight.id) throw new Error('the receiver answered with no ack for the chunk in flight');
    flight.cancel();
    this.inFlight = null;
    this.backoff = this.limits.reconnectMinMs;
    for (const item of flight.items) this.settle(item, null);
    this.flush();
  }

  /** Sends the next chunk: everything queued, up to the chunk size (always at least one record). */
  private flush(): void {
    const socket = this.socket;
    if (this.state !== 'open' || socket === null || socket.destroyed || this.inFlight !== null || this.queue.length === 0) return;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + (this.queue[n] as Item).bytes <= this.limits.maxChunkBytes)) {
      bytes += (this.queue[n] as Item).bytes;
      n++;
    }
    const items = this.queue.splice(0, n);
    const id = newChunkId();
    const cancel = after(this.clock, this.limits.ackTimeoutMs, () => socket.destroy(new Error(`no ack within ${this.limits.ackTimeoutMs} ms`)));
    this.inFlight = { id, items, cancel };
    socket.write(encodeChunk(this.target.tag, items.map((i) => i.entry), id));
  }

  /** The connection is gone: every unacknowledged write fails, and a new connection is tried later. */
  private lost(socket: Socket, err: Error): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.lastError = err.message;
    this.failAll(new Error(`fluent receiver ${this.address}: ${err.message}`));
    if (this.closing !== null) {
      this.state = 'closed';
      return;
    }
    this.state = 'down';
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.limits.reconnectMaxMs);
    this.cancelReconnect = after(this.clock, delay, () => {
      this.cancelReconnect = null;
      if (this.closing === null) this.connect();
    });
  }

  private failAll(err: Error): void {
    const flight = this.inFlight;
    this.inFlight = null;
    flight?.cancel();
    const items = [...(flight?.items ?? []), ...this.queue.splice(0)];
    for (const item of items) this.settle(item, err);
  }

  private settle(item: Item, err: Error | null): void {
    this.queuedLines--;
    this.queuedBytes -= item.bytes;
    if (err) item.reject(err);
    else item.resolve();
    if (this.queuedLines === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

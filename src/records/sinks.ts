import { open, type FileHandle } from 'node:fs/promises';
import { after, SYSTEM_CLOCK, type Clock } from '../lib/clock.js';

/**
 * Where record lines go (SPEC §8). `write` resolves only once the line counts as written: the
 * writer holds the request until then (write-ahead), so a sink must never resolve early.
 * Lines are passed without their newline; the sink frames them.
 */
export interface RecordSink {
  write(line: string): Promise<void>;
  /**
   * Optional: several lines in order, all counted as written when it resolves. A sink whose
   * writes cost a round trip (fluent) takes the writer's whole queue in one.
   */
  writeMany?(lines: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * One record per line on stdout, for the platform's log collector. The write callback fires when
 * the data has been handed to the OS (or failed: EPIPE when the reader is gone).
 */
export function stdoutSink(out: NodeJS.WritableStream = process.stdout): RecordSink {
  // Failures reach the writer through each write's callback; an unheard 'error' event (EPIPE)
  // would instead crash the broker.
  out.on('error', () => {});
  const send = (text: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      out.write(text, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
  return {
    write: (line) => send(line + '\n'),
    // What queued while the last write was out goes in one write: one system call instead of one
    // per record (a pipe write is a large part of a record's cost under load, issue 14).
    writeMany: (lines) => send(lines.join('\n') + '\n'),
    // stdout belongs to the process; the sink does not end it, only waits for what it queued.
    close() {
      return new Promise<void>((resolve, reject) => {
        out.write('', (err?: Error | null) => (err ? reject(err) : resolve()));
      });
    },
  };
}

/** SPEC §8: fsync at most every 50 ms, and on close. */
export const FSYNC_INTERVAL_MS = 50;

/**
 * Appends to a file. A write counts when it is in the file (the kernel has it), which survives a
 * broker crash; fsync, which also survives a node crash, is batched because one fsync per record
 * would cost milliseconds per request.
 */
export async function fileSink(path: string, clock: Clock = SYSTEM_CLOCK): Promise<RecordSink> {
  const fh = await open(path, 'a', 0o600);
  return new FileSink(fh, clock);
}

class FileSink implements RecordSink {
  /** Cancels the pending batched fsync (close syncs itself). */
  private cancelSync: (() => void) | null = null;
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly clock: Clock,
  ) {}

  async write(line: string): Promise<void> {
    if (this.closed) throw new Error('record file sink is closed');
    // 'a' mode: each write lands at the end of the file whatever else appends to it.
    await this.fh.write(line + '\n');
    this.cancelSync ??= after(this.clock, FSYNC_INTERVAL_MS, () => {
      this.cancelSync = null;
      // A failed fsync surfaces at the next close; the lines themselves are already in the file.
      this.syncing = this.fh.datasync().catch(() => undefined);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelSync?.();
    this.cancelSync = null;
    await this.syncing;
    try {
      await this.fh.datasync();
    } finally {
      await this.fh.close();
    }
  }
}

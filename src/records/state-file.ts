import { readFile, rename, writeFile } from 'node:fs/promises';
import type { StreamPointer } from './types.js';

/**
 * `records.state_file` (SPEC §8): the last accepted record of this broker's stream, so the next
 * start record can name it. Missing file: first start, no previous stream. A file that exists but
 * does not hold a pointer is a start-up error: silently starting unlinked would hide a cut tail.
 */
export async function readState(path: string): Promise<StreamPointer | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const v: unknown = JSON.parse(text);
  if (!isPointer(v)) throw new Error(`records.state_file ${path} does not hold a {stream, seq, hash} pointer`);
  return { stream: v.stream, seq: v.seq, hash: v.hash };
}

/** Write-then-rename, so a crash mid-write leaves the old pointer rather than half a file. */
export async function writeState(path: string, pointer: StreamPointer): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(pointer) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

function isPointer(v: unknown): v is StreamPointer {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p.stream === 'string' &&
    Number.isSafeInteger(p.seq) &&
    (p.seq as number) >= 0 &&
    typeof p.hash === 'string' &&
    /^[A-Za-z0-9_-]{43}$/.test(p.hash)
  );
}

/**
 * Without admits, the state file trails the stream by at most this much (see `accepted` for why
 * that is safe); an admit waits for it to be written (see `anchor`).
 */
export const STATE_INTERVAL_MS = 1000;

/** Keeps `records.state_file` naming the newest record the sink accepted (writer.ts). */
export class StateAnchor {
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #accepted: StreamPointer | null = null;
  /** State writes run one after another (they share a temporary file); this is the last one queued. */
  #write: Promise<void> = Promise.resolve();
  /** The seq of the record the file names once the writes done so far are on disk. */
  #seq = -1;

  constructor(private readonly path: string) {}

  /**
   * A record the sink accepted. Without admits the file is written at most once a second and on
   * close, off the hot path: a write per record would put file I/O into every request. After a
   * crash it may then name a record up to a second older than the stream's last, and records
   * after it are covered only by their own signatures (sign: every); verify refuses the rest as
   * uncovered.
   */
  accepted(pointer: StreamPointer): void {
    this.#accepted = pointer;
    if (this.#timer !== null || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      // A failed state write is retried by the next one; close writes it once more.
      this.save().catch(() => undefined);
    }, STATE_INTERVAL_MS).unref();
  }

  /**
   * SPEC §8 "a restart cannot hide a truncated tail": an admitted request goes upstream only once
   * the state file names its decision record or a later one, so the next start record names it
   * and a log cut before it fails verify even after a crash (kill -9: the file is renamed into
   * place, no fsync; the log lines on stdout have no fsync either). Admits that arrive while a
   * write is under way share the next one, which names the newest accepted record: one write and
   * rename per batch, none per read or denial. A failed write rejects, so the request is denied
   * audit_unavailable.
   */
  async anchor(seq: number): Promise<void> {
    while (this.#seq < seq) await this.save();
  }

  /** Queues a write of the newest accepted record (read when the write starts) after the ones queued. */
  save(): Promise<void> {
    const write = this.#write.then(async () => {
      const pointer = this.#accepted;
      if (pointer === null || pointer.seq <= this.#seq) return;
      await writeState(this.path, pointer);
      this.#seq = pointer.seq;
    });
    this.#write = write.catch(() => undefined);
    return write;
  }

  /** The stream is closing: no more timed writes (close saves once more itself). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

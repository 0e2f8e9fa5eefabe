/**
 * Following a file that is replaced while the broker runs (the authority state, an issuer's JWKS).
 * The directory is watched rather than the file, because editors and Kubernetes volume updates
 * replace files (rename, `..data` symlink swap) and a watch on the old inode would go silent.
 * fs.watch is not reliable on every filesystem (network and overlay mounts), so a 1 s stat poll
 * backs it up. Nothing here throws into the event loop: failures go to `log`.
 *
 * The directory is shared (the soak writes its records beside the authority file), so events for
 * other files are ignored, and a change is read at most DEBOUNCE_MS after its first event: a
 * debounce that every event pushed back never fired while a neighbour was written more often than
 * that, and the authority state aged out although it was republished (issue 11 §6).
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { after, every, SYSTEM_CLOCK, type Clock } from '../lib/clock.js';

export const POLL_MS = 1000;
/**
 * Writers often produce several events per update (truncate, write, rename); the first starts this
 * wait and the rest join it. A read that still catches a half-written file is refused, and the
 * writer's later events read it again.
 */
export const DEBOUNCE_MS = 50;

/**
 * Whether a directory event can concern `name`: the file itself, or Kubernetes' atomic writer
 * swapping its `..data` symlink (the file is a symlink through it). Some platforms give no name.
 */
export function concerns(name: string, filename: string | null): boolean {
  return filename === null || filename === name || filename.startsWith('..');
}

export interface FileWatch {
  close(): void;
}

/**
 * Calls `read` once before resolving, then after every change of `path`. Reads never overlap: a
 * change during a read triggers exactly one more read after it. `read` decides whether the bytes
 * are new; it must not throw (a throw is logged).
 */
export async function watchFile(path: string, read: () => Promise<void>, log: (msg: string) => void, clock: Clock = SYSTEM_CLOCK): Promise<FileWatch> {
  let closed = false;
  let lastStat = '';
  let reading: Promise<void> | null = null;
  let again = false;
  /** Cancels the pending debounced read. */
  let debounce: (() => void) | null = null;

  function reload(): Promise<void> {
    if (reading !== null) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        await read().catch((err: unknown) => log(`${path}: ${(err as Error).message}`));
      } while (again && !closed);
      reading = null;
    })();
    return reading;
  }

  function schedule(): void {
    // Already pending: this event joins it rather than pushing the read back.
    if (closed || debounce !== null) return;
    debounce = after(clock, DEBOUNCE_MS, () => {
      debounce = null;
      if (!closed) void reload();
    });
  }

  function cancelDebounce(): void {
    debounce?.();
    debounce = null;
  }

  async function poll(): Promise<void> {
    try {
      const s = await stat(path);
      const key = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (key !== lastStat) {
        lastStat = key;
        schedule();
      }
    } catch {
      // Missing for now: the read that noticed said so; keep polling until it appears.
      lastStat = '';
    }
  }

  let watcher: FSWatcher | null = null;
  try {
    const name = basename(path);
    watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (concerns(name, filename === null ? null : String(filename))) schedule();
    });
    watcher.on('error', (err) => {
      log(`${path}: watch failed (${err.message}); polling only`);
      watcher?.close();
      watcher = null;
    });
  } catch (err) {
    log(`${path}: cannot watch (${(err as Error).message}); polling only`);
  }

  await poll();
  cancelDebounce();
  await reload();

  // Every POLL_MS whatever the last poll took, as an interval would. The listeners keep the broker
  // alive; this poll alone must not (the Clock's waits never do).
  const cancelPoll = every(clock, POLL_MS, () => void poll());

  return {
    close(): void {
      closed = true;
      cancelPoll();
      cancelDebounce();
      watcher?.close();
      watcher = null;
    },
  };
}

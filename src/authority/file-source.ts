/**
 * Authority state from a file (SPEC §6 "Sources"), re-read on change. The directory is watched
 * rather than the file, because editors and Kubernetes volume updates replace files (rename,
 * `..data` symlink swap) and a watch on the old inode would go silent. fs.watch is not reliable on
 * every filesystem (network and overlay mounts), so a 1 s stat poll backs it up. Every failure is
 * logged; nothing here throws into the event loop, and a missing or bad file only leaves the
 * broker failing closed as `authority_stale`.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Authority } from './state.js';

const POLL_MS = 1000;
/** Writers often produce several events per update (truncate, write, rename); read once after they settle. */
const DEBOUNCE_MS = 50;

export async function watchAuthorityFile(
  path: string,
  authority: Authority,
  log: (msg: string) => void,
): Promise<{ close(): void }> {
  let closed = false;
  let lastAccepted: string | null = null;
  let lastStat = '';
  let reading: Promise<void> | null = null;
  let again = false;
  let debounce: NodeJS.Timeout | null = null;

  async function readOnce(): Promise<void> {
    let text: string;
    try {
      text = (await readFile(path, 'utf8')).trim();
    } catch (err) {
      log(`authority file ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    // These bytes were already accepted (the poll and the watcher both fire on one change). Refused
    // bytes are offered again on the next change: a state refused for a clock edge may pass later.
    if (closed || text === lastAccepted) return;
    const result = await authority.offer(text);
    if (result.accepted) lastAccepted = text;
    else log(`authority file ${path}: refused: ${result.reason}`);
  }

  /** Serialises reads: a change during a read triggers exactly one more read after it. */
  function reload(): Promise<void> {
    if (reading !== null) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        await readOnce().catch((err: unknown) => log(`authority file ${path}: ${(err as Error).message}`));
      } while (again && !closed);
      reading = null;
    })();
    return reading;
  }

  function schedule(): void {
    if (closed) return;
    if (debounce !== null) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      void reload();
    }, DEBOUNCE_MS);
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
      // Missing for now: logged by the read that noticed; keep polling until it appears.
      lastStat = '';
    }
  }

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(path), { persistent: false }, () => schedule());
    watcher.on('error', (err) => {
      log(`authority file ${path}: watch failed (${err.message}); polling only`);
      watcher?.close();
      watcher = null;
    });
  } catch (err) {
    log(`authority file ${path}: cannot watch (${(err as Error).message}); polling only`);
  }

  await poll();
  if (debounce !== null) {
    clearTimeout(debounce);
    debounce = null;
  }
  await reload();

  const timer = setInterval(() => void poll(), POLL_MS);
  // The listeners keep the broker alive; this poll alone must not.
  timer.unref();

  return {
    close(): void {
      closed = true;
      clearInterval(timer);
      if (debounce !== null) clearTimeout(debounce);
      watcher?.close();
      watcher = null;
    },
  };
}

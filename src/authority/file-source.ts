/**
 * Authority state from a file (SPEC §6 "Sources"), re-read on change (certificate/watch-file.ts:
 * directory watch backed by a stat poll). A missing or bad file is reported and leaves the current
 * state in force; with none, the broker fails closed as `authority_stale`.
 */
import { readFile } from 'node:fs/promises';
import { watchFile } from '../certificate/watch-file.js';
import type { Clock } from '../lib/clock.js';
import type { AuthoritySource, Problem, StateSink } from './source-types.js';

/** `clock` times the poll and the debounce (default: the system clock). */
export async function watchAuthorityFile(path: string, sink: StateSink, problem: Problem, clock?: Clock): Promise<AuthoritySource> {
  const where = `authority file ${path}`;
  let lastAccepted: string | null = null;
  const watch = await watchFile(
    path,
    async () => {
      let text: string;
      try {
        text = (await readFile(path, 'utf8')).trim();
      } catch (err) {
        problem(`${where}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return;
      }
      // These bytes were already accepted (the poll and the watcher both fire on one change). Refused
      // bytes are offered again on the next change: a state refused for a clock edge may pass later.
      if (text === lastAccepted) return;
      if ((await sink.offer(text)).accepted) lastAccepted = text;
    },
    (msg) => problem(`authority file ${msg}`),
    clock,
  );
  return {
    async close() {
      watch.close();
    },
  };
}

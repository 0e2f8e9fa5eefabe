/**
 * Which Redis settings let the shared ledger lose a spent use (issue 11 §4). A use the store
 * acknowledged and then forgot lets a one-use certificate run again, so the broker refuses a store
 * that could forget one (`replay.store.redis.check_persistence`, on by default):
 *
 * - `appendonly yes`: RDB snapshots alone restart the store from the last `SAVE`, without every
 *   use committed since.
 * - `appendfsync always`: `everysec` and `no` acknowledge a commit before it is on disk, so a host
 *   crash loses up to a second or more of them (a crash of redis-server alone loses none).
 * - `maxmemory-policy noeviction`: every `volatile-*` and `allkeys-*` policy may evict the use
 *   hashes, which carry a TTL, and with them their spent uses.
 *
 * A failover to a replica that had not received the latest commits is not visible in these
 * settings; the commit count (redis-scripts.ts) catches it while a broker that saw them lives.
 */

/** The `CONFIG GET` parameters checked, each read on its own (Redis < 7 takes one per call). */
export const PERSISTENCE_SETTINGS = ['appendonly', 'appendfsync', 'maxmemory-policy'] as const;

const REQUIRED: Readonly<Record<(typeof PERSISTENCE_SETTINGS)[number], string>> = {
  appendonly: 'yes',
  appendfsync: 'always',
  'maxmemory-policy': 'noeviction',
};

/** What is wrong with `settings` (from CONFIG GET), one entry per setting; empty when none. */
export function persistenceProblems(settings: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const name of PERSISTENCE_SETTINGS) {
    const got = settings[name] ?? '';
    if (got !== REQUIRED[name]) out.push(`${name} is ${got === '' ? 'not reported' : JSON.stringify(got)}, not ${JSON.stringify(REQUIRED[name])}`);
  }
  return out;
}

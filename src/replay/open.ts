/** Picks the replay ledger the config names (SPEC §10 `replay.store`). */
import type { Config } from '../config/types.js';
import { MemoryLedger } from './memory.js';
import type { ReplayLedger } from './types.js';

export async function openLedger(store: Config['replay']['store'], log: (line: string) => void): Promise<ReplayLedger> {
  if (store === 'memory') return new MemoryLedger();
  const { url, password_file, check_persistence } = store.redis;
  // Loaded only when configured: the Redis client is a fifth of an idle broker's memory.
  const { RedisLedger, readPassword } = await import('./redis.js');
  return RedisLedger.open({ url, password: await readPassword(password_file), log, checkPersistence: check_persistence });
}

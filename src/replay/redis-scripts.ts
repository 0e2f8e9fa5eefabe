/**
 * The Lua side of the shared ledger (SPEC §4 use accounting). Each script runs atomically in Redis,
 * so brokers in different processes never interleave inside one reserve or commit; ioredis sends
 * them by EVALSHA (EVAL once per connection, and again only after a NOSCRIPT).
 *
 * One hash per (iss, jti, op). Its fields:
 *   r:<reservation id> = lease end, in ms of the Redis clock  (a reservation; lapses unless renewed)
 *   c:<reservation id> = 1                                     (a committed use; idempotent to repeat)
 * A use is taken while either field exists (a lapsed r: is dropped by the next reserve). The hash
 * expires at the certificate's exp + skew: no certificate can be used after that.
 *
 * All times come from Redis's own clock (TIME), so brokers on hosts with different clocks agree
 * on when a lease has lapsed.
 */

/** Extends the hash's expiry to `until` (unix seconds), never shortens it. */
const KEEP = `
local function keep(key, until_s, now_s)
  if redis.call('TTL', key) < tonumber(until_s) - tonumber(now_s) then
    redis.call('EXPIREAT', key, until_s)
  end
end
local function now_ms(t)
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * The second from which this store remembers uses. Redis keeps the ledger in memory: after a
 * restart without persistence, a FLUSHALL or an eviction the marker is gone and is set anew, so
 * certificates issued before it are refused (the memory ledger's rule, SPEC §4 `replay`). `iat`
 * has one-second resolution, so one issued in that very second may have been used just before
 * the loss: it is refused too.
 */
const SINCE = `
local function since(key, t)
  redis.call('SET', key, t[1], 'NX')
  return tonumber(redis.call('GET', key))
end
`;

export const SCRIPTS = {
  /**
   * KEYS: use hash, since marker. ARGV: max_uses, iat, keep_until (s), lease (ms), reservation id.
   * Returns {1, since} reserved, {0, since} no use left, {-1, since} issued before (or in the second)
   * the store's memory begins.
   */
  sebReserve: {
    numberOfKeys: 2,
    lua: `${KEEP}${SINCE}
local t = redis.call('TIME')
local first = since(KEYS[2], t)
if tonumber(ARGV[2]) <= first then return {-1, first} end
local now = now_ms(t)
local taken = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'c:' or tonumber(fields[i + 1]) > now then
    taken = taken + 1
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if taken >= tonumber(ARGV[1]) then return {0, first} end
redis.call('HSET', KEYS[1], 'r:' .. ARGV[5], now + tonumber(ARGV[4]))
keep(KEYS[1], ARGV[3], t[1])
return {1, first}
`,
  },
  /**
   * KEYS: use hash. ARGV: reservation id, keep_until (s). Turns the reservation into a spent use.
   * The request has gone upstream, so the use counts even if the lease lapsed meanwhile; the reply
   * says whether it had (1 live, 0 lapsed) so the broker can log the overrun.
   */
  sebCommit: {
    numberOfKeys: 1,
    lua: `${KEEP}
local t = redis.call('TIME')
local lease = tonumber(redis.call('HGET', KEYS[1], 'r:' .. ARGV[1]) or '0')
redis.call('HDEL', KEYS[1], 'r:' .. ARGV[1])
redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], 1)
keep(KEYS[1], ARGV[2], t[1])
if lease > now_ms(t) then return 1 end
return 0
`,
  },
  /**
   * KEYS: use hash. ARGV: reservation id, lease (ms). Extends a reservation that still exists
   * (a lapsed one nobody has dropped yet was not taken by anyone, so reviving it is safe).
   * Returns 1 renewed, 0 gone.
   */
  sebRenew: {
    numberOfKeys: 1,
    lua: `${KEEP}
if redis.call('HEXISTS', KEYS[1], 'r:' .. ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'r:' .. ARGV[1], now_ms(redis.call('TIME')) + tonumber(ARGV[2]))
return 1
`,
  },
  /** KEYS: since marker. Sets it on connect, so certificates issued after a broker starts are served. */
  sebSince: {
    numberOfKeys: 1,
    lua: `${SINCE}
return since(KEYS[1], redis.call('TIME'))
`,
  },
} as const;

/** The commands `SCRIPTS` defines on an ioredis client (ioredis adds them at runtime). */
export interface LedgerCommands {
  sebReserve(use: string, since: string, maxUses: number, iat: number, keepUntil: number, leaseMs: number, id: string): Promise<[number, number]>;
  sebCommit(use: string, id: string, keepUntil: number): Promise<number>;
  sebRenew(use: string, id: string, leaseMs: number): Promise<number>;
  sebSince(since: string): Promise<number>;
}

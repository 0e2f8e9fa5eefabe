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
 *
 * `seb:replay:commits` counts every commit the store ever took. It only grows, so a broker that
 * saw it at N and now reads less knows the store lost acknowledged writes: a restart from an older
 * RDB snapshot or AOF, a failover to a replica that lagged, a FLUSHALL. Such a store may have
 * forgotten spent uses, so its memory is taken to begin now (see SINCE).
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
 *
 * A store that went back in time (an old snapshot) still holds an old marker, which does not
 * refuse certificates used after the snapshot was taken. The commit count catches that: when it
 * is below `mark` (the highest count this broker has seen) the marker moves to now. Returns the
 * marker, the count and 1 when the loss was seen now.
 */
const SINCE = `
local function since(key, count_key, mark, t)
  redis.call('SET', key, t[1], 'NX')
  local first = tonumber(redis.call('GET', key))
  local count = tonumber(redis.call('GET', count_key) or '0')
  if count >= tonumber(mark) then return first, count, 0 end
  if tonumber(t[1]) > first then
    first = tonumber(t[1])
    redis.call('SET', key, t[1])
  end
  return first, count, 1
end
`;

export const SCRIPTS = {
  /**
   * KEYS: use hash, since marker, commit count. ARGV: max_uses, iat, keep_until (s), lease (ms),
   * reservation id, mark. Returns {status, since, count, lost}: status 1 reserved, 0 no use left,
   * -1 issued before (or in the second) the store's memory begins.
   */
  sebReserve: {
    numberOfKeys: 3,
    lua: `${KEEP}${SINCE}
local t = redis.call('TIME')
local first, count, lost = since(KEYS[2], KEYS[3], ARGV[6], t)
if tonumber(ARGV[2]) <= first then return {-1, first, count, lost} end
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
if taken >= tonumber(ARGV[1]) then return {0, first, count, lost} end
redis.call('HSET', KEYS[1], 'r:' .. ARGV[5], now + tonumber(ARGV[4]))
keep(KEYS[1], ARGV[3], t[1])
return {1, first, count, lost}
`,
  },
  /**
   * KEYS: use hash, commit count. ARGV: reservation id, keep_until (s). Turns the reservation into
   * a spent use. The request has gone upstream, so the use counts even if the lease lapsed
   * meanwhile; the reply says whether it had (1 live, 0 lapsed) so the broker can log the overrun,
   * and the commit count after this commit (a resent commit counts again: the count need only grow).
   */
  sebCommit: {
    numberOfKeys: 2,
    lua: `${KEEP}
local t = redis.call('TIME')
local lease = tonumber(redis.call('HGET', KEYS[1], 'r:' .. ARGV[1]) or '0')
redis.call('HDEL', KEYS[1], 'r:' .. ARGV[1])
redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], 1)
keep(KEYS[1], ARGV[2], t[1])
local count = redis.call('INCR', KEYS[2])
if lease > now_ms(t) then return {1, count} end
return {0, count}
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
  /**
   * KEYS: since marker, commit count. ARGV: mark. Run on every (re)connect, so certificates issued
   * after a broker starts are served and a store that came back older is caught before any request.
   * Returns {since, count, lost}.
   */
  sebSince: {
    numberOfKeys: 2,
    lua: `${SINCE}
local first, count, lost = since(KEYS[1], KEYS[2], ARGV[1], redis.call('TIME'))
return {first, count, lost}
`,
  },
} as const;

/** The commands `SCRIPTS` defines on an ioredis client (ioredis adds them at runtime). */
export interface LedgerCommands {
  sebReserve(
    use: string,
    since: string,
    count: string,
    maxUses: number,
    iat: number,
    keepUntil: number,
    leaseMs: number,
    id: string,
    mark: number,
  ): Promise<[status: number, since: number, count: number, lost: number]>;
  sebCommit(use: string, count: string, id: string, keepUntil: number): Promise<[live: number, count: number]>;
  sebRenew(use: string, id: string, leaseMs: number): Promise<number>;
  sebSince(since: string, count: string, mark: number): Promise<[since: number, count: number, lost: number]>;
}

/**
 * The shared ledger (SPEC §4, §10 `replay.store: {redis}`): every broker replica counts the uses of
 * one certificate in one Redis, so `max_uses` holds across processes. The counting itself is in
 * redis-scripts.ts (atomic Lua); this file owns the connection, the reservation's life and the
 * failure policy, which is to fail closed: a store that is down, slow or refuses us answers
 * Denial('replay_unavailable'), never a fallback to counting locally.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { Denial } from '../reasons.js';
import { sha256Base64url } from '../lib/digest.js';
import { SCRIPTS, type LedgerCommands } from './redis-scripts.js';
import type { ReplayLedger, Reservation, UseKey } from './types.js';

/**
 * How long a reservation holds a use without being renewed. The broker renews it while its request
 * is still before forwarding, so only a reservation whose broker died (no commit or release will
 * ever come) lapses, and its use is free again after this long.
 */
export const RESERVATION_LEASE_MS = 10_000;
/** A command with no reply within this long counts as a store that is down (replay_unavailable). */
export const COMMAND_TIMEOUT_MS = 1_000;
const CONNECT_TIMEOUT_MS = 2_000;
/** Reconnect backoff cap: a store that comes back is used again within about this long. */
const RECONNECT_MAX_MS = 2_000;
/** A commit the store did not confirm is resent this often (it is idempotent) until it lands. */
const COMMIT_RETRY_MS = 500;
/** close() waits at most this long for commits still being resent. */
const CLOSE_FLUSH_MS = 2_000;

const KEY_PREFIX = 'seb:replay:';
const SINCE_KEY = `${KEY_PREFIX}since`;
const AUTH_FAILURE = /WRONGPASS|NOAUTH|NOPERM|invalid password/i;

type LedgerClient = Redis & LedgerCommands;

export interface RedisLedgerOptions {
  /** `redis://` or `rediss://`, without a password (config validation refuses one). */
  readonly url: string;
  readonly password: string | null;
  /** Operational log (stderr): connection changes and lost commits, never a password. */
  readonly log: (line: string) => void;
  readonly leaseMs?: number;
  readonly commandTimeoutMs?: number;
}

/** The store's password from `replay.store.redis.password_file` (one trailing newline dropped). */
export async function readPassword(file: string | null): Promise<string | null> {
  if (file === null) return null;
  return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
}

/** What a reservation needs of its ledger. */
interface Store {
  readonly client: LedgerClient;
  readonly leaseMs: number;
  closed(): boolean;
  note(message: string): void;
  unavailable(err: unknown): Denial;
  track(r: RedisReservation): void;
  forget(r: RedisReservation): void;
}

export class RedisLedger implements ReplayLedger {
  readonly #client: LedgerClient;
  readonly #timeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #store: Store;
  /** Reservations with a timer running (renewal or commit resend), stopped by close(). */
  readonly #live = new Set<RedisReservation>();
  /** The last problem logged: a store that stays down is logged once, not per request. */
  #lastNoted: string | null = null;
  #closed = false;

  private constructor(client: LedgerClient, o: RedisLedgerOptions) {
    this.#client = client;
    this.#timeoutMs = o.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.#log = o.log;
    this.#store = {
      client,
      leaseMs: o.leaseMs ?? RESERVATION_LEASE_MS,
      closed: () => this.#closed,
      note: (message) => this.#note(message),
      unavailable: (err) => this.#unavailable(err),
      track: (r) => this.#live.add(r),
      forget: (r) => this.#live.delete(r),
    };
    client.on('error', (err: Error) => this.#note(err.message));
    client.on('close', () => {
      if (!this.#closed) this.#note('the connection closed; reconnecting');
    });
    client.on('ready', () => {
      if (this.#lastNoted !== null) this.#log('seb: replay store: connected again');
      this.#lastNoted = null;
      // Marks the store's memory as starting no later than now (redis-scripts.ts SINCE). The
      // reserve script sets it as well, so a failure here only moves that to the first reserve.
      client.sebSince(SINCE_KEY).catch(() => undefined);
    });
  }

  /**
   * Connects once before the broker listens. Refused credentials are a configuration error and
   * fail start-up; a store that is not reachable yet is not: the broker starts, reports not
   * ready, and denies replay_unavailable until the store answers.
   */
  static async open(o: RedisLedgerOptions): Promise<RedisLedger> {
    const client = new Redis(o.url, {
      ...(o.password === null ? {} : { password: o.password }),
      lazyConnect: true,
      // Fail closed and fast: no command waits for a connection (the offline queue would hold
      // requests for as long as the store is down) or is resent after a connection was lost.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: o.commandTimeoutMs ?? COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, RECONNECT_MAX_MS),
      // CLIENT SETINFO is Redis >= 7.2; older servers answer it with an error, logged for nothing.
      disableClientInfo: true,
      scripts: SCRIPTS,
    }) as LedgerClient; // ioredis defines the SCRIPTS commands on the client at runtime.
    const ledger = new RedisLedger(client, o);
    if (o.password === null) o.log('seb: replay store: no password_file; the shared store must require authentication (SPEC §11)');
    // connect() itself only says "Connection is closed"; the refusal comes as an error event.
    let refused: string | null = null;
    const onError = (err: Error): void => {
      if (AUTH_FAILURE.test(err.message)) refused = err.message;
    };
    client.on('error', onError);
    try {
      await client.connect();
    } catch (err) {
      if (refused !== null) {
        client.disconnect();
        throw new Error(`replay.store.redis: the store refused the credentials: ${refused}`);
      }
      o.log(`seb: replay store: not reachable yet (${err instanceof Error ? err.message : String(err)}); uses are denied replay_unavailable until it is`);
    } finally {
      client.off('error', onError);
    }
    return ledger;
  }

  async reserve(key: UseKey, maxUses: number, iat: number, keepUntil: number): Promise<Reservation> {
    if (this.#closed || this.#client.status !== 'ready') throw this.#unavailable(null);
    const use = useKey(key);
    const id = randomUUID();
    const until = Math.ceil(keepUntil);
    let reply: [number, number];
    try {
      reply = await this.#client.sebReserve(use, SINCE_KEY, maxUses, iat, until, this.#store.leaseMs, id);
    } catch (err) {
      // A reserve that timed out may still have run: its reservation lapses after the lease.
      throw this.#unavailable(err);
    }
    const [status, since] = reply;
    if (status === -1) {
      throw new Denial('replay', `the certificate was issued no later than the second the shared replay store began counting (${new Date(since * 1000).toISOString()}); it may have been used already`);
    }
    if (status === 0) throw new Denial('replay', `operation ${key.op} has no uses left`);
    return new RedisReservation(this.#store, use, id, until, key);
  }

  /** For /readyz: connected and authenticated. */
  healthy(): boolean {
    return !this.#closed && this.#client.status === 'ready';
  }

  /** Stops renewals, gives commits still being resent a moment to land, then disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#live].map((r) => r.flushed());
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(pending), new Promise((r) => (timer = setTimeout(r, CLOSE_FLUSH_MS)))]);
      clearTimeout(timer);
    }
    for (const r of [...this.#live]) r.abandon();
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  #note(message: string): void {
    if (message === this.#lastNoted) return;
    this.#lastNoted = message;
    this.#log(`seb: replay store: ${message}`);
  }

  /**
   * The denial for a store that did not answer. A lost connection is already logged by the
   * connection's events; a timeout is logged here. The agent learns which, not the cause.
   */
  #unavailable(err: unknown): Denial {
    const timedOut = err instanceof Error && /timed out/i.test(err.message);
    if (timedOut) this.#note(`no reply within ${this.#timeoutMs} ms`);
    return new Denial(
      'replay_unavailable',
      timedOut ? `the shared replay store did not answer within ${this.#timeoutMs} ms` : 'the shared replay store is not reachable',
    );
  }
}

/**
 * One reserved use. While held it is renewed every third of the lease; commit turns it into a
 * spent use (resent until the store confirms, because the request goes upstream either way);
 * release gives it back.
 */
class RedisReservation implements Reservation {
  #state: 'held' | 'committing' | 'committed' | 'released' = 'held';
  #renew: NodeJS.Timeout | null;
  #retry: NodeJS.Timeout | null = null;
  #commit: Promise<void> | null = null;
  /** Settles when no timer of this reservation is left. */
  readonly #settled: Promise<void>;
  #settle!: () => void;

  constructor(
    private readonly store: Store,
    private readonly use: string,
    private readonly id: string,
    /** Unix seconds; the hash is gone after it, so nothing needs renewing or resending then. */
    private readonly keepUntil: number,
    private readonly key: UseKey,
  ) {
    this.#settled = new Promise<void>((resolve) => (this.#settle = resolve));
    this.#renew = setInterval(() => this.#renewLease(), store.leaseMs / 3).unref();
    store.track(this);
  }

  /**
   * Resolves once the store holds the use as spent; rejects replay_unavailable when the first try
   * fails, so a caller that awaits it can still refuse to forward. Either way the commit is resent
   * until it lands, because a caller that did not wait has forwarded already. The rejection is
   * handled here too: a caller that ignores the promise must not crash the process.
   */
  commit(): Promise<void> {
    if (this.#commit) return this.#commit;
    this.#state = 'committing';
    this.store.track(this);
    this.#commit = this.#sendCommit().catch((err: unknown) => {
      this.#scheduleResend();
      throw this.store.unavailable(err);
    });
    this.#commit.catch(() => undefined);
    return this.#commit;
  }

  release(): void {
    if (this.#state !== 'held') return;
    this.#state = 'released';
    this.#finish();
    // If this fails the use stays taken until the lease lapses: given back late, never lost.
    this.store.client.hdel(this.use, `r:${this.id}`).catch(() => undefined);
  }

  /** close() waits on this: a commit being resent gets its chance, a held reservation none. */
  flushed(): Promise<void> {
    return this.#state === 'committing' ? this.#settled : Promise.resolve();
  }

  /** close(): stops every timer; a commit the store never confirmed is logged. */
  abandon(): void {
    if (this.#state === 'committing') {
      this.store.note(`certificate ${this.key.jti} op ${this.key.op} was forwarded but its commit never reached the store`);
    }
    this.#finish();
  }

  async #sendCommit(): Promise<void> {
    const live = await this.store.client.sebCommit(this.use, this.id, this.keepUntil);
    this.#state = 'committed';
    this.#finish();
    if (live === 0) this.store.note(`certificate ${this.key.jti} op ${this.key.op} was committed after its lease lapsed; it may have run more than max_uses times`);
  }

  #scheduleResend(): void {
    if (this.store.closed() || Date.now() / 1000 > this.keepUntil) return this.abandon();
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#sendCommit().catch(() => this.#scheduleResend());
    }, COMMIT_RETRY_MS).unref();
  }

  #renewLease(): void {
    if (Date.now() / 1000 > this.keepUntil) return this.#finish();
    this.store.client
      .sebRenew(this.use, this.id, this.store.leaseMs)
      .then((renewed) => {
        if (renewed === 0 && this.#state === 'held') this.store.note(`the reservation for certificate ${this.key.jti} op ${this.key.op} lapsed before it was settled`);
      })
      // A store that is down is logged by the connection; the lease covers the gap.
      .catch(() => undefined);
  }

  /** No timer left: renewal and resend stop, close() no longer waits. */
  #finish(): void {
    if (this.#renew) clearInterval(this.#renew);
    if (this.#retry) clearTimeout(this.#retry);
    this.#renew = this.#retry = null;
    this.store.forget(this);
    this.#settle();
  }
}

/** One hash per (iss, jti, op); a digest keeps the key short and free of separators whatever `iss` holds. */
export function useKey(key: UseKey): string {
  return `${KEY_PREFIX}use:${sha256Base64url(JSON.stringify([key.iss, key.jti, key.op]))}`;
}

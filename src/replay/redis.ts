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
import { SCRIPTS } from './redis-scripts.js';
import { persistenceProblems, PERSISTENCE_SETTINGS } from './redis-persistence.js';
import { answerKey, COUNT_KEY, SINCE_KEY, useKey } from './redis-keys.js';
import { RedisReservation, type LedgerClient, type Store } from './redis-reservation.js';
import type { AnswerKey, ReplayLedger, Reservation, UseKey } from './types.js';

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
/** close() waits at most this long for commits still being resent. */
const CLOSE_FLUSH_MS = 2_000;

const AUTH_FAILURE = /WRONGPASS|NOAUTH|NOPERM|invalid password/i;

export interface RedisLedgerOptions {
  /** `redis://` or `rediss://`, without a password (config validation refuses one). */
  readonly url: string;
  readonly password: string | null;
  /** Operational log (stderr): connection changes and lost commits, never a password. */
  readonly log: (line: string) => void;
  /**
   * `replay.store.redis.check_persistence`: refuse a store whose settings can lose acknowledged
   * writes (redis-persistence.ts). Off only for a store whose CONFIG cannot be read or that is
   * meant to be in-memory; a loss is then still caught by the commit count while a broker lives.
   */
  readonly checkPersistence?: boolean;
  readonly leaseMs?: number;
  readonly commandTimeoutMs?: number;
}

/** The store's password from `replay.store.redis.password_file` (one trailing newline dropped). */
export async function readPassword(file: string | null): Promise<string | null> {
  if (file === null) return null;
  return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
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
  /** The highest commit count this broker has seen (redis-scripts.ts): less means lost writes. */
  #mark = 0;
  readonly #checkPersistence: boolean;
  /**
   * Why the connected store must not be used (its persistence can lose writes, or has not been
   * checked yet on this connection); null when it may. Uses are denied replay_unavailable meanwhile.
   */
  #unusable: string | null;
  /** The checks run on the latest (re)connect; open() waits on the first. */
  #connected: Promise<string | null> = Promise.resolve(null);

  private constructor(client: LedgerClient, o: RedisLedgerOptions) {
    this.#client = client;
    this.#timeoutMs = o.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.#log = o.log;
    this.#checkPersistence = o.checkPersistence ?? true;
    this.#unusable = this.#checkPersistence ? 'its persistence has not been checked yet' : null;
    this.#store = {
      client,
      leaseMs: o.leaseMs ?? RESERVATION_LEASE_MS,
      closed: () => this.#closed,
      counted: (count) => {
        if (count > this.#mark) this.#mark = count;
      },
      note: (message) => this.#note(message),
      unavailable: (err) => this.#unavailable(err),
      track: (r) => this.#live.add(r),
      forget: (r) => this.#live.delete(r),
    };
    client.on('error', (err: Error) => this.#note(err.message));
    client.on('close', () => {
      if (!this.#closed) this.#note('the connection closed; reconnecting');
      // The next connection may reach another server (a restart, a failover): check it again.
      if (this.#checkPersistence) this.#unusable = 'its persistence has not been checked yet';
    });
    client.on('ready', () => {
      if (this.#lastNoted !== null) this.#log('seb: replay store: connected again');
      this.#lastNoted = null;
      this.#connected = this.#onConnect();
    });
  }

  /**
   * On every (re)connect: marks the store's memory as starting no later than now and catches a
   * store that came back older (redis-scripts.ts SINCE; the reserve script does both as well, so a
   * failure here only moves them to the first reserve), then checks its persistence. Resolves to
   * why the store must not be used, or null.
   */
  async #onConnect(): Promise<string | null> {
    this.#client
      .sebSince(SINCE_KEY, COUNT_KEY, this.#mark)
      .then(([since, count, lost]) => this.#counted(since, count, lost))
      .catch(() => undefined);
    if (!this.#checkPersistence) return null;
    let problem: string | null;
    try {
      const settings: Record<string, string> = {};
      for (const name of PERSISTENCE_SETTINGS) {
        const [, value] = (await this.#client.call('CONFIG', 'GET', name)) as [string?, string?];
        settings[name] = value ?? '';
      }
      const problems = persistenceProblems(settings);
      problem = problems.length === 0 ? null : `its persistence can lose acknowledged writes: ${problems.join('; ')}`;
    } catch (err) {
      problem = `its persistence could not be checked (CONFIG GET: ${err instanceof Error ? err.message : String(err)})`;
    }
    this.#unusable = problem;
    if (problem !== null) this.#note(`${problem}; uses are denied replay_unavailable (replay.store.redis.check_persistence)`);
    return problem;
  }

  /** A reply with the store's commit count: a count below the mark means it lost writes. */
  #counted(since: number, count: number, lost: number): void {
    if (lost === 1) {
      this.#log(
        `seb: replay store: it lost acknowledged writes (its commit count went back from ${this.#mark} to ${count}); ` +
          `certificates issued no later than ${new Date(since * 1000).toISOString()} are refused`,
      );
      // The store's memory now begins at `since`; counting starts again from what it holds.
      this.#mark = count;
    } else {
      this.#store.counted(count);
    }
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
      return ledger;
    } finally {
      client.off('error', onError);
    }
    // A store that can lose spent uses is a configuration error while it can still stop start-up.
    const problem = await ledger.#connected;
    if (problem !== null) {
      client.disconnect();
      throw new Error(`replay.store.redis: ${problem}; set appendonly yes, appendfsync always and maxmemory-policy noeviction, or check_persistence: false`);
    }
    return ledger;
  }

  async reserve(key: UseKey, maxUses: number, iat: number, keepUntil: number): Promise<Reservation> {
    this.#usable();
    const use = useKey(key);
    const id = randomUUID();
    const until = Math.ceil(keepUntil);
    let reply: [number, number, number, number];
    try {
      reply = await this.#client.sebReserve(use, SINCE_KEY, COUNT_KEY, maxUses, iat, until, this.#store.leaseMs, id, this.#mark);
    } catch (err) {
      // A reserve that timed out may still have run: its reservation lapses after the lease.
      throw this.#unavailable(err);
    }
    const [status, since, count, lost] = reply;
    this.#counted(since, count, lost);
    if (status === -1) {
      throw new Denial('replay', `the certificate was issued no later than the second the shared replay store began counting (${new Date(since * 1000).toISOString()}); it may have been used already`);
    }
    if (status === 0) throw new Denial('replay', `operation ${key.op} has no uses left`);
    return new RedisReservation(this.#store, use, id, until, key);
  }

  /** SPEC §2.2: a relayed value a later op binds to, shared by every replica, gone after `keepUntil`. */
  async remember(key: AnswerKey, value: string, keepUntil: number): Promise<void> {
    this.#usable();
    try {
      await this.#client.set(answerKey(key), value, 'EXAT', Math.ceil(keepUntil));
    } catch (err) {
      throw this.#unavailable(err);
    }
  }

  async recall(key: AnswerKey): Promise<string | null> {
    this.#usable();
    try {
      return await this.#client.get(answerKey(key));
    } catch (err) {
      throw this.#unavailable(err);
    }
  }

  /** Throws replay_unavailable unless the store may be used now. */
  #usable(): void {
    if (this.#closed || this.#client.status !== 'ready') throw this.#unavailable(null);
    if (this.#unusable !== null) throw new Denial('replay_unavailable', `the shared replay store cannot be used: ${this.#unusable}`);
  }

  /** For /readyz: connected, authenticated and (unless turned off) persistent enough. */
  healthy(): boolean {
    return !this.#closed && this.#client.status === 'ready' && this.#unusable === null;
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

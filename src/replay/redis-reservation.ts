/**
 * One use reserved in the shared ledger (redis.ts): renewed while held, committed (resent until the
 * store confirms) or released. The ledger hands each reservation the narrow `Store` view of itself.
 */
import type { Redis } from 'ioredis';
import type { Denial } from '../reasons.js';
import type { LedgerCommands } from './redis-scripts.js';
import { COUNT_KEY } from './redis-keys.js';
import type { Reservation, UseKey } from './types.js';

/** A commit the store did not confirm is resent this often (it is idempotent) until it lands. */
const COMMIT_RETRY_MS = 500;

export type LedgerClient = Redis & LedgerCommands;

/** What a reservation needs of its ledger. */
export interface Store {
  readonly client: LedgerClient;
  readonly leaseMs: number;
  closed(): boolean;
  /** A commit count the store reported: the mark only rises. */
  counted(count: number): void;
  note(message: string): void;
  unavailable(err: unknown): Denial;
  track(r: RedisReservation): void;
  forget(r: RedisReservation): void;
}

/**
 * One reserved use. While held it is renewed every third of the lease; commit turns it into a
 * spent use (resent until the store confirms, because the request goes upstream either way);
 * release gives it back.
 */
export class RedisReservation implements Reservation {
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
    const [live, count] = await this.store.client.sebCommit(this.use, COUNT_KEY, this.id, this.keepUntil);
    this.store.counted(count);
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

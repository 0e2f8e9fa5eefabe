import { Denial } from '../reasons.js';
import type { AnswerKey, ReplayLedger, Reservation, UseKey } from './types.js';

interface Uses {
  taken: number;
  keepUntil: number;
}

/**
 * A copy of `s` that shares no memory with it. The jti is a slice of the certificate's payload
 * text, and a kept slice keeps the whole payload alive until the use expires (exp + skew).
 */
function detached(s: string): string {
  return Buffer.from(s, 'utf16le').toString('utf16le');
}

/** A token is a use of its own, per certificate (SPEC §2.2); NUL cannot occur in a jti or op index. */
function useId(key: UseKey): string {
  return key.token === undefined ? `${key.iss}\u0000${key.jti}\u0000${key.op}` : `${key.iss}\u0000${key.jti}\u0000token\u0000${key.token}`;
}

function answerId(key: AnswerKey): string {
  return `${key.iss}\u0000${key.jti}\u0000${key.op}\u0000${key.source}`;
}

/**
 * Uses this ledger holds at most. A use is kept until its certificate's `exp + skew` and costs about
 * 150 bytes of heap (measured: 143 B with a UUID jti), so this is about 75 MiB. The soak's
 * half-peak rate (~160 certified uses/s, certificates living 900 s) needs ~150,000 at steady state.
 */
export const DEFAULT_MAX_ENTRIES = 500_000;

/**
 * The in-process ledger. It forgets everything on restart, so (SPEC §4) a certificate issued
 * before the second this process started is refused as `replay`: it may have been used already.
 * It is bounded: a live use is never forgotten early (that would let it run again), so when full
 * after dropping the expired ones a new certificate fails closed as `replay_unavailable`.
 */
export class MemoryLedger implements ReplayLedger {
  readonly #uses = new Map<string, Uses>();
  /** Values relayed from answers that later ops bind to (SPEC §2.2), with the same lifetime as uses. */
  readonly #answers = new Map<string, { value: string; keepUntil: number }>();
  readonly #startedAt: number;
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;
  readonly #maxEntries: number;

  constructor(opts: { now?: () => number; sweepMs?: number; maxEntries?: number } = {}) {
    this.#now = opts.now ?? (() => Date.now() / 1000);
    this.#maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#startedAt = Math.floor(this.#now());
    this.#sweep = setInterval(() => this.#forgetExpired(), opts.sweepMs ?? 10_000).unref();
  }

  reserve(key: UseKey, maxUses: number, iat: number, keepUntil: number): Promise<Reservation> {
    if (iat < this.#startedAt) {
      return Promise.reject(new Denial('replay', 'the certificate was issued before this broker started (memory replay store)'));
    }
    const id = detached(useId(key));
    let uses = this.#uses.get(id);
    if (!uses) {
      if (this.#uses.size >= this.#maxEntries) this.#forgetExpired();
      if (this.#uses.size >= this.#maxEntries) {
        return Promise.reject(new Denial('replay_unavailable', `the memory replay store holds ${this.#maxEntries} live uses (its bound)`));
      }
      uses = { taken: 0, keepUntil };
      this.#uses.set(id, uses);
    }
    if (uses.taken >= maxUses) return Promise.reject(new Denial('replay', `operation ${key.op} has no uses left`));
    uses.taken++;
    const entry = uses;
    let settled = false;
    return Promise.resolve({
      commit() {
        settled = true;
        return Promise.resolve();
      },
      release() {
        if (settled) return;
        settled = true;
        entry.taken--;
      },
    });
  }

  remember(key: AnswerKey, value: string, keepUntil: number): Promise<void> {
    const id = detached(answerId(key));
    if (!this.#answers.has(id) && this.#answers.size >= this.#maxEntries) this.#forgetExpired();
    if (!this.#answers.has(id) && this.#answers.size >= this.#maxEntries) {
      return Promise.reject(new Denial('replay_unavailable', `the memory replay store holds ${this.#maxEntries} answers (its bound)`));
    }
    this.#answers.set(id, { value: detached(value), keepUntil });
    return Promise.resolve();
  }

  recall(key: AnswerKey): Promise<string | null> {
    const kept = this.#answers.get(answerId(key));
    return Promise.resolve(kept && kept.keepUntil >= this.#now() ? kept.value : null);
  }

  #forgetExpired(): void {
    const now = this.#now();
    for (const [id, uses] of this.#uses) if (uses.keepUntil < now) this.#uses.delete(id);
    for (const [id, kept] of this.#answers) if (kept.keepUntil < now) this.#answers.delete(id);
  }

  entries(): number {
    return this.#uses.size;
  }

  healthy(): boolean {
    return true;
  }

  close(): Promise<void> {
    clearInterval(this.#sweep);
    return Promise.resolve();
  }
}

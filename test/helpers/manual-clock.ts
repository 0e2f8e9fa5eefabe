/**
 * A Clock (src/lib/clock.ts) that moves only when the test says so: every sleep is kept with the
 * time it asked for, so a test asserts which waits were asked for, in which order, and releases
 * them with `advance`. No test waits on the wall clock.
 */
import type { Clock } from '../../src/lib/clock.js';

interface Sleeper {
  readonly at: number;
  readonly wake: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];
  #waiting: (() => void)[] = [];
  /** Every wait asked for, in order (ms). */
  readonly asked: number[] = [];

  /** `start`: the epoch ms now() answers until time is advanced. */
  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.asked.push(ms);
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper = { at: this.#now + ms, wake: resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener('abort', () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        resolve();
      });
      for (const w of this.#waiting.splice(0)) w();
    });
  }

  /** Sleeps not yet woken. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** Resolves once at least `count` sleeps are pending (the code under test reached its wait). */
  async sleeping(count = 1): Promise<void> {
    while (this.#sleepers.length < count) await new Promise<void>((r) => this.#waiting.push(r));
  }

  /** Moves time on by `ms`, waking every sleep due by then, earliest first. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.wake();
  }
}

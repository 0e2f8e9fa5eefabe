/**
 * Reconnect delays for the authority sources: exponential with full jitter ("Exponential Backoff
 * And Jitter", AWS Architecture Blog, 2015), so brokers that lost their source together do not all
 * come back in the same instant and knock it over again. The cap is short because it is also how
 * long a broker can stay stale (denying every mutation) after its source is back; a thousand
 * brokers at the cap still ask only about 400 times a second between them.
 */
const BASE_MS = 100;
const MAX_MS = 5_000;

export class Backoff {
  #attempt = 0;

  /** The next delay in ms: uniform in [0, min(MAX_MS, BASE_MS * 2^attempt)). */
  next(): number {
    const cap = Math.min(MAX_MS, BASE_MS * 2 ** this.#attempt);
    if (cap < MAX_MS) this.#attempt++;
    return Math.random() * cap;
  }

  /** After a success: the next failure waits little again. */
  reset(): void {
    this.#attempt = 0;
  }
}

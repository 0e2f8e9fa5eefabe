/**
 * Time as a parameter: modules that wait (poll intervals, backoff, start-up deadlines) take a Clock,
 * so tests drive them with a manual clock and assert the order of events, never a duration.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  now(): number;
  /** Waits `ms`, or less when `signal` aborts; never rejects, never keeps the process alive on its own. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, { ref: false, ...(signal ? { signal } : {}) }).catch(() => undefined),
};

/**
 * Calls `fn` once `ms` have passed on `clock`, unless the returned cancel is called first: the
 * Clock form of an unref'd setTimeout/clearTimeout pair.
 */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  const wait = new AbortController();
  void clock.sleep(ms, wait.signal).then(() => {
    if (!wait.signal.aborted) fn();
  });
  return () => wait.abort();
}

/**
 * Calls `fn` every `ms` on `clock`, the first time `ms` from now, whatever the last call took, until
 * the returned cancel is called: the Clock form of an unref'd setInterval/clearInterval pair.
 */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let cancel = (): void => {};
  const next = (): void => {
    cancel = after(clock, ms, () => {
      next();
      fn();
    });
  };
  next();
  return () => cancel();
}

/**
 * A minimum transfer rate for answers that end (issue 11 §3). undici's `bodyTimeout` counts only
 * the gap between two chunks, so a client that reads 1 KiB a second holds its upstream connection
 * for as long as the object lasts: 130 such readers filled the pool. The relay pipes the upstream
 * body into the client with back-pressure, so bytes leaving the upstream body are bytes the client
 * took; in every window of `limits.request_timeout` after the head at least `limits.min_read_rate`
 * bytes a second must move, or the relay is cut and its place freed.
 *
 * Long-running requests (watch, logs -f) are exempt: they are idle by nature and bounded by their
 * own lane, their certificate and limits.max_stream.
 */
import type { Readable } from 'node:stream';
import { realTimer, type StartTimer } from './lanes.js';

/** Why the relay was cut: the outcome record's error. */
export const TOO_SLOW = 'closed: the answer moved slower than limits.min_read_rate';

/**
 * Watches `body` from now until it ends or is destroyed. `onSlow` runs once, when a window moved
 * too little; the body is destroyed (which cancels the upstream request). Returns a stop function.
 */
export function guardRate(body: Readable, minBytesPerSecond: number, windowMs: number, onSlow: () => void, timer: StartTimer = realTimer): () => void {
  if (minBytesPerSecond <= 0) return () => {};
  const needed = (minBytesPerSecond * windowMs) / 1000;
  let moved = 0;
  let cancel: () => void = () => {};
  const count = (chunk: Buffer): void => {
    moved += chunk.length;
  };
  const stop = (): void => {
    cancel();
    body.off('data', count);
  };
  const check = (): void => {
    if (moved < needed) {
      stop();
      onSlow();
      body.destroy(new Error(TOO_SLOW));
      return;
    }
    moved = 0;
    cancel = timer(windowMs, check);
  };
  body.on('data', count);
  body.once('close', stop);
  cancel = timer(windowMs, check);
  return stop;
}

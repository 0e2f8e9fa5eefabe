/**
 * Authority state from an HTTP URL (SPEC §6 "Sources": long-poll or server-sent events, with poll
 * as fallback). Every request offers the server both ways (`Accept: text/event-stream,
 * application/jose`) and the answer's type decides:
 *
 * - `text/event-stream`: push. Each `message` event's data is one state, and the server sends its
 *   current state first. The stream stays open; when it ends, fails, or is silent for IDLE_MS (send
 *   `:` comments as heartbeats), it is opened again after a backoff.
 * - anything else: the body is the state, and the broker polls: one request every POLL_MS, timed
 *   from the start of the last one, with If-None-Match (304: unchanged) and `Prefer: wait=`
 *   (RFC 7240). A server that holds such a request until the state changes says so
 *   (`Preference-Applied: wait=`): that is long-poll, push too, and after each new state (a new
 *   ETag) it is asked again at once. A server that answers at once is polled.
 *
 * https, or http to a loopback host (config/sections.ts); redirects are not followed. Failures
 * (connection, status, timeouts, bodies over MAX_STATE_BYTES) are reported and retried with backoff;
 * the current state stays in force until it goes stale, and then requests fail closed.
 */
import { Agent, request } from 'undici';
import { MAX_STATE_BYTES } from './state.js';
import { Backoff } from './backoff.js';
import { SYSTEM_CLOCK, type Clock } from '../lib/clock.js';
import type { AuthoritySource, Problem, StateSink } from './source-types.js';
import { SseReader } from './sse.js';

/** Plain polling: a revocation reaches the broker within this long. */
export const POLL_MS = 1000;
/** How long a long-poll server may hold a request (`Prefer: wait`). */
const WAIT_SECONDS = 30;
/** A stream with no bytes (events or heartbeats) for this long is presumed dead. */
const IDLE_MS = 60_000;
/** Start-up waits this long for the first state, so the broker is ready at once when the source is up. */
export const FIRST_STATE_MS = 5000;
/** A server asking for a longer pause than this is asked again after this long anyway. */
const MAX_RETRY_AFTER_MS = 30_000;
const ACCEPT = 'text/event-stream, application/jose;q=0.9, */*;q=0.1';

export interface UrlSourceOptions {
  /** Times the poll interval, backoff and the start-up wait; tests pass a manual clock. */
  readonly clock?: Clock;
}

export async function watchAuthorityUrl(url: string, sink: StateSink, problem: Problem, options: UrlSourceOptions = {}): Promise<AuthoritySource> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const parsed = new URL(url);
  // Never log a query or userinfo: either may hold a token.
  const where = `authority url ${parsed.origin}${parsed.pathname}`;
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 2 });
  const stop = new AbortController();
  const backoff = new Backoff();
  let etag: string | null = null;
  let settle!: () => void;
  const firstSettled = new Promise<void>((resolve) => (settle = resolve));

  async function offer(text: string): Promise<void> {
    backoff.reset();
    await sink.offer(text.trim());
    settle();
  }

  /**
   * One request: 'stream' when it was an event stream (now ended); 'again' when a long-poll server
   * answered with a new state (ask again at once); 'poll' otherwise (ask again at the next tick).
   */
  async function once(): Promise<'stream' | 'again' | 'poll'> {
    const sent = etag;
    const headers: Record<string, string> = { accept: ACCEPT, prefer: `wait=${WAIT_SECONDS}` };
    if (sent !== null) headers['if-none-match'] = sent;
    const answer = await request(url, {
      dispatcher,
      signal: stop.signal,
      headers,
      headersTimeout: (WAIT_SECONDS + 15) * 1000,
      bodyTimeout: IDLE_MS,
    });
    if (answer.statusCode === 304 && sent !== null) {
      await answer.body.dump();
      backoff.reset();
      settle();
      return 'poll';
    }
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      throw new RefusedAnswer(answer.statusCode, retryAfterMs(answer.headers['retry-after']));
    }
    const type = String(answer.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    if (type === 'text/event-stream') {
      const reader = new SseReader(MAX_STATE_BYTES);
      const decoder = new TextDecoder();
      for await (const chunk of answer.body) {
        for (const data of reader.push(decoder.decode(chunk as Buffer, { stream: true }))) await offer(data);
      }
      return 'stream';
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // Leaving the loop early destroys the body, so an oversized one is not read to its end.
    for await (const chunk of answer.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_STATE_BYTES) break;
      chunks.push(chunk as Buffer);
    }
    if (size > MAX_STATE_BYTES) throw new Error(`the state is over ${MAX_STATE_BYTES} bytes`);
    const tag = answer.headers['etag'];
    const holds = /\bwait\b/i.test(String(answer.headers['preference-applied'] ?? ''));
    // Each ETag is offered once: a refused state is not fetched again until the server changes it.
    etag = typeof tag === 'string' ? tag : null;
    await offer(Buffer.concat(chunks).toString('utf8'));
    // Only a server that holds requests, after a state with a new ETag, is asked again at once: a
    // plain one, or one that ignores If-None-Match, would be asked in a loop.
    return holds && etag !== null && etag !== sent ? 'again' : 'poll';
  }

  void (async () => {
    while (!stop.signal.aborted) {
      const started = clock.now();
      let wait: number;
      try {
        const outcome = await once();
        wait = outcome === 'poll' ? Math.max(0, started + POLL_MS - clock.now()) : outcome === 'again' ? 0 : backoff.next();
      } catch (err) {
        if (stop.signal.aborted) break;
        problem(`${where}: ${(err as Error).message}`);
        settle();
        // A server that says when to come back (503 before its first state) is believed, so a
        // broker started before its SAB picks the first state up within that delay.
        wait = err instanceof RefusedAnswer && err.retryAfterMs !== null ? err.retryAfterMs : backoff.next();
      }
      await clock.sleep(wait, stop.signal);
    }
  })();

  await Promise.race([firstSettled, clock.sleep(FIRST_STATE_MS, stop.signal)]);
  return {
    async close() {
      stop.abort();
      await dispatcher.destroy();
    },
  };
}

class RefusedAnswer extends Error {
  constructor(
    status: number,
    readonly retryAfterMs: number | null,
  ) {
    super(`HTTP ${status}`);
  }
}

/** `Retry-After` in delta-seconds (the form servers send for 503), capped; null when absent or another form. */
function retryAfterMs(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value.trim())) return null;
  return Math.min(Number(value.trim()) * 1000, MAX_RETRY_AFTER_MS);
}

/**
 * SPEC §4: a long-lived request (watch, logs -f, exec, attach, port-forward, proxy) is closed when
 * its certificate expires or is revoked, when the authority state goes stale, or after
 * limits.max_stream; the outcome record says why.
 */
import { Denial } from '../reasons.js';
import type { Authority } from '../authority/state.js';
import type { Certificate } from '../certificate/types.js';

/** How often an open stream's certificate and authority are checked again. */
const CHECK_MS = 250;

export class StreamGuard {
  /** The closer of each long-lived request still open (closeAll ends them at shutdown). */
  readonly #open = new Set<(why: string) => void>();
  readonly #maxStreamMs: number;

  constructor(
    readonly authority: Authority,
    maxStream: number,
    readonly skew: number,
  ) {
    this.#maxStreamMs = maxStream * 1000;
  }

  /** Calls `close(why)` once the request may no longer run; the returned function stops watching. */
  watch(cert: Certificate | null, close: (why: string) => void): () => void {
    const { authority, skew } = this;
    const deadline = Date.now() + this.#maxStreamMs;
    const timer = setInterval(() => {
      let why: string | null = null;
      if (Date.now() >= deadline) why = 'closed after limits.max_stream';
      else if (cert) {
        try {
          if (Date.now() / 1000 >= cert.exp + skew) throw new Denial('expired');
          authority.check(cert);
        } catch (err) {
          why = `closed: ${err instanceof Denial ? err.code : String(err)}`;
        }
      } else if (!authority.fresh()) why = 'closed: authority_stale';
      if (why) end(why);
    }, CHECK_MS);
    const end = (why: string): void => {
      clearInterval(timer);
      this.#open.delete(end);
      close(why);
    };
    this.#open.add(end);
    timer.unref();
    return () => {
      clearInterval(timer);
      this.#open.delete(end);
    };
  }

  /** Shutdown: closes every open watch, follow and tunnel now, with `why` as the reason. */
  closeAll(why: string): void {
    for (const end of [...this.#open]) end(why);
  }
}

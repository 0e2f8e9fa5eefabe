/**
 * Says a republish was missed long before the state expires (issue 11 §6): a state past half its
 * max_age means the SAB (or the source) fell behind, while certified requests still pass. Logged
 * once per state when it passes half its max_age and once when it expires; the same condition is
 * the `seb_authority_overdue` gauge (server/metrics.ts).
 */
import type { AuthoritySnapshot } from './state.js';

/** How often the broker checks; a few seconds is early enough against a max_age of minutes. */
export const FRESHNESS_CHECK_MS = 5_000;

export type Freshness = 'none' | 'fresh' | 'overdue' | 'stale';

/** Where a state of this age stands: overdue past half its max_age, stale past all of it. */
export function freshness(state: AuthoritySnapshot | null, now: number): Freshness {
  if (state === null) return 'none';
  const age = now - state.iat;
  if (age > state.max_age) return 'stale';
  return age > state.max_age / 2 ? 'overdue' : 'fresh';
}

export class FreshnessWatch {
  readonly #view: { snapshot(): AuthoritySnapshot | null };
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  /** The last seq and freshness logged, so each state warns once per step. */
  #said = '';

  constructor(view: { snapshot(): AuthoritySnapshot | null }, opts: { now?: () => number; log: (line: string) => void }) {
    this.#view = view;
    this.#now = opts.now ?? (() => Date.now() / 1000);
    this.#log = opts.log;
  }

  check(): Freshness {
    const state = this.#view.snapshot();
    const now = this.#now();
    const f = freshness(state, now);
    if (state === null || f === 'fresh') return f;
    const key = `${state.seq}:${f}`;
    if (key === this.#said) return f;
    this.#said = key;
    const age = Math.round(now - state.iat);
    this.#log(
      f === 'overdue'
        ? `seb: warning: authority state seq ${state.seq} is ${age} s old, past half its max_age ${state.max_age} s: a republish was missed; certified requests fail as authority_stale in ${Math.round(state.iat + state.max_age - now)} s`
        : `seb: authority state seq ${state.seq} expired (${age} s old, max_age ${state.max_age} s): every certified request fails as authority_stale until a fresh state arrives`,
    );
    return f;
  }
}

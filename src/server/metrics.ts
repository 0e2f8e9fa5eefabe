/** Prometheus metrics for the admin listener (SPEC §1). One registry per broker. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuthoritySnapshot } from '../authority/state.js';
import { STAGES, type Stage } from './stages.js';
import { freshness } from '../authority/freshness-watch.js';

export { STAGES, type Stage };

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'seb_requests_total',
    help: 'Requests by target, decision and reason',
    labelNames: ['target', 'decision', 'reason'] as const,
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'seb_stage_seconds',
    help: 'Time spent in each admission stage',
    labelNames: ['target', 'stage'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly mintCache = new Counter({
    name: 'seb_mint_cache_total',
    help: 'Scoped identity lookups by result (hit or miss)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly authoritySourceErrors = new Counter({
    name: 'seb_authority_source_errors_total',
    help: 'Failures to fetch the authority state (unreachable, bad status, missing key, ...), by source',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly trustRefreshErrors = new Counter({
    name: 'seb_trust_refresh_errors_total',
    help: 'Failed refreshes of an issuer JWKS (the current keys stay), by issuer',
    labelNames: ['iss'] as const,
    registers: [this.registry],
  });
  #authority: AuthorityView | null = null;
  #ledger: { entries?(): number } | null = null;

  constructor() {
    // Process CPU, memory, heap and event-loop lag, under the standard names operators chart.
    collectDefaultMetrics({ register: this.registry });
    // Read at scrape time: the age is exact when scraped, and no timer has to keep it current.
    const view = () => this.#authority;
    new Gauge({
      name: 'seb_authority_seq',
      help: 'Sequence number of the current authority state (-1: none yet)',
      registers: [this.registry],
      collect() {
        this.set(view()?.snapshot()?.seq ?? -1);
      },
    });
    new Gauge({
      name: 'seb_authority_age_seconds',
      help: 'Age of the current authority state (+Inf: none yet); stale when over its max_age',
      registers: [this.registry],
      collect() {
        const s = view()?.snapshot();
        this.set(s ? Math.max(0, Date.now() / 1000 - s.iat) : Infinity);
      },
    });
    new Gauge({
      name: 'seb_authority_max_age_seconds',
      help: 'max_age of the current authority state',
      registers: [this.registry],
      collect() {
        const s = view()?.snapshot();
        if (s) this.set(s.max_age);
      },
    });
    new Gauge({
      name: 'seb_authority_overdue',
      help: 'Whether the current authority state is past half its max_age (a republish was missed) or none is in force: 1 or 0',
      registers: [this.registry],
      collect() {
        const f = freshness(view()?.snapshot() ?? null, Date.now() / 1000);
        this.set(f === 'fresh' ? 0 : 1);
      },
    });
    const ledger = () => this.#ledger;
    new Gauge({
      name: 'seb_replay_entries',
      help: 'Uses the in-process (memory) replay ledger holds, each until its certificate exp + skew; bounded, full fails closed',
      registers: [this.registry],
      collect() {
        const entries = ledger()?.entries?.();
        if (entries !== undefined) this.set(entries);
      },
    });
    new Counter({
      name: 'seb_authority_refused_total',
      help: 'Authority states refused (bad signature, wrong issuer, rollback, future iat, max_age over the cap, ...)',
      registers: [this.registry],
      collect() {
        // The Authority keeps the count (it alone decides); mirror it.
        this.reset();
        this.inc(view()?.rejected ?? 0);
      },
    });
  }

  /** The replay ledger whose size `seb_replay_entries` reports (the memory ledger has one). */
  observeLedger(ledger: { entries?(): number }): void {
    this.#ledger = ledger;
  }

  /** The authority whose state the authority gauges report. */
  observeAuthority(authority: AuthorityView): void {
    this.#authority = authority;
  }
}

/** What the authority gauges read (authority/state.ts Authority). */
export interface AuthorityView {
  snapshot(): AuthoritySnapshot | null;
  readonly rejected: number;
}

/** Stage timings of one request, for `Server-Timing` and the stage histogram. */
export class StageClock {
  readonly #spent: Partial<Record<Stage, number>> = {};
  #mark = performance.now();

  /** Starts timing from now (the stage before was not one we measure). */
  reset(): void {
    this.#mark = performance.now();
  }

  /** Charges the time since the last mark to `stage`. */
  lap(stage: Stage): void {
    const now = performance.now();
    this.#spent[stage] = (this.#spent[stage] ?? 0) + (now - this.#mark);
    this.#mark = now;
  }

  header(): string {
    let out = '';
    for (const stage of STAGES) {
      const ms = this.#spent[stage];
      if (ms !== undefined) out += `${out ? ', ' : ''}${stage};dur=${ms.toFixed(3)}`;
    }
    return out;
  }

  observe(metrics: Metrics, target: string): void {
    for (const stage of STAGES) {
      const ms = this.#spent[stage];
      if (ms !== undefined) metrics.stageSeconds.observe({ target, stage }, ms / 1000);
    }
  }
}

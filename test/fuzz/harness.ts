/**
 * How every fuzz property runs: case count and seed from the environment, a time bound on each case,
 * and one line per property for bench/fuzz.mjs.
 *
 * - `SEB_FUZZ_RUNS`: cases per property (default DEFAULT_RUNS, small enough for `npm test`;
 *   `npm run fuzz` sets 100000).
 * - `SEB_FUZZ_SEED`: replay a failure (the report names the seed and path to shrink along).
 * - `SEB_FUZZ_REPORT`: a file that gets one JSON line per property (target, property, cases,
 *   failed, seed, ms).
 */
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import type { Test } from 'tap';
import { Denial, type ReasonCode } from '../../src/reasons.js';

/** Per property in `npm test`: all fuzz files together stay well under a minute on 2 cores. */
export const DEFAULT_RUNS = 300;
/**
 * A parser that takes longer than this on one case is as good as hung (catastrophic backtracking);
 * generous, because the machine running the tests may be busy.
 */
export const CASE_MS = 10_000;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return n;
}

/** fast-check seeds are any 32-bit integer, negative ones included. */
function seedFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n !== (n | 0)) throw new Error(`SEB_FUZZ_SEED must be a 32-bit integer, not ${raw}`);
  return n;
}

export const RUNS = envInt('SEB_FUZZ_RUNS', DEFAULT_RUNS);
const SEED = seedFromEnv(process.env['SEB_FUZZ_SEED']);
const PATH = process.env['SEB_FUZZ_PATH'] || undefined;
const REPORT = process.env['SEB_FUZZ_REPORT'] || undefined;

type AnyProperty = fc.IRawProperty<unknown[], boolean>;

/** Runs `prop` RUNS times and makes one tap assertion of it, naming the seed to replay it with. */
export async function check(t: Test, target: string, name: string, prop: AnyProperty): Promise<void> {
  const started = performance.now();
  const details = await fc.check(prop, {
    numRuns: RUNS,
    ...(SEED !== undefined ? { seed: SEED } : {}),
    ...(PATH !== undefined ? { path: PATH } : {}),
    // Async properties are bounded per case by fast-check itself; sync ones by timed() below.
    timeout: CASE_MS,
  } as fc.Parameters<unknown[]>);
  const ms = Math.round(performance.now() - started);
  if (REPORT !== undefined) {
    const line = { target, property: name, cases: details.numRuns, failed: details.failed, seed: details.seed, path: details.counterexamplePath, ms };
    appendFileSync(REPORT, JSON.stringify(line) + '\n');
  }
  t.ok(!details.failed, `${target}: ${name} (${details.numRuns} cases, seed ${details.seed})`, {
    diagnostic: details.failed,
    ...(details.failed ? { report: fc.defaultReportMessage(details) } : {}),
  });
}

/** Runs `fn` and fails the case when it takes longer than CASE_MS: a sync parser cannot be interrupted. */
export function timed<T>(fn: () => T): T {
  const started = performance.now();
  const out = fn();
  const ms = performance.now() - started;
  if (ms > CASE_MS) throw new Error(`one case took ${Math.round(ms)} ms (bound ${CASE_MS} ms)`);
  return out;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: ReasonCode; readonly denial: Denial };

/**
 * The result of `fn`, or the typed denial it threw. Anything else it throws (a TypeError, a
 * RangeError from a regex, a crash) propagates and fails the property: parsers deny, never crash.
 */
export function outcome<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: timed(fn) };
  } catch (err) {
    if (err instanceof Denial) return { ok: false, code: err.code, denial: err };
    throw err;
  }
}

/** Like outcome() for an async function (no per-call bound: fast-check's timeout covers the case). */
export async function outcomeAsync<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof Denial) return { ok: false, code: err.code, denial: err };
    throw err;
  }
}

/**
 * Counts how many generated cases reached the interesting branch, so a property cannot pass
 * vacuously because its generator only ever produced refusals.
 */
export class Coverage {
  readonly #counts = new Map<string, number>();
  hit(what: string): void {
    this.#counts.set(what, (this.#counts.get(what) ?? 0) + 1);
  }
  count(what: string): number {
    return this.#counts.get(what) ?? 0;
  }
}

/** How one target captures, decides and mutates requests, for `admitsExactly`. */
export interface ContractTarget<R, M, Op> {
  capture(r: R): Op;
  decide(op: Op, r: R): Outcome<unknown>;
  mutate(r: R, m: M): R;
  /** Equal exactly when the upstream would read the two requests as the same call. */
  fingerprint(r: R): string;
  /** A mutation that only respells the call: the broker must still admit it. */
  isSpellingOnly(m: M): boolean;
  show(r: R): string;
}

/**
 * The contract property: the op captured from a request admits that request, and after any of
 * `mutations` it admits the result only if it is the same call (and always admits a respelling).
 */
export function admitsExactly<R, M, Op>(target: ContractTarget<R, M, Op>, cov: Coverage, r: R, mutations: readonly M[]): boolean {
  const base = outcome(() => target.capture(r));
  if (!base.ok) {
    cov.hit('refused');
    return true;
  }
  cov.hit('captured');
  const op = base.value;
  const own = target.decide(op, r);
  if (!own.ok) throw new Error(`the captured op does not admit its own request: ${own.denial.message}`);
  const fp = target.fingerprint(r);
  for (const m of mutations) {
    const changed = target.mutate(r, m);
    const got = target.decide(op, changed);
    const same = target.fingerprint(changed) === fp;
    if (got.ok && !same) throw new Error(`admitted a different call after ${JSON.stringify(m)}: ${target.show(changed)}`);
    if (got.ok) cov.hit('admitted');
    if (same && target.isSpellingOnly(m) && !got.ok) throw new Error(`refused a respelling of the certified call after ${JSON.stringify(m)}: ${got.denial.message}`);
  }
  return true;
}

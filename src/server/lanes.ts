/**
 * Upstream capacity by class of request (issue 11 §3). Certificate-free reads once filled the one
 * shared pool (64 watches against the apiserver, 130 slow S3 downloads against AWS) and a
 * certified mutation then waited for a connection that never came. Each class now has its own
 * lane: a cap on requests in flight (`limits.concurrent_*`, per listener) and, for requests that go
 * through undici, its own pool of exactly that many connections, so one class can never take
 * another's connections and undici never queues a request out of sight.
 *
 * A request waits for a place in its lane (first come, first served) for no longer than what is
 * left of `limits.request_timeout`; then it is answered 503 without being sent (NoCapacity).
 */
import { Agent, type Dispatcher } from 'undici';
import type { Config } from '../config/types.js';

/**
 * `certified`: admitted requests that end with their answer; `certified_streams`: admitted
 * long-running ones (exec, attach, port-forward, proxy, a certified watch or follow); `reads` and
 * `read_streams`: the same split for certificate-free reads (SPEC §7).
 */
export type LaneName = 'certified' | 'certified_streams' | 'reads' | 'read_streams';

/** Starts a timer; the returned function cancels it. Injected so tests drive time themselves. */
export type StartTimer = (ms: number, fire: () => void) => () => void;

export const realTimer: StartTimer = (ms, fire) => {
  const timer = setTimeout(fire, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/** No place in the lane came free in time: nothing was sent upstream. */
export class NoCapacity extends Error {
  override readonly name = 'NoCapacity';
  constructor(readonly lane: LaneName) {
    super(`no place free in the ${lane} lane within limits.request_timeout`);
  }
}

/** A held place in a lane: its pool, and `release` (idempotent) once the request has ended. */
export interface Slot {
  readonly dispatcher: Dispatcher;
  release(): void;
}

/** A counting gate with a FIFO of waiters, each with its own deadline. */
export class Gate {
  #free: number;
  readonly #waiting: { grant: () => void }[] = [];
  constructor(
    readonly size: number,
    private readonly timer: StartTimer = realTimer,
  ) {
    this.#free = size;
  }

  /** Requests holding a place now (the lane's gauge). */
  get inUse(): number {
    return this.size - this.#free;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves with the release of a place; rejects after `waitMs` without one. */
  acquire(waitMs: number): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: (): void => {
          cancel();
          resolve(this.#releaser());
        },
      };
      const cancel = this.timer(Math.max(0, waitMs), () => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(new Error('timed out'));
      });
      this.#waiting.push(waiter);
    });
  }

  #releaser(): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // The place passes straight to the longest waiter, so a newcomer cannot overtake it.
      const next = this.#waiting.shift();
      if (next) next.grant();
      else this.#free++;
    };
  }
}

export interface LaneOptions {
  /** undici connect options (the apiserver's CA and client certificate). */
  readonly connect?: Agent.Options['connect'];
  readonly timer?: StartTimer;
}

/** One listener's lanes: a gate and a lazily made pool per class. */
export class Lanes {
  readonly #gates: Record<LaneName, Gate>;
  readonly #pools = new Map<LaneName, Agent>();
  readonly #connect: Agent.Options['connect'] | undefined;

  constructor(limits: Config['limits'], o: LaneOptions = {}) {
    const timer = o.timer ?? realTimer;
    this.#connect = o.connect;
    this.#gates = {
      certified: new Gate(limits.concurrent_certified, timer),
      certified_streams: new Gate(limits.concurrent_certified_streams, timer),
      reads: new Gate(limits.concurrent_reads, timer),
      read_streams: new Gate(limits.concurrent_read_streams, timer),
    };
  }

  static laneOf(certified: boolean, longRunning: boolean): LaneName {
    if (certified) return longRunning ? 'certified_streams' : 'certified';
    return longRunning ? 'read_streams' : 'reads';
  }

  /** A place in `lane`, waiting at most until `deadline` (performance.now() time); NoCapacity if none. */
  async acquire(lane: LaneName, deadline: number): Promise<Slot> {
    const gate = this.#gates[lane];
    let release: () => void;
    try {
      release = await gate.acquire(deadline - performance.now());
    } catch {
      throw new NoCapacity(lane);
    }
    // A tunnel (exec, attach, port-forward) holds a place but opens its own connection: its lane's pool is never made.
    const pool = (): Agent => this.#pool(lane, gate.size);
    return {
      get dispatcher() {
        return pool();
      },
      release,
    };
  }

  /** Requests in flight per lane, for /metrics. */
  inUse(): Record<LaneName, number> {
    const g = this.#gates;
    return { certified: g.certified.inUse, certified_streams: g.certified_streams.inUse, reads: g.reads.inUse, read_streams: g.read_streams.inUse };
  }

  #pool(lane: LaneName, size: number): Agent {
    let pool = this.#pools.get(lane);
    if (!pool) {
      pool = new Agent({ keepAliveTimeout: 30_000, connections: size, ...(this.#connect ? { connect: this.#connect } : {}) });
      this.#pools.set(lane, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}

/**
 * Graceful stop of one agent-facing listener: stop accepting connections, let the requests in
 * flight finish until a deadline, then cut whatever is left. A cut request still gets its outcome
 * record: its handler sees the connection close and records the error.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../lib/clock.js';

/** How often a draining listener closes the keep-alive connections that went idle meanwhile. */
export const POLL_MS = 50;
/** After a cut, how long to wait for the destroyed connections to be reported closed. */
export const CUT_WAIT_MS = 1_000;

/**
 * The system clock, except that its waits hold the process (SYSTEM_CLOCK's do not): shutdown
 * writes the end record after the drain, so a drain must not let the process exit under it.
 */
const HOLDING_CLOCK: Clock = { now: () => Date.now(), sleep: (ms) => delay(ms) };

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export class ListenerDrain {
  readonly #server: Server | HttpsServer;
  readonly #clock: Clock;
  readonly #responses = new Set<ServerResponse>();
  /** Upgrade sockets (exec, attach, port-forward): Node detaches them from the server's own count. */
  readonly #upgrades = new Set<Duplex>();
  #deadline = Infinity;
  #draining: Promise<boolean> | null = null;

  constructor(server: Server | HttpsServer, clock: Clock = HOLDING_CLOCK) {
    this.#server = server;
    this.#clock = clock;
  }

  /** Wraps a request handler so its response is counted until it closes. */
  requests(handler: RequestHandler): RequestHandler {
    return (req, res) => {
      // While draining, a request that arrives on a kept-alive connection is still served, but
      // the connection ends after it, so no client keeps the listener open past the drain.
      if (this.#draining) res.setHeader('connection', 'close');
      this.#responses.add(res);
      res.once('close', () => this.#responses.delete(res));
      handler(req, res);
    };
  }

  /** Wraps an upgrade handler so its socket (and the tunnel it becomes) is counted until it closes. */
  upgrades(handler: UpgradeHandler): UpgradeHandler {
    return (req, socket, head) => {
      this.#upgrades.add(socket);
      socket.once('close', () => this.#upgrades.delete(socket));
      handler(req, socket, head);
    };
  }

  /**
   * Stops accepting and waits until nothing is in flight, or cuts everything at `deadline`
   * (epoch ms). Resolves true when it drained cleanly. Repeated calls share one drain; a
   * closer deadline (a second signal) brings the cut forward.
   */
  drain(deadline: number): Promise<boolean> {
    this.#deadline = Math.min(this.#deadline, deadline);
    this.#draining ??= this.#run();
    return this.#draining;
  }

  async #run(): Promise<boolean> {
    let closed = false;
    this.#server.close(() => (closed = true));
    const quiet = (): boolean => closed && this.#responses.size === 0 && this.#upgrades.size === 0;
    const clock = this.#clock;
    while (!quiet()) {
      if (clock.now() >= this.#deadline) {
        this.#server.closeAllConnections();
        for (const socket of this.#upgrades) socket.destroy();
        const until = clock.now() + CUT_WAIT_MS;
        while (!quiet() && clock.now() < until) await clock.sleep(POLL_MS / 5);
        return false;
      }
      // A response that finished leaves its keep-alive connection idle; close those.
      this.#server.closeIdleConnections();
      await clock.sleep(Math.min(POLL_MS, Math.max(0, this.#deadline - clock.now())));
    }
    return true;
  }
}

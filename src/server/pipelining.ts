/**
 * HTTP/1.1 pipelining on an agent listener. Node parses every request a client pipelines on one
 * connection as soon as the bytes arrive and would run their handlers side by side, while their
 * answers go out in order. Here a connection's requests are handled one after another: a request
 * waits until the one before it has been answered, each gets its own decision (no request rides
 * on another's certificate), and when that answer closed the connection (a denial before the body
 * does, SPEC §3) the waiting request is dropped unread, as RFC 9112 §9.3.2 lets a server do: it is
 * never executed, since its answer could not reach the client, and the client resends it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

interface Connection {
  /** Requests whose response has not closed yet, the one being handled included. */
  unanswered: number;
  /** Handlers waiting for the requests before them, in order. */
  readonly waiting: (() => void)[];
  latest: IncomingMessage;
}

export class ConnectionQueues {
  readonly #connections = new WeakMap<Duplex, Connection>();

  requests(handler: RequestHandler): RequestHandler {
    return (req, res) => {
      const socket = req.socket;
      let c = this.#connections.get(socket);
      if (c === undefined) this.#connections.set(socket, (c = { unanswered: 0, waiting: [], latest: req }));
      const connection = c;
      connection.latest = req;
      // Checked when its turn comes: the answer before it may have closed the connection.
      const run = (): void => {
        if (socket.writable && !socket.destroyed) handler(req, res);
        else res.destroy();
      };
      res.once('close', () => {
        connection.unanswered--;
        connection.waiting.shift()?.();
      });
      if (connection.unanswered++ === 0) run();
      else connection.waiting.push(run);
    };
  }

  /** Whether a request on `socket` is still waiting for its answer: bytes written now would be taken for it. */
  busy(socket: Duplex): boolean {
    return (this.#connections.get(socket)?.unanswered ?? 0) > 0;
  }

  /** The connection's latest request while its body is still arriving, else null. */
  receiving(socket: Duplex): IncomingMessage | null {
    const req = this.#connections.get(socket)?.latest;
    return req !== undefined && !req.complete ? req : null;
  }
}

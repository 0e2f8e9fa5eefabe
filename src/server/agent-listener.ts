/**
 * What every agent-facing listener enforces before a request reaches a handler (SPEC §1, §3): how
 * long a request head may take, how many header fields and connections there may be, and how a
 * request Node's parser refuses is answered. The agent controls every byte and every connection it
 * opens; none of these may let it hold the broker's time or memory without bound.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { MAX_HEADER_FIELDS } from './hygiene.js';
import { refuseBody } from './body.js';
import type { ConnectionQueues } from './pipelining.js';

/** SPEC §1: request heads up to 64 KiB (a certificate alone may be 16 KiB). */
export const MAX_HEADER_BYTES = 64 * 1024;
/**
 * A client sends its request head in one go; one that trickles it in (slowloris) is cut after this
 * long. Also the bound on a TLS handshake and on a connection that never sends a byte.
 */
export const HEADERS_TIMEOUT_MS = 10_000;
/**
 * How often Node checks the head and request deadlines: its default (30 s) would let a slow head
 * live up to 30 s past its deadline.
 */
const DEADLINE_CHECK_MS = 1_000;
/** An idle kept-alive connection is closed after this long (Node's default, stated so it cannot drift). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * Open connections per listener. One agent's clients need a few dozen (an SDK pool, one per watch);
 * past this, new connections are closed at once instead of costing a socket and its buffers each.
 */
export const MAX_CONNECTIONS = 1_024;

/**
 * Node's options for an agent listener. The body deadline (`limits.request_timeout`) is the
 * handlers' own (body.ts), answered in the client's format with a record; Node's request deadline
 * is only the backstop behind it, set so that it never fires first.
 */
export function agentServerOptions(requestTimeoutS: number, deadlines: HeadDeadlines = DEFAULT_HEAD_DEADLINES) {
  return {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: deadlines.headersTimeoutMs,
    requestTimeout: requestTimeoutS * 1000 + deadlines.headersTimeoutMs + deadlines.checkIntervalMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: deadlines.checkIntervalMs,
    // Only the kube listener speaks TLS; a plain server ignores this.
    handshakeTimeout: deadlines.headersTimeoutMs,
  };
}

/**
 * The head deadline and how often Node checks it. Node's own timers enforce them, so they are
 * parameters rather than a Clock: a unit test runs a listener with short ones and asserts the order
 * of events (a prompt request answered, a slow head cut, a silent connection closed).
 */
export interface HeadDeadlines {
  readonly headersTimeoutMs: number;
  readonly checkIntervalMs: number;
}

export const DEFAULT_HEAD_DEADLINES: HeadDeadlines = { headersTimeoutMs: HEADERS_TIMEOUT_MS, checkIntervalMs: DEADLINE_CHECK_MS };

/** Limits Node takes as properties or needs listeners for. */
export function limitListener(server: Server | HttpsServer, headersTimeoutMs = HEADERS_TIMEOUT_MS): void {
  // Node drops the header fields past maxHeadersCount without a word; keeping one more than the
  // limit lets hygiene see that there were too many and refuse the request as a whole (431).
  server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
  server.maxConnections = MAX_CONNECTIONS;
  // Node's head deadline starts at a request's first byte and its keep-alive timeout after an
  // answer, so a connection that never sends a byte would be held for ever: until its first
  // request it has the head deadline as an idle timeout (Node destroys a socket that times out).
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => socket.setTimeout(headersTimeoutMs));
  for (const event of ['request', 'checkContinue', 'upgrade']) server.prependListener(event, (req: IncomingMessage) => req.socket.setTimeout(0));
}

const STATUS_LINES: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * A request Node's parser refuses (oversized head, smuggling shapes, a head that did not arrive in
 * time). When the parser gave up inside the body of a request already handed to a handler, that
 * handler answers, in the client's format and with a record, as soon as it reads the body.
 * Otherwise the request never reached the pipeline and has no record: the client gets the status
 * and the broker's headers, and the connection is closed; unless an earlier request on it is still
 * waiting for its answer, which these bytes would be taken for, and then the connection is cut.
 */
export function refuseUnreadable(err: Error & { code?: string; reason?: string }, socket: Duplex, queues: ConnectionQueues): void {
  // The client closed its side in the middle of a request: nobody is left to answer, and the
  // request's own handler sees it go away (body.ts).
  if (err.code === 'HPE_INVALID_EOF_STATE') return void socket.destroy();
  const req = queues.receiving(socket);
  // A body still arriving past its deadline is the handler's to refuse (body.ts); this is Node's backstop.
  if (req !== null && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return refuseBody(req, `${err.code ?? 'parse error'}${err.reason ? `: ${err.reason}` : ''}`);
  if (queues.busy(socket) || !socket.writable) return void socket.destroy();
  const status = STATUS_LINES[err.code ?? ''] ?? '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\nx-seb-decision: deny\r\nx-seb-reason: unparseable_request\r\ncontent-length: 0\r\n\r\n`, () => socket.destroy());
}

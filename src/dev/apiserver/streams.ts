import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import { CHANNEL_PROTOCOLS, runOverWebSocket } from './exec-websocket.js';
import { SPDY_EXEC_PROTOCOLS, runOverSpdy, type StreamFlags } from './exec-spdy.js';
import type { ResourceRoute } from './handlers.js';
import {
  PORT_FORWARD_CHANNEL_PROTOCOL,
  PORT_FORWARD_SPDY_PROTOCOL,
  PORT_FORWARD_TUNNEL_PROTOCOL,
  forwardOverChannels,
  forwardOverSpdy,
  parsePort,
  type PodPortTarget,
} from './portforward.js';
import type { PodFiles } from './pod-files.js';
import { attachProcess, execProcess, type Process } from './processes.js';
import { acceptSpdyUpgrade, negotiate, spdyServer } from './spdy-session.js';
import { StatusError, badRequest } from './status.js';
import type { ObjectStore } from './store.js';

/**
 * The streaming subresources, exec, attach and portforward (reference/k8s.md §2, §6, §8 item 8):
 * HTTP/1.1 upgrades, either to WebSocket (kubectl's first try, and @kubernetes/client-node) or to
 * SPDY/3.1 (kubectl's fallback). Everything that can be refused is refused before the 101.
 */
export const STREAM_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

export interface StreamOptions {
  /**
   * Whether a stream request may use its WebSocket form (default: always). Answering false makes
   * the stand-in refuse the WebSocket upgrade with a 400 Status, the way to exercise kubectl's
   * SPDY fallback (reference/k8s.md §8 item 8).
   */
  readonly webSocketStreams?: (request: { subresource: string; namespace: string; name: string }) => boolean;
  /** Where a pod's port is served: a TCP port on 127.0.0.1, or undefined when nothing listens there. */
  readonly podPorts?: (pod: { namespace: string; name: string }, port: number) => number | undefined;
  /** Called after each 101: lets a test see which wire form and protocol a client ended up with. */
  readonly afterUpgrade?: (upgrade: StreamUpgrade) => void;
}

export interface StreamUpgrade {
  readonly subresource: string;
  readonly name: string;
  readonly form: 'websocket' | 'spdy';
  readonly protocol: string;
}

export class StreamServer {
  readonly #store: ObjectStore;
  readonly #opts: StreamOptions;
  /** The subprotocol chosen for each WebSocket upgrade, written into ws's 101. */
  readonly #chosen = new WeakMap<IncomingMessage, string>();
  readonly #wss = new WebSocketServer({ noServer: true });
  /** Upgraded sockets leave the HTTP server's bookkeeping: close() must end them itself. */
  readonly #sockets = new Set<Duplex>();
  /** Each pod's files (`kubectl cp`), by uid: a pod made again under the same name starts empty. */
  readonly #files = new Map<string, PodFiles>();

  constructor(store: ObjectStore, opts: StreamOptions) {
    this.#store = store;
    this.#opts = opts;
    this.#wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const protocol = this.#chosen.get(req);
      if (protocol !== undefined) headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
    });
  }

  /** Serves an authorized upgrade to exec, attach or portforward; throws a StatusError before any 101. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, r: ResourceRoute): void {
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade !== 'websocket' && upgrade !== 'spdy/3.1') throw badRequest('Upgrade request required');
    const pod = this.#store.mustGet(r.def, r.namespace, r.name);
    const containers = ((((pod['spec'] ?? {}) as Record<string, unknown>)['containers'] ?? []) as { name?: string }[]).map((c) => String(c.name));
    const request = { subresource: r.subresource, namespace: r.namespace, name: r.name };
    if (upgrade === 'websocket' && this.#opts.webSocketStreams?.(request) === false) {
      throw badRequest(`the stand-in refuses the WebSocket form of ${r.subresource} for pod ${r.name} (option webSocketStreams): use SPDY/3.1`);
    }
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    const target: PodPortTarget = (port) => this.#opts.podPorts?.({ namespace: r.namespace, name: r.name }, port);
    const upgraded = (protocol: string): void =>
      this.#opts.afterUpgrade?.({ subresource: r.subresource, name: r.name, form: upgrade === 'websocket' ? 'websocket' : 'spdy', protocol });
    if (r.subresource === 'portforward') return this.#portForward(req, socket, head, upgrade, r.query, target, upgraded);

    const container = r.query.get('container') ?? containers[0] ?? '';
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${r.name}`);
    const flags: StreamFlags = {
      stdin: r.query.get('stdin') === 'true',
      stdout: r.query.get('stdout') === 'true',
      stderr: r.query.get('stderr') === 'true',
      tty: r.query.get('tty') === 'true',
    };
    let process: Process;
    if (r.subresource === 'exec') {
      const command = r.query.getAll('command');
      if (command.length === 0) throw badRequest('you must specify at least 1 command');
      const uid = String(pod.metadata['uid']);
      if (!this.#files.has(uid)) this.#files.set(uid, new Map());
      process = execProcess(command, this.#files.get(uid)!);
    } else {
      process = attachProcess(r.namespace, r.name, container);
    }
    if (upgrade === 'spdy/3.1') {
      const protocol = negotiate(req.headers['x-stream-protocol-version'], SPDY_EXEC_PROTOCOLS);
      runOverSpdy(acceptSpdyUpgrade(socket, head, protocol), flags, process, () => socket.destroy());
      return upgraded(protocol);
    }
    const protocol = this.#webSocketProtocol(req, CHANNEL_PROTOCOLS);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      runOverWebSocket(ws, protocol, flags.stdin, process);
      upgraded(protocol);
    });
  }

  #portForward(req: IncomingMessage, socket: Duplex, head: Buffer, upgrade: string, query: URLSearchParams, target: PodPortTarget, upgraded: (protocol: string) => void): void {
    if (upgrade === 'spdy/3.1') {
      const protocol = negotiate(req.headers['x-stream-protocol-version'], [PORT_FORWARD_SPDY_PROTOCOL]);
      forwardOverSpdy(acceptSpdyUpgrade(socket, head, protocol), target);
      return upgraded(protocol);
    }
    const protocol = this.#webSocketProtocol(req, [PORT_FORWARD_TUNNEL_PROTOCOL, PORT_FORWARD_CHANNEL_PROTOCOL]);
    if (protocol === PORT_FORWARD_TUNNEL_PROTOCOL) {
      // kubectl 1.31+: SPDY framed inside WebSocket binary messages, one message per write.
      return this.#wss.handleUpgrade(req, socket, head, (ws) => {
        forwardOverSpdy(spdyServer(createWebSocketStream(ws)), target);
        upgraded(protocol);
      });
    }
    const ports = query.getAll('ports').flatMap((p) => p.split(','));
    if (ports.length === 0) throw badRequest('query parameter "ports" is required');
    const parsed = ports.map(parsePort);
    if (parsed.some((p) => p === null)) throw badRequest(`invalid port in ${JSON.stringify(ports.join(','))}`);
    this.#wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      forwardOverChannels(ws, parsed as number[], target);
      upgraded(protocol);
    });
  }

  /**
   * The first of the server's protocols the client offers. The stand-in negotiates it itself and
   * hides the offer from ws, whose RFC 6455 token parser refuses `SPDY/3.1+portforward.k8s.io`
   * (a `/` is no token character) where Go's gorilla/websocket and the apiserver accept it.
   */
  #webSocketProtocol(req: IncomingMessage, supported: readonly string[]): string {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const protocol = supported.find((p) => offered.includes(p));
    if (protocol === undefined) throw badRequest(`none of the offered subprotocols is supported: ${supported.join(', ')}`);
    delete req.headers['sec-websocket-protocol'];
    this.#chosen.set(req, protocol);
    return protocol;
  }

  close(): void {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    for (const socket of this.#sockets) socket.destroy();
  }
}

/** An error answer to an upgrade request, written on the raw socket as the 'upgrade' event requires. */
export function rejectUpgrade(socket: Duplex, err: StatusError): void {
  const body = JSON.stringify(err.toStatus());
  socket.end(
    `HTTP/1.1 ${err.code} ${STATUS_CODES[err.code] ?? ''}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

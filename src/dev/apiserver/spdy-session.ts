import type { Duplex } from 'node:stream';
import transport, { type SpdyConnection, type SpdyStream } from 'spdy-transport';
import { badRequest } from './status.js';

/**
 * SPDY/3.1 as the kubelet speaks it to kubectl (reference/k8s.md §2, §6): an HTTP/1.1 upgrade
 * that negotiates `X-Stream-Protocol-Version`, then a SPDY session whose client opens one stream
 * per channel, named by its `streamtype` header. The framing is spdy-transport's; this module
 * only adapts it to kubectl's client, moby/spdystream.
 */
export type { SpdyConnection, SpdyStream };

/** The protocol the kubelet would pick: the client's first offer that the server speaks. */
export function negotiate(offered: string | string[] | undefined, supported: readonly string[]): string {
  // kubectl sends the header once per protocol, and Node joins repeated headers with ", ".
  const client = [offered ?? []].flat().flatMap((v) => v.split(',')).map((p) => p.trim()).filter(Boolean);
  const chosen = client.find((p) => supported.includes(p));
  if (chosen === undefined) {
    throw badRequest(`unable to upgrade: unable to negotiate protocol: client supports [${client.join(' ')}], server supports [${supported.join(' ')}]`);
  }
  return chosen;
}

/** Answers the upgrade with 101 and starts the server side of the SPDY session on the socket. */
export function acceptSpdyUpgrade(socket: Duplex, head: Buffer, protocol: string): SpdyConnection {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  if (head.length > 0) socket.unshift(head);
  return spdyServer(socket);
}

/** A server-side SPDY session over any byte stream (a TLS socket, or a WebSocket tunnel). */
export function spdyServer(socket: Duplex): SpdyConnection {
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: true });
  acceptBareStreams(conn);
  withoutSendWindow(conn);
  conn.on('error', () => socket.destroy());
  return conn;
}

/**
 * spdystream opens streams with the application's headers only (`streamtype`, `port`,
 * `requestid`), while spdy-transport's parser refuses a SYN_STREAM without the HTTP-over-SPDY
 * `:method` and `:path`. Filling those in (never overriding) lets it accept kubectl's streams.
 */
function acceptBareStreams(conn: SpdyConnection): void {
  const parser = conn._spdyState.parser;
  const parseKVs = parser.parseKVs.bind(parser);
  parser.parseKVs = (buffer, callback) => parseKVs(buffer, (err, headers) => callback(err, headers && { ':method': 'POST', ':path': '/', ...headers }));
}

/** The largest window SPDY/3 allows (2^31 - 1). */
const MAX_WINDOW = 0x7fffffff;

/**
 * spdystream does no flow control: it never sends WINDOW_UPDATE (nor a SETTINGS window), and the
 * kubelet's spdystream never waits for one. spdy-transport would stall every stream after the
 * default 64 KiB; starting each stream with the largest send window behaves like the kubelet.
 */
function withoutSendWindow(conn: SpdyConnection): void {
  conn._spdyState.streamWindow.send.setMax(MAX_WINDOW);
}

/** A stream's single-valued header (`streamtype`, `port`, `requestid`). */
export function streamHeader(stream: SpdyStream, name: string): string {
  const value = stream.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

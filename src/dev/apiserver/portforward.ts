import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { streamHeader, type SpdyConnection, type SpdyStream } from './spdy-session.js';

/**
 * `pods/<name>/portforward` (reference/k8s.md §2). A pod port is a TCP port on 127.0.0.1 that the
 * test owns (`PodPorts`), so forwarded bytes reach a real server and nothing leaves the machine.
 * Two wire forms:
 * - SPDY (`portforward.k8s.io`), over an HTTP upgrade or tunnelled inside WebSocket binary
 *   messages (`SPDY/3.1+portforward.k8s.io`): per forwarded connection the client opens an
 *   `error` and a `data` stream sharing a `requestid`, with the pod `port` in a header.
 * - WebSocket channels (`v4.channel.k8s.io`, @kubernetes/client-node): the ports come in the
 *   `ports` query; port i gets data channel 2i and error channel 2i+1, and the first message on
 *   each channel is the port number (uint16, little-endian).
 */
export const PORT_FORWARD_SPDY_PROTOCOL = 'portforward.k8s.io';
export const PORT_FORWARD_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
export const PORT_FORWARD_CHANNEL_PROTOCOL = 'v4.channel.k8s.io';

/** The loopback port behind a pod port, or undefined when nothing listens there. */
export type PodPortTarget = (port: number) => number | undefined;

/** A pod port as the kubelet reads it: a decimal in 1..65535. */
export function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function dial(target: PodPortTarget, port: number): Socket | string {
  const local = target(port);
  if (local === undefined) return `error forwarding port ${port} to pod: no process listens on port ${port} in the stand-in`;
  return connect(local, '127.0.0.1');
}

export function forwardOverSpdy(conn: SpdyConnection, target: PodPortTarget): void {
  const pending = new Map<string, { error?: SpdyStream; data?: SpdyStream }>();
  conn.on('stream', (stream) => {
    stream.on('error', () => stream.destroy());
    stream.respond(200, {});
    const type = streamHeader(stream, 'streamtype');
    if (type !== 'error' && type !== 'data') return;
    const id = streamHeader(stream, 'requestid');
    const pair = pending.get(id) ?? {};
    pair[type] = stream;
    if (pair.error === undefined || pair.data === undefined) return void pending.set(id, pair);
    pending.delete(id);
    forwardPair(pair.error, pair.data, streamHeader(stream, 'port'), target);
  });
}

/** One forwarded connection: the data stream spliced to the target; failures on the error stream. */
function forwardPair(error: SpdyStream, data: SpdyStream, portHeader: string, target: PodPortTarget): void {
  // The client never writes on the error stream, but it must be read for the stream to finish.
  error.resume();
  const port = parsePort(portHeader);
  const socket = port === null ? `invalid port ${JSON.stringify(portHeader)}` : dial(target, port);
  if (typeof socket === 'string') {
    error.end(socket);
    data.end();
    return;
  }
  data.pipe(socket).pipe(data);
  // Both directions are done, or the client reset the stream: the pod side hangs up too.
  data.on('close', () => socket.destroy());
  socket.on('error', (err) => error.end(`error forwarding port ${port}: ${err.message}`));
  socket.on('close', () => {
    data.end();
    error.end();
  });
}

export function forwardOverChannels(ws: WebSocket, ports: readonly number[], target: PodPortTarget): void {
  const sockets: Socket[] = [];
  const send = (channel: number, data: Buffer | string): void => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  ports.forEach((port, i) => {
    const portBytes = Buffer.from([port & 0xff, port >> 8]);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
    const socket = dial(target, port);
    if (typeof socket === 'string') {
      send(2 * i + 1, socket);
      return void ws.close(1000);
    }
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => send(2 * i, chunk));
    socket.on('error', (err) => send(2 * i + 1, `error forwarding port ${port}: ${err.message}`));
    // The target hung up: so does the pod side of the WebSocket, as the kubelet does.
    socket.on('close', () => ws.close(1000));
  });
  ws.on('message', (data: Buffer) => {
    const channel = data[0] ?? -1;
    if (channel % 2 === 0 && data.length > 1) sockets[channel / 2]?.write(data.subarray(1));
  });
  ws.on('close', () => {
    for (const socket of sockets) socket.destroy();
  });
}

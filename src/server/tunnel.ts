/**
 * The upstream stage of an admitted upgrade (exec, attach, port-forward, proxy; runner.ts): its own
 * TLS connection to the apiserver, the 101 relayed with the broker's headers, then bytes both ways.
 * The use is committed only when the apiserver answers 101 (SPEC §2.1); an answer without the
 * upgrade (kubectl falls back from WebSocket to SPDY on it) is relayed and the use given back.
 */
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { recordOutcome, refuseIfClientLeft } from './responses.js';
import { HOP_BY_HOP } from './forward.js';
import type { Admitted, Exchange, Relay } from './exchange.js';

const UPGRADE_HEADERS = ['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'x-stream-protocol-version'] as const;

/**
 * The handshake headers of an upgrade, from the raw request: hygiene drops `upgrade` and
 * `connection` as hop-by-hop, which is right for every request but the tunnel's own handshake.
 */
function upgradeHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of UPGRADE_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function tunnel(runner: Relay, x: Exchange, socket: Duplex, head: Buffer, admitted: Admitted): void {
  const { records, metrics } = runner.d;
  const { decision } = admitted;
  // A session opened for a client that is gone would run its command with nobody attached.
  refuseIfClientLeft(socket, records, x.record, x.started, 0);
  const target = admitted.request.tunnel(admitted.certificate, upgradeHeaders(x.req));
  const outgoing = httpsRequest({ host: target.host, port: target.port, path: target.path, method: target.method, headers: target.headers, ...target.tls });
  let bytesOut = 0;
  // A client that leaves before the apiserver answers must not leave a session behind it.
  const abandon = (): void => void outgoing.destroy(new Error('the client left before the apiserver answered'));
  socket.once('close', abandon);
  const done = (status: number | null, error: string | null): void => {
    metrics.requests.inc({ target: runner.target.name, decision, reason: '' });
    recordOutcome(records, x.record, x.started, { status, upstreamRequestId: null, bytesIn: 0, bytesOut, error });
  };
  outgoing.on('upgrade', (answer, upstreamSocket, upstreamHead) => {
    socket.off('close', abandon);
    x.reservation?.commit();
    if (socket.destroyed) {
      upstreamSocket.destroy();
      return done(101, 'the client left as the session began');
    }
    const stop = runner.streams.watch(admitted.certificate, (why) => {
      x.closedBecause = why;
      upstreamSocket.destroy();
      socket.destroy();
    });
    const lines = [`HTTP/1.1 101 Switching Protocols`];
    for (let i = 0; i < answer.rawHeaders.length; i += 2) lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    runner.sebHeaders(x, (k, v) => lines.push(`${k}: ${v}`), decision, null);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upstreamHead.length) socket.write(upstreamHead);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.on('data', (c: Buffer) => (bytesOut += c.length));
    upstreamSocket.pipe(socket).pipe(upstreamSocket);
    const finish = (): void => {
      stop();
      upstreamSocket.destroy();
      socket.destroy();
    };
    socket.on('close', finish);
    upstreamSocket.on('close', () => {
      finish();
      done(101, x.closedBecause);
    });
  });
  outgoing.on('response', (answer) => {
    socket.off('close', abandon);
    x.reservation?.release();
    const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage ?? ''}`];
    for (let i = 0; i < answer.rawHeaders.length; i += 2) {
      const name = answer.rawHeaders[i]!.toLowerCase();
      if (!HOP_BY_HOP.has(name) && name !== 'content-length') lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    }
    lines.push('connection: close');
    const chunks: Buffer[] = [];
    answer.on('data', (c: Buffer) => chunks.push(c));
    answer.on('end', () => {
      const body = Buffer.concat(chunks);
      socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\ncontent-length: ${body.length}\r\n\r\n`), body]));
      done(answer.statusCode ?? null, null);
    });
  });
  outgoing.on('error', (err) => {
    socket.off('close', abandon);
    x.reservation?.release();
    const rendered = admitted.request.upstreamFailed(false, err.message);
    socket.end(`HTTP/1.1 ${rendered.status} Bad Gateway\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(rendered.body)}\r\n\r\n${rendered.body}`);
    done(rendered.status, err.message);
  });
  outgoing.end();
}

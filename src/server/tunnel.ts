/**
 * The upstream stage of an admitted upgrade (exec, attach, port-forward, proxy; runner.ts): its own
 * TLS connection to the apiserver, the 101 relayed with the broker's headers, then bytes both ways.
 * exec, attach and port-forward hold their use until the apiserver answers and spend it on the 101;
 * `proxy` spends it before it is sent, like any other request (SPEC §2.1, targets/kube/tunnels.ts).
 * Once sent, the request is seen through to its answer even when the client leaves: only that
 * answer says whether the session ran upstream.
 */
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { Denial } from '../reasons.js';
import { settleTunnelUse } from '../targets/kube/tunnels.js';
import { commitBeforeForward, denialMessage, recordOutcome, refuseIfClientLeft, type OutcomeKind } from './responses.js';
import { HOP_BY_HOP, takeSlot } from './forward.js';
import { upstreamFailure } from './upstream-failure.js';
import type { Admitted, Exchange, Relay } from './exchange.js';
import type { TunnelRequest } from '../targets/target.js';

type Answer = (status: number, reason: string, headerLines: string[], body: Buffer) => void;
type Done = (status: number | null, error: string | null, outcome?: OutcomeKind) => void;

export async function tunnel(runner: Relay, x: Exchange, socket: Duplex, head: Buffer, admitted: Admitted<TunnelRequest>): Promise<void> {
  const { log, config } = runner.d;
  const { decision, request } = admitted;
  const jti = admitted.certificate?.jti ?? null;
  // A tunnel holds its place in certified_streams until it ends (it opens its own connection).
  const deadline = performance.now() + runner.timeoutMs;
  const slot = await takeSlot(runner, x, admitted, true, deadline, 0, (f) => {
    const { status, headers, body } = request.render(f.status, f.message, false);
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
    socket.end(`HTTP/1.1 ${status} Service Unavailable\r\n${lines.join('\r\n')}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
  if (!slot) return;
  const target = admitted.upstream;
  const onUpgrade = target.spendsOnUpgrade;
  try {
    // A session opened for a client that is gone would run its command with nobody attached.
    refuseIfClientLeft(socket, runner.audit, x.record, x.started, 0);
    if (!onUpgrade) {
      await commitBeforeForward(x.reservation, runner.audit, x.record, x.started, 0);
      refuseIfClientLeft(socket, runner.audit, x.record, x.started, 0);
    }
  } catch (err) {
    slot.release();
    throw err;
  }
  // A connection of its own, so that its TLS handshake tells whether anything was sent.
  const outgoing = httpsRequest({ host: target.host, port: target.port, path: target.path, method: target.method, headers: target.headers, agent: false, ...target.tls });
  // Nothing of the request leaves before the TLS handshake completes; after it, it may have run.
  let sent = false;
  outgoing.once('socket', (s) => s.once('secureConnect', () => (sent = true)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    outgoing.destroy(new Error(`no answer within limits.request_timeout (${config.limits.request_timeout} s)`));
  }, runner.timeoutMs);
  let clientLeft = false;
  const onClientClose = (): void => void (clientLeft = true);
  socket.once('close', onClientClose);
  let bytesOut = 0;
  let ended = false;
  const answered = (): void => {
    clearTimeout(timer);
    socket.off('close', onClientClose);
  };
  const done: Done = (status, error, outcome = error === null ? 'relayed' : 'closed') => {
    if (ended) return;
    ended = true;
    slot.release();
    runner.d.metrics.requests.inc({ target: runner.target.name, decision, reason: '' });
    recordOutcome(runner.audit, x.record, x.started, { outcome, status, upstreamRequestId: null, bytesIn: 0, bytesOut, error });
  };
  /** Writes a whole HTTP answer to a client still there; the tunnel's answers carry the X-SEB-* headers too. */
  const answer: Answer = (status, reason, headerLines, body) => {
    if (socket.destroyed) return;
    const seb: string[] = [];
    runner.sebHeaders(x, (k, v) => seb.push(`${k}: ${v}`), decision, null);
    const lines = [`HTTP/1.1 ${status} ${reason}`, ...headerLines, ...seb, 'connection: close', `content-length: ${body.length}`];
    socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
  };

  outgoing.on('upgrade', (answer101, upstreamSocket: Duplex, upstreamHead: Buffer) => {
    answered();
    upstreamSocket.on('error', () => upstreamSocket.destroy());
    void session(runner, x, { socket, head, admitted, onUpgrade, upstreamSocket, upstreamHead, rawHeaders: answer101.rawHeaders, answer, done, counted: (n) => (bytesOut += n) });
  });
  outgoing.on('response', (refused) => {
    answered();
    // Not upgraded: nothing ran (kubectl falls back from WebSocket to SPDY on this), so a use held
    // for the 101 is given back; a proxy's stays spent, its backend answered.
    if (onUpgrade && settleTunnelUse({ kind: 'refused', status: refused.statusCode ?? 0 }) === 'release') x.reservation?.release();
    const headerLines: string[] = [];
    for (let i = 0; i < refused.rawHeaders.length; i += 2) {
      const name = refused.rawHeaders[i]!.toLowerCase();
      if (!HOP_BY_HOP.has(name) && name !== 'content-length' && !name.startsWith('x-seb-')) headerLines.push(`${refused.rawHeaders[i]}: ${refused.rawHeaders[i + 1]}`);
    }
    const chunks: Buffer[] = [];
    refused.on('data', (c: Buffer) => chunks.push(c));
    refused.on('error', () => done(refused.statusCode ?? null, 'the apiserver connection failed while it answered'));
    refused.on('end', () => {
      const body = Buffer.concat(chunks);
      bytesOut = body.length;
      answer(refused.statusCode ?? 502, refused.statusMessage ?? '', headerLines, body);
      if (clientLeft) done(refused.statusCode ?? null, 'the client left before the apiserver answered', 'client_gone');
      else done(refused.statusCode ?? null, null, 'relayed');
    });
  });
  outgoing.on('error', (err) => {
    answered();
    // After the handshake the request may have started a session upstream: its use stays spent.
    const settle = onUpgrade ? settleTunnelUse({ kind: 'failed', sent }) : 'commit';
    if (settle === 'release') x.reservation?.release();
    else void x.reservation?.commit().catch(() => undefined);
    // The agent reads only which failure happened and the certificate id; the error text names
    // internal addresses, so it goes to the record and the log (issue 11 §7).
    const failure = upstreamFailure(timedOut ? new Error(`timeout: ${err.message}`) : err, jti);
    const rendered = request.render(failure.status, failure.message, false);
    const headerLines = Object.entries(rendered.headers).map(([k, v]) => `${k}: ${v}`);
    answer(rendered.status, timedOut ? 'Gateway Timeout' : 'Bad Gateway', headerLines, Buffer.from(rendered.body));
    log(`seb: apiserver tunnel failed (record ${x.record?.seq ?? 'none'}): ${failure.error}`);
    done(rendered.status, `${failure.error}${settle === 'commit' ? ' (sent upstream: the use stays spent)' : ''}${clientLeft ? '; the client had left' : ''}`, clientLeft ? 'client_gone' : 'upstream_failed');
  });
  outgoing.end();
}

interface Session {
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly admitted: Admitted<TunnelRequest>;
  readonly onUpgrade: boolean;
  readonly upstreamSocket: Duplex;
  readonly upstreamHead: Buffer;
  readonly rawHeaders: readonly string[];
  readonly answer: Answer;
  readonly done: Done;
  readonly counted: (bytes: number) => void;
}

/**
 * The apiserver answered 101. A use held for it is committed first, and a commit the ledger does
 * not confirm stops the session (SPEC §4: nothing runs on a use the ledger does not hold); a client
 * that left meanwhile gets no session either. Then bytes flow both ways until either side ends.
 */
async function session(runner: Relay, x: Exchange, s: Session): Promise<void> {
  const { socket, upstreamSocket, admitted, done } = s;
  if (s.onUpgrade && x.reservation) {
    try {
      await x.reservation.commit();
    } catch (err) {
      upstreamSocket.destroy();
      const denial = err instanceof Denial ? err : new Denial('replay_unavailable', String(err));
      const rendered = admitted.request.render(denial.status, denialMessage(denial, admitted.certificate?.jti ?? null), false);
      const headerLines = [...Object.entries(rendered.headers).map(([k, v]) => `${k}: ${v}`), `x-seb-reason: ${denial.code}`];
      s.answer(rendered.status, 'Service Unavailable', headerLines, Buffer.from(rendered.body));
      return done(101, `session stopped: the apiserver upgraded but the use could not be committed: ${denial.code}`);
    }
  }
  if (socket.destroyed) {
    upstreamSocket.destroy();
    return done(101, 'the client left before the session began: the apiserver upgraded and the use is spent', 'client_gone');
  }
  const stop = runner.streams.watch(admitted.certificate, (why) => {
    x.closedBecause = why;
    upstreamSocket.destroy();
    socket.destroy();
  });
  const lines = [`HTTP/1.1 101 Switching Protocols`];
  for (let i = 0; i < s.rawHeaders.length; i += 2) lines.push(`${s.rawHeaders[i]}: ${s.rawHeaders[i + 1]}`);
  runner.sebHeaders(x, (k, v) => lines.push(`${k}: ${v}`), admitted.decision, null);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (s.upstreamHead.length) socket.write(s.upstreamHead);
  if (s.head.length) upstreamSocket.write(s.head);
  upstreamSocket.on('data', (c: Buffer) => s.counted(c.length));
  upstreamSocket.pipe(socket).pipe(upstreamSocket);
  const finish = (): void => {
    stop();
    upstreamSocket.destroy();
    socket.destroy();
  };
  socket.on('close', finish);
  upstreamSocket.on('close', () => {
    finish();
    done(101, x.closedBecause, x.closedBecause === null ? 'relayed' : 'closed');
  });
}

/**
 * The kube listener's request lifecycle (SPEC §4, §5, §7), the Kubernetes twin of aws-handler.ts:
 *   hygiene -> RequestInfo -> [read: read executor] | carrier -> certificate -> authority ->
 *   executor -> vending -> body -> facts -> match + body -> reserve -> drift probe + upstream
 *   precondition -> decision record -> commit -> forward with impersonation -> stream back.
 * Exec, attach, port-forward and proxy arrive as HTTP upgrades (`upgrade()`): the same admission,
 * then a tunnel; exec, attach and port-forward spend their use on the apiserver's 101 (SPEC §2.1).
 */
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { relayBody } from './relay-body.js';
import type { Dispatcher } from 'undici';
import { ClientGone, Denial } from '../reasons.js';
import type { Certificate, K8sOp } from '../certificate/types.js';
import type { Config, K8sExecutor } from '../config/types.js';
import { claimedJti, kubeCarrier } from '../certificate/carrier.js';
import type { CertificateVerifier } from '../certificate/verify.js';
import type { Authority } from '../authority/state.js';
import type { Matched } from '../contract/match.js';
import { matchKubeOp } from '../contract/match-kube.js';
import { reserveUse } from '../replay/run-time.js';
import { kubeOpFor } from '../contract/capture.js';
import type { ReplayLedger, Reservation } from '../replay/types.js';
import type { RecordWriter } from '../records/writer.js';
import type { RecordRef } from '../records/types.js';
import { isLongRunning, isReadRequest, resolveRequestInfo, type KubeRequestInfo } from '../targets/kube/request-info.js';
import { kubeFacts, type KubeFacts } from '../targets/kube/facts.js';
import { kubeStatus, watchErrorEvent } from '../targets/kube/status.js';
import { probeDrift } from '../targets/kube/drift.js';
import type { KubeUpstream } from '../targets/kube/upstream.js';
import { UPGRADABLE_SUBRESOURCES, settleTunnelUse, spendsOnUpgrade, unpinnablePorts } from '../targets/kube/tunnels.js';
import { cleanHead, type CleanHead } from './hygiene.js';
import { readBody } from './body.js';
import { type Metrics, StageClock } from './metrics.js';
import { certificateSummary, runTimeValues, safeText } from './record-fields.js';
import { type Audit, type Decision, type OutcomeKind, commitBeforeForward, denialMessage, recordClientGone } from './responses.js';
import { recordDenial, recordedDetail, recordOutcome, refuseIfClientLeft, sebHeaders } from './responses.js';
import { Lanes, type Slot } from './lanes.js';
import { guardRate, TOO_SLOW } from './rate-guard.js';
import { errorText, upstreamFailure, type UpstreamFailure } from './upstream-failure.js';

export interface KubeHandlerDeps {
  readonly config: Config;
  readonly verifier: CertificateVerifier;
  readonly authority: Authority;
  readonly ledger: ReplayLedger;
  readonly records: RecordWriter;
  readonly metrics: Metrics;
  readonly upstream: KubeUpstream;
  /** Upstream capacity per class of request (issue 11 §3); drift probes use `upstream.dispatcher`. */
  readonly lanes: Lanes;
  /** Operational log lines (never records). */
  readonly log: (line: string) => void;
  /** `seb op capture`: mutations are printed as ops instead of executed; returns the op's index. */
  readonly capture?: (op: K8sOp) => number;
  /** The broker's clock in seconds, for run-time timestamps (SPEC §2.2); Date.now by default. */
  readonly now?: () => number;
}

/** Client headers that carry meaning the apiserver needs; everything else is dropped (SPEC §3). */
const PASSED_HEADERS = ['accept', 'accept-encoding', 'content-type', 'user-agent', 'kubectl-command', 'kubectl-session', 'audit-id'] as const;
const UPGRADE_HEADERS = ['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'x-stream-protocol-version'] as const;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-connection']);
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

/** SPEC §4 credential_vending on the Kubernetes path: requests that hand out credentials. */
function vendsCredentials(info: KubeRequestInfo): boolean {
  return (
    (info.resource === 'serviceaccounts' && info.subresource === 'token') ||
    (info.group === 'certificates.k8s.io' && info.resource === 'certificatesigningrequests') ||
    (info.resource === 'secrets' && (info.verb === 'get' || info.verb === 'list' || info.verb === 'watch'))
  );
}

class Exchange {
  head: CleanHead | null = null;
  info: KubeRequestInfo | null = null;
  facts: KubeFacts | null = null;
  certificate: Certificate | null = null;
  /** The certificate as carried, before it is verified. */
  jws: string | null = null;
  /** The jti a denial names: read from the unverified payload only when a record needs it. */
  get claimedJti(): string | null {
    return this.jws === null ? null : claimedJti(this.jws);
  }
  matched: Matched<K8sOp> | null = null;
  reservation: Reservation | null = null;
  identity: { user: string; groups: readonly string[] } | null = null;
  record: RecordRef | null = null;
  bodyRead = false;
  /** Why the broker closed a long-lived request, for its outcome record. */
  closedBecause: string | null = null;
  readonly clock = new StageClock();
  readonly started = performance.now();
}

type Admitted = { decision: 'admit' | 'read'; executor: K8sExecutor; body: Buffer };

export class KubeHandler {
  readonly #d: KubeHandlerDeps;
  readonly #reader: K8sExecutor | null;
  /** The closer of each long-lived request still open (closeStreams ends them at shutdown). */
  readonly #streams = new Set<(why: string) => void>();
  readonly #audit: Audit;

  constructor(deps: KubeHandlerDeps) {
    this.#d = deps;
    this.#audit = { records: deps.records, log: deps.log };
    const { config } = deps;
    this.#reader = (config.read_executor && config.executors[config.read_executor]?.k8s) || null;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const x = new Exchange();
    this.#admit(x, req, true)
      .then((admitted) => this.#forward(x, req, res, admitted))
      .catch((err: unknown) => this.#fail(x, err, (status, headers, body) => {
        if (res.headersSent) return void res.destroy();
        if (!x.bodyRead) headers['connection'] = 'close';
        res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : body);
      }));
  };

  /** exec, attach, port-forward (WebSocket or SPDY) and proxy upgrades: admission, then a tunnel. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const x = new Exchange();
    socket.on('error', () => socket.destroy());
    this.#admit(x, req, false)
      .then((admitted) => this.#tunnel(x, req, socket, head, admitted))
      .catch((err: unknown) =>
        this.#fail(x, err, (status, headers, body) => {
          const lines = Object.entries({ ...headers, connection: 'close', 'content-length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}`);
          socket.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
        }),
      );
  };

  /** Everything up to the decision record, in SPEC §4 order. */
  async #admit(x: Exchange, req: IncomingMessage, readsBody: boolean): Promise<Admitted> {
    const { config, verifier, authority, ledger } = this.#d;
    const head = (x.head = cleanHead(req));
    const info = (x.info = resolveRequestInfo(head.method, head.path, head.query));
    // The apiserver upgrades only these; anywhere else an Upgrade header would be read two ways.
    if (!readsBody && !UPGRADABLE_SUBRESOURCES.has(info.subresource)) {
      throw new Denial('unparseable_request', `an Upgrade is served only for ${[...UPGRADABLE_SUBRESOURCES].join(', ')}`);
    }
    if (isReadRequest(info) && config.reads === 'allow') {
      if (!this.#reader) throw new Denial('unknown_execution_identity', 'no k8s read_executor is configured');
      const body = readsBody ? await readBody(req, head.contentLength, config.limits) : Buffer.alloc(0);
      x.bodyRead = true;
      x.identity = this.#reader;
      x.record = await this.#decision(x, 'read', null);
      return { decision: 'read', executor: this.#reader, body };
    }
    if (isReadRequest(info) && config.reads === 'deny') throw new Denial('contract_mismatch', 'reads are denied by this broker (reads: deny)');

    if (this.#d.capture) {
      const body = readsBody ? await readBody(req, head.contentLength, config.limits) : Buffer.alloc(0);
      x.bodyRead = true;
      this.#d.capture(kubeOpFor(kubeFacts(info, head.headers['content-type'], body), body));
      throw new Denial('contract_mismatch', 'seb op capture: the mutation was printed as an op, not executed');
    }
    x.clock.reset();
    const jws = kubeCarrier(head.headers);
    if (jws === null) throw new Denial('no_certificate', 'put the certificate in the kubeconfig user token or an X-SEB-Certificate header');
    x.jws = jws;
    const cert = await verifier.verify(jws);
    x.certificate = cert;
    authority.check(cert);
    const executor = config.executors[cert.execution_identity]?.k8s;
    if (!executor) throw new Denial('unknown_execution_identity', `no k8s executor named ${safeText(cert.execution_identity)}`);
    x.clock.lap('certificate');
    if (vendsCredentials(info)) throw new Denial('credential_vending', `${info.verb} ${info.resource}${info.subresource ? `/${info.subresource}` : ''} hands out credentials`);

    const body = readsBody ? await readBody(req, head.contentLength, config.limits) : Buffer.alloc(0);
    x.bodyRead = true;
    const facts = (x.facts = kubeFacts(info, head.headers['content-type'], body));
    const matched = (x.matched = matchKubeOp(cert.contract.ops, facts, body));
    const unpinnable = unpinnablePorts(info, matched.op.params, req.headers['upgrade'], req.headers['sec-websocket-protocol']);
    if (unpinnable !== null) throw new Denial('contract_mismatch', unpinnable);
    x.clock.lap('match');
    x.reservation = await reserveUse(ledger, cert, matched, this.#d.now?.() ?? Date.now() / 1000, config.trust.clock_skew);
    x.clock.lap('replay');
    let forwarded = body;
    if (matched.op.pre_state !== null) {
      const guarded = await probeDrift(this.#probe(), facts, matched.op.pre_state, body);
      if (guarded !== null) forwarded = guarded;
      x.clock.lap('drift');
    }
    x.identity = executor;
    x.record = await this.#decision(x, 'admit', null).catch((err: unknown) => {
      throw new Denial('audit_unavailable', 'the record sink refused the decision', undefined, errorText(err));
    });
    x.clock.lap('record');
    return { decision: 'admit', executor, body: forwarded };
  }

  /** GETs an object under the read executor, for drift probes (SPEC §2.1: probed as the reader). */
  #probe(): (path: string) => Promise<{ status: number; body: Buffer }> {
    const reader = this.#reader;
    if (!reader) throw new Denial('drift', 'no k8s read_executor is configured to probe pre_state');
    return async (path) => {
      const { upstream } = this.#d;
      const answer = await upstream.dispatcher.request({
        origin: upstream.origin,
        path,
        method: 'GET',
        headers: this.#identityHeaders(reader, null, { accept: 'application/json' }),
        headersTimeout: this.#d.config.limits.request_timeout * 1000,
      });
      return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
    };
  }

  #identityHeaders(executor: K8sExecutor, jti: string | null, base: Record<string, string | string[]>): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = { ...base, 'impersonate-user': executor.user };
    if (executor.groups.length) headers['impersonate-group'] = [...executor.groups];
    // SPEC §5: the apiserver's audit log names the certificate.
    if (jti !== null) headers['impersonate-extra-seb.io%2fcertificate'] = jti;
    const authorization = this.#d.upstream.authorization();
    if (authorization) headers['authorization'] = authorization;
    return headers;
  }

  #upstreamHeaders(x: Exchange, executor: K8sExecutor, names: readonly string[], body: Buffer): Record<string, string | string[]> {
    const base: Record<string, string> = {};
    const client = x.head!.headers;
    for (const name of names) if (client[name] !== undefined) base[name] = client[name]!;
    if (body.length) base['content-length'] = String(body.length);
    return this.#identityHeaders(executor, x.certificate?.jti ?? null, base);
  }

  /**
   * A place in the request's lane (issue 11 §3), waiting at most limits.request_timeout; without
   * one nothing is sent, the use goes back and the client reads 503 (`send`), and null is returned.
   */
  async #slot(x: Exchange, admitted: Admitted, longRunning: boolean, deadline: number, send: (f: UpstreamFailure) => void): Promise<Slot | null> {
    try {
      return await this.#d.lanes.acquire(Lanes.laneOf(admitted.decision === 'admit', longRunning), deadline);
    } catch (err) {
      x.reservation?.release();
      x.reservation = null;
      const failure = upstreamFailure(err, x.certificate?.jti ?? null);
      this.#d.log(`seb: not forwarded (record ${x.record?.seq ?? 'none'}): ${failure.error}`);
      send(failure);
      this.#d.metrics.requests.inc({ target: 'k8s', decision: admitted.decision, reason: '' });
      recordOutcome(this.#audit, x.record, x.started, { outcome: failure.outcome, status: failure.status, upstreamRequestId: null, bytesIn: admitted.body.length, bytesOut: 0, error: failure.error });
      return null;
    }
  }

  /** 502, 503 or 504 as a Status, before any byte of an answer went out. */
  #answerFailure(x: Exchange, res: ServerResponse, decision: Decision, failure: UpstreamFailure): void {
    if (res.headersSent || res.destroyed) return;
    const { status, body } = kubeStatus(failure.status, failure.message);
    this.#sebHeaders(x, res.setHeader.bind(res), decision, null);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  async #forward(x: Exchange, req: IncomingMessage, res: ServerResponse, admitted: Admitted): Promise<void> {
    const longRunning = isLongRunning(x.info!);
    // The wait for a place counts against limits.request_timeout, with the answer's head.
    const deadline = performance.now() + this.#d.config.limits.request_timeout * 1000;
    const slot = await this.#slot(x, admitted, longRunning, deadline, (f) => this.#answerFailure(x, res, admitted.decision, f));
    if (!slot) return;
    try {
      await this.#relay(x, req, res, admitted, slot.dispatcher, longRunning, deadline);
    } finally {
      slot.release();
    }
  }

  async #relay(x: Exchange, req: IncomingMessage, res: ServerResponse, admitted: Admitted, dispatcher: Dispatcher, longRunning: boolean, deadline: number): Promise<void> {
    const { upstream, config } = this.#d;
    refuseIfClientLeft(res, this.#audit, x.record, x.started, admitted.body.length);
    await commitBeforeForward(x.reservation, this.#audit, x.record, x.started, admitted.body.length);
    const abort = new AbortController();
    // Widened: the close and rate-guard callbacks change it while the relay runs.
    let outcome = 'relayed' as OutcomeKind;
    const onClose = (): void => {
      if (res.writableFinished) return;
      if (outcome === 'relayed') outcome = 'client_gone';
      abort.abort();
    };
    res.on('close', onClose);
    // The client may have left while the use was being committed: then nothing is sent after all.
    if (res.destroyed) onClose();
    const stopWatching = longRunning
      ? this.#closeWhenNoLongerValid(x, () => {
          // A watch says why it ends, as the apiserver would: an ERROR event carrying a Status.
          if (x.info!.verb === 'watch' && res.headersSent && !res.writableEnded) res.write(watchErrorEvent(403, `seb: ${x.closedBecause}`));
          abort.abort();
        })
      : () => {};
    let status: number | null = null;
    let bytesOut = 0;
    let error: string | null = null;
    let stopGuard = (): void => {};
    try {
      const answer = await dispatcher.request({
        origin: upstream.origin,
        path: req.url!,
        method: x.head!.method as Dispatcher.HttpMethod,
        headers: this.#upstreamHeaders(x, admitted.executor, PASSED_HEADERS, admitted.body),
        body: admitted.body.length ? admitted.body : null,
        signal: abort.signal,
        headersTimeout: Math.max(1, Math.round(deadline - performance.now())),
        // Watches and `logs -f` stream for as long as they are allowed to (reference/k8s.md §6).
        bodyTimeout: longRunning ? 0 : config.limits.request_timeout * 1000,
      });
      x.clock.lap('upstream');
      status = answer.statusCode;
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) res.setHeader(name, value);
      this.#sebHeaders(x, res.setHeader.bind(res), admitted.decision, null);
      res.writeHead(status);
      // A watch may have nothing to say for minutes: the client must see the answer begin now.
      if (longRunning) res.flushHeaders();
      // Flush each chunk as it arrives: watch events and log lines must not wait in a buffer.
      answer.body.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
      // Watches and follows are idle by nature: their lane, certificate and max_stream bound them instead.
      if (!longRunning) stopGuard = guardRate(answer.body, config.limits.min_read_rate, config.limits.request_timeout * 1000, () => (outcome = 'closed'));
      await relayBody(answer.body, res);
    } catch (err) {
      if (outcome === 'closed') error = TOO_SLOW;
      else if (x.closedBecause !== null) outcome = 'closed';
      else if (outcome === 'client_gone') error = errorText(err);
      else if (!res.headersSent) {
        const failure = upstreamFailure(err, x.certificate?.jti ?? null);
        this.#answerFailure(x, res, admitted.decision, failure);
        ({ status, error, outcome } = failure);
      } else {
        error = errorText(err);
        outcome = 'upstream_failed';
      }
      if (outcome === 'upstream_failed') this.#d.log(`seb: apiserver request failed (record ${x.record?.seq ?? 'none'}): ${error}`);
      if (!res.writableEnded) res.destroy();
    } finally {
      stopGuard();
      stopWatching();
      res.off('close', onClose);
      this.#d.metrics.requests.inc({ target: 'k8s', decision: admitted.decision, reason: '' });
      x.clock.observe(this.#d.metrics, 'k8s');
      if (x.closedBecause !== null) outcome = 'closed';
      recordOutcome(this.#audit, x.record, x.started, { outcome, status, upstreamRequestId: null, bytesIn: admitted.body.length, bytesOut, error: x.closedBecause ?? error });
    }
  }

  /**
   * Tunnels an admitted upgrade. exec, attach and port-forward hold their use until the apiserver
   * answers and spend it on the 101; `proxy` spends it before it is sent, like any other request
   * (SPEC §2.1, targets/kube/tunnels.ts). Once sent, the request is seen through to its answer even
   * when the client leaves: only that answer says whether the session ran upstream.
   */
  async #tunnel(x: Exchange, req: IncomingMessage, socket: Duplex, head: Buffer, admitted: Admitted): Promise<void> {
    const { upstream, config } = this.#d;
    // A tunnel holds its place in certified_streams until it ends (it opens its own connection).
    const deadline = performance.now() + config.limits.request_timeout * 1000;
    const slot = await this.#slot(x, admitted, true, deadline, (f) => {
      const { status, body } = kubeStatus(f.status, f.message);
      socket.end(`HTTP/1.1 ${status} Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(JSON.stringify(body))}\r\n\r\n${JSON.stringify(body)}`);
    });
    if (!slot) return;
    const onUpgrade = spendsOnUpgrade(x.info!);
    try {
      // A session opened for a client that is gone would run its command with nobody attached.
      refuseIfClientLeft(socket, this.#audit, x.record, x.started, 0);
      if (!onUpgrade) {
        await commitBeforeForward(x.reservation, this.#audit, x.record, x.started, 0);
        refuseIfClientLeft(socket, this.#audit, x.record, x.started, 0);
      }
    } catch (err) {
      slot.release();
      throw err;
    }
    const url = new URL(req.url!, upstream.origin);
    const outgoing = httpsRequest({
      host: url.hostname,
      port: url.port,
      path: req.url!,
      method: x.head!.method,
      headers: { ...this.#upstreamHeaders(x, admitted.executor, PASSED_HEADERS, Buffer.alloc(0)), ...upgradeHeaders(req) },
      // A connection of its own, so that its TLS handshake tells whether anything was sent.
      agent: false,
      ...upstream.tls,
    });
    // Nothing of the request leaves before the TLS handshake completes; after it, it may have run.
    let sent = false;
    outgoing.once('socket', (s) => s.once('secureConnect', () => (sent = true)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      outgoing.destroy(new Error(`no answer within limits.request_timeout (${config.limits.request_timeout} s)`));
    }, config.limits.request_timeout * 1000);
    let clientLeft = false;
    const onClientClose = (): void => void (clientLeft = true);
    socket.once('close', onClientClose);
    let bytesOut = 0;
    let ended = false;
    const answered = (): void => {
      clearTimeout(timer);
      socket.off('close', onClientClose);
    };
    const done = (status: number | null, error: string | null, outcome: OutcomeKind = error === null ? 'relayed' : 'closed'): void => {
      if (ended) return;
      ended = true;
      slot.release();
      this.#d.metrics.requests.inc({ target: 'k8s', decision: admitted.decision, reason: '' });
      recordOutcome(this.#audit, x.record, x.started, { outcome, status, upstreamRequestId: null, bytesIn: 0, bytesOut, error });
    };
    /** Writes a whole HTTP answer to a client still there; the tunnel's answers carry the X-SEB-* headers too. */
    const answer = (status: number, reason: string, headerLines: string[], body: Buffer): void => {
      if (socket.destroyed) return;
      const seb: string[] = [];
      this.#sebHeaders(x, (k, v) => seb.push(`${k}: ${v}`), admitted.decision, null);
      const lines = [`HTTP/1.1 ${status} ${reason}`, ...headerLines, ...seb, 'connection: close', `content-length: ${body.length}`];
      socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
    };

    outgoing.on('upgrade', (answer101, upstreamSocket, upstreamHead) => {
      answered();
      upstreamSocket.on('error', () => upstreamSocket.destroy());
      void this.#session(x, socket, head, admitted, onUpgrade, upstreamSocket, upstreamHead, answer101.rawHeaders, answer, done, (n) => (bytesOut += n));
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
      const failure = upstreamFailure(timedOut ? new Error(`timeout: ${err.message}`) : err, x.certificate?.jti ?? null);
      const { status, body } = kubeStatus(failure.status, failure.message);
      answer(status, timedOut ? 'Gateway Timeout' : 'Bad Gateway', ['content-type: application/json'], Buffer.from(JSON.stringify(body)));
      this.#d.log(`seb: apiserver tunnel failed (record ${x.record?.seq ?? 'none'}): ${failure.error}`);
      done(status, `${failure.error}${settle === 'commit' ? ' (sent upstream: the use stays spent)' : ''}${clientLeft ? '; the client had left' : ''}`, clientLeft ? 'client_gone' : 'upstream_failed');
    });
    outgoing.end();
  }

  /**
   * The apiserver answered 101. A use held for it is committed first, and a commit the ledger does
   * not confirm stops the session (SPEC §4: nothing runs on a use the ledger does not hold); a client
   * that left meanwhile gets no session either. Then bytes flow both ways until either side ends.
   */
  async #session(
    x: Exchange,
    socket: Duplex,
    head: Buffer,
    admitted: Admitted,
    onUpgrade: boolean,
    upstreamSocket: Duplex,
    upstreamHead: Buffer,
    rawHeaders: readonly string[],
    answer: (status: number, reason: string, headerLines: string[], body: Buffer) => void,
    done: (status: number | null, error: string | null, outcome?: OutcomeKind) => void,
    counted: (bytes: number) => void,
  ): Promise<void> {
    if (onUpgrade && x.reservation) {
      try {
        await x.reservation.commit();
      } catch (err) {
        upstreamSocket.destroy();
        const denial = err instanceof Denial ? err : new Denial('replay_unavailable', String(err));
        const { status, body } = kubeStatus(denial.status, denialMessage(denial, x.certificate?.jti ?? null));
        answer(status, 'Service Unavailable', ['content-type: application/json', `x-seb-reason: ${denial.code}`], Buffer.from(JSON.stringify(body)));
        return done(101, `session stopped: the apiserver upgraded but the use could not be committed: ${denial.code}`);
      }
    }
    if (socket.destroyed) {
      upstreamSocket.destroy();
      return done(101, 'the client left before the session began: the apiserver upgraded and the use is spent', 'client_gone');
    }
    const stop = this.#closeWhenNoLongerValid(x, () => {
      upstreamSocket.destroy();
      socket.destroy();
    });
    const lines = [`HTTP/1.1 101 Switching Protocols`];
    for (let i = 0; i < rawHeaders.length; i += 2) lines.push(`${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
    this.#sebHeaders(x, (k, v) => lines.push(`${k}: ${v}`), admitted.decision, null);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upstreamHead.length) socket.write(upstreamHead);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.on('data', (c: Buffer) => counted(c.length));
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

  /**
   * SPEC §4: a long-lived request is closed when its certificate expires or is revoked, when the
   * authority state goes stale, or after limits.max_stream; the outcome record says why.
   */
  #closeWhenNoLongerValid(x: Exchange, close: () => void): () => void {
    const { authority, config } = this.#d;
    const deadline = Date.now() + config.limits.max_stream * 1000;
    const cert = x.certificate;
    const timer = setInterval(() => {
      let why: string | null = null;
      if (Date.now() >= deadline) why = 'closed after limits.max_stream';
      else if (cert) {
        try {
          if (Date.now() / 1000 >= cert.exp + config.trust.clock_skew) throw new Denial('expired');
          authority.check(cert);
        } catch (err) {
          why = `closed: ${err instanceof Denial ? err.code : String(err)}`;
        }
      } else if (!authority.fresh()) why = 'closed: authority_stale';
      if (why) end(why);
    }, 250);
    const end = (why: string): void => {
      x.closedBecause = why;
      clearInterval(timer);
      this.#streams.delete(end);
      close();
    };
    this.#streams.add(end);
    timer.unref();
    return () => {
      clearInterval(timer);
      this.#streams.delete(end);
    };
  }

  /** Shutdown: closes every open watch, follow and tunnel now, with `why` as the reason they were closed. */
  closeStreams(why: string): void {
    for (const end of [...this.#streams]) end(why);
  }

  async #decision(x: Exchange, decision: Decision, denial: Denial | null): Promise<RecordRef> {
    const info = x.info;
    return this.#d.records.decision({
      request: {
        target: 'k8s',
        method: safeText(x.head?.method ?? ''),
        path: safeText(x.head?.path ?? ''),
        verb: x.facts?.verb ?? info?.verb ?? null,
        group: info?.group ?? null,
        version: info?.version ?? null,
        resource: info?.resource ?? null,
        subresource: info?.subresource || null,
        namespace: info?.namespace ?? null,
        name: x.facts?.name ?? (info?.name || null),
        ...runTimeValues(x.matched?.values),
      },
      certificate: certificateSummary(x.certificate, x.matched?.index ?? null, x.claimedJti),
      decision,
      reason: denial?.code ?? null,
      detail: recordedDetail(denial),
      identity: x.identity ? { type: 'k8s', user: x.identity.user, groups: [...x.identity.groups] } : null,
    });
  }

  #sebHeaders(x: Exchange, set: (name: string, value: string) => void, decision: Decision, denial: Denial | null): void {
    sebHeaders(set, decision, denial, x.record, x.clock);
  }

  async #fail(x: Exchange, err: unknown, send: (status: number, headers: Record<string, string>, body: string) => void): Promise<void> {
    x.reservation?.release();
    // Its decision record already has its outcome (client_gone): there is nothing to deny and nobody to answer.
    if (err instanceof ClientGone && x.record) return;
    const denial = err instanceof Denial ? err : (this.#d.log(`seb: internal error: ${err instanceof Error ? err.stack : String(err)}`), null);
    if (denial) {
      x.record = await recordDenial(this.#audit, () => this.#decision(x, 'deny', denial), denial);
      recordClientGone(this.#audit, denial, x.record, x.started);
    }
    this.#d.metrics.requests.inc({ target: 'k8s', decision: 'deny', reason: denial?.code ?? 'internal' });
    const message = denialMessage(denial, x.certificate?.jti ?? x.claimedJti);
    const info = x.info;
    const details = info?.resource ? { ...(info.name ? { name: info.name } : {}), group: info.group, kind: info.resource } : undefined;
    const { status, body } = kubeStatus(denial ? denial.status : 500, message, details);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    this.#sebHeaders(x, (k, v) => (headers[k] = v), 'deny', denial);
    send(status, headers, JSON.stringify(body));
  }
}

/**
 * The admission pipeline (SPEC §4), run once for every request of every target, reads and tunnels
 * included. The order is stages.ts's: hygiene -> carrier -> certificate -> authority -> executor ->
 * vending -> match -> replay -> drift -> mint -> sign -> record -> upstream. The target (AWS,
 * Kubernetes: targets/target.ts) reads its protocol and speaks to its upstream; this file decides,
 * records the decision and is the only code that answers the client (forward.ts and tunnel.ts are
 * its halves that relay an admitted request). Stages throw Denial; a request fails exactly once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ClientGone, Denial } from '../reasons.js';
import type { Certificate, Op } from '../certificate/types.js';
import type { Config } from '../config/types.js';
import type { CertificateVerifier } from '../certificate/verify.js';
import type { Authority } from '../authority/state.js';
import type { ReplayLedger } from '../replay/types.js';
import type { RecordWriter } from '../records/writer.js';
import type { RecordRef } from '../records/types.js';
import type { AdmittedRequest, ReadyRequest, RenderedAnswer, Target, TargetRequest } from '../targets/target.js';
import { cleanHead } from './hygiene.js';
import { bodyLimits, readBody, type BodyLimits } from './body.js';
import type { Metrics } from './metrics.js';
import { certificateSummary, runTimeValues, safeText } from './record-fields.js';
import { reserveUse } from '../replay/run-time.js';
import { type Audit, denialMessage, recordClientGone, recordDenial, recordedDetail, sebHeaders } from './responses.js';
import type { Lanes } from './lanes.js';
import { errorText } from './upstream-failure.js';
import { Exchange, type Admitted, type Decision } from './exchange.js';
import type { TunnelRequest, UpstreamRequest } from '../targets/target.js';
import { StreamGuard } from './stream-guard.js';
import { forward } from './forward.js';
import { tunnel } from './tunnel.js';

export interface RunnerDeps {
  readonly config: Config;
  readonly verifier: CertificateVerifier;
  readonly authority: Authority;
  readonly ledger: ReplayLedger;
  readonly records: RecordWriter;
  readonly metrics: Metrics;
  /** Upstream capacity per class of request (issue 11 §3); drift probes use the target's own pool. */
  readonly lanes: Lanes;
  /** Operational log lines (never records). */
  readonly log: (line: string) => void;
  /** `seb op capture`: mutations are printed as ops instead of executed; returns the op's index. */
  readonly capture?: (op: Op) => number;
  /** The account written into captured ARNs: the capture executor's (SPEC §2.1). */
  readonly captureAccount?: string;
  /** The broker's clock in seconds, for run-time timestamps (SPEC §2.2); Date.now by default. */
  readonly now?: () => number;
}

/** `seb op capture`: the answer the capture broker gives in the upstream's place (an S3 multipart step). */
class Captured {
  constructor(readonly answer: RenderedAnswer) {}
}

/** A verified certificate and this target's profile of its executor (SPEC §5). */
interface Certified<P> {
  readonly cert: Certificate;
  readonly profile: P;
}

/** The sign stage's last step: the request as it goes upstream, or an upgrade's own connection. */
type Sign<U> = (request: AdmittedRequest<unknown>, cert: Certificate | null) => U | Promise<U>;
const signHttp: Sign<UpstreamRequest> = (request, cert) => request.prepare(cert);
const signTunnel: Sign<TunnelRequest> = (request, cert) => request.tunnel(cert);

const EMPTY = Buffer.alloc(0);

export class Runner<P> {
  readonly target: Target<P>;
  readonly d: RunnerDeps;
  readonly streams: StreamGuard;
  /** Where records and operational log lines go. */
  readonly audit: Audit;
  /** limits.request_timeout in ms, compiled once: the wait for a lane place and the answer's head. */
  readonly timeoutMs: number;
  readonly #body: BodyLimits;
  readonly #readsAllowed: boolean;
  readonly #readsDenied: boolean;
  readonly #captureAccount: string;
  readonly #now: () => number;

  constructor(target: Target<P>, deps: RunnerDeps) {
    this.target = target;
    this.d = deps;
    const { config } = deps;
    this.audit = { records: deps.records, log: deps.log };
    this.timeoutMs = config.limits.request_timeout * 1000;
    this.#body = bodyLimits(config.limits);
    this.streams = new StreamGuard(deps.authority, config.limits.max_stream, config.trust.clock_skew);
    this.#readsAllowed = config.reads === 'allow';
    this.#readsDenied = config.reads === 'deny';
    this.#captureAccount = deps.captureAccount ?? '{account}';
    this.#now = deps.now ?? (() => Date.now() / 1000);
  }

  /** Node's 'request' and 'checkContinue' events both land here. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const x = new Exchange<P>(req);
    this.#admit(x, null, res, signHttp)
      .then((admitted) => (admitted instanceof Captured ? void res.writeHead(admitted.answer.status, admitted.answer.headers).end(admitted.answer.body) : forward(this, x, res, admitted)))
      .catch((err: unknown) =>
        this.#fail(x, err, (answer) => {
          if (res.headersSent) return void res.destroy();
          res.writeHead(answer.status, answer.headers).end(req.method === 'HEAD' ? undefined : answer.body);
        }, () => void res.destroy()),
      );
  };

  /** exec, attach, port-forward, proxy (WebSocket or SPDY): the same admission, then a tunnel on 101. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const x = new Exchange<P>(req);
    socket.on('error', () => socket.destroy());
    const answer = (rendered: RenderedAnswer): void => {
      const body = Buffer.from(rendered.body);
      const headers = { ...rendered.headers, connection: 'close', 'content-length': String(body.length) };
      const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${rendered.status} ${rendered.status === 403 ? 'Forbidden' : 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n`), body]));
    };
    this.#admit(x, upgradeHeaders(req), null, signTunnel)
      .then((admitted) => (admitted instanceof Captured ? answer(admitted.answer) : tunnel(this, x, socket, head, admitted)))
      .catch((err: unknown) => this.#fail(x, err, answer, () => undefined));
  };

  /** Shutdown: closes every open watch, follow and tunnel now, with `why` in its outcome record. */
  closeStreams(why: string): void {
    this.streams.closeAll(why);
  }

  /** Every stage up to the decision record, in stages.ts order. */
  async #admit<U>(x: Exchange<P>, upgrade: Readonly<Record<string, string>> | null, res: ServerResponse | null, sign: Sign<U>): Promise<Admitted<U> | Captured> {
    const { config } = this.d;
    const head = (x.head = cleanHead(x.req));
    const request = this.target.open(head, upgrade);
    x.view = request;
    // What the head tells: the cheapest refusals come before the body is read (SPEC §3).
    const { early } = request;
    const readThrough = early !== null && early.kind.read && this.#readsAllowed;
    if (early !== null && early.kind.read && this.#readsDenied) throw readsDenied();
    let certified: Certified<P> | null = null;
    const reader = readThrough ? this.#reader(x) : null;
    if (early !== null && !readThrough && !this.d.capture) {
      certified = await this.#certify(x, request);
      if (early.kind.vends !== null) throw new Denial('credential_vending', early.kind.vends);
      early.matchHead(certified.cert.contract.ops, certified.profile);
      x.clock.lap('match');
    }
    if (head.expectContinue && res) res.writeContinue();

    const raw = upgrade ? EMPTY : await readBody(x.req, head.contentLength, this.#body);
    x.bodyRead = true;
    if (reader !== null) {
      x.clock.reset();
      return this.#read(x, (x.view = request.passRead(raw, reader)), sign);
    }
    const finished = (x.view = request.finish(raw));
    x.clock.reset();
    const { kind } = finished;
    if (kind.read && this.#readsAllowed) return this.#read(x, (x.view = finished.bind(this.#reader(x))), sign);
    if (this.d.capture) {
      const answer = finished.capture(this.#captureAccount, this.d.capture);
      if (answer === null) throw new Denial('contract_mismatch', 'seb op capture: the mutation was printed as an op, not executed');
      return new Captured(answer);
    }
    if (kind.read && this.#readsDenied) throw readsDenied();
    // The certificate is verified once per request: here only where the head did not tell enough.
    certified ??= await this.#certify(x, request);
    const { cert } = certified;
    const bound = (x.view = finished.bind(certified.profile));
    if (kind.vends !== null) throw new Denial('credential_vending', kind.vends);
    const matched = (x.matched = bound.match(cert.contract.ops));
    x.clock.lap('match');
    x.reservation = await reserveUse(this.d.ledger, cert, matched, this.#now(), config.trust.clock_skew);
    x.clock.lap('replay');
    if (matched.op.pre_state !== null) {
      await bound.drift(matched, cert);
      x.clock.lap('drift');
    }
    const { request: admitted, upstream } = await this.#prepare(x, bound, cert, sign);
    return { decision: 'admit', request: admitted, certificate: cert, matched, upstream };
  }

  /** carrier -> certificate -> authority -> executor: the certificate and this target's profile of its executor. */
  async #certify(x: Exchange<P>, request: TargetRequest<P>): Promise<Certified<P>> {
    x.clock.reset();
    const jws = request.carrier();
    if (jws === null) throw new Denial('no_certificate', this.target.carrierHint);
    x.jws = jws;
    const cert = await this.d.verifier.verify(jws);
    x.certificate = cert;
    this.d.authority.check(cert);
    const profile = this.target.executor(cert.execution_identity);
    if (profile === null) throw new Denial('unknown_execution_identity', `no ${this.target.name} executor named ${safeText(cert.execution_identity)}`);
    x.profile = profile;
    x.clock.lap('certificate');
    return { cert, profile };
  }

  /** The read executor a read under `reads: allow` goes out as (SPEC §7). */
  #reader(x: Exchange<P>): P {
    const { reader } = this.target;
    if (reader === null) throw new Denial('unknown_execution_identity', `no ${this.target.name} read_executor is configured`);
    x.profile = reader;
    return reader;
  }

  /** A read under `reads: allow`: no certificate, out under the read executor (SPEC §7). */
  async #read<U>(x: Exchange<P>, ready: ReadyRequest<P>, sign: Sign<U>): Promise<Admitted<U>> {
    const { request, upstream } = await this.#prepare(x, ready, null, sign);
    return { decision: 'read', request, certificate: null, matched: null, upstream };
  }

  /** mint -> sign -> record: the decision record is written ahead of forwarding (SPEC §8). */
  async #prepare<U>(x: Exchange<P>, ready: ReadyRequest<P>, cert: Certificate | null, sign: Sign<U>): Promise<{ request: AdmittedRequest<P>; upstream: U }> {
    const request = (x.view = await ready.identity(cert));
    x.clock.lap('mint');
    const upstream = await sign(request, cert);
    x.clock.lap('sign');
    const decision: Decision = cert === null ? 'read' : 'admit';
    x.record = await this.#decision(x, decision, null).catch((err: unknown) => {
      throw new Denial('audit_unavailable', 'the record sink refused the decision', undefined, errorText(err));
    });
    x.clock.lap('record');
    return { request, upstream };
  }

  #decision(x: Exchange<P>, decision: Decision | 'deny', denial: Denial | null): Promise<RecordRef> {
    const { head } = x;
    return this.d.records.decision({
      request: {
        target: this.target.name,
        method: safeText(head?.method ?? x.req.method ?? ''),
        path: safeText(head?.path ?? ''),
        ...(x.view ? x.view.project(x.profile) : this.target.bareProjection),
        ...runTimeValues(x.matched?.values),
      },
      certificate: certificateSummary(x.certificate, x.matched?.index ?? null, x.claimedJti),
      decision,
      reason: denial?.code ?? null,
      detail: recordedDetail(denial),
      identity: x.view?.identityRecord() ?? null,
    });
  }

  /** The `X-SEB-*` and `Server-Timing` headers of an answer (SPEC §4). */
  sebHeaders(x: Exchange<unknown>, set: (name: string, value: string) => void, decision: Decision | 'deny', denial: Denial | null): void {
    sebHeaders(set, decision, denial, x.record, x.clock);
  }

  /** Every failure before forwarding: release the use, record the denial, answer natively. */
  async #fail(x: Exchange<P>, err: unknown, send: (answer: RenderedAnswer) => void, gone: () => void): Promise<void> {
    x.reservation?.release();
    // Its decision record already has its outcome (client_gone): there is nothing to deny and nobody to answer.
    if (err instanceof ClientGone && x.record) return gone();
    const denial = err instanceof Denial ? err : (this.d.log(`seb: internal error: ${err instanceof Error ? err.stack : String(err)}`), null);
    if (denial) {
      x.record = await recordDenial(this.audit, () => this.#decision(x, 'deny', denial), denial);
      recordClientGone(this.audit, denial, x.record, x.started);
    }
    this.d.metrics.requests.inc({ target: this.target.name, decision: 'deny', reason: denial?.code ?? 'internal' });
    const message = denialMessage(denial, x.certificate?.jti ?? x.claimedJti);
    const status = denial ? denial.status : 500;
    const rendered = x.view ? x.view.render(status, message, true) : this.target.renderBare(x.req.headers, status, message);
    const headers: Record<string, string> = { ...rendered.headers };
    this.sebHeaders(x, (k, v) => (headers[k] = v), 'deny', denial);
    // A denial before the body was read closes the connection instead of draining an upload (SPEC §3).
    if (!x.bodyRead) headers['connection'] = 'close';
    send({ status: rendered.status, headers, body: rendered.body });
  }
}

function readsDenied(): Denial {
  return new Denial('contract_mismatch', 'reads are denied by this broker (reads: deny)');
}

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

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
import type { ExecutorProfile, RenderedAnswer, RequestKind, Target, TargetRequest } from '../targets/target.js';
import { cleanHead } from './hygiene.js';
import { readBody } from './body.js';
import type { Metrics } from './metrics.js';
import { certificateSummary, runTimeValues, safeText } from './record-fields.js';
import { reserveUse } from '../replay/run-time.js';
import { type Audit, denialMessage, recordClientGone, recordDenial, recordedDetail, sebHeaders } from './responses.js';
import type { Lanes } from './lanes.js';
import { errorText } from './upstream-failure.js';
import { Exchange, type Admitted, type Decision } from './exchange.js';
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

const EMPTY = Buffer.alloc(0);

export class Runner {
  readonly target: Target;
  readonly d: RunnerDeps;
  readonly streams: StreamGuard;
  /** Where records and operational log lines go. */
  readonly audit: Audit;
  /** limits.request_timeout in ms, compiled once: the wait for a lane place and the answer's head. */
  readonly timeoutMs: number;
  readonly #readsAllowed: boolean;
  readonly #readsDenied: boolean;
  readonly #captureAccount: string;
  /** The read executor's profile for this target (SPEC §7), or null when none is configured. */
  readonly #reader: ExecutorProfile | null;
  readonly #now: () => number;

  constructor(target: Target, deps: RunnerDeps) {
    this.target = target;
    this.d = deps;
    const { config } = deps;
    this.audit = { records: deps.records, log: deps.log };
    this.timeoutMs = config.limits.request_timeout * 1000;
    this.streams = new StreamGuard(deps.authority, config.limits.max_stream, config.trust.clock_skew);
    this.#readsAllowed = config.reads === 'allow';
    this.#readsDenied = config.reads === 'deny';
    this.#captureAccount = deps.captureAccount ?? '{account}';
    this.#now = deps.now ?? (() => Date.now() / 1000);
    this.#reader = (config.read_executor && config.executors[config.read_executor]?.[target.name]) || null;
  }

  /** Node's 'request' and 'checkContinue' events both land here. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const x = new Exchange(req);
    this.#admit(x, null, res)
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
    const x = new Exchange(req);
    socket.on('error', () => socket.destroy());
    const answer = (rendered: RenderedAnswer): void => {
      const body = Buffer.from(rendered.body);
      const headers = { ...rendered.headers, connection: 'close', 'content-length': String(body.length) };
      const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${rendered.status} ${rendered.status === 403 ? 'Forbidden' : 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n`), body]));
    };
    this.#admit(x, upgradeHeaders(req), null)
      .then((admitted) => (admitted instanceof Captured ? answer(admitted.answer) : tunnel(this, x, socket, head, admitted)))
      .catch((err: unknown) => this.#fail(x, err, answer, () => undefined));
  };

  /** Shutdown: closes every open watch, follow and tunnel now, with `why` in its outcome record. */
  closeStreams(why: string): void {
    this.streams.closeAll(why);
  }

  /** Every stage up to the decision record, in stages.ts order. */
  async #admit(x: Exchange, upgrade: Readonly<Record<string, string>> | null, res: ServerResponse | null): Promise<Admitted | Captured> {
    const { config } = this.d;
    const head = (x.head = cleanHead(x.req));
    const request = (x.request = this.target.open(head, upgrade));
    // What the head tells: the cheapest refusals come before the body is read (SPEC §3).
    const early = request.kind;
    const readThrough = early !== null && early.read && this.#readsAllowed;
    if (early !== null && early.read && this.#readsDenied) throw readsDenied();
    if (readThrough) this.#bindReader(request);
    else if (early !== null && !this.d.capture) {
      const cert = await this.#certify(x, request, early);
      request.matchHead(cert.contract.ops);
      x.clock.lap('match');
    }
    if (head.expectContinue && res) res.writeContinue();

    const raw = upgrade ? EMPTY : await readBody(x.req, head.contentLength, config.limits);
    x.bodyRead = true;
    const kind = request.finish(raw, !readThrough);
    x.clock.reset();
    if (kind.read && this.#readsAllowed) {
      if (!readThrough) this.#bindReader(request);
      return this.#prepare(x, request, null, 'read', upgrade !== null);
    }
    if (this.d.capture) {
      const answer = request.capture(this.#captureAccount, this.d.capture);
      if (answer === null) throw new Denial('contract_mismatch', 'seb op capture: the mutation was printed as an op, not executed');
      return new Captured(answer);
    }
    if (kind.read && this.#readsDenied) throw readsDenied();
    const cert = await this.#certify(x, request, kind);
    const matched = (x.matched = request.match(cert.contract.ops));
    x.clock.lap('match');
    x.reservation = await reserveUse(this.d.ledger, cert, matched, this.#now(), config.trust.clock_skew);
    x.clock.lap('replay');
    if (matched.op.pre_state !== null) {
      await request.drift(matched, cert);
      x.clock.lap('drift');
    }
    return this.#prepare(x, request, cert, 'admit', upgrade !== null);
  }

  /**
   * carrier -> certificate -> authority -> executor -> vending. Run on the head's reading where the
   * head tells enough, then again on the full reading, when the certificate is already verified and
   * only vending is checked again.
   */
  async #certify(x: Exchange, request: TargetRequest, kind: RequestKind): Promise<Certificate> {
    x.clock.reset();
    let cert = x.certificate;
    if (!cert) {
      const jws = request.carrier();
      if (jws === null) throw new Denial('no_certificate', this.target.carrierHint);
      x.jws = jws;
      cert = await this.d.verifier.verify(jws);
      x.certificate = cert;
      this.d.authority.check(cert);
      const profile = this.d.config.executors[cert.execution_identity]?.[this.target.name];
      if (!profile) throw new Denial('unknown_execution_identity', `no ${this.target.name} executor named ${safeText(cert.execution_identity)}`);
      request.bind(profile);
      x.clock.lap('certificate');
    }
    if (kind.vends !== null) throw new Denial('credential_vending', kind.vends);
    return cert;
  }

  #bindReader(request: TargetRequest): void {
    if (!this.#reader) throw new Denial('unknown_execution_identity', `no ${this.target.name} read_executor is configured`);
    request.bind(this.#reader);
  }

  /** mint -> sign -> record: the decision record is written ahead of forwarding (SPEC §8). */
  async #prepare(x: Exchange, request: TargetRequest, cert: Certificate | null, decision: Decision, tunnel: boolean): Promise<Admitted> {
    await request.identity(cert);
    x.clock.lap('mint');
    const upstream = tunnel ? null : await request.prepare(cert);
    x.clock.lap('sign');
    x.record = await this.#decision(x, decision, null).catch((err: unknown) => {
      throw new Denial('audit_unavailable', 'the record sink refused the decision', undefined, errorText(err));
    });
    x.clock.lap('record');
    return { decision, request, certificate: cert, upstream };
  }

  #decision(x: Exchange, decision: Decision | 'deny', denial: Denial | null): Promise<RecordRef> {
    const { head } = x;
    return this.d.records.decision({
      request: {
        target: this.target.name,
        method: safeText(head?.method ?? x.req.method ?? ''),
        path: safeText(head?.path ?? ''),
        ...(x.request ? x.request.project() : this.target.bareProjection),
        ...runTimeValues(x.matched?.values),
      },
      certificate: certificateSummary(x.certificate, x.matched?.index ?? null, x.claimedJti),
      decision,
      reason: denial?.code ?? null,
      detail: recordedDetail(denial),
      identity: x.request?.identityRecord() ?? null,
    });
  }

  /** The `X-SEB-*` and `Server-Timing` headers of an answer (SPEC §4). */
  sebHeaders(x: Exchange, set: (name: string, value: string) => void, decision: Decision | 'deny', denial: Denial | null): void {
    sebHeaders(set, decision, denial, x.record, x.clock);
  }

  /** Every failure before forwarding: release the use, record the denial, answer natively. */
  async #fail(x: Exchange, err: unknown, send: (answer: RenderedAnswer) => void, gone: () => void): Promise<void> {
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
    const rendered = x.request ? x.request.render(status, message, true) : this.target.renderBare(x.req.headers, status, message);
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

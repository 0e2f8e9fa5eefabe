/**
 * The AWS listener's request lifecycle (SPEC §4). One ordered pipeline:
 *   hygiene -> understand (head) -> carrier -> certificate -> authority -> executor -> vending
 *   -> match -> [100 Continue] -> body -> understand (full) -> match + body -> replay reserve
 *   -> drift (probe as the read executor) -> mint -> sign (with the drift guard) -> decision record
 *   (write-ahead) -> commit -> forward -> outcome record.
 * Reads on the allow-list (SPEC §7) skip the certificate stages under `reads: allow`.
 * Stages throw Denial; only this file writes responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { readAnswer, relayBody } from './relay-body.js';
import type { Dispatcher } from 'undici';
import { ClientGone, Denial } from '../reasons.js';
import type { AwsOp, AwsPreState, Certificate } from '../certificate/types.js';
import type { AwsExecutor, Config } from '../config/types.js';
import { awsCarrier, claimedJti } from '../certificate/carrier.js';
import type { CertificateVerifier } from '../certificate/verify.js';
import type { Authority } from '../authority/state.js';
import { matchAwsOp, type Matched } from '../contract/match.js';
import { MultipartCapture, type RecordOp } from '../contract/capture-multipart.js';
import type { ReplayLedger, Reservation } from '../replay/types.js';
import { rememberAnswer, reserveUse } from '../replay/run-time.js';
import { inAnswerBody, sourcesOf } from '../contract/answers.js';
import { understandAws } from '../targets/aws/understand.js';
import { decodeAwsBody } from '../targets/aws/aws-chunked.js';
import { accountOfRoleArn, resolveArn } from '../targets/aws/arn.js';
import { resolveEndpoint } from '../targets/aws/endpoints.js';
import { parseQuery } from '../targets/aws/query-string.js';
import { signUpstream, type SignedRequest } from '../targets/aws/sign.js';
import { judgeProbe, planProbe } from '../targets/aws/drift.js';
import { sendProbe, type ProbeDeps } from '../targets/aws/probe.js';
import { errorStyle, renderAwsError } from '../targets/aws/errors.js';
import { redactedHeaders } from '../targets/aws/catalog.js';
import type { AwsBody, AwsOperation } from '../targets/aws/types.js';
import type { AwsMinter } from '../identity/aws-minter.js';
import { policyDigest, sessionPolicy } from '../identity/session-policy.js';
import type { RecordWriter } from '../records/writer.js';
import type { RecordRef } from '../records/types.js';
import { sha256Hex } from '../lib/digest.js';
import { canonicalJson } from '../lib/jcs.js';
import { cleanHead, type CleanHead } from './hygiene.js';
import { readBody } from './body.js';
import { type Metrics, StageClock } from './metrics.js';
import { certificateSummary, runTimeValues, safeText } from './record-fields.js';
import { type Audit, type Decision, type OutcomeKind, commitBeforeForward, denialMessage, recordClientGone } from './responses.js';
import { recordDenial, recordedDetail, recordOutcome, refuseIfClientLeft, sebHeaders } from './responses.js';
import { Lanes, type Slot } from './lanes.js';
import { guardRate, TOO_SLOW } from './rate-guard.js';
import { errorText, upstreamFailure, type UpstreamFailure } from './upstream-failure.js';

export interface AwsHandlerDeps {
  readonly config: Config;
  readonly verifier: CertificateVerifier;
  readonly authority: Authority;
  readonly ledger: ReplayLedger;
  readonly minter: AwsMinter;
  readonly records: RecordWriter;
  readonly metrics: Metrics;
  /** The pool for drift probes; forwarded requests take a place in their lane instead. */
  readonly dispatcher: Dispatcher;
  /** Upstream capacity per class of request (issue 11 §3). */
  readonly lanes: Lanes;
  /** Operational log lines (never records). */
  readonly log: (line: string) => void;
  /** `seb op capture`: mutations are printed as ops instead of executed; returns the op's index. */
  readonly capture?: RecordOp;
  /** The account written into captured ARNs: the capture executor's (SPEC §2.1). */
  readonly captureAccount?: string;
  /** The broker's clock in seconds, for run-time timestamps (SPEC §2.2); Date.now by default. */
  readonly now?: () => number;
}

/** An answer that later ops bind to is read whole before it is relayed; S3's are a few hundred bytes. */
const MAX_BOUND_ANSWER = 1 << 20;

/** Response headers that belong to one hop only (RFC 9110 §7.6.1), never relayed. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-connection']);

/** No conditional headers to add: the op has no pre_state, or its operation takes none. */
const NO_GUARD: Readonly<Record<string, string>> = Object.freeze({});

/** Everything one request accumulates on its way through the pipeline. */
class Exchange {
  head: CleanHead | null = null;
  operation: AwsOperation | null = null;
  certificate: Certificate | null = null;
  /** The id a refused certificate claims, unverified: named in the denial, never trusted. */
  /** The certificate as carried, before it is verified. */
  jws: string | null = null;
  /** The jti a denial names: read from the unverified payload only when a record needs it. */
  get claimedJti(): string | null {
    return this.jws === null ? null : claimedJti(this.jws);
  }
  matched: Matched<AwsOp> | null = null;
  account = '';
  reservation: Reservation | null = null;
  identity: Record<string, unknown> | null = null;
  /** Who probed the pre_state (read executor), recorded beside the forwarding identity. */
  probe: Readonly<Record<string, unknown>> | null = null;
  /** Headers that make the upstream enforce the checked pre_state (drift.ts), signed with the request. */
  guard: Readonly<Record<string, string>> = NO_GUARD;
  requestDigest: string | null = null;
  record: RecordRef | null = null;
  bodyRead = false;
  readonly clock = new StageClock();
  readonly started = performance.now();
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}
}

export class AwsHandler {
  readonly #d: AwsHandlerDeps;
  readonly #readExecutor: AwsExecutor | null;
  readonly #vendingAllowed: ReadonlySet<string>;
  readonly #endpoints: Readonly<Record<string, string>>;
  readonly #timeoutMs: number;
  readonly #captureAccount: string;
  /** `seb op capture`: answers S3 multipart steps itself so the whole command is captured (SPEC §2.2). */
  readonly #multipart = new MultipartCapture();
  readonly #probeDeps: ProbeDeps | null;
  readonly #audit: Audit;
  readonly #now: () => number;

  constructor(deps: AwsHandlerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? (() => Date.now() / 1000);
    this.#audit = { records: deps.records, log: deps.log };
    const { config } = deps;
    this.#readExecutor = (config.read_executor && config.executors[config.read_executor]?.aws) || null;
    this.#vendingAllowed = new Set(config.aws?.allow_credential_vending ?? []);
    this.#endpoints = config.aws?.endpoints ?? {};
    this.#timeoutMs = config.limits.request_timeout * 1000;
    this.#captureAccount = deps.captureAccount ?? '{account}';
    const reader = this.#readExecutor;
    this.#probeDeps = reader && { minter: deps.minter, dispatcher: deps.dispatcher, endpoints: this.#endpoints, reader, timeoutMs: this.#timeoutMs };
  }

  /** Node's 'request' and 'checkContinue' events both land here. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const x = new Exchange(req, res);
    this.#run(x).catch((err: unknown) => this.#fail(x, err));
  };

  async #run(x: Exchange): Promise<void> {
    const { config } = this.#d;
    const head = (x.head = cleanHead(x.req));
    // What the head alone tells: enough for S3 and Lambda, not for query/json bodies.
    const early = understandAws(head, null);
    const readAllowed = config.reads === 'allow';
    if (early && !(early.read && readAllowed) && !this.#d.capture) {
      x.operation = early;
      await this.#certify(x, early, null);
    }
    if (head.expectContinue) x.res.writeContinue();

    const raw = await readBody(x.req, head.contentLength, config.limits);
    x.bodyRead = true;
    const body = decodeAwsBody(head.headers, raw);
    const operation = (x.operation = understandAws(head, body.payload)!);
    x.clock.reset();

    if (operation.read && readAllowed) return this.#read(x, operation, body);
    if (this.#d.capture) return this.#capture(x, operation, body);
    if (operation.read && config.reads === 'deny') throw new Denial('contract_mismatch', 'reads are denied by this broker (reads: deny)');
    const matched = await this.#certify(x, operation, body.payload);
    return this.#execute(x, operation, body, matched!);
  }

  /**
   * The certificate stages, in SPEC §4 order, down to body_mismatch. With `payload` null (body not
   * read yet) the body binding is not checked and nothing is returned.
   */
  async #certify(x: Exchange, operation: AwsOperation, payload: Buffer | null): Promise<Matched<AwsOp> | null> {
    const { verifier, authority, config } = this.#d;
    x.clock.reset();
    let cert = x.certificate;
    if (!cert) {
      const jws = awsCarrier(x.head!.headers);
      if (jws === null) throw new Denial('no_certificate', 'send the certificate as AWS_SESSION_TOKEN or an X-SEB-Certificate header');
      x.jws = jws;
      cert = await verifier.verify(jws);
      x.certificate = cert;
      authority.check(cert);
      const executor = config.executors[cert.execution_identity]?.aws;
      if (!executor) throw new Denial('unknown_execution_identity', `no aws executor named ${safeText(cert.execution_identity)}`);
      x.account = accountOfRoleArn(executor.role_arn);
      x.clock.lap('certificate');
    }
    if (operation.credentialVending && !this.#vendingAllowed.has(operation.operation)) {
      throw new Denial('credential_vending', `${operation.service}:${operation.operation} hands credentials or secrets to the caller`);
    }
    const matched = matchAwsOp(cert.contract.ops, operation, x.account, payload, x.head!.headers['content-type']);
    x.clock.lap('match');
    return matched;
  }

  async #execute(x: Exchange, operation: AwsOperation, body: AwsBody, matched: Matched<AwsOp>): Promise<void> {
    const { config, ledger } = this.#d;
    const cert = x.certificate!;
    x.matched = matched;
    x.reservation = await reserveUse(ledger, cert, matched, this.#now(), config.trust.clock_skew);
    x.clock.lap('replay');
    if (matched.op.pre_state !== null) {
      x.guard = await this.#drift(x, operation, matched.op.pre_state, cert);
      x.clock.lap('drift');
    }
    const executor = config.executors[cert.execution_identity]!.aws!;
    await this.#forward(x, operation, body, executor, cert.sub, cert.jti, 'admit');
  }

  /**
   * SPEC §2.1 pre_state: probed under the read executor just before minting; a pre_state that does
   * not hold, or that the broker cannot probe exactly, is denied `drift`. Returns the guard headers.
   */
  async #drift(x: Exchange, operation: AwsOperation, preState: AwsPreState, cert: Certificate): Promise<Readonly<Record<string, string>>> {
    const deps = this.#probeDeps;
    if (!deps) throw new Denial('drift', 'no aws read_executor is configured to probe pre_state');
    const plan = planProbe(operation, resolveArn(operation.resource, x.account), preState);
    const probe = await sendProbe(deps, plan, cert.sub, cert.jti);
    this.#d.metrics.mintCache.inc({ result: probe.cached ? 'hit' : 'miss' });
    x.probe = probe.identity;
    judgeProbe(plan.check, probe.answer);
    return plan.guard;
  }

  async #read(x: Exchange, operation: AwsOperation, body: AwsBody): Promise<void> {
    const executor = this.#readExecutor;
    if (!executor) throw new Denial('unknown_execution_identity', 'no aws read_executor is configured');
    x.account = accountOfRoleArn(executor.role_arn);
    await this.#forward(x, operation, body, executor, 'seb-reader', 'read', 'read');
  }

  /** Mint, sign, record (write-ahead), commit the use, forward and stream the answer back. */
  async #forward(
    x: Exchange,
    operation: AwsOperation,
    body: AwsBody,
    executor: AwsExecutor,
    sub: string,
    jti: string,
    decision: 'admit' | 'read',
  ): Promise<void> {
    const { minter, metrics } = this.#d;
    const head = x.head!;
    const permissions = operation.permissions.map((p) => ({ action: p.action, resource: resolveArn(p.resource, x.account) }));
    const policy = sessionPolicy(permissions);
    const minted = await minter.mint({
      roleArn: executor.role_arn,
      ...(executor.external_id ? { externalId: executor.external_id } : {}),
      policy,
      sub,
      jti,
    });
    metrics.mintCache.inc({ result: minted.cached ? 'hit' : 'miss' });
    x.identity = {
      type: 'aws',
      role_arn: executor.role_arn,
      access_key_id: minted.credentials.accessKeyId,
      policy_sha256: policyDigest(policy),
      cached: minted.cached,
    };
    x.clock.lap('mint');

    const endpoint = resolveEndpoint(operation.service, operation.region, this.#endpoints);
    const payloadHash = sha256Hex(body.payload);
    const upstream = await signUpstream({
      service: operation.service,
      method: head.method,
      path: head.path,
      query: parseQuery(head.query),
      rawQuery: head.query,
      headers: { ...operation.headers, ...body.integrityHeaders, ...x.guard },
      payload: body.payload,
      payloadHash,
      endpoint,
      credentials: minted.credentials,
    });
    x.requestDigest = forwardedDigest(head.method, upstream.url, upstream.headers, payloadHash);
    x.clock.lap('sign');

    // Write-ahead (SPEC §8): nothing goes upstream unless its decision record was accepted.
    x.record = await this.#decision(x, decision, null).catch((err: unknown) => {
      throw new Denial('audit_unavailable', 'the record sink refused the decision', undefined, errorText(err));
    });
    x.clock.lap('record');
    // Issue 11 §3: the wait for a place counts against limits.request_timeout, with the answer's head.
    const deadline = performance.now() + this.#timeoutMs;
    let slot: Slot;
    try {
      slot = await this.#d.lanes.acquire(Lanes.laneOf(decision === 'admit', false), deadline);
    } catch (err) {
      // Nothing was sent: the use goes back, and the client may try again.
      x.reservation?.release();
      x.reservation = null;
      return this.#failUpstream(x, decision, upstreamFailure(err, jti === 'read' ? null : jti), body.payload.length, 0);
    }
    try {
      refuseIfClientLeft(x.res, this.#audit, x.record, x.started, body.payload.length);
      await commitBeforeForward(x.reservation, this.#audit, x.record, x.started, body.payload.length);
      await this.#relay(x, upstream, head.method, body.payload, decision, slot.dispatcher, deadline);
    } finally {
      slot.release();
    }
  }

  async #relay(
    x: Exchange,
    upstream: SignedRequest,
    method: string,
    payload: Buffer,
    decision: 'admit' | 'read',
    dispatcher: Dispatcher,
    deadline: number,
  ): Promise<void> {
    const { res } = x;
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
    if (res.destroyed) abort.abort();
    let status: number | null = null;
    let bytesOut = 0;
    let upstreamRequestId: string | null = null;
    let error: string | null = null;
    let stopGuard = (): void => {};
    try {
      const answer = await dispatcher.request({
        origin: upstream.origin,
        path: upstream.target,
        method: method as Dispatcher.HttpMethod,
        headers: upstream.headers,
        body: payload.length ? payload : null,
        signal: abort.signal,
        headersTimeout: Math.max(1, Math.round(deadline - performance.now())),
        bodyTimeout: this.#timeoutMs,
      });
      x.clock.lap('upstream');
      status = answer.statusCode;
      // The guard's precondition failed: the pre_state changed between the probe and the forward.
      if (status === 412 && Object.keys(x.guard).length > 0) error = 'PreconditionFailed: pre_state no longer held upstream (changed after the drift probe)';
      const h = answer.headers;
      const kept = status >= 200 && status < 300 && decision === 'admit' ? await this.#remember(x, h, answer.body) : null;
      upstreamRequestId = firstHeader(h['x-amz-request-id']) ?? firstHeader(h['x-amzn-requestid']) ?? null;
      // A certificate-free read never passes on a `sensitive` member (SPEC §7).
      const redacted = decision === 'read' ? redactedHeaders(x.operation!.service, x.operation!.operation) : null;
      for (const [name, value] of Object.entries(h)) {
        if (value === undefined || HOP_BY_HOP.has(name) || redacted?.has(name)) continue;
        res.setHeader(name, value);
      }
      this.#sebHeaders(x, decision, null);
      res.writeHead(status);
      if (kept) {
        bytesOut = kept.length;
        res.end(kept);
      } else {
        answer.body.on('data', (chunk: Buffer) => {
          bytesOut += chunk.length;
        });
        stopGuard = guardRate(answer.body, this.#d.config.limits.min_read_rate, this.#timeoutMs, () => (outcome = 'closed'));
        await relayBody(answer.body, res);
      }
    } catch (err) {
      if (outcome === 'closed') error = TOO_SLOW;
      else if (outcome === 'client_gone') error = errorText(err);
      else if (!res.headersSent) {
        const failure = upstreamFailure(err, x.certificate?.jti ?? null);
        this.#answerFailure(x, decision, failure);
        ({ status, error, outcome } = failure);
      } else {
        error = errorText(err);
        outcome = 'upstream_failed';
      }
      if (outcome === 'upstream_failed') this.#d.log(`seb: upstream failed (record ${x.record?.seq ?? 'none'}): ${error}`);
      if (!res.writableEnded) res.destroy();
    } finally {
      stopGuard();
      res.off('close', onClose);
      this.#d.metrics.requests.inc({ target: 'aws', decision, reason: '' });
      x.clock.observe(this.#d.metrics, 'aws');
      recordOutcome(this.#audit, x.record, x.started, { outcome, status, upstreamRequestId, bytesIn: payload.length, bytesOut, error });
    }
  }

  /**
   * SPEC §2.2: when later ops bind to this op's answer, keeps their values before the client sees
   * it. Returns the answer's body when it had to be read for that, else null (it is streamed).
   */
  async #remember(x: Exchange, headers: Record<string, string | string[] | undefined>, body: Readable): Promise<Buffer | null> {
    const cert = x.certificate!;
    const sources = sourcesOf(cert.contract.ops, x.matched!.index);
    if (sources.length === 0) return null;
    const held = sources.some(inAnswerBody) ? await readAnswer(body, MAX_BOUND_ANSWER) : null;
    await rememberAnswer(this.#d.ledger, cert, x.matched!.index, sources, { headers, body: held }, this.#d.config.trust.clock_skew);
    return held;
  }

  /** 502, 503 or 504 in the client's own error format, before any byte of an answer went out. */
  #answerFailure(x: Exchange, decision: 'admit' | 'read', failure: UpstreamFailure): void {
    const style = errorStyle(x.head!.headers, x.operation?.protocol);
    const rendered = renderAwsError(style, failure.status, failure.message);
    this.#sebHeaders(x, decision, null);
    x.res.writeHead(rendered.status, rendered.headers);
    x.res.end(x.req.method === 'HEAD' ? undefined : rendered.body);
  }

  /** A request that never left the broker for want of a place: answered, logged and recorded. */
  #failUpstream(x: Exchange, decision: 'admit' | 'read', failure: UpstreamFailure, bytesIn: number, bytesOut: number): void {
    this.#d.log(`seb: not forwarded (record ${x.record?.seq ?? 'none'}): ${failure.error}`);
    if (!x.res.headersSent && !x.res.destroyed) this.#answerFailure(x, decision, failure);
    this.#d.metrics.requests.inc({ target: 'aws', decision, reason: '' });
    recordOutcome(this.#audit, x.record, x.started, { outcome: failure.outcome, status: failure.status, upstreamRequestId: null, bytesIn, bytesOut, error: failure.error });
  }

  /**
   * `seb op capture`: print the op this mutation needs, then refuse it (nothing is executed), or
   * give the synthetic answer of a multipart step so that the client goes on.
   */
  #capture(x: Exchange, operation: AwsOperation, body: AwsBody): void {
    const answer = this.#multipart.capture(operation, this.#captureAccount, body.payload, x.head!.headers['content-type'], this.#d.capture!);
    if (answer === null) throw new Denial('contract_mismatch', 'seb op capture: the mutation was printed as an op, not executed');
    x.res.writeHead(answer.status, answer.headers);
    x.res.end(answer.body);
  }

  async #decision(x: Exchange, decision: 'admit' | 'deny' | 'read', reason: Denial | null): Promise<RecordRef> {
    const op = x.operation;
    const head = x.head;
    return this.#d.records.decision({
      request: {
        target: 'aws',
        method: safeText(head?.method ?? x.req.method ?? ''),
        path: safeText(head?.path ?? ''),
        service: op?.service ?? null,
        region: op?.region ?? null,
        operation: op?.operation ?? null,
        resource: op ? resolveArn(op.resource, x.account || '{account}') : null,
        digest: x.requestDigest,
        ...runTimeValues(x.matched?.values),
      },
      certificate: certificateSummary(x.certificate, x.matched?.index ?? null, x.claimedJti),
      decision,
      reason: reason?.code ?? null,
      detail: recordedDetail(reason),
      identity: x.probe ? { ...(x.identity ?? { type: 'aws' }), probe: x.probe } : x.identity,
    });
  }

  #sebHeaders(x: Exchange, decision: Decision, denial: Denial | null): void {
    sebHeaders(x.res.setHeader.bind(x.res), decision, denial, x.record, x.clock);
  }

  /** Every failure before forwarding: release the use, record the denial, answer natively. */
  async #fail(x: Exchange, err: unknown): Promise<void> {
    x.reservation?.release();
    const { res } = x;
    // Its decision record already has its outcome (client_gone): there is nothing to deny and nobody to answer.
    if (err instanceof ClientGone && x.record) return void res.destroy();
    const denial = err instanceof Denial ? err : (this.#d.log(`seb: internal error: ${err instanceof Error ? err.stack : String(err)}`), null);
    const status = denial ? denial.status : 500;
    if (denial) {
      x.record = await recordDenial(this.#audit, () => this.#decision(x, 'deny', denial), denial);
      recordClientGone(this.#audit, denial, x.record, x.started);
    }
    this.#d.metrics.requests.inc({ target: 'aws', decision: 'deny', reason: denial?.code ?? 'internal' });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = denialMessage(denial, x.certificate?.jti ?? x.claimedJti);
    const style = errorStyle(x.head?.headers ?? x.req.headers, x.operation?.protocol);
    const rendered = renderAwsError(style, status, message);
    this.#sebHeaders(x, 'deny', denial);
    // A denial before the body was read closes the connection instead of draining an upload (SPEC §3).
    if (!x.bodyRead) res.setHeader('connection', 'close');
    res.writeHead(rendered.status, rendered.headers);
    res.end(x.req.method === 'HEAD' ? undefined : rendered.body);
  }
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The digest of the request as forwarded (SPEC §8), without the signature and token. */
function forwardedDigest(method: string, url: string, headers: Record<string, string>, payloadHash: string): string {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k !== 'authorization' && k !== 'x-amz-security-token') kept[k] = v;
  return sha256Hex(canonicalJson({ method, url, headers: kept, payload_sha256: payloadHash }));
}

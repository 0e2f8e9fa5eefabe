/**
 * The upstream stage of an admitted HTTP request (runner.ts): take a place in the request's lane,
 * commit the use, send the request the target prepared, stream the answer back, write the outcome
 * record (SPEC §4, §8). Long-lived answers (watch, logs -f) are closed by the stream guard when the
 * certificate stops holding; answers that end are cut below limits.min_read_rate (issue 11 §3).
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { inAnswerBody, sourcesOf } from '../contract/answers.js';
import { rememberAnswer } from '../replay/run-time.js';
import { readAnswer, relayBody } from './relay-body.js';
import { commitBeforeForward, recordOutcome, refuseIfClientLeft, type OutcomeKind } from './responses.js';
import { Lanes, type Slot } from './lanes.js';
import { guardRate, TOO_SLOW } from './rate-guard.js';
import { errorText, upstreamFailure, type UpstreamFailure } from './upstream-failure.js';
import type { Admitted, Exchange, Relay } from './exchange.js';
import type { Certificate } from '../certificate/types.js';
import type { UpstreamRequest } from '../targets/target.js';

/** An answer that later ops bind to is read whole before it is relayed; S3's are a few hundred bytes. */
const MAX_BOUND_ANSWER = 1 << 20;

/** Response headers that belong to one hop only (RFC 9110 §7.6.1), never relayed. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-connection']);

/**
 * A place in the request's lane, waiting at most limits.request_timeout; without one nothing is
 * sent, the use goes back, the client reads 503 (`send`), the outcome says not_forwarded, and null
 * is returned.
 */
export async function takeSlot(runner: Relay, x: Exchange, admitted: Admitted<unknown>, longRunning: boolean, deadline: number, bytesIn: number, send: (f: UpstreamFailure) => void): Promise<Slot | null> {
  try {
    return await runner.d.lanes.acquire(Lanes.laneOf(admitted.decision === 'admit', longRunning), deadline);
  } catch (err) {
    x.reservation?.release();
    x.reservation = null;
    const failure = upstreamFailure(err, admitted.certificate?.jti ?? null);
    runner.d.log(`seb: not forwarded (record ${x.record?.seq ?? 'none'}): ${failure.error}`);
    send(failure);
    runner.d.metrics.requests.inc({ target: runner.target.name, decision: admitted.decision, reason: '' });
    recordOutcome(runner.audit, x.record, x.started, { outcome: failure.outcome, status: failure.status, upstreamRequestId: null, bytesIn, bytesOut: 0, error: failure.error });
    return null;
  }
}

export async function forward(runner: Relay, x: Exchange, res: ServerResponse, admitted: Admitted<UpstreamRequest>): Promise<void> {
  const { upstream } = admitted;
  const { longRunning } = admitted.request.kind;
  // Issue 11 §3: the wait for a place counts against limits.request_timeout, with the answer's head.
  const deadline = performance.now() + runner.timeoutMs;
  const slot = await takeSlot(runner, x, admitted, longRunning, deadline, upstream.body.length, (f) => answerFailure(runner, x, res, admitted, f));
  if (!slot) return;
  try {
    refuseIfClientLeft(res, runner.audit, x.record, x.started, upstream.body.length);
    await commitBeforeForward(x.reservation, runner.audit, x.record, x.started, upstream.body.length);
    await relay(runner, x, res, admitted, slot.dispatcher, longRunning, deadline);
  } finally {
    slot.release();
  }
}

/** 502, 503 or 504 in the client's own format, before any byte of an answer went out. */
function answerFailure(runner: Relay, x: Exchange, res: ServerResponse, admitted: Admitted<unknown>, failure: UpstreamFailure): void {
  if (res.headersSent || res.destroyed) return;
  const rendered = admitted.request.render(failure.status, failure.message, false);
  runner.sebHeaders(x, res.setHeader.bind(res), admitted.decision, null);
  res.writeHead(rendered.status, rendered.headers).end(x.req.method === 'HEAD' ? undefined : rendered.body);
}

async function relay(runner: Relay, x: Exchange, res: ServerResponse, admitted: Admitted<UpstreamRequest>, dispatcher: Dispatcher, longRunning: boolean, deadline: number): Promise<void> {
  const { metrics, log, config } = runner.d;
  const { request, decision, upstream } = admitted;
  const bytesIn = upstream.body.length;
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
    ? runner.streams.watch(admitted.certificate, (why) => {
        x.closedBecause = why;
        const notice = request.streamNotice(why);
        if (notice !== null && res.headersSent && !res.writableEnded) res.write(notice);
        abort.abort();
      })
    : null;
  let status: number | null = null;
  let bytesOut = 0;
  let upstreamRequestId: string | null = null;
  let error: string | null = null;
  let stopGuard = (): void => {};
  try {
    const answer = await dispatcher.request({
      origin: upstream.origin,
      path: upstream.path,
      method: upstream.method as Dispatcher.HttpMethod,
      headers: upstream.headers,
      body: upstream.body.length ? upstream.body : null,
      signal: abort.signal,
      headersTimeout: Math.max(1, Math.round(deadline - performance.now())),
      bodyTimeout: upstream.bodyTimeoutMs,
    });
    x.clock.lap('upstream');
    status = answer.statusCode;
    ({ upstreamRequestId, error } = request.outcome(status, answer.headers));
    const kept = status >= 200 && status < 300 && admitted.decision === 'admit' ? await remember(runner, admitted.certificate, admitted.matched.index, answer.headers, answer.body) : null;
    const redacted = request.redactedHeaders(decision === 'read');
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || redacted?.has(name)) continue;
      res.setHeader(name, value);
    }
    runner.sebHeaders(x, res.setHeader.bind(res), decision, null);
    res.writeHead(status);
    // A watch may have nothing to say for minutes: the client must see the answer begin now.
    if (longRunning) res.flushHeaders();
    if (kept) {
      bytesOut = kept.length;
      res.end(kept);
    } else {
      answer.body.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
      // Watches and follows are idle by nature: their lane, certificate and max_stream bound them instead.
      if (!longRunning) stopGuard = guardRate(answer.body, config.limits.min_read_rate, runner.timeoutMs, () => (outcome = 'closed'));
      await relayBody(answer.body, res);
    }
  } catch (err) {
    if (outcome === 'closed') error = TOO_SLOW;
    else if (x.closedBecause !== null) outcome = 'closed';
    else if (outcome === 'client_gone') error = errorText(err);
    else if (!res.headersSent) {
      const failure = upstreamFailure(err, admitted.certificate?.jti ?? null);
      answerFailure(runner, x, res, admitted, failure);
      ({ status, error, outcome } = failure);
    } else {
      error = errorText(err);
      outcome = 'upstream_failed';
    }
    if (outcome === 'upstream_failed') log(`seb: upstream failed (record ${x.record?.seq ?? 'none'}): ${error}`);
    if (!res.writableEnded) res.destroy();
  } finally {
    stopGuard();
    stopWatching?.();
    res.off('close', onClose);
    metrics.requests.inc({ target: runner.target.name, decision, reason: '' });
    x.clock.observe(metrics, runner.target.name);
    if (x.closedBecause !== null) outcome = 'closed';
    recordOutcome(runner.audit, x.record, x.started, { outcome, status, upstreamRequestId, bytesIn, bytesOut, error: x.closedBecause ?? error });
  }
}

/**
 * SPEC §2.2: when later ops bind to this op's answer, keeps their values before the client sees
 * it. Returns the answer's body when it had to be read for that, else null (it is streamed).
 */
async function remember(runner: Relay, cert: Certificate, index: number, headers: Record<string, string | string[] | undefined>, body: Readable): Promise<Buffer | null> {
  const sources = sourcesOf(cert.contract.ops, index);
  if (sources.length === 0) return null;
  const held = sources.some(inAnswerBody) ? await readAnswer(body, MAX_BOUND_ANSWER) : null;
  await rememberAnswer(runner.d.ledger, cert, index, sources, { headers, body: held }, runner.d.config.trust.clock_skew);
  return held;
}

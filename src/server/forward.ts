/**
 * The upstream stage of an admitted HTTP request (runner.ts): commit the use, send the request the
 * target prepared, stream the answer back, write the outcome record (SPEC §4, §8). Long-lived
 * answers (watch, logs -f) are closed by the stream guard when the certificate stops holding.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { relayBody } from './relay-body.js';
import { commitBeforeForward, recordOutcome, refuseIfClientLeft } from './responses.js';
import type { Admitted, Exchange, Relay } from './exchange.js';

/** Response headers that belong to one hop only (RFC 9110 §7.6.1), never relayed. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-connection']);

export async function forward(runner: Relay, x: Exchange, res: ServerResponse, admitted: Admitted): Promise<void> {
  const { records, metrics } = runner.d;
  const { request, decision } = admitted;
  const upstream = admitted.upstream!;
  const bytesIn = upstream.body.length;
  refuseIfClientLeft(res, records, x.record, x.started, bytesIn);
  await commitBeforeForward(x.reservation, records, x.record, x.started, bytesIn);
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.on('close', onClose);
  // The client may have left while the use was being committed: then nothing is sent after all.
  if (res.destroyed) abort.abort();
  const longRunning = request.kind !== null && request.kind.longRunning;
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
  try {
    const answer = await upstream.dispatcher.request({
      origin: upstream.origin,
      path: upstream.path,
      method: upstream.method as Dispatcher.HttpMethod,
      headers: upstream.headers,
      body: upstream.body.length ? upstream.body : null,
      signal: abort.signal,
      headersTimeout: upstream.headersTimeoutMs,
      bodyTimeout: upstream.bodyTimeoutMs,
    });
    x.clock.lap('upstream');
    status = answer.statusCode;
    ({ upstreamRequestId, error } = request.outcome(status, answer.headers));
    for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) res.setHeader(name, value);
    runner.sebHeaders(x, res.setHeader.bind(res), decision, null);
    res.writeHead(status);
    // A watch may have nothing to say for minutes: the client must see the answer begin now.
    if (longRunning) res.flushHeaders();
    answer.body.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
    await relayBody(answer.body, res);
  } catch (err) {
    error = upstreamError(err);
    if (!res.headersSent) {
      const rendered = request.upstreamFailed(/timeout/i.test(error), error);
      status = rendered.status;
      runner.sebHeaders(x, res.setHeader.bind(res), decision, null);
      res.writeHead(rendered.status, rendered.headers).end(rendered.body);
    } else res.destroy();
  } finally {
    stopWatching?.();
    res.off('close', onClose);
    metrics.requests.inc({ target: runner.target.name, decision, reason: '' });
    x.clock.observe(metrics, runner.target.name);
    recordOutcome(records, x.record, x.started, { status, upstreamRequestId, bytesIn, bytesOut, error: x.closedBecause ?? error });
  }
}

function upstreamError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as Error & { code?: unknown }).code;
  return code === undefined ? err.message : `${String(code)}: ${err.message}`;
}

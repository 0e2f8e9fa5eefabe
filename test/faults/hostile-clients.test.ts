// Slow and hostile clients on raw sockets (node:net, node:tls for the kube listener): slowloris
// heads and bodies, idle connections by the hundred, too many connections, huge header counts,
// request smuggling shapes and HTTP/1.1 pipelining. Every request below that could be admitted
// carries a valid certificate for exactly that request, so a refusal is the broker's reading of
// the framing, not a missing certificate; the fake upstreams count what reaches them. Bounds are
// asserted loosely: the tests are about behaviour (refused, closed, bounded), not speed.
import t, { type Test } from 'tap';
import type { Socket } from 'node:net';
import { HEADERS_TIMEOUT_MS, MAX_CONNECTIONS } from '../../src/server/agent-listener.js';
import { MAX_HEADER_FIELDS } from '../../src/server/hygiene.js';
import { until } from '../helpers/until.js';
import { exchange, open, trickle, type RawResult, type Target } from '../helpers/raw-http.js';
import { BUCKET, NAMESPACE, configMap, expectAdmitted, expectAuditTrail, expectDenied, expectHealthy, startWorld, type TargetKind } from './world.js';

/** limits.request_timeout: the bound on a request body. */
const REQUEST_TIMEOUT_S = 3;
/** Node checks head and request deadlines once a second (agent-listener.ts); allow for that and a busy machine. */
const SLACK_MS = 4_000;

const w = await startWorld({ kube: true, config: { limits: { max_body_bytes: 1024 * 1024, request_timeout: REQUEST_TIMEOUT_S, max_stream: 3600 } } });
t.teardown(() => w.close());
const listener = (target: TargetKind): Target => (target === 'aws' ? w.aws : w.kube!);

/** The head of a certified request, without its framing headers (the test adds those). */
function headOf(target: TargetKind, name: string, jws: string, version = '1.1'): string {
  return target === 'aws'
    ? `PUT /${BUCKET}/${name} HTTP/${version}\r\nHost: 127.0.0.1:${w.aws.port}\r\nX-Amz-Date: 20261126T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDAGENT/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\nX-SEB-Certificate: ${jws}\r\n`
    : `POST /api/v1/namespaces/${NAMESPACE}/configmaps HTTP/${version}\r\nHost: 127.0.0.1:${w.kube!.port}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${jws}\r\n`;
}

const certFor = (target: TargetKind, name: string) => (target === 'aws' ? w.putCert(name) : w.createCert(name));
const bodyFor = (target: TargetKind, name: string): string => (target === 'aws' ? 'smuggled?' : configMap(name));
const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

t.test('slowloris: a head trickled in one byte every 200 ms is cut at the head deadline (408)', async (t) => {
  const cases = (['aws', 'k8s'] as const).map(async (target) => {
    const name = unique('loris');
    const { jws } = await certFor(target, name);
    const before = w.mutations();
    // A head that would take minutes at this pace: the broker must not wait for it.
    const bytes = `${headOf(target, name, jws)}X-Padding: ${'p'.repeat(2_000)}\r\n\r\n`;
    const r = await trickle(listener(target), bytes, 200, HEADERS_TIMEOUT_MS + SLACK_MS + 5_000);
    return { target, r, before };
  });
  const silent = exchange(w.aws, [], { waitClose: true, timeoutMs: HEADERS_TIMEOUT_MS + SLACK_MS + 5_000 });
  for (const { target, r, before } of await Promise.all(cases)) {
    t.notOk(r.timedOut, `${target}: the broker closed the connection`);
    t.ok(r.sent < 1_000, `${target}: after ${r.sent} of the head's bytes`);
    t.ok(r.elapsedMs >= HEADERS_TIMEOUT_MS - 500 && r.elapsedMs < HEADERS_TIMEOUT_MS + SLACK_MS, `${target}: at the head deadline (${r.elapsedMs} ms)`);
    t.equal(r.responses[0]?.status, 408, `${target}: 408 Request Timeout`);
    t.equal(r.responses[0]?.headers['x-seb-decision'], 'deny');
    t.equal(r.responses[0]?.headers['x-seb-reason'], 'unparseable_request');
    t.equal(w.mutations(), before, `${target}: nothing went upstream`);
  }
  const s = await silent;
  t.notOk(s.timedOut, 'a connection that never sends a byte is closed too');
  t.ok(s.elapsedMs < HEADERS_TIMEOUT_MS + SLACK_MS, `at the head deadline (${s.elapsedMs} ms)`);
});

t.test('slowloris: a body trickled in is refused at limits.request_timeout (408), with a record, nothing forwarded', async (t) => {
  for (const target of ['aws', 'k8s'] as const) {
    await t.test(target, async (t) => {
      const name = unique('slowbody');
      const { jws, jti } = await certFor(target, name);
      const body = bodyFor(target, name);
      const before = w.mutations();
      let timer: NodeJS.Timeout | null = null;
      const r = await exchange(listener(target), `${headOf(target, name, jws)}Content-Length: ${body.length}\r\n\r\n`, {
        waitClose: true,
        timeoutMs: REQUEST_TIMEOUT_S * 1000 + SLACK_MS + 5_000,
        after: (socket) => {
          let i = 0;
          const next = (): void => {
            // Never the last byte: the body is never complete.
            if (socket.destroyed || i >= body.length - 1) return;
            socket.write(body[i++]!);
            timer = setTimeout(next, 200);
          };
          socket.once('close', () => timer && clearTimeout(timer));
          next();
        },
      });
      t.ok(r.answeredMs !== null && r.answeredMs >= REQUEST_TIMEOUT_S * 1000 - 200 && r.answeredMs < REQUEST_TIMEOUT_S * 1000 + SLACK_MS, `answered at the body deadline (${r.answeredMs} ms)`);
      await expectDenied(t, w, r, { target, status: 408, reason: 'unparseable_request', certId: jti, detail: 'did not arrive within limits.request_timeout' });
      t.ok(r.closed, 'the connection is closed');
      t.equal(w.mutations(), before, 'nothing went upstream');
    });
  }
});

t.test('500 idle connections: bounded memory, each closed by the broker, and the broker still serves', async (t) => {
  const rss = process.memoryUsage().rss;
  const sockets: Socket[] = [];
  const closed = new Set<Socket>();
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  // In waves of 100: 500 SYNs at once on a loaded machine can overflow the listen queue, and a
  // connection the kernel completed but the broker never accepted is the kernel's to hold, not the broker's.
  let connected = true;
  for (let wave = 0; wave < 5; wave++) {
    const batch: Socket[] = [];
    for (let i = 0; i < 100; i++) {
      const s = open(w.aws);
      s.on('error', () => undefined);
      s.on('close', () => closed.add(s));
      batch.push(s);
    }
    sockets.push(...batch);
    connected &&= await until(() => batch.every((s) => !s.connecting || s.destroyed), 10_000);
  }
  t.ok(connected, 'all connected');
  const grown = process.memoryUsage().rss - rss;
  t.ok(grown < 100 * 1024 * 1024, `memory grew ${(grown / 1024 / 1024).toFixed(1)} MiB for 500 connections (test and broker together)`);
  // The broker serves a certified request while they sit there.
  await expectHealthy(t, w, 'aws');
  // Generous: on a loaded machine the last of 500 connections may be accepted seconds after the first.
  t.ok(await until(() => closed.size === sockets.length, HEADERS_TIMEOUT_MS + SLACK_MS + 15_000), `the broker closed all ${sockets.length} idle connections (${closed.size})`);
});

t.test('kept-alive connections that go idle after a request are closed after the keep-alive timeout', async (t) => {
  const { jws, jti } = await w.putCert('keepalive');
  const r = await exchange(w.aws, w.putBytes('keepalive', jws), { waitClose: true, timeoutMs: 20_000 });
  await expectAdmitted(t, w, r, 200, jti);
  t.notOk(r.timedOut, 'closed by the broker');
  t.ok(r.answeredMs !== null && r.elapsedMs - r.answeredMs >= 4_000 && r.elapsedMs - r.answeredMs < 5_000 + SLACK_MS, `idle for ${r.elapsedMs - (r.answeredMs ?? 0)} ms after the answer`);
});

t.test(`more than ${MAX_CONNECTIONS} connections: the excess is closed at once, the broker keeps serving`, async (t) => {
  // A broker of its own, so no connection of another test counts against the limit.
  const own = await startWorld();
  t.teardown(() => own.close());
  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < MAX_CONNECTIONS; i++) {
    const s = open(own.aws);
    s.on('error', () => undefined);
    held.push(s);
  }
  t.ok(await until(() => held.every((s) => !s.connecting), 10_000), `${MAX_CONNECTIONS} connected`);
  // Give the broker's accept loop time to take them all.
  await new Promise((r) => setTimeout(r, 300));
  const extra = await Promise.all(Array.from({ length: 10 }, () => exchange(own.aws, [], { waitClose: true, timeoutMs: 3_000 })));
  t.ok(
    extra.every((r) => !r.timedOut && r.responses.length === 0),
    `each connection past the limit is closed at once, unanswered (${extra.map((r) => r.elapsedMs).join(', ')} ms)`,
  );
  for (const s of held) s.destroy();
  t.ok(await until(async () => (await fetch(`${own.tb.adminUrl}/healthz`)).ok, 5_000), 'the admin listener answers');
  // Once they are gone the listener serves again.
  let served = false;
  for (let i = 0; i < 20 && !served; i++) {
    const { jws } = await own.putCert(`after-${i}`);
    served = (await own.put(`after-${i}`, jws)).responses[0]?.status === 200;
    if (!served) await new Promise((r) => setTimeout(r, 250));
  }
  t.ok(served, 'a certified request is admitted once the connections are closed');
});

t.test('header counts', async (t) => {
  for (const target of ['aws', 'k8s'] as const) {
    await t.test(`${target}: 5,000 header fields (under 64 KiB) are refused 431 at once`, async (t) => {
      const name = unique('many');
      const { jws, jti } = await certFor(target, name);
      const body = bodyFor(target, name);
      const padding = Array.from({ length: 5_000 }, (_, i) => `a${i}:v\r\n`).join('');
      const before = w.mutations();
      const r = await exchange(listener(target), `${headOf(target, name, jws)}${padding}Content-Length: ${body.length}\r\n\r\n${body}`);
      t.ok(r.answeredMs !== null && r.answeredMs < 3_000, `answered in ${r.answeredMs} ms`);
      // Refused before the carrier is read: the head as a whole is not read, nor the certificate in it.
      await expectDenied(t, w, r, { target, status: 431, reason: 'unparseable_request', certId: null, detail: `more than ${MAX_HEADER_FIELDS} header fields` });
      t.notOk(w.records().some((x) => x.certificate?.jti === jti), 'the certificate was never looked at');
      t.equal(w.mutations(), before, 'nothing went upstream');
    });
  }
  await t.test('a second Host past the 2,000 fields Node keeps is not hidden: refused', async (t) => {
    const name = unique('hidden-host');
    const { jws } = await w.putCert(name);
    const padding = Array.from({ length: 2_100 }, (_, i) => `a${i}:v\r\n`).join('');
    const before = w.mutations();
    const r = await exchange(w.aws, `${headOf('aws', name, jws)}${padding}Host: evil.example\r\nContent-Length: 2\r\n\r\nhi`);
    await expectDenied(t, w, r, { target: 'aws', status: 431, reason: 'unparseable_request', certId: null });
    t.equal(w.mutations(), before, 'nothing went upstream');
  });
  await t.test(`${MAX_HEADER_FIELDS} fields are still read normally (an Accept list repeated)`, async (t) => {
    const name = unique('just-under');
    const { jws, jti } = await w.putCert(name);
    // The head's own fields (all lines but the request line) and Content-Length, then Accepts up to the limit.
    const fields = headOf('aws', name, jws).split('\r\n').filter(Boolean).length - 1 + 1;
    const accepts = 'Accept: */*\r\n'.repeat(MAX_HEADER_FIELDS - fields);
    const r = await exchange(w.aws, `${headOf('aws', name, jws)}${accepts}Content-Length: 2\r\n\r\nhi`);
    await expectAdmitted(t, w, r, 200, jti);
  });
});

// ---------------------------------------------------------------------------------------------
// Request smuggling: framing two readers could read two ways. Each is followed by a second,
// smuggled request on the same connection; neither may be answered as a request or reach upstream.

interface Smuggle {
  readonly name: string;
  /** The request after the certified head: framing lines, blank line, body bytes. */
  readonly framing: (body: string) => string;
  readonly version?: string;
  readonly targets: readonly TargetKind[];
}

const chunked = (body: string): string => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
const BOTH = ['aws', 'k8s'] as const;
const SMUGGLES: Smuggle[] = [
  { name: 'Content-Length and Transfer-Encoding', framing: (b) => `Content-Length: ${b.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b)}`, targets: BOTH },
  { name: 'Transfer-Encoding and Content-Length', framing: (b) => `Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${chunked(b)}`, targets: BOTH },
  { name: 'two equal Content-Length fields', framing: (b) => `Content-Length: ${b.length}\r\nContent-Length: ${b.length}\r\n\r\n${b}`, targets: BOTH },
  { name: 'two different Content-Length fields', framing: (b) => `Content-Length: ${b.length}\r\nContent-Length: 3\r\n\r\n${b}`, targets: BOTH },
  { name: 'Content-Length: n, n (a list)', framing: (b) => `Content-Length: ${b.length}, ${b.length}\r\n\r\n${b}`, targets: ['aws'] },
  { name: 'Content-Length: +n', framing: (b) => `Content-Length: +${b.length}\r\n\r\n${b}`, targets: ['aws'] },
  { name: 'Transfer-Encoding: chunked, identity', framing: (b) => `Transfer-Encoding: chunked, identity\r\n\r\n${chunked(b)}`, targets: BOTH },
  { name: 'Transfer-Encoding: identity, chunked', framing: (b) => `Transfer-Encoding: identity, chunked\r\n\r\n${chunked(b)}`, targets: BOTH },
  { name: 'Transfer-Encoding sent twice', framing: (b) => `Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b)}`, targets: ['aws'] },
  { name: 'Transfer-Encoding : chunked (space before the colon)', framing: (b) => `Transfer-Encoding : chunked\r\n\r\n${chunked(b)}`, targets: ['aws'] },
  { name: 'Transfer-Encoding: xchunked', framing: (b) => `Transfer-Encoding: xchunked\r\n\r\n${chunked(b)}`, targets: ['aws'] },
  { name: 'Transfer-Encoding in an HTTP/1.0 request', framing: (b) => `Transfer-Encoding: chunked\r\n\r\n${chunked(b)}`, version: '1.0', targets: BOTH },
  { name: 'obs-fold continuing a header', framing: (b) => `X-Folded: a\r\n b\r\nContent-Length: ${b.length}\r\n\r\n${b}`, targets: BOTH },
  { name: 'obs-fold continuing Transfer-Encoding', framing: (b) => `Transfer-Encoding:\r\n chunked\r\nContent-Length: ${b.length}\r\n\r\n${b}`, targets: ['aws'] },
  { name: 'a bare LF ending a header line', framing: (b) => `X-Bare: a\nContent-Length: ${b.length}\r\n\r\n${b}`, targets: BOTH },
  { name: 'a NUL in a header value', framing: (b) => `X-Nul: a\u0000b\r\nContent-Length: ${b.length}\r\n\r\n${b}`, targets: ['aws'] },
  { name: 'a chunk size that overflows 64 bits', framing: (b) => `Transfer-Encoding: chunked\r\n\r\n1${'0'.repeat(17)}\r\n${b}\r\n0\r\n\r\n`, targets: BOTH },
  { name: 'a negative chunk size', framing: (b) => `Transfer-Encoding: chunked\r\n\r\n-${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`, targets: ['aws'] },
];

function smuggledSecond(target: TargetKind): string {
  return target === 'aws'
    ? `DELETE /${BUCKET}/victim HTTP/1.1\r\nHost: 127.0.0.1:${w.aws.port}\r\nContent-Length: 0\r\n\r\n`
    : `DELETE /api/v1/namespaces/${NAMESPACE}/configmaps/victim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`;
}

t.test('request smuggling shapes are refused 400, the connection closed, nothing forwarded', async (t) => {
  for (const s of SMUGGLES) {
    for (const target of s.targets) {
      await t.test(`${target}: ${s.name}`, async (t) => {
        const name = unique('smuggle');
        const { jws, jti } = await certFor(target, name);
        const before = w.mutations();
        const bytes = headOf(target, name, jws, s.version) + s.framing(bodyFor(target, name)) + smuggledSecond(target);
        const r = await exchange(listener(target), bytes, { waitClose: true, timeoutMs: 8_000 });
        t.notOk(r.timedOut, 'answered and closed, no hang');
        t.equal(r.responses.length, 1, 'one answer: the smuggled request was never read as one');
        const res = r.responses[0];
        t.equal(res?.status, 400, '400');
        t.equal(res?.headers['x-seb-decision'], 'deny');
        t.equal(res?.headers['x-seb-reason'], 'unparseable_request');
        t.ok(r.closed, 'the connection is closed');
        // Refused by Node's parser before the pipeline (no record), or by hygiene (a deny record).
        if (res?.headers['x-seb-record']) t.match(await w.recordAt(res.headers['x-seb-record']), { decision: 'deny', reason: 'unparseable_request' });
        t.notOk(
          w.records().some((r) => r.decision === 'admit' && r.certificate?.jti === jti),
          'never admitted',
        );
        await new Promise((r) => setTimeout(r, 50));
        t.equal(w.mutations(), before, 'nothing reached the upstream');
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 pipelining: the broker answers pipelined requests in order, each with its own decision;
// a request never rides on an earlier one's certificate. A denial before the body closes the
// connection, so nothing pipelined behind it is read.

async function pipelined(t: Test, target: TargetKind, parts: Buffer[], count: number): Promise<RawResult> {
  const r = await exchange(listener(target), Buffer.concat(parts), { count, timeoutMs: 8_000 });
  t.notOk(r.timedOut, 'no hang');
  return r;
}

const bytesFor = (target: TargetKind, name: string, jws: string | null): Buffer => (target === 'aws' ? w.putBytes(name, jws) : w.createBytes(name, jws));
const recordOf = (res: RawResult['responses'][number] | undefined) => w.recordAt(res?.headers['x-seb-record']);

t.test('pipelining', async (t) => {
  for (const target of ['aws', 'k8s'] as const) {
    const ok = target === 'aws' ? 200 : 201;
    await t.test(`${target}: two certified requests in one write: two answers in order, two decisions`, async (t) => {
      const [a, b] = [unique('pipe-a'), unique('pipe-b')];
      const ca = await certFor(target, a);
      const cb = await certFor(target, b);
      const before = w.mutations();
      const r = await pipelined(t, target, [bytesFor(target, a, ca.jws), bytesFor(target, b, cb.jws)], 2);
      t.same(r.responses.map((x) => x.status), [ok, ok], 'both admitted');
      t.match(await recordOf(r.responses[0]), { decision: 'admit', certificate: { jti: ca.jti } }, 'the first answer is the first certificate');
      t.match(await recordOf(r.responses[1]), { decision: 'admit', certificate: { jti: cb.jti } }, 'the second answer is the second certificate');
      t.equal(w.mutations(), before + 2);
    });

    await t.test(`${target}: the second request carries no certificate: it does not ride on the first's`, async (t) => {
      const [a, b] = [unique('ride-a'), unique('ride-b')];
      const ca = await certFor(target, a);
      const before = w.mutations();
      const r = await pipelined(t, target, [bytesFor(target, a, ca.jws), bytesFor(target, b, null)], 2);
      t.equal(r.responses[0]?.status, ok, 'the first is admitted');
      t.equal(r.responses[1]?.headers['x-seb-reason'], 'no_certificate', 'the second is denied no_certificate');
      t.equal(r.responses[1]?.status, target === 'aws' ? 401 : 403);
      t.match(await recordOf(r.responses[1]), { decision: 'deny', reason: 'no_certificate', certificate: null });
      t.equal(w.mutations(), before + 1, 'only the first went upstream');
    });

    await t.test(`${target}: a request denied before its body closes the connection: nothing pipelined behind it is read`, async (t) => {
      const [a, b] = [unique('closed-a'), unique('closed-b')];
      const cb = await certFor(target, b);
      const before = w.mutations();
      const r = await exchange(listener(target), Buffer.concat([bytesFor(target, a, null), bytesFor(target, b, cb.jws)]), { waitClose: true, timeoutMs: 8_000 });
      t.equal(r.responses.length, 1, 'one answer');
      t.equal(r.responses[0]?.headers['x-seb-reason'], 'no_certificate');
      t.ok(r.closed, 'closed');
      await new Promise((r) => setTimeout(r, 100));
      t.notOk(w.records().some((x) => x.certificate?.jti === cb.jti), 'the pipelined request was never read', { found: w.records().filter((x) => x.certificate?.jti === cb.jti) });
      t.equal(w.mutations(), before, 'nothing went upstream');
    });
  }

  await t.test('aws: a request denied after its body (another body) leaves the next one to its own decision', async (t) => {
    const [a, b] = [unique('after-a'), unique('after-b')];
    const wrong = await w.putCert(a, { body: { sha256: '0'.repeat(64) } });
    const cb = await w.putCert(b);
    const before = w.mutations();
    const r = await pipelined(t, 'aws', [w.putBytes(a, wrong.jws), w.putBytes(b, cb.jws)], 2);
    t.equal(r.responses[0]?.headers['x-seb-reason'], 'body_mismatch', 'the first is denied body_mismatch, after its body was read');
    t.equal(r.responses[1]?.status, 200, 'the second is admitted on its own certificate');
    t.match(await recordOf(r.responses[1]), { decision: 'admit', certificate: { jti: cb.jti } });
    t.equal(w.mutations(), before + 1);
  });

  await t.test('aws: garbage pipelined behind a request still in flight cuts the connection, never answers for it', async (t) => {
    const a = unique('inflight');
    const ca = await w.putCert(a);
    // The first request is still waiting on STS when the garbage behind it is parsed.
    w.sts.answer = { kind: 'ok', delayMs: 500 };
    let r: RawResult;
    try {
      r = await exchange(w.aws, Buffer.concat([w.putBytes(a, ca.jws), Buffer.from('GARBAGE\r\n\r\n')]), { waitClose: true, timeoutMs: 8_000 });
    } finally {
      w.sts.answer = { kind: 'ok' };
    }
    t.notOk(r.timedOut);
    t.same(r.responses, [], 'no answer the client could take for the first request’s');
    t.ok(r.closed, 'the connection is cut');
    await new Promise((res) => setTimeout(res, 800));
    const admit = w.records().find((x) => x.decision === 'admit' && x.certificate?.jti === ca.jti);
    if (admit) t.match(await w.outcomeOf(admit.seq), { error: /^not forwarded/ }, 'admitted, then not forwarded: its client was gone');
    // The use was given back.
    const again = await w.put(a, ca.jws);
    t.equal(again.responses[0]?.status, 200, 'the certificate still admits its one request');
  });
});

t.test('the broker survived all of it', async (t) => {
  const health = await fetch(`${w.tb.adminUrl}/healthz`);
  t.equal(health.status, 200);
  await health.arrayBuffer();
  await expectHealthy(t, w, 'aws');
  await expectHealthy(t, w, 'k8s');
});

t.test('audit trail', (t) => expectAuditTrail(t, w));

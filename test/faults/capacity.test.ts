// Issue 11 §3: certificate-free reads must not starve certified work. The attacks as reported, on
// loopback, bounded in count and time: 130 certificate-free S3 GetObjects held open (the old shared
// pool held 128 connections), and 64 certificate-free watches (the old apiserver pool held 64). A certified mutation sent meanwhile is admitted and answered at once;
// reads beyond their lane wait at most limits.request_timeout and are answered 503, recorded,
// never sent; a read slower than limits.min_read_rate is cut and its outcome says so.
import t from 'tap';
import type { Socket } from 'node:net';
import { open, type Target } from '../helpers/raw-http.js';
import { until } from '../helpers/until.js';
import { verifyRecords } from '../../src/records/verify.js';
import { BUCKET, NAMESPACE, expectAdmitted, startWorld } from './world.js';

/** limits.request_timeout: the bound on a queued request, and the rate guard's window. */
const REQUEST_TIMEOUT_S = 3;
const AWS_READERS = 130;
const WATCHES = 64;

const w = await startWorld({ kube: true, config: { limits: { max_body_bytes: 1024 * 1024, request_timeout: REQUEST_TIMEOUT_S, max_stream: 3600 } } });
t.teardown(() => w.close());

const fakeAuth = `AWS4-HMAC-SHA256 Credential=AKIDAGENT/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`;

interface Held {
  readonly socket: Socket;
  /** Everything the broker sent back on it so far. */
  text(): string;
  closed(): boolean;
}

/** Sends `bytes` and keeps the connection open, collecting what comes back. */
function hold(target: Target, bytes: string): Held {
  const socket = open(target);
  let text = '';
  let closed = false;
  // The head and the start of the body are enough to judge; a long download is not kept.
  socket.on('data', (c: Buffer) => {
    if (text.length < 4096) text += c.toString('latin1');
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.write(bytes);
  return { socket, text: () => text, closed: () => closed };
}

/** A certificate-free S3 GetObject as an unmodified client shapes it (a fake signature: the broker reads only its scope). */
const getObject = (key: string): string =>
  [`GET /${BUCKET}/${key} HTTP/1.1`, `Host: 127.0.0.1:${w.aws.port}`, 'X-Amz-Date: 20261126T000000Z', `Authorization: ${fakeAuth}`, 'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD', '', ''].join('\r\n');

const outcomes = (kind: string) => w.records().filter((x) => x.type === 'outcome' && (x as { outcome?: string }).outcome === kind);

/** Downloads the broker cut for reading slower than limits.min_read_rate, so far. */
const rateCuts = (): number => outcomes('closed').filter((x) => /min_read_rate/.test(String((x as { error?: unknown }).error))).length;

const statusOf = (h: Held): number | null => {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(h.text());
  return m ? Number(m[1]) : null;
};

t.test('aws: 130 slow certificate-free downloads do not starve a certified PutObject', async (t) => {
  // Reads stream on, 128 KiB a second in 64 KiB steps: eight times limits.min_read_rate, so a download
  // stays above it even when a loaded machine runs this process's timers late. The certified
  // PutObject gets the fake's normal answer.
  w.s3.answerFor = (method) => (method === 'GET' ? { kind: 'trickle', everyMs: 500, bytes: 64 * 1024 } : undefined);
  const cutBefore = rateCuts();
  const readers: Held[] = [];
  t.teardown(() => {
    w.s3.answerFor = undefined;
    for (const r of readers) r.socket.destroy();
  });
  for (let i = 0; i < AWS_READERS; i++) {
    readers.push(hold(w.aws, getObject(`big-${i}`)));
  }
  const reading = (): number => w.s3.arrivals.filter((a) => a.method === 'GET' && !a.closed).length;
  let maxOpen = 0;
  const sample = setInterval(() => (maxOpen = Math.max(maxOpen, reading())), 20);
  t.teardown(() => clearInterval(sample));
  t.ok(await until(() => reading() >= 64, 10_000), `the reads lane filled (${reading()} downloads open upstream)`);

  const { jws, jti } = await w.putCert('certified-under-load');
  const queued = AWS_READERS - reading();
  const r = await w.put('certified-under-load', jws, { timeoutMs: 8_000 });
  await expectAdmitted(t, w, r, 200, jti);
  // The queued reads wait request_timeout: an answer before any was given up did not queue behind them.
  t.ok(queued > 0, `reads were queued for the lane when the certified PutObject came (${queued})`);
  t.equal(readers.filter((h) => statusOf(h) === 503).length, 0, 'it was answered before any queued read was given up');

  // 50 KiB a second keeps each download above limits.min_read_rate on a quiet machine: the 64 hold
  // their places, and every other reader waits request_timeout and is answered 503, recorded, never
  // sent. On a loaded machine (broker, fake S3 and readers share this process) a download can fall
  // below the rate and be cut, as it should be, and its place goes to a queued read. So the test
  // asserts what holds whatever the timing: a read reaches S3 only through one of the 64 places.
  const refusedBy = (): Held[] => readers.filter((h) => statusOf(h) === 503);
  const sent = (): string[] => w.s3.arrivals.filter((a) => a.method === 'GET').map((a) => a.url);
  const cutForRate = (): number => rateCuts() - cutBefore;
  t.ok(await until(() => refusedBy().length + sent().length === AWS_READERS, (REQUEST_TIMEOUT_S + 5) * 1000), 'every read beyond the lane was answered 503, or took a place a cut download freed');
  t.ok(refusedBy().length > 0, `reads beyond the lane were answered 503 (${refusedBy().length})`);
  t.equal(maxOpen, 64, 'certificate-free downloads never held more than their lane of 64');
  t.ok(sent().length - 64 <= cutForRate(), `past the first 64, a read reached S3 only in a place a download cut for its rate freed (${sent().length - 64} reads, ${cutForRate()} cut)`);
  const refused = refusedBy();
  const refusedKeys = readers.flatMap((h, i) => (statusOf(h) === 503 ? [`/big-${i}`] : []));
  t.same(refusedKeys.filter((k) => sent().some((url) => url.endsWith(k))), [], 'the refused reads never reached S3');
  t.match(refused[0]?.text(), /x-seb-decision: read/i, 'answered as reads, not denials');
  t.match(refused[0]?.text(), /<Code>ServiceUnavailable<\/Code>/, 'in S3 error format');
  t.notMatch(refused[0]?.text(), /127\.0\.0\.1|ECONN|UND_ERR/, 'naming no internal address or error');
  t.equal(outcomes('not_forwarded').filter((x) => x.status === 503).length, refused.length, 'each has an outcome record: not_forwarded, 503');
});

t.test('aws: a download slower than limits.min_read_rate is cut and its place freed', async (t) => {
  const before = outcomes('closed').length;
  w.s3.answerFor = (method) => (method === 'GET' ? { kind: 'trickle', everyMs: 1_000 } : undefined);
  const readers = [0, 1, 2, 3].map((i) => hold(w.aws, getObject(`slow-${i}`)));
  t.teardown(() => {
    w.s3.answerFor = undefined;
    for (const r of readers) r.socket.destroy();
  });
  // 1 KiB a second is below 16 KiB a second: cut after one window of request_timeout.
  t.ok(await until(() => readers.every((h) => statusOf(h) === 200 && h.closed()), (REQUEST_TIMEOUT_S * 2 + 3) * 1000), 'every slow download was cut');
  const cut = outcomes('closed').slice(before);
  t.equal(cut.length, 4, 'each outcome record says closed');
  t.match(cut[0], { status: 200, error: /min_read_rate/ });
  t.ok(await until(() => w.s3.arrivals.filter((a) => a.method === 'GET' && a.url.includes('slow-') && !a.closed).length === 0, 5_000), 'and its upstream request was cancelled');
});

t.test('k8s: 64 certificate-free watches do not starve a certified create', async (t) => {
  // A watch answers its head and then says nothing for a minute, as an idle watch does.
  w.api!.answerFor = (method, url) => (method === 'GET' && url.includes('watch=true') ? { kind: 'trickle', everyMs: 60_000 } : undefined);
  const watches: Held[] = [];
  t.teardown(() => {
    w.api!.answerFor = undefined;
    for (const h of watches) h.socket.destroy();
  });
  for (let i = 0; i < WATCHES; i++) {
    watches.push(hold(w.kube!, [`GET /api/v1/namespaces/${NAMESPACE}/configmaps?watch=true&resourceVersion=${i} HTTP/1.1`, 'Host: 127.0.0.1', 'Accept: application/json', '', ''].join('\r\n')));
  }
  const watching = (): number => w.api!.arrivals.filter((a) => a.url.includes('watch=true') && !a.closed).length;
  t.ok(await until(() => watching() >= 32, 10_000), `the read_streams lane filled (${watching()} watches open upstream)`);

  const { jws, jti } = await w.createCert('certified-under-watch');
  const started = performance.now();
  const r = await w.create('certified-under-watch', jws, { timeoutMs: 8_000 });
  const ms = performance.now() - started;
  await expectAdmitted(t, w, r, 201, jti);
  t.ok(ms < REQUEST_TIMEOUT_S * 1000, `the certified create was answered at once (${Math.round(ms)} ms)`);
  t.equal(watches.filter((h) => statusOf(h) === 503).length, 0, 'before any queued watch was given up');
  t.ok(watching() <= 32, `certificate-free watches never held more than their lane (${watching()} open)`);

  t.ok(await until(() => watches.filter((h) => statusOf(h) === 503).length >= WATCHES - 32, (REQUEST_TIMEOUT_S + 5) * 1000), 'the watches beyond the lane were answered 503');
  const refused = watches.find((h) => statusOf(h) === 503)!;
  t.match(refused.text(), /"kind":"Status"/, 'as a Kubernetes Status');
  t.match(refused.text(), /x-seb-decision: read/i);
  t.notMatch(refused.text(), /127\.0\.0\.1|ECONN|UND_ERR/, 'naming no internal address or error');
  // Watches are exempt from the rate guard: the open ones stay open.
  t.equal(watches.filter((h) => statusOf(h) === 200 && !h.closed()).length, 32, 'the 32 admitted watches stay open');
});

t.test('every record verifies, and every decision of a forwarded or refused request has one outcome', async (t) => {
  const report = await verifyRecords(
    (async function* () {
      yield* w.lines();
    })(),
    { keys: [w.tb.brokerKey.publicJwk] },
  );
  t.match(report, { ok: true }, 'seb records verify');
  const decided = w.records().filter((r) => r.type === 'decision' && r.decision !== 'deny');
  const ended = (seq: number) => w.records().filter((r) => r.type === 'outcome' && r.decision_seq === seq).length;
  // The watches still open when the last test ended get their outcome as they are cut at teardown.
  t.ok(await until(() => decided.filter((d) => !/watch=true/.test(JSON.stringify(d))).every((d) => ended(d.seq) === 1), 5_000), 'one outcome each');
});

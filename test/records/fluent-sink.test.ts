import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { fluentSink, type FluentSink, type FluentSinkOptions } from '../../src/records/fluent-sink.js';
import { RecordWriter } from '../../src/records/writer.js';
import { verifyRecords } from '../../src/records/verify.js';
import { startFluentReceiver, type FluentReceiver } from '../helpers/fluent-receiver.js';
import { until } from '../helpers/until.js';

const TAG = 'seb.records';
/** Short bounds so failures show within a test; the production values are the module's constants. */
const FAST: FluentSinkOptions = { ackTimeoutMs: 400, connectTimeoutMs: 1_000, reconnectMinMs: 20, reconnectMaxMs: 100 };

async function receiverAndSink(t: Test, o: Parameters<typeof startFluentReceiver>[0] = {}, so: FluentSinkOptions = {}): Promise<{ rx: FluentReceiver; sink: FluentSink }> {
  const rx = await startFluentReceiver(o);
  t.teardown(() => rx.close());
  const sink = fluentSink({ host: '127.0.0.1', port: rx.port, tag: TAG }, { ...FAST, ...so });
  t.teardown(() => sink.close().catch(() => undefined));
  return { rx, sink };
}

/** A promise's state without waiting for it. */
function track(p: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error: unknown; done: Promise<void> } {
  const s = { state: 'pending' as 'pending' | 'resolved' | 'rejected', error: undefined as unknown, done: Promise.resolve() };
  s.done = p.then(
    () => void (s.state = 'resolved'),
    (err: unknown) => void ((s.state = 'rejected'), (s.error = err)),
  );
  return s;
}

const line = (seq: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ v: 1, type: 'decision', seq, ts: `2026-11-26T04:00:0${seq % 10}.${String(seq % 1000).padStart(3, '0')}Z`, request: { method: 'PUT', path: `/b/k-${seq}` }, reason: null, ...extra });

const freePort = async (): Promise<number> => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
};

t.test('records arrive in order, as maps, with the tag and the record time', async (t) => {
  const { rx, sink } = await receiverAndSink(t);
  const odd = { detail: 'ünïcode ✓ "quoted" \\ back', n: -1.5, flag: true, nested: { a: [1, null, 'x'] } };
  const lines = [line(1), line(2, odd), line(3)];
  for (const l of lines) await sink.write(l);
  t.equal(rx.records.length, 3);
  t.ok(rx.records.every((r) => r.tag === TAG), 'every record carries the configured tag');
  t.same(rx.records.map((r) => r.record), lines.map((l) => JSON.parse(l)), 'fields intact, as structured maps');
  t.same(rx.lines(), lines, 'turned back into JSON, the lines are the ones written');
  t.equal(rx.records[1]?.time, Date.parse('2026-11-26T04:00:02.002Z') / 1000, 'EventTime is the record ts, milliseconds kept');
  t.ok(sink.healthy());
});

t.test('a write resolves only when its chunk is acknowledged', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { ackDelayMs: 300 });
  const started = Date.now();
  const w = track(sink.write(line(1)));
  t.ok(await until(() => rx.records.length === 1, 5_000), 'the receiver has the record');
  t.equal(w.state, 'pending', 'received but not yet acknowledged: still pending');
  await w.done;
  t.equal(w.state, 'resolved');
  t.ok(Date.now() - started >= 290, 'resolved no earlier than the ack');
});

t.test('no ack: the write rejects after the ack timeout, and the sink reconnects', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { answer: 'drop-ack' });
  const started = Date.now();
  await t.rejects(sink.write(line(1)), /no ack within 400 ms/);
  const took = Date.now() - started;
  t.ok(took >= 390 && took < 5_000, `rejected at the timeout (${took} ms)`);
  t.equal(rx.records.length, 1, 'the receiver did get it: the write failed, it was not dropped silently');
  rx.answer = 'ack';
  t.ok(await until(() => sink.healthy() && rx.connections === 2, 5_000), 'a new connection replaces the stalled one');
  await sink.write(line(2));
  t.same(rx.records.map((r) => r.record.seq), [1, 2], 'the sink never resent the failed chunk by itself');
});

t.test('the receiver closes mid-chunk: pending writes reject; later writes succeed after the reconnect', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { answer: 'close' });
  const writes = [1, 2, 3].map((i) => track(sink.write(line(i))));
  await Promise.all(writes.map((w) => w.done));
  t.same(writes.map((w) => w.state), ['rejected', 'rejected', 'rejected'], 'every unacknowledged write rejects');
  t.match(String(writes[0]?.error), /fluent receiver 127\.0\.0\.1:\d+/);
  t.equal(rx.records.length, 0);
  rx.answer = 'ack';
  t.ok(await until(() => sink.healthy(), 5_000), 'reconnected');
  await sink.write(line(4));
  t.same(rx.records.map((r) => r.record.seq), [4]);
  t.ok(rx.connections >= 2);
});

t.test('no receiver at start: writes reject promptly, and the sink is not healthy', async (t) => {
  const port = await freePort();
  const sink = fluentSink({ host: '127.0.0.1', port, tag: TAG }, FAST);
  t.teardown(() => sink.close().catch(() => undefined));
  const started = Date.now();
  await t.rejects(sink.write(line(1)), /ECONNREFUSED/);
  t.ok(Date.now() - started < 2_000, 'refused within the connect bound');
  t.notOk(sink.healthy());
  const again = Date.now();
  await t.rejects(sink.write(line(2)), /unreachable|ECONNREFUSED/);
  t.ok(Date.now() - again < 1_500, 'while reconnecting, a write is refused at once');
  // The receiver comes up: the background reconnect finds it without any write.
  const rx = await startFluentReceiver({ port });
  t.teardown(() => rx.close());
  t.ok(await until(() => sink.healthy(), 5_000), 'healthy once the receiver is up');
  await sink.write(line(3));
  t.same(rx.records.map((r) => r.record.seq), [3]);
});

t.test('past the queue cap, writes reject at once instead of growing', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { ackDelayMs: 1_500 }, { maxQueuedLines: 3, ackTimeoutMs: 5_000 });
  const held = [1, 2, 3].map((i) => track(sink.write(line(i))));
  const started = Date.now();
  await t.rejects(sink.write(line(4)), /queue is full \(3 records/);
  t.ok(Date.now() - started < 1_000, `refused without waiting for the ack (${Date.now() - started} ms)`);
  await Promise.all(held.map((w) => w.done));
  t.same(held.map((w) => w.state), ['resolved', 'resolved', 'resolved'], 'the queued ones still go through');
  await sink.write(line(5));
  t.same(rx.records.map((r) => r.record.seq), [1, 2, 3, 5]);

  const bytes = await receiverAndSink(t, { ackDelayMs: 200 }, { maxQueuedBytes: 2 * line(1).length });
  const first = track(bytes.sink.writeMany([line(1), line(2)]));
  await t.rejects(bytes.sink.write(line(3)), /queue is full/, 'the byte cap too');
  await first.done;
  t.equal(first.state, 'resolved');
});

t.test('concurrent writes share chunks: fewer round trips than records', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { ackDelayMs: 20 });
  const n = 200;
  await Promise.all(Array.from({ length: n }, (_, i) => sink.write(line(i))));
  t.equal(rx.records.length, n);
  t.same(rx.records.map((r) => r.record.seq), Array.from({ length: n }, (_, i) => i), 'in write order');
  t.ok(rx.messages <= 3, `${n} records in ${rx.messages} chunks`);
  // Lines written while a chunk is in flight wait for it and go together in the next one.
  rx.ackDelayMs = 300;
  const before = rx.messages;
  const inFlight = track(sink.write(line(1000)));
  t.ok(await until(() => rx.messages === before + 1, 5_000));
  const meanwhile: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) {
    meanwhile.push(sink.write(line(1001 + i)));
    await new Promise((r) => setImmediate(r)); // each in its own turn of the event loop
  }
  t.equal(inFlight.state, 'pending', 'all 20 were written while the first chunk was in flight');
  await Promise.all([inFlight.done, ...meanwhile]);
  t.equal(rx.messages, before + 2, 'they went together in the next chunk');
  // A chunk stays under the size cap; a larger batch is split, in order.
  const small = await receiverAndSink(t, {}, { maxChunkBytes: 3 * line(1).length });
  await small.sink.writeMany(Array.from({ length: 9 }, (_, i) => line(i)));
  t.same(small.rx.records.map((r) => r.record.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  t.ok(small.rx.messages >= 3, `split into ${small.rx.messages} chunks`);
});

t.test('a line that is not a JSON object is refused, and nothing is sent', async (t) => {
  const { rx, sink } = await receiverAndSink(t);
  await t.rejects(sink.write('not json'), TypeError);
  await t.rejects(sink.write('[1,2]'), { name: 'TypeError', message: /JSON object/ });
  await t.rejects(sink.writeMany([line(1), 'null']), TypeError, 'a batch is taken whole or not at all');
  await sink.write(line(2));
  t.same(rx.records.map((r) => r.record.seq), [2]);
});

t.test('an answer that is no ack for the chunk in flight fails the chunk', async (t) => {
  // The last never completes: nested one-element arrays, past the bound on an unparsed answer.
  const answers = [encode({ ack: 'someone-elses-chunk' }), encode(['not', 'a', 'map']), Buffer.alloc(8192, 0x91)];
  for (const answer of answers) {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', () => socket.write(answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const sink = fluentSink({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, tag: TAG }, { ...FAST, ackTimeoutMs: 10_000 });
    const started = Date.now();
    await t.rejects(sink.write(line(1)), /ack for the chunk|other than acks|fluent receiver/);
    t.ok(Date.now() - started < 5_000, 'failed on the answer, not by the ack timeout');
    await sink.close().catch(() => undefined);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

t.test('close waits for outstanding acks, then refuses writes', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { ackDelayMs: 200 });
  const w = track(sink.write(line(1)));
  await until(() => rx.records.length === 1, 5_000);
  await sink.close();
  await new Promise((r) => setImmediate(r));
  t.equal(w.state, 'resolved', 'the write was acknowledged before close returned');
  await t.rejects(sink.write(line(2)), /closed/);
  t.ok(await until(() => !sink.healthy(), 1_000));
  await sink.close(); // idempotent

  const stalled = await receiverAndSink(t, { answer: 'drop-ack' }, { ackTimeoutMs: 300, connectTimeoutMs: 300 });
  const lost = track(stalled.sink.write(line(1)));
  t.ok(await until(() => stalled.rx.records.length === 1, 5_000));
  const started = Date.now();
  await stalled.sink.close();
  await new Promise((r) => setImmediate(r)); // the write's own promise chain settles in microtasks
  t.equal(lost.state, 'rejected', 'close waited for the ack timeout; an unacknowledged write never resolves');
  t.ok(Date.now() - started < 3_000, 'close is bounded');
});

t.test('behind the record writer: batches, and a refused stretch keeps the chain verifiable', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] };
  const { rx, sink } = await receiverAndSink(t, { ackDelayMs: 5 });
  const w = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k1', privateKey }, sink, sign: 'every', stateFile: null });
  const body = (i: number) => ({ request: { i }, certificate: null, decision: 'admit' as const, reason: null, detail: null, identity: null });
  await Promise.all(Array.from({ length: 100 }, (_, i) => w.decision(body(i))));
  t.equal(rx.records.length, 101);
  t.ok(rx.messages < 20, `the writer's 101 records took ${rx.messages} chunks`);

  // A receiver that refuses (no ack, nothing kept): the decision fails, as its request would.
  rx.answer = 'refuse';
  await t.rejects(w.decision(body(100)), /no ack/);
  t.notOk(w.healthy(), 'the writer reports the sink down');
  rx.answer = 'ack';
  // The writer retries the refused line; the next record then follows it in the chain.
  t.ok(await until(() => w.healthy(), 10_000), 'the writer recovers through its retry');
  await w.decision({ ...body(101), decision: 'deny', reason: 'audit_unavailable' });
  await w.close();
  const report = await verifyRecords(
    (async function* () {
      yield* rx.lines();
    })(),
    jwks,
  );
  t.match(report, { ok: true, records: 104, streams: [{ ended: true }] }, 'no hole where the write failed');
  const tail = rx.records.slice(-3).map((r) => r.record);
  t.match(tail, [{ type: 'decision', decision: 'admit', request: { i: 100 } }, { decision: 'deny', reason: 'audit_unavailable' }, { type: 'end' }]);
});

t.test('a lost ack can leave the receiver a byte-identical copy, which verify names', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] };
  const { rx, sink } = await receiverAndSink(t);
  const w = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k1', privateKey }, sink, sign: 'every', stateFile: null });
  rx.answer = 'drop-ack';
  await t.rejects(w.decision({ request: {}, certificate: null, decision: 'admit', reason: null, detail: null, identity: null }));
  rx.answer = 'ack';
  t.ok(await until(() => w.healthy(), 10_000));
  await w.close();
  const lines = rx.lines();
  const from = (ls: string[]) =>
    (async function* () {
      yield* ls;
    })();
  t.match(await verifyRecords(from(lines), jwks), { ok: false, problem: 'inserted', seq: 1, message: /second copy/ });
  const seen = new Set<string>();
  const deduped = lines.filter((l) => !seen.has(l) && !!seen.add(l));
  t.equal(deduped.length, lines.length - 1);
  t.match(await verifyRecords(from(deduped), jwks), { ok: true, records: 3 }, 'dropping exact duplicates restores the chain');
  t.match(await verifyRecords(from(lines), { ...jwks, allowCopies: true }), { ok: true, records: 3, copies: 1 }, 'as does --allow-copies');
});

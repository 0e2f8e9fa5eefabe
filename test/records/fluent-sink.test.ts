// The sink's waits (connect and ack bounds, reconnect backoff, close) run on a ManualClock: the
// tests move time and assert what happens before and after, and the receiver sends an ack when the
// test releases it. Only loopback I/O is real.
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { fluentSink, type FluentSink, type FluentSinkOptions } from '../../src/records/fluent-sink.js';
import { RecordWriter, RETRY_MS } from '../../src/records/writer.js';
import { verifyRecords } from '../../src/records/verify.js';
import { startFluentReceiver, type FluentReceiver } from '../helpers/fluent-receiver.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const TAG = 'seb.records';
/** Bounds distinct from each other, so a test can tell which wait was asked for. */
const FAST = { ackTimeoutMs: 400, connectTimeoutMs: 1_000, reconnectMinMs: 20, reconnectMaxMs: 100 } as const;
/** When records are stamped (the writer's clock is the sink's). */
const START = Date.UTC(2026, 10, 26, 4);

async function receiverAndSink(
  t: Test,
  o: Parameters<typeof startFluentReceiver>[0] = {},
  so: FluentSinkOptions = {},
): Promise<{ rx: FluentReceiver; sink: FluentSink; clock: ManualClock }> {
  const rx = await startFluentReceiver(o);
  const clock = new ManualClock(START);
  const sink = fluentSink({ host: '127.0.0.1', port: rx.port, tag: TAG }, { ...FAST, clock, ...so });
  // Closing waits for outstanding acks on the manual clock: release them, and let the bounds pass.
  t.teardown(async () => {
    const closed = sink.close().catch(() => undefined);
    rx.releaseAcks();
    clock.advance(FAST.connectTimeoutMs + FAST.ackTimeoutMs);
    await closed;
    await rx.close();
  });
  return { rx, sink, clock };
}

/** One turn of the event loop: what the sink does on its own in that turn has happened. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

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
  const { rx, sink } = await receiverAndSink(t, { answer: 'hold' });
  const w = track(sink.write(line(1)));
  t.ok(await until(() => rx.records.length === 1), 'the receiver has the record');
  await tick();
  t.equal(w.state, 'pending', 'received but not yet acknowledged: still pending');
  rx.releaseAcks();
  await w.done;
  t.equal(w.state, 'resolved', 'resolved once the ack came');
});

t.test('no ack: the write rejects after the ack timeout, and the sink reconnects', async (t) => {
  const { rx, sink, clock } = await receiverAndSink(t, { answer: 'drop-ack' });
  const w = track(sink.write(line(1)));
  t.ok(await until(() => rx.records.length === 1), 'the receiver has the record');
  t.same(clock.asked, [FAST.connectTimeoutMs, FAST.ackTimeoutMs], 'the connect bound (ended by the connection), then the ack bound');
  clock.advance(FAST.ackTimeoutMs - 1);
  await tick();
  t.equal(w.state, 'pending', 'not failed before the ack timeout');
  clock.advance(1);
  await w.done;
  t.equal(w.state, 'rejected', 'failed at the ack timeout');
  t.match(String(w.error), /no ack within 400 ms/);
  t.equal(rx.records.length, 1, 'the receiver did get it: the write failed, it was not dropped silently');
  t.notOk(sink.healthy(), 'down until the reconnect');
  t.equal(clock.asked.at(-1), FAST.reconnectMinMs, 'the reconnect waits the first backoff');
  rx.answer = 'ack';
  clock.advance(FAST.reconnectMinMs);
  t.ok(await until(() => sink.healthy() && rx.connections === 2), 'a new connection replaces the stalled one');
  await sink.write(line(2));
  t.same(rx.records.map((r) => r.record.seq), [1, 2], 'the sink never resent the failed chunk by itself');
});

t.test('the receiver closes mid-chunk: pending writes reject; later writes succeed after the reconnect', async (t) => {
  const { rx, sink, clock } = await receiverAndSink(t, { answer: 'close' });
  const writes = [1, 2, 3].map((i) => track(sink.write(line(i))));
  await Promise.all(writes.map((w) => w.done));
  t.same(writes.map((w) => w.state), ['rejected', 'rejected', 'rejected'], 'every unacknowledged write rejects');
  t.match(String(writes[0]?.error), /fluent receiver 127\.0\.0\.1:\d+/);
  t.equal(rx.records.length, 0);
  rx.answer = 'ack';
  t.notOk(sink.healthy(), 'down until the reconnect');
  clock.advance(FAST.reconnectMinMs);
  t.ok(await until(() => sink.healthy()), 'reconnected after the backoff');
  await sink.write(line(4));
  t.same(rx.records.map((r) => r.record.seq), [4]);
  t.ok(rx.connections >= 2);
});

t.test('no receiver at start: writes reject promptly, and the sink is not healthy', async (t) => {
  const port = await freePort();
  const clock = new ManualClock();
  const sink = fluentSink({ host: '127.0.0.1', port, tag: TAG }, { ...FAST, clock });
  t.teardown(() => sink.close().catch(() => undefined));
  await t.rejects(sink.write(line(1)), /ECONNREFUSED/);
  t.same(clock.asked, [FAST.connectTimeoutMs, FAST.reconnectMinMs], 'refused with time standing still, inside the connect bound; the reconnect waits its backoff');
  t.notOk(sink.healthy());
  await t.rejects(sink.write(line(2)), /unreachable/, 'while reconnecting, a write is refused at once');
  // The receiver comes up: the background reconnect finds it without any write.
  const rx = await startFluentReceiver({ port });
  t.teardown(() => rx.close());
  clock.advance(FAST.reconnectMinMs);
  t.ok(await until(() => sink.healthy()), 'healthy once the backoff is over and the receiver is up');
  await sink.write(line(3));
  t.same(rx.records.map((r) => r.record.seq), [3]);
});

t.test('past the queue cap, writes reject at once instead of growing', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { answer: 'hold' }, { maxQueuedLines: 3 });
  const held = [1, 2, 3].map((i) => track(sink.write(line(i))));
  await t.rejects(sink.write(line(4)), /queue is full \(3 records/);
  t.same(held.map((w) => w.state), ['pending', 'pending', 'pending'], 'refused while the three wait for their ack');
  t.ok(await until(() => rx.records.length === 3), 'the three reached the receiver');
  rx.answer = 'ack';
  rx.releaseAcks();
  await Promise.all(held.map((w) => w.done));
  t.same(held.map((w) => w.state), ['resolved', 'resolved', 'resolved'], 'the queued ones still go through');
  await sink.write(line(5));
  t.same(rx.records.map((r) => r.record.seq), [1, 2, 3, 5]);

  const bytes = await receiverAndSink(t, { answer: 'hold' }, { maxQueuedBytes: 2 * line(1).length });
  const first = track(bytes.sink.writeMany([line(1), line(2)]));
  await t.rejects(bytes.sink.write(line(3)), /queue is full/, 'the byte cap too');
  t.ok(await until(() => bytes.rx.records.length === 2));
  bytes.rx.releaseAcks();
  await first.done;
  t.equal(first.state, 'resolved');
});

t.test('concurrent writes share chunks: fewer round trips than records', async (t) => {
  const { rx, sink } = await receiverAndSink(t);
  const n = 200;
  await Promise.all(Array.from({ length: n }, (_, i) => sink.write(line(i))));
  t.equal(rx.records.length, n);
  t.same(rx.records.map((r) => r.record.seq), Array.from({ length: n }, (_, i) => i), 'in write order');
  t.ok(rx.messages <= 3, `${n} records in ${rx.messages} chunks`);
  // Lines written while a chunk is in flight wait for it and go together in the next one.
  rx.answer = 'hold';
  const before = rx.messages;
  const inFlight = track(sink.write(line(1000)));
  t.ok(await until(() => rx.messages === before + 1));
  const meanwhile: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) {
    meanwhile.push(sink.write(line(1001 + i)));
    await new Promise((r) => setImmediate(r)); // each in its own turn of the event loop
  }
  t.equal(inFlight.state, 'pending', 'all 20 were written while the first chunk was in flight');
  rx.answer = 'ack';
  rx.releaseAcks();
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
    const clock = new ManualClock();
    const sink = fluentSink({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, tag: TAG }, { ...FAST, clock });
    await t.rejects(sink.write(line(1)), /ack for the chunk|other than acks|fluent receiver/);
    t.equal(clock.now(), 0, 'failed on the answer, with time standing still: not by the ack timeout');
    await sink.close().catch(() => undefined);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

t.test('close waits for outstanding acks, then refuses writes', async (t) => {
  const { rx, sink } = await receiverAndSink(t, { answer: 'hold' });
  const w = track(sink.write(line(1)));
  t.ok(await until(() => rx.records.length === 1));
  const closing = track(sink.close());
  await tick();
  t.equal(closing.state, 'pending', 'close waits while an ack is outstanding');
  rx.releaseAcks();
  await closing.done;
  await tick();
  t.equal(closing.state, 'resolved');
  t.equal(w.state, 'resolved', 'the write was acknowledged before close returned');
  await t.rejects(sink.write(line(2)), /closed/);
  t.ok(await until(() => !sink.healthy()));
  await sink.close(); // idempotent

  const stalled = await receiverAndSink(t, { answer: 'drop-ack' });
  const lost = track(stalled.sink.write(line(1)));
  t.ok(await until(() => stalled.rx.records.length === 1));
  const closed = track(stalled.sink.close());
  await tick();
  t.same([lost.state, closed.state], ['pending', 'pending'], 'close waits while the ack may still come');
  t.same(stalled.clock.asked, [FAST.connectTimeoutMs, FAST.ackTimeoutMs, FAST.connectTimeoutMs + FAST.ackTimeoutMs], 'and is bounded by a connect and an ack timeout');
  stalled.clock.advance(FAST.ackTimeoutMs);
  await closed.done;
  await tick(); // the write's own promise chain settles in microtasks
  t.equal(lost.state, 'rejected', 'at the ack timeout the unacknowledged write rejects (it never resolves), and close returns');
});

/** After a failed write: the sink reconnects after its backoff, then the writer's retry writes the line again. */
async function recover(t: Test, clock: ManualClock, sink: FluentSink, w: RecordWriter): Promise<void> {
  clock.advance(FAST.reconnectMinMs);
  t.ok(await until(() => sink.healthy()), 'the sink reconnects after its backoff');
  t.notOk(w.healthy(), 'the writer waits for its retry');
  clock.advance(RETRY_MS);
  t.ok(await until(() => w.healthy()), 'the writer recovers through its retry');
}

t.test('behind the record writer: batches, and a refused stretch keeps the chain verifiable', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] };
  const { rx, sink, clock } = await receiverAndSink(t);
  const w = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k1', privateKey }, sink, sign: 'every', stateFile: null, clock });
  const body = (i: number) => ({ request: { i }, certificate: null, decision: 'admit' as const, reason: null, detail: null, identity: null });
  await Promise.all(Array.from({ length: 100 }, (_, i) => w.decision(body(i))));
  t.equal(rx.records.length, 101);
  t.ok(rx.messages < 20, `the writer's 101 records took ${rx.messages} chunks`);

  // A receiver that refuses (no ack, nothing kept): the decision fails, as its request would.
  rx.answer = 'refuse';
  const sent = rx.messages;
  const refused = w.decision(body(100));
  t.ok(await until(() => rx.messages === sent + 1), 'the chunk reached the receiver');
  clock.advance(FAST.ackTimeoutMs);
  await t.rejects(refused, /no ack/);
  t.notOk(w.healthy(), 'the writer reports the sink down');
  rx.answer = 'ack';
  // The writer retries the refused line; the next record then follows it in the chain.
  await recover(t, clock, sink, w);
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
  const { rx, sink, clock } = await receiverAndSink(t);
  const w = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k1', privateKey }, sink, sign: 'every', stateFile: null, clock });
  rx.answer = 'drop-ack';
  const lost = w.decision({ request: {}, certificate: null, decision: 'admit', reason: null, detail: null, identity: null });
  t.ok(await until(() => rx.records.length === 2), 'the receiver kept the start and the decision');
  clock.advance(FAST.ackTimeoutMs);
  await t.rejects(lost, /no ack/);
  rx.answer = 'ack';
  await recover(t, clock, sink, w);
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

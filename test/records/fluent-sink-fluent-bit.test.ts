/**
 * The Fluent sink against a real Fluent Bit `forward` input (1.8.15, .ci/fluent-bit.sh), whose
 * stdout output prints every record it took: acknowledgements, an ack lost on the way back, the peer
 * restarted, the peer stalled (SIGSTOP). The model receiver (test/helpers/fluent-receiver.ts, used by
 * fluent-sink.test.ts) stays for what a real Fluent Bit cannot be made to do: answer with a wrong
 * chunk id, refuse a chunk without keeping it, close mid-chunk, delay an ack by an exact time.
 */
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { fluentSink, type FluentSinkOptions } from '../../src/records/fluent-sink.js';
import { RecordWriter } from '../../src/records/writer.js';
import { verifyRecords } from '../../src/records/verify.js';
import { freePort, startFluentBit, type FluentBit } from '../helpers/fluent-bit.js';
import { until } from '../helpers/until.js';

const TAG = 'seb.records';
const FAST: FluentSinkOptions = { ackTimeoutMs: 3_000, connectTimeoutMs: 1_000, reconnectMinMs: 20, reconnectMaxMs: 200 };

/** Fluent Bit with a forward input on `port`, printing each record as a JSON line with no date key added. */
async function forwardPeer(t: Test, port: number): Promise<FluentBit> {
  const fb = await startFluentBit(
    ['-f', '1', '-i', 'forward', '-p', 'listen=127.0.0.1', '-p', `port=${port}`, '-o', 'stdout', '-p', 'format=json_lines', '-p', 'json_date_key=false', '-m', '*'],
    port,
  );
  t.teardown(() => fb.stop());
  return fb;
}

/**
 * A loopback relay in front of the peer: what the sink sends always reaches Fluent Bit; what Fluent
 * Bit answers is dropped while `dropAnswers` is set (an ack lost on the way back).
 */
async function relay(t: Test, to: number): Promise<{ port: number; dropAnswers: boolean }> {
  const sockets = new Set<Socket>();
  const state = { port: 0, dropAnswers: false };
  const server = createServer((client) => {
    const upstream = connect(to, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (client.destroy(), upstream.destroy()));
    }
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => void (state.dropAnswers || client.write(d)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return state;
}

const record = (seq: number): string => JSON.stringify({ v: 1, type: 'decision', seq, ts: `2026-11-26T04:00:0${seq % 10}.000Z`, reason: null });
const seqs = (fb: FluentBit): unknown[] => fb.lines.map((l) => (JSON.parse(l) as Record<string, unknown>)['seq']);
const body = (i: number) => ({ request: { i }, certificate: null, decision: 'admit' as const, reason: null, detail: null, identity: null });
const from = (ls: readonly string[]) =>
  (async function* () {
    yield* ls;
  })();

t.test('a real Fluent Bit acknowledges each chunk; the records it prints verify', async (t) => {
  const port = await freePort();
  const fb = await forwardPeer(t, port);
  const sink = fluentSink({ host: '127.0.0.1', port, tag: TAG }, FAST);
  t.teardown(() => sink.close().catch(() => undefined));
  for (const seq of [1, 2, 3]) await sink.write(record(seq));
  t.ok(await until(() => fb.lines.length >= 3, 10_000), 'printed');
  t.same(fb.lines.map((l) => JSON.parse(l)), [1, 2, 3].map((s) => JSON.parse(record(s))), 'in order, fields intact');

  // Behind the record writer, as the broker runs it: the chain Fluent Bit holds verifies.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] };
  const port2 = await freePort();
  const fb2 = await forwardPeer(t, port2);
  const w = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k1', privateKey }, sink: fluentSink({ host: '127.0.0.1', port: port2, tag: TAG }, FAST), sign: 'every', stateFile: null });
  await Promise.all(Array.from({ length: 20 }, (_, i) => w.decision(body(i))));
  await w.close();
  t.ok(await until(() => fb2.lines.length >= 22, 10_000), 'every record printed');
  t.match(await verifyRecords(from(fb2.lines), jwks), { ok: true, records: 22, streams: [{ ended: true }] }, 'seb records verify passes on what Fluent Bit printed');
});

t.test('ack lost: the write rejects, Fluent Bit kept the record, and the writer\'s retry leaves a byte-identical copy', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] };
  const port = await freePort();
  const fb = await forwardPeer(t, port);
  const via = await relay(t, port);
  const sink = fluentSink({ host: '127.0.0.1', port: via.port, tag: TAG }, { ...FAST, ackTimeoutMs: 500 });
  const w = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k1', privateKey }, sink, sign: 'every', stateFile: null });
  await w.decision(body(0));
  via.dropAnswers = true;
  await t.rejects(w.decision(body(1)), /no ack within 500 ms/, 'no ack, no write (SPEC §8)');
  t.ok(await until(() => fb.lines.length >= 3, 10_000), 'Fluent Bit took the chunk whose ack was lost');
  via.dropAnswers = false;
  t.ok(await until(() => w.healthy(), 10_000), 'reconnected');
  await w.close();
  t.ok(await until(() => fb.lines.length >= 5, 10_000));
  t.match(await verifyRecords(from(fb.lines), jwks), { ok: false, problem: 'inserted', message: /second copy/ }, 'verify names the copy');
  t.match(await verifyRecords(from(fb.lines), { ...jwks, allowCopies: true }), { ok: true, copies: 1 }, '--allow-copies accepts it: the copy is byte-identical');
});

t.test('peer restarted: writes reject while it is down, and succeed on the new process', async (t) => {
  const port = await freePort();
  const first = await forwardPeer(t, port);
  const sink = fluentSink({ host: '127.0.0.1', port, tag: TAG }, FAST);
  t.teardown(() => sink.close().catch(() => undefined));
  await sink.write(record(1));
  await first.stop();
  t.ok(await until(() => !sink.healthy(), 5_000), 'the sink saw the peer go');
  await t.rejects(sink.write(record(2)), /unreachable/, 'refused at once while down: the request would be denied audit_unavailable');
  const second = await forwardPeer(t, port);
  t.ok(await until(() => sink.healthy(), 10_000), 'reconnected to the new process');
  await sink.write(record(3));
  t.ok(await until(() => second.lines.length >= 1, 10_000));
  t.same([seqs(first), seqs(second)], [[1], [3]], 'each record once, on the process that acknowledged it');
});

t.test('peer slow: a stall shorter than the ack timeout only delays the write; a longer one fails it', async (t) => {
  const port = await freePort();
  const fb = await forwardPeer(t, port);
  const sink = fluentSink({ host: '127.0.0.1', port, tag: TAG }, { ...FAST, ackTimeoutMs: 1_500 });
  t.teardown(() => sink.close().catch(() => undefined));
  await sink.write(record(1));

  fb.pause();
  let resolved = false;
  const delayed = sink.write(record(2)).then(() => void (resolved = true));
  await new Promise((r) => setTimeout(r, 400));
  t.notOk(resolved, 'no ack while Fluent Bit is stopped');
  fb.resume();
  await delayed;
  t.ok(resolved, 'the ack came once it ran again');

  fb.pause();
  const started = Date.now();
  await t.rejects(sink.write(record(3)), /no ack within 1500 ms/);
  t.ok(Date.now() - started >= 1_400, 'failed at the ack timeout, not before');
  fb.resume();
  t.ok(await until(() => seqs(fb).includes(3), 10_000), 'the stalled Fluent Bit still printed the record: the broker counted it unwritten');
  t.ok(await until(() => sink.healthy(), 10_000));
  await sink.write(record(4));
  t.ok(await until(() => seqs(fb).includes(4), 10_000), 'and the sink carries on');
});

import t from 'tap';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_DELAY_MS, RecordWriter, type RecordWriterOptions } from '../../src/records/writer.js';
import type { RecordSink } from '../../src/records/sinks.js';
import type { DecisionBody } from '../../src/records/types.js';
import { verifyRecords } from '../../src/records/verify.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const KID = 'broker-key-1';
const JWKS = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'EdDSA' }] };

class MemorySink implements RecordSink {
  readonly lines: string[] = [];
  failing = false;
  closed = false;
  async write(line: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.failing) throw new Error('sink down');
    this.lines.push(line);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function opts(sink: RecordSink, extra: Partial<RecordWriterOptions> = {}): RecordWriterOptions {
  return { brokerId: 'seb-test', key: { kid: KID, privateKey }, sink, sign: 'every', stateFile: null, clock: new ManualClock(Date.UTC(2026, 10, 26, 4)), ...extra };
}

function decision(i: number, extra: Partial<DecisionBody> = {}): DecisionBody {
  return {
    request: { method: 'PUT', path: `/reports/${i}.csv`, body_sha256: 'ab'.repeat(32) },
    certificate: { jti: `c-${i}`, iss: 'sab.example', op: 0 },
    decision: 'admit',
    reason: null,
    detail: null,
    identity: { access_key_id: 'ASIAEXAMPLE' },
    ...extra,
  };
}

async function* from(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}

const parse = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

t.test('sign: every — a few hundred concurrent records verify, in seq order', async (t) => {
  const sink = new MemorySink();
  const w = await RecordWriter.open(opts(sink));
  const refs = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      i % 2 === 0 ? w.decision(decision(i)) : w.outcome({ decision_seq: i, status: 200, upstream_request_id: `r${i}`, bytes_in: i, bytes_out: 2 * i, duration_ms: 3, error: null }),
    ),
  );
  await w.close();
  t.ok(sink.closed, 'sink closed');
  t.same(refs.map((r) => r.seq), Array.from({ length: 300 }, (_, i) => i + 1), 'refs are the seqs in call order');
  t.ok(refs.every((r) => r.stream === w.stream));
  t.equal(sink.lines.length, 302);
  const recs = sink.lines.map(parse);
  t.same(recs.map((r) => r.seq), Array.from({ length: 302 }, (_, i) => i), 'lines reach the sink in seq order');
  t.equal(recs[0]?.type, 'start');
  t.equal(recs[0]?.prev, null);
  t.equal(recs[301]?.type, 'end');
  t.ok(recs.every((r) => typeof r.sig === 'string' && r.kid === KID), 'every record signed');
  t.same(Object.keys(recs[0] as object), ['v', 'type', 'stream', 'seq', 'ts', 'prev', 'broker', 'previous', 'sign', 'kid', 'sig'], 'the start states the signing mode');
  t.same(Object.keys(recs[1] as object), ['v', 'type', 'stream', 'seq', 'ts', 'prev', 'broker', 'request', 'certificate', 'decision', 'reason', 'detail', 'identity', 'kid', 'sig'], 'SPEC §8 field order');
  t.equal(recs[1]?.ts, '2026-11-26T04:00:00.000Z');
  const report = await verifyRecords(from(sink.lines), JWKS);
  t.match(report, { ok: true, records: 302, streams: [{ stream: w.stream, records: 302, ended: true, sign: 'every', previous: null, link: 'none' }] });
});

t.test('sign: checkpoint — unsigned records covered by a signed checkpoint CHECKPOINT_DELAY_MS after the first', async (t) => {
  const clock = new ManualClock();
  const sink = new MemorySink();
  const w = await RecordWriter.open(opts(sink, { sign: 'checkpoint', clock }));
  const isCheckpoint = (l: string | undefined): boolean => l !== undefined && parse(l).type === 'checkpoint';
  await Promise.all(Array.from({ length: 150 }, (_, i) => w.decision(decision(i))));
  t.same(clock.asked, [CHECKPOINT_DELAY_MS], 'the first unsigned record starts the one wait the burst shares');
  clock.advance(CHECKPOINT_DELAY_MS - 1);
  t.equal(clock.pending, 1, 'still waiting one ms before the delay');
  t.notOk(sink.lines.some(isCheckpoint), 'no checkpoint before the delay');
  clock.advance(1);
  t.ok(await until(() => isCheckpoint(sink.lines.at(-1))), 'the checkpoint follows once the delay is over');
  const afterCheckpoint = sink.lines.length;
  const cp = parse(sink.lines[afterCheckpoint - 1] as string);
  t.equal(cp.type, 'checkpoint', 'a checkpoint followed the burst');
  t.equal(cp.head, cp.prev, 'head is the hash of the record before it');
  t.type(cp.sig, 'string');
  t.ok(sink.lines.slice(1, -1).every((l) => !('sig' in parse(l)) && !('kid' in parse(l))), 'ordinary records carry no sig');
  t.match(parse(sink.lines[0] as string), { type: 'start', sign: 'checkpoint', sig: String }, 'the start states the mode and is signed');

  await Promise.all(Array.from({ length: 150 }, (_, i) => w.decision(decision(i))));
  // Before the next checkpoint: the new records are not yet covered.
  const lastSigned = sink.lines.findLastIndex((l) => 'sig' in parse(l));
  const expected = sink.lines.length - 1 - lastSigned;
  t.ok(expected > 0, 'some records wait for the next checkpoint');
  t.same(clock.asked, [CHECKPOINT_DELAY_MS, CHECKPOINT_DELAY_MS], 'the next burst waits for its own checkpoint');
  t.match(await verifyRecords(from(sink.lines), JWKS), { ok: false, problem: 'uncovered', seq: lastSigned + 1 }, 'not yet covered: not verified');

  await w.close();
  const recs = sink.lines.map(parse);
  t.equal(recs.at(-1)?.type, 'end');
  t.type(recs.at(-1)?.sig, 'string', 'the end record is signed');
  t.equal(clock.pending, 0, 'close dropped the pending checkpoint wait');
  t.match(await verifyRecords(from(sink.lines), JWKS), { ok: true, records: sink.lines.length });
});

t.test('agent strings cannot break framing and are recorded as valid Unicode', async (t) => {
  const sink = new MemorySink();
  const w = await RecordWriter.open(opts(sink));
  const hostile = 'a\nb\r\u2028\u2029"\\\u0000</script>\ud800x\udc00';
  await w.decision(decision(1, { detail: hostile, request: { [`k\ud83d`]: hostile, nested: [hostile, { s: '\udfff' }] }, reason: 'contract_mismatch', decision: 'deny' }));
  await w.close();
  const line = sink.lines[1] as string;
  t.notOk(/[\n\r]/.test(line), 'no raw line breaks inside a line');
  t.notOk(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(line), 'well-formed');
  const rec = parse(line);
  const fixed = 'a\nb\r\u2028\u2029"\\\u0000</script>\ufffdx\ufffd';
  t.equal(rec.detail, fixed, 'lone surrogates became U+FFFD, the rest kept');
  t.same(rec.request, { 'k\ufffd': fixed, nested: [fixed, { s: '\ufffd' }] });
  t.match(await verifyRecords(from(sink.lines), JWKS), { ok: true, records: 3 });
});

t.test('sink failure: decision() rejects and healthy() is false until a write succeeds', async (t) => {
  const sink = new MemorySink();
  const w = await RecordWriter.open(opts(sink));
  t.equal(w.healthy(), true);
  await w.decision(decision(1));
  sink.failing = true;
  const results = await Promise.allSettled([w.decision(decision(2)), w.decision(decision(3))]);
  t.same(results.map((r) => r.status), ['rejected', 'rejected'], 'write-ahead: callers learn the sink refused');
  t.equal(w.healthy(), false);
  sink.failing = false;
  const ref = await w.decision(decision(4));
  t.equal(ref.seq, 4);
  t.equal(w.healthy(), true, 'recovered after a successful write');
  await w.close();
  // The failed lines were retried ahead of the new one, so the chain in the sink has no hole.
  t.same(sink.lines.map((l) => parse(l).seq), [0, 1, 2, 3, 4, 5]);
  t.match(await verifyRecords(from(sink.lines), JWKS), { ok: true, records: 6 });
});

t.test('open rejects when the sink refuses the start record; closed writer refuses records', async (t) => {
  const sink = new MemorySink();
  sink.failing = true;
  await t.rejects(RecordWriter.open(opts(sink)));
  const ok = new MemorySink();
  const w = await RecordWriter.open(opts(ok));
  await w.close();
  await t.rejects(w.decision(decision(1)));
  await w.close(); // idempotent
  t.equal(ok.lines.length, 2);
});

t.test('values JSON cannot hold are refused before a seq is taken', async (t) => {
  const sink = new MemorySink();
  const w = await RecordWriter.open(opts(sink));
  await t.rejects(w.outcome({ decision_seq: 1, status: null, upstream_request_id: null, bytes_in: Number.NaN, bytes_out: 0, duration_ms: 0, error: null }));
  t.equal((await w.decision(decision(1))).seq, 1, 'the chain has no hole');
  await w.close();
  t.match(await verifyRecords(from(sink.lines), JWKS), { ok: true, records: 3 });
});

t.test('ES256 signing keys work too', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sink = new MemorySink();
  const w = await RecordWriter.open(opts(sink, { key: { kid: 'ec-1', privateKey: ec.privateKey as KeyObject } }));
  await w.decision(decision(1));
  await w.close();
  const jwks = { keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256' }] };
  t.match(await verifyRecords(from(sink.lines), jwks), { ok: true, records: 3 });
  await t.rejects(RecordWriter.open(opts(sink, { key: { kid: 'x', privateKey: generateKeyPairSync('ed448').privateKey } })), 'other key types refused');
});

t.test('state file links streams across restarts; a cut tail is then detected', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'seb-records-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const stateFile = join(dir, 'state.json');
  const first = new MemorySink();
  const a = await RecordWriter.open(opts(first, { stateFile }));
  await a.decision(decision(1));
  await a.close();
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
  t.match(state, { stream: a.stream, seq: 2 }, 'the state names the end record');

  const second = new MemorySink();
  const b = await RecordWriter.open(opts(second, { stateFile }));
  await b.decision(decision(2));
  await b.close();
  const start = parse(second.lines[0] as string);
  t.same(start.previous, state);

  const both = [...first.lines, ...second.lines];
  t.match(await verifyRecords(from(both), JWKS), { ok: true, records: 6, streams: [{ link: 'none' }, { link: 'checked' }] });
  t.match(await verifyRecords(from(second.lines), JWKS), { ok: false, problem: 'missing-stream', stream: a.stream, seq: 2 }, 'the previous stream is missing');
  t.match(await verifyRecords(from(second.lines), { ...JWKS, outOfScope: [a.stream] }), { ok: true, streams: [{ link: 'out-of-scope' }] }, 'unless declared out of scope');
  const cut = [...first.lines.slice(0, -1), ...second.lines];
  t.match(await verifyRecords(from(cut), JWKS), { ok: false, problem: 'truncated', stream: a.stream, seq: 2, line: 2 });

  await writeFile(stateFile, 'not a pointer');
  await t.rejects(RecordWriter.open(opts(new MemorySink(), { stateFile })), 'a corrupt state file stops start-up');
});

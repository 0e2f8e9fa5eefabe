import t from 'tap';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { generateKeyPairSync } from 'node:crypto';
import { FSYNC_INTERVAL_MS, fileSink, stdoutSink } from '../../src/records/sinks.js';
import { RecordWriter } from '../../src/records/writer.js';
import { ManualClock } from '../helpers/manual-clock.js';

const OUTCOME = { decision_seq: 0, status: 200, upstream_request_id: null, bytes_in: 0, bytes_out: 0, duration_ms: 1, error: null };

function openWriter(out: Writable): Promise<RecordWriter> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k', privateKey }, sink: stdoutSink(out), sign: 'every', stateFile: null });
}

t.test('stdoutSink writes one line per record and resolves on the write callback', async (t) => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const sink = stdoutSink(out);
  await sink.write('{"a":1}');
  await sink.write('{"b":"\\n"}');
  await sink.close();
  t.equal(text, '{"a":1}\n{"b":"\\n"}\n');
  t.notOk(out.writableEnded, 'stdout itself is not ended');
});

t.test('stdoutSink hands the records that queued during a write to the stream in one write, in order', async (t) => {
  const writes: string[] = [];
  const out = new Writable({ write: (c: Buffer, _e, cb) => (writes.push(c.toString()), cb()) });
  const writer = await openWriter(out);
  await new Promise((resolve) => setImmediate(resolve));
  // Asked for in one turn: the first goes out alone, the others wait for it and then leave together.
  await Promise.all([writer.outcome(OUTCOME), writer.outcome(OUTCOME), writer.outcome(OUTCOME)]);
  t.equal(writes.length, 3, 'start, the first record, then the two that queued behind it');
  const seqs = writes.join('').trimEnd().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq);
  t.same(seqs, [0, 1, 2, 3], 'every line once, in seq order, one per line');
  t.equal(writes[2]?.split('\n').length, 3, 'two lines and the final newline in the last write');
});

t.test('records asked for after the first write of an event-loop turn go out together at its end (issue 14)', async (t) => {
  const writes: string[] = [];
  const out = new Writable({ write: (c: Buffer, _e, cb) => (writes.push(c.toString()), cb()) });
  const writer = await openWriter(out);
  await new Promise((resolve) => setImmediate(resolve));
  // A fresh turn: its first record is written at once, with no wait for the turn to end.
  await writer.outcome(OUTCOME);
  t.equal(writes.length, 2, 'the start, then the first record of the turn on its own');
  // Still the same turn (the write settled on process.nextTick): the next two wait for its end.
  const later = Promise.all([writer.outcome(OUTCOME), writer.outcome(OUTCOME)]);
  t.equal(writes.length, 2, 'not written yet: held for the end of the turn');
  await later;
  t.equal(writes.length, 3, 'one write for both');
  t.same(writes[2]?.trimEnd().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq), [2, 3], 'in seq order');
});

t.test('stdoutSink rejects when the stream fails', async (t) => {
  const broken = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('EPIPE'), { code: 'EPIPE' })) });
  broken.on('error', () => undefined);
  await t.rejects(stdoutSink(broken).write('{}'), { code: 'EPIPE' });
});

t.test('fileSink appends lines that are in the file when write resolves', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'seb-sink-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'records.log');
  const a = await fileSink(path);
  await a.write('{"n":1}');
  t.equal(await readFile(path, 'utf8'), '{"n":1}\n', 'visible before close');
  await a.close();
  const clock = new ManualClock();
  const b = await fileSink(path, clock);
  await b.write('{"n":2}');
  await b.write('{"n":3}');
  t.same(clock.asked, [FSYNC_INTERVAL_MS], 'one fsync wait for the writes that come within it');
  clock.advance(FSYNC_INTERVAL_MS); // the batched fsync runs
  await b.write('{"n":4}');
  t.same(clock.asked, [FSYNC_INTERVAL_MS, FSYNC_INTERVAL_MS], 'a write after the fsync starts the next wait');
  await b.close();
  t.equal(clock.pending, 0, 'close cancels the pending fsync wait (it syncs itself)');
  await b.close(); // idempotent
  t.equal(await readFile(path, 'utf8'), '{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n', 'appends, never truncates');
  t.equal((await stat(path)).mode & 0o777, 0o600, 'records are private to the broker');
  await t.rejects(b.write('{"n":5}'), 'a closed sink refuses writes');
  await t.rejects(fileSink(join(dir, 'missing-dir', 'x.log')));
});

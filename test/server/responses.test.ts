// Nothing goes upstream before the ledger confirms the use: a commit the store does not confirm
// stops the forward, and the admit record gets an outcome saying it was not forwarded.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { RecordWriter } from '../../src/records/writer.js';
import type { RecordSink } from '../../src/records/sinks.js';
import type { Reservation } from '../../src/replay/types.js';
import { Denial } from '../../src/reasons.js';
import { commitBeforeForward } from '../../src/server/responses.js';

class MemorySink implements RecordSink {
  readonly lines: string[] = [];
  async write(line: string): Promise<void> {
    this.lines.push(line);
  }
  async close(): Promise<void> {}
}

async function writer(): Promise<{ records: RecordWriter; sink: MemorySink }> {
  const sink = new MemorySink();
  const { privateKey } = generateKeyPairSync('ed25519');
  const records = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: 'k', privateKey }, sink, sign: 'every', stateFile: null });
  return { records, sink };
}

const admit = (records: RecordWriter) =>
  records.decision({
    request: { method: 'PUT', path: '/b/k' },
    certificate: { jti: 'c-1', iss: 'sab.example', op: 0 },
    decision: 'admit',
    reason: null,
    detail: null,
    identity: null,
  });

function reservation(commit: () => Promise<void>): Reservation {
  return { commit, release: () => undefined };
}

t.test('a confirmed commit lets the forward go on and writes nothing more', async (t) => {
  const { records, sink } = await writer();
  const ref = await admit(records);
  let committed = 0;
  await commitBeforeForward(reservation(async () => void committed++), { records, log: () => {} }, ref, performance.now(), 10);
  t.equal(committed, 1);
  await records.close();
  t.notOk(sink.lines.some((l) => JSON.parse(l).type === 'outcome'));
});

t.test('an unconfirmed commit is replay_unavailable, with an outcome that says not forwarded', async (t) => {
  const { records, sink } = await writer();
  const ref = await admit(records);
  const failing = reservation(() => Promise.reject(new Denial('replay_unavailable', 'redis did not answer')));
  await t.rejects(commitBeforeForward(failing, { records, log: () => {} }, ref, performance.now(), 10), { code: 'replay_unavailable' });
  await records.close();
  const outcome = sink.lines.map((l) => JSON.parse(l)).find((r) => r.type === 'outcome');
  t.match(outcome, { decision_seq: ref.seq, status: null, bytes_out: 0, error: /^not forwarded: replay_unavailable: redis did not answer/ });
});

t.test('any other commit failure is also replay_unavailable', async (t) => {
  const { records } = await writer();
  const ref = await admit(records);
  await t.rejects(commitBeforeForward(reservation(() => Promise.reject(new Error('socket closed'))), { records, log: () => {} }, ref, performance.now(), 0), {
    code: 'replay_unavailable',
  });
  await records.close();
});

// Issue 11 §5: records of executed mutations cannot be removed without `seb records verify`
// failing. Each row is a forgery a log editor can make without the broker's key → the failure.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Base64url } from '../../src/lib/digest.js';
import { canonicalJson } from '../../src/lib/jcs.js';
import { RecordWriter } from '../../src/records/writer.js';
import type { DecisionBody } from '../../src/records/types.js';
import { verifyRecords } from '../../src/records/verify.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const JWKS = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] };
const admit: DecisionBody = { request: { method: 'PUT', path: '/b/k' }, certificate: { jti: 'c-1' }, decision: 'admit', reason: null, detail: null, identity: null };
const outcome = { decision_seq: 1, status: 200, upstream_request_id: null, bytes_in: 0, bytes_out: 0, duration_ms: 1, error: null };

type Run = { stream: string; lines: string[] };
/** One broker run: start, an admit and its outcome, then end unless `crash`. */
async function run(sign: 'every' | 'checkpoint', stateFile: string | null, crash = false): Promise<Run> {
  const lines: string[] = [];
  const w = await RecordWriter.open({ brokerId: 'b', key: { kid: 'k1', privateKey }, sink: { write: async (l) => void lines.push(l), close: async () => undefined }, sign, stateFile });
  await w.decision(admit);
  await w.outcome(outcome);
  // A crash: no end record, and the state file holds what the admit wrote (its timers are unref'd).
  if (!crash) await w.close();
  return { stream: w.stream, lines: [...lines] };
}

const parse = (l: string): Record<string, unknown> => JSON.parse(l) as Record<string, unknown>;
const hash = (l: string): string => sha256Base64url(canonicalJson(parse(l)));
/** The admit turned into an unsigned deny, the next record's prev recomputed (a plain hash), the rest dropped. */
function denyInstead(lines: readonly string[]): string[] {
  const forged = parse(lines[1] as string);
  forged.decision = 'deny';
  forged.reason = 'contract_mismatch';
  delete forged.sig;
  delete forged.kid;
  return [lines[0] as string, JSON.stringify(forged)];
}
async function* from(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}
const verify = (lines: readonly string[], o: { outOfScope?: string[] } = {}) => verifyRecords(from(lines), { ...JWKS, ...o });

t.test('forgery → failure', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'seb-forgery-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const state = join(dir, 'state.json');
  const every = await run('every', null);
  const cp = await run('checkpoint', null);
  // Three linked runs; the second crashed right after its admit and outcome.
  const r1 = await run('checkpoint', state);
  const r2 = await run('checkpoint', state, true);
  const r3 = await run('checkpoint', state);
  const runs = [...r1.lines, ...r2.lines, ...r3.lines];
  t.match(await verify(runs), { ok: false, problem: 'uncovered', stream: r2.stream, seq: 2 }, 'honest: the crashed run\'s unsigned outcome, after the admit the state file named, is uncovered');
  t.match(parse(r3.lines[0] as string).previous, { stream: r2.stream, seq: 1, hash: hash(r2.lines[1] as string) }, 'the state file named the admit before it went upstream');

  const rows: [string, string[], Record<string, unknown>][] = [
    ['every: admit rewritten as an unsigned deny, outcome and end dropped', denyInstead(every.lines), { problem: 'unsigned', seq: 1 }],
    ['checkpoint: the same', denyInstead(cp.lines), { problem: 'uncovered', seq: 1 }],
    ['truncate and append a forged unsigned record', [...every.lines.slice(0, 2), JSON.stringify({ ...parse(every.lines[2] as string), sig: undefined, kid: undefined, prev: hash(every.lines[1] as string), status: 500 })], { problem: 'unsigned', seq: 2 }],
    ['reorder admit and outcome', [every.lines[0] as string, every.lines[2] as string, every.lines[1] as string, every.lines[3] as string], { problem: 'reordered' }],
    ['drop an outcome', every.lines.filter((_, i) => i !== 2), { problem: 'deleted', seq: 3 }],
    ['drop the middle run', [...r1.lines, ...r3.lines], { problem: 'missing-stream', stream: r2.stream }],
    ['cut the crashed run after the admit the state file named', [...r1.lines, ...r2.lines.slice(0, 1), ...r3.lines], { problem: 'truncated', stream: r2.stream }],
    ['splice: the third run after another broker\'s stream', [...every.lines, ...r3.lines], { problem: 'missing-stream', stream: r2.stream }],
    ['splice: records of one stream into another', [...every.lines.slice(0, 2), ...cp.lines.slice(2)], { problem: 'deleted' }],
  ];
  for (const [name, lines, want] of rows) t.match(await verify(lines), { ok: false, ...want }, name);
  t.match(await verify([...r2.lines.slice(0, 2), ...r3.lines], { outOfScope: [r1.stream] }), { ok: true }, 'the admit of the crashed run is covered by the next start; the earlier run declared out of scope');
  t.same(JSON.parse(await readFile(state, 'utf8')), { stream: r3.stream, seq: r3.lines.length - 1, hash: hash(r3.lines.at(-1) as string) }, 'the state file names the end record after a clean close');
});

/**
 * Fuzz: record verification (src/records/verify.ts, verify-keys.ts, log-lines.ts). Streams written
 * by the real RecordWriter, with agent-controlled strings (lone surrogates included) in their
 * bodies, verify; any change of one field's value, a deleted, duplicated, reordered or foreign
 * record is detected; re-serialising a record (what log pipelines do) is not a change. Arbitrary
 * log lines never crash the verifier.
 */
import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import fc from 'fast-check';
import { canonicalJson } from '../../src/lib/jcs.js';
import type { RecordSink } from '../../src/records/sinks.js';
import { verifyRecords, type VerifyReport } from '../../src/records/verify.js';
import { RecordWriter } from '../../src/records/writer.js';
import { check, Coverage } from './harness.js';
import { applyEdit, decisionBody, edit, jcsValue, outcomeBody, type Edit } from './arbitraries.js';

const TARGET = 'records';

const KEYS = [
  { kid: 'ed', ...generateKeyPairSync('ed25519') },
  { kid: 'es', ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
];
const JWKS = { keys: KEYS.map((k) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid })) };

type Entry =
  | { kind: 'decision'; body: typeof decisionBody extends fc.Arbitrary<infer B> ? B : never }
  | { kind: 'outcome'; body: typeof outcomeBody extends fc.Arbitrary<infer B> ? B : never };

async function write(key: (typeof KEYS)[number], sign: 'every' | 'checkpoint', entries: readonly Entry[]): Promise<string[]> {
  const lines: string[] = [];
  const sink: RecordSink = { write: async (l) => void lines.push(l), close: async () => undefined };
  const w = await RecordWriter.open({ brokerId: 'seb-fuzz', key: { kid: key.kid, privateKey: key.privateKey }, sink, sign, stateFile: null });
  let decisions = 0;
  for (const e of entries) {
    if (e.kind === 'decision') {
      await w.decision(e.body);
      decisions++;
    } else {
      await w.outcome({ ...e.body, decision_seq: decisions });
    }
  }
  await w.close();
  return lines;
}

async function* from(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}
const verify = (lines: readonly string[]): Promise<VerifyReport> => verifyRecords(from(lines), JWKS);

const entry: fc.Arbitrary<Entry> = fc.oneof(decisionBody.map((body) => ({ kind: 'decision' as const, body })), outcomeBody.map((body) => ({ kind: 'outcome' as const, body })));
const stream = fc.record({ key: fc.constantFrom(...KEYS), sign: fc.constantFrom<'every' | 'checkpoint'>('every', 'every', 'checkpoint'), entries: fc.array(entry, { minLength: 1, maxLength: 5 }) });

/** Every path into a parsed record, containers included, as key lists. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = at.length > 0 ? [at] : [];
  if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, Array.isArray(v) ? Number(k) : k]));
  return out;
}

function setAt(root: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let o = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path.at(-1)!] = value;
}

type Change =
  | { kind: 'field'; line: number; path: number; value: unknown }
  | { kind: 'edit-string'; line: number; path: number; edit: Edit }
  | { kind: 'delete'; line: number }
  | { kind: 'duplicate'; line: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'foreign'; line: number; at: number };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('field' as const), line: fc.nat(), path: fc.nat(), value: jcsValue }),
  fc.record({ kind: fc.constant('edit-string' as const), line: fc.nat(), path: fc.nat(), edit: edit(fc.constantFrom(...'AQag09-_=.', '\u00e9', '"')) }),
  fc.record({ kind: fc.constant('delete' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('foreign' as const), line: fc.nat(), at: fc.nat() }),
);

/** Applies `c`; null when it leaves the log unchanged in meaning (then there is nothing to detect). */
function apply(lines: readonly string[], foreign: readonly string[], c: Change): string[] | null {
  const out = [...lines];
  switch (c.kind) {
    case 'field':
    case 'edit-string': {
      const i = c.line % out.length;
      const rec = JSON.parse(out[i]!) as Record<string, unknown>;
      const all = paths(rec);
      const path = all[c.path % all.length]!;
      let target: unknown = rec;
      for (const k of path) target = (target as Record<string | number, unknown>)[k];
      const value = c.kind === 'field' ? c.value : typeof target === 'string' ? applyEdit(target, c.edit) : null;
      if (c.kind === 'edit-string' && typeof target !== 'string') return null;
      const before = canonicalJson(rec);
      setAt(rec, path, value);
      let after: string;
      try {
        after = canonicalJson(rec);
      } catch {
        after = 'unrepresentable';
      }
      if (after === before) return null;
      out[i] = JSON.stringify(rec);
      return out;
    }
    case 'delete':
      out.splice(c.line % out.length, 1);
      return out;
    case 'duplicate': {
      const i = c.line % out.length;
      out.splice(i + 1, 0, out[i]!);
      return out;
    }
    case 'swap': {
      const a = c.a % out.length;
      const b = c.b % out.length;
      if (a === b) return null;
      [out[a], out[b]] = [out[b]!, out[a]!];
      return out;
    }
    case 'foreign':
      out.splice(c.at % (out.length + 1), 0, foreign[c.line % foreign.length]!);
      return out;
  }
}

/** Keys in reverse order and spaces added: what a log pipeline may make of a record. */
function reserialise(line: string): string {
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (v === null || typeof v !== 'object') return v;
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v).reverse()) Object.defineProperty(o, k, { value: reorder(x), enumerable: true, writable: true, configurable: true });
    return o;
  };
  return JSON.stringify(reorder(JSON.parse(line)), null, 1).replace(/\n */g, ' ');
}

t.test('a stream verifies, re-serialised too; any one change to it is detected', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 'chain mutations', fc.asyncProperty(stream, stream, change, async (s, other, c) => {
    const lines = await write(s.key, s.sign, s.entries);
    const good = await verify(lines);
    if (!good.ok || good.records !== lines.length || !good.streams[0]!.ended) throw new Error(`a written stream does not verify: ${JSON.stringify(good)}`);
    const again = await verify(lines.map(reserialise));
    if (!again.ok) throw new Error(`a re-serialised stream does not verify: ${JSON.stringify(again)}`);
    // Another stream's lines only where the change needs them: writing a stream is most of a case's cost.
    const changed = apply(lines, c.kind === 'foreign' ? await write(other.key, other.sign, other.entries) : [], c);
    if (changed === null) return true;
    const got = await verify(changed);
    if (!got.ok) {
      cov.hit(got.problem);
      return true;
    }
    // Verifiable, yet not the same log: the report must say so. Cutting the end record off looks like
    // a broker still running (not ended); another stream's start record is another stream.
    cov.hit(got.streams.length === 1 ? 'tail cut' : 'extra stream');
    return JSON.stringify([got.records, got.streams]) !== JSON.stringify([good.records, good.streams]) && got.streams.some((st) => !st.ended);
  }));
  t.ok(cov.count('changed') > 0 && cov.count('deleted') + cov.count('reordered') > 0, `detected: ${['changed', 'deleted', 'reordered', 'inserted', 'not-a-record', 'bad-signature', 'unknown-key', 'truncated', 'misplaced-start', 'after-end', 'tail cut', 'extra stream'].map((p) => `${p} ${cov.count(p)}`).join(', ')}`);
});

t.test('arbitrary log lines are reported, never crash the verifier', async (t) => {
  const line = fc.oneof(
    fc.string({ maxLength: 40 }),
    jcsValue.map((v) => JSON.stringify(v) ?? ''),
    fc.constantFrom('{"v":1,"type":"start","stream":"s","seq":0,"prev":null,"ts":"t","broker":"b"}', '2026-01-01T00:00:00Z stdout P {"v":1', '{"log":"{\\"v\\":1"}', '{"message":{"v":1}}'),
  );
  await check(t, TARGET, 'arbitrary lines', fc.asyncProperty(fc.array(line, { maxLength: 6 }), async (lines) => {
    const got = await verify(lines);
    return got.ok ? got.records >= 0 : typeof got.problem === 'string' && got.line >= 1;
  }));
});

t.test('pinned: a record signature with spare bits set does not verify', async (t) => {
  const lines = await write(KEYS[0]!, 'every', [{ kind: 'outcome', body: { status: 200, upstream_request_id: null, bytes_in: 0, bytes_out: 0, duration_ms: 1, error: null } }]);
  const last = JSON.parse(lines.at(-1)!) as { sig: string };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const v = alphabet.indexOf(last.sig.at(-1)!);
  const respelled = last.sig.slice(0, -1) + alphabet[(v & 0b110000) | ((v + 1) & 0b1111)];
  t.ok(Buffer.from(respelled, 'base64url').equals(Buffer.from(last.sig, 'base64url')), 'the same signature bytes');
  const got = await verify([...lines.slice(0, -1), JSON.stringify({ ...last, sig: respelled })]);
  t.equal(got.ok ? 'ok' : got.problem, 'bad-signature', 'the last record, which no later prev covers, is caught by its signature alone');
});

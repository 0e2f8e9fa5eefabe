import t from 'tap';
import { generateKeyPairSync, sign } from 'node:crypto';
import { canonicalJson } from '../../src/lib/jcs.js';
import { sha256Base64url } from '../../src/lib/digest.js';
import { RecordWriter } from '../../src/records/writer.js';
import type { RecordSink } from '../../src/records/sinks.js';
import { verifyRecords, type VerifyReport } from '../../src/records/verify.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const KID = 'k1';
const JWKS = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID }] };

async function log(sign: 'every' | 'checkpoint', n: number): Promise<{ stream: string; lines: string[] }> {
  const lines: string[] = [];
  const sink: RecordSink = { write: async (l) => void lines.push(l), close: async () => undefined };
  const w = await RecordWriter.open({ brokerId: 'seb-test', key: { kid: KID, privateKey }, sink, sign, stateFile: null });
  for (let i = 0; i < n; i++) {
    await w.decision({ request: { i }, certificate: null, decision: 'read', reason: null, detail: null, identity: null });
  }
  await w.close();
  return { stream: w.stream, lines };
}

async function* from(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}

const verify = (lines: readonly string[], keys: { keys: unknown[] } = JWKS): Promise<VerifyReport> => verifyRecords(from(lines), keys);

function edit(line: string, f: (r: Record<string, unknown>) => void): string {
  const r = JSON.parse(line) as Record<string, unknown>;
  f(r);
  return JSON.stringify(r);
}

/** Keys in reverse order with spaces after every separator: what a pipeline might make of a line. */
function reserialise(line: string): string {
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)]));
  };
  return JSON.stringify(reorder(JSON.parse(line)), null, 2).split('\n').map((s) => s.trim()).join(' ');
}

t.test('untampered logs verify, in every form a pipeline may store them', async (t) => {
  const { stream, lines } = await log('every', 20);
  const n = lines.length;
  const forms: [string, string[]][] = [
    ['bare', lines],
    ['with blank lines and CRLF', lines.flatMap((l) => [l + '\r', ''])],
    ['re-serialised: keys reordered, whitespace changed', lines.map(reserialise)],
    ['docker json-file', lines.map((l) => JSON.stringify({ log: l + '\n', stream: 'stdout', time: '2026-11-26T04:00:00.1Z' }))],
    ['docker json-file, split at 100 characters', lines.flatMap((l) => {
      const parts = (l + '\n').match(/[\s\S]{1,100}/g) as string[];
      return parts.map((p) => JSON.stringify({ log: p, stream: 'stdout', time: '2026-11-26T04:00:00.1Z' }));
    })],
    ['fluent bit message string', lines.map((l) => JSON.stringify({ message: l, tag: 'seb' }))],
    ['fluent bit parsed log object', lines.map((l) => JSON.stringify({ log: JSON.parse(l), kubernetes: { pod: 'p' } }))],
    ['CRI', lines.map((l) => `2026-11-26T04:00:00.123456789Z stdout F ${l}`)],
    ['CRI split into P parts', lines.flatMap((l) => [`2026-11-26T04:00:00.1Z stdout P ${l.slice(0, 50)}`, `2026-11-26T04:00:00.1Z stdout F ${l.slice(50)}`])],
  ];
  for (const [name, input] of forms) {
    t.match(await verify(input), { ok: true, records: n, streams: [{ stream, records: n, ended: true, sign: 'every', link: 'none' }] }, name);
  }
});

t.test('two interleaved streams verify separately', async (t) => {
  const a = await log('every', 5);
  const b = await log('checkpoint', 5);
  const mixed = a.lines.flatMap((l, i) => [l, b.lines[i] ?? '']).concat(b.lines.slice(a.lines.length));
  const report = await verify(mixed);
  t.match(report, { ok: true, records: a.lines.length + b.lines.length });
  t.equal(report.ok && report.streams.length, 2);
});

t.test('tampering is reported as the first broken record, by kind', async (t) => {
  const { stream, lines } = await log('every', 10);
  // lines[i] holds seq i; input line numbers are 1-based.
  const forged = edit(lines[4] as string, (r) => (r.decision = 'admit'));
  const cases: [string, string[], { line: number; seq: number | null; problem: string; stream?: string | null }][] = [
    ['a field changed', lines.map((l, i) => (i === 4 ? edit(l, (r) => (r.detail = 'x')) : l)), { line: 5, seq: 4, problem: 'changed' }],
    ['a nested field changed', lines.map((l, i) => (i === 4 ? edit(l, (r) => (r.request = { i: 99 })) : l)), { line: 5, seq: 4, problem: 'changed' }],
    ['a field added', lines.map((l, i) => (i === 4 ? edit(l, (r) => (r.extra = 1)) : l)), { line: 5, seq: 4, problem: 'changed' }],
    ['prev changed', lines.map((l, i) => (i === 4 ? edit(l, (r) => (r.prev = 'A'.repeat(43))) : l)), { line: 5, seq: 4, problem: 'changed' }],
    ['a line deleted', lines.filter((_, i) => i !== 4), { line: 5, seq: 5, problem: 'deleted' }],
    ['the start deleted', lines.slice(1), { line: 1, seq: 1, problem: 'deleted' }],
    ['two lines swapped', [...lines.slice(0, 4), lines[5] as string, lines[4] as string, ...lines.slice(6)], { line: 5, seq: 5, problem: 'reordered' }],
    ['a line moved far back', [...lines.slice(0, 3), ...lines.slice(4, 8), lines[3] as string, ...lines.slice(8)], { line: 4, seq: 4, problem: 'reordered' }],
    ['a forged line inserted', [...lines.slice(0, 5), forged, ...lines.slice(5)], { line: 6, seq: 4, problem: 'inserted' }],
    ['a line duplicated', [...lines.slice(0, 5), lines[4] as string, ...lines.slice(5)], { line: 6, seq: 4, problem: 'inserted' }],
    ['the last line cut', [...lines.slice(0, -1), (lines.at(-1) as string).slice(0, 80)], { line: lines.length, seq: lines.length - 1, problem: 'truncated' }],
    ['a record after the end', [...lines, edit(lines.at(-1) as string, (r) => ((r.seq = lines.length), (r.type = 'decision')))], { line: lines.length + 1, seq: lines.length, problem: 'after-end' }],
    ['a non-JSON line in the middle', [...lines.slice(0, 3), 'starting broker...', ...lines.slice(3)], { line: 4, seq: null, problem: 'not-a-record', stream: null }],
    ['a JSON line that is no record', [...lines.slice(0, 3), '{"level":"info"}', ...lines.slice(3)], { line: 4, seq: null, problem: 'not-a-record', stream: null }],
    ['a duplicate key in a record', lines.map((l, i) => (i === 2 ? l.replace('{"v":1,', '{"v":1,"v":1,') : l)), { line: 3, seq: null, problem: 'not-a-record', stream: null }],
    ['a malformed signature', lines.map((l, i) => (i === 6 ? edit(l, (r) => (r.sig = 'abc')) : l)), { line: 7, seq: 6, problem: 'bad-signature' }],
    ['an unknown kid', lines.map((l, i) => (i === 6 ? edit(l, (r) => (r.kid = 'other')) : l)), { line: 7, seq: 6, problem: 'unknown-key' }],
    ['a second start', lines.map((l, i) => (i === 3 ? edit(l, (r) => (r.type = 'start')) : l)), { line: 4, seq: 3, problem: 'changed' }],
  ];
  for (const [name, input, expected] of cases) {
    t.match(await verify(input), { ok: false, stream, ...expected }, name);
  }
});

t.test('allowCopies: exact copies, as an at-least-once pipeline resends them, are skipped and counted; nothing else is', async (t) => {
  const { stream, lines } = await log('every', 8);
  const lenient = (input: readonly string[]): Promise<VerifyReport> => verifyRecords(from(input), { ...JWKS, allowCopies: true });
  // A chunk of three resent after the next records, the end record resent after the end, and one re-serialised copy.
  const resent = [...lines.slice(0, 6), ...lines.slice(3, 6), ...lines.slice(6), lines.at(-1) as string, reserialise(lines[2] as string)];
  t.match(await verify(resent), { ok: false, problem: 'inserted', message: /second copy of seq 3/ }, 'strict by default');
  t.match(await lenient(resent), { ok: true, records: lines.length, copies: 5, streams: [{ stream, records: lines.length, ended: true }] });
  const forged = edit(lines[4] as string, (r) => (r.detail = 'not what was recorded'));
  t.match(await lenient([...lines.slice(0, 6), forged, ...lines.slice(6)]), { ok: false, line: 7, seq: 4, problem: 'inserted', message: /a second record with seq 4/ }, 'a changed copy is still inserted');
  t.match(await lenient(lines.filter((_, i) => i !== 4)), { ok: false, problem: 'deleted' }, 'a missing record is still deleted');
  t.match(await lenient([...lines.slice(0, 3), lines[4] as string, lines[3] as string, ...lines.slice(5)]), { ok: false, problem: 'reordered' }, 'order still matters');
});

t.test('sign: checkpoint — an unsigned record changed is caught by the chain; uncovered records fail', async (t) => {
  const { stream, lines } = await log('checkpoint', 6);
  t.match(await verify(lines), { ok: true, streams: [{ sign: 'checkpoint' }] });
  const unsignedAt = lines.findIndex((l, i) => i > 0 && !('sig' in JSON.parse(l)));
  t.ok(unsignedAt > 0, 'the log has unsigned records');
  const changed = lines.map((l, i) => (i === unsignedAt ? edit(l, (r) => (r.detail = 'x')) : l));
  t.match(await verify(changed), { ok: false, line: unsignedAt + 1, seq: unsignedAt, problem: 'changed', stream });
  // Cut after an unsigned record: everything after the last signed one is uncovered, so it fails.
  const cut = lines.slice(0, unsignedAt + 1);
  const lastSigned = cut.findLastIndex((l) => 'sig' in JSON.parse(l));
  t.match(await verify(cut), { ok: false, problem: 'uncovered', stream, seq: lastSigned + 1, line: lastSigned + 2 });
  // Stripping the last signature (the end record's) leaves the tail after the signed start uncovered.
  const stripped = lines.map((l, i) => (i === lines.length - 1 ? edit(l, (r) => (delete r.sig, delete r.kid)) : l));
  t.match(await verify(stripped), { ok: false, problem: 'uncovered', seq: 1 });
});

t.test('a signature from another key with the same kid is a change', async (t) => {
  const { lines } = await log('every', 2);
  const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  t.match(await verify(lines, { keys: [{ ...other, kid: KID }] }), { ok: false, line: 1, seq: 0, problem: 'changed' });
});

t.test('bad key sets are refused', async (t) => {
  const cases: [string, unknown][] = [
    ['not a JWKS', { kty: 'OKP' }],
    ['no kid', { keys: [{ ...publicKey.export({ format: 'jwk' }) }] }],
    ['kid twice', { keys: [JWKS.keys[0], JWKS.keys[0]] }],
    ['no usable key', { keys: [{ kty: 'RSA', kid: 'r', n: 'AQAB', e: 'AQAB' }] }],
    ['alg disagrees with the key', { keys: [{ ...JWKS.keys[0], alg: 'ES256' }] }],
    ['broken key', { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'x' }] }],
  ];
  for (const [name, keys] of cases) await t.rejects(verifyRecords(from([]), keys as { keys: unknown[] }), name);
});

/** Records signed by the key holder itself: the checks that do not rest on signatures alone. */
function signed(records: Record<string, unknown>[]): string[] {
  let prev: string | null = null;
  return records.map((r) => {
    const rec: Record<string, unknown> = { v: 1, ts: '2026-11-26T04:00:00.000Z', broker: 'b', ...r, prev, kid: KID };
    rec.sig = sign(null, Buffer.from(canonicalJson(rec)), privateKey).toString('base64url');
    prev = sha256Base64url(canonicalJson(rec));
    return JSON.stringify(rec);
  });
}

t.test('framing and link checks', async (t) => {
  const s = 'b3c1f0a2-0000-4000-8000-000000000001';
  const first = await log('every', 1);
  const endHash = sha256Base64url(canonicalJson(JSON.parse(first.lines.at(-1) as string)));
  const cases: [string, string[], { line: number; stream: string; seq: number; problem: string }][] = [
    ['seq 0 is not a start', signed([{ type: 'decision', stream: s, seq: 0 }]), { line: 1, stream: s, seq: 0, problem: 'misplaced-start' }],
    ['a second start', signed([{ type: 'start', stream: s, seq: 0, previous: null }, { type: 'start', stream: s, seq: 1, previous: null }]), { line: 2, stream: s, seq: 1, problem: 'misplaced-start' }],
    ['checkpoint head is not prev', signed([{ type: 'start', stream: s, seq: 0, previous: null }, { type: 'checkpoint', stream: s, seq: 1, head: 'A'.repeat(43) }]), { line: 2, stream: s, seq: 1, problem: 'changed' }],
    [
      'the previous stream differs from what the link names',
      [...first.lines, ...signed([{ type: 'start', stream: s, seq: 0, previous: { stream: first.stream, seq: 2, hash: 'A'.repeat(43) } }])],
      { line: 3, stream: first.stream, seq: 2, problem: 'changed' },
    ],
  ];
  for (const [name, input, expected] of cases) t.match(await verify(input), { ok: false, ...expected }, name);
  const linked = [...first.lines, ...signed([{ type: 'start', stream: s, seq: 0, previous: { stream: first.stream, seq: 2, hash: endHash } }])];
  t.match(await verify(linked), { ok: true, streams: [{ stream: first.stream, link: 'none' }, { stream: s, link: 'checked' }] });
});

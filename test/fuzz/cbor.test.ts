/**
 * Fuzz: the strict CBOR reader (src/targets/aws/cbor.ts) on hostile bytes. Random bytes, and what
 * the SDK's own encoder writes with one to four bytes flipped, inserted or cut. The properties: no
 * crash and no hang (only `unparseable_request`, each case bounded by harness.ts); whatever it
 * accepts, the JavaScript SDK's decoder (@smithy/core/cbor, a decoder the upstream side could be
 * running) reads as the same value, so no body can mean one thing to the broker and another
 * upstream; and what the SDK writes reads back as what it was given.
 */
import t from 'tap';
import fc from 'fast-check';
import { cbor } from '@smithy/core/cbor';
import { CborTimestamp, decodeStrictCbor } from '../../src/targets/aws/cbor.js';
import { check, Coverage, outcome } from './harness.js';

const TARGET = 'cbor';

/** Values a Smithy body carries: text, numbers, booleans, null, bytes, lists and maps of them. */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.integer(),
    fc.maxSafeInteger(),
    // The SDK's encoder writes -0 as the integer 0: not a reading the broker could change.
    fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 8 }),
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 4 })),
})).node;

const edit = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom('flip', 'insert', 'cut') });

function applyEdits(bytes: Uint8Array, edits: readonly { at: number; byte: number; kind: string }[]): Uint8Array {
  const out = [...bytes];
  for (const e of edits) {
    const i = e.at % (out.length + 1);
    if (e.kind === 'insert') out.splice(i, 0, e.byte);
    else if (out.length > 0 && e.kind === 'cut') out.splice(i % out.length, 1);
    else if (out.length > 0) out[i % out.length] = e.byte;
  }
  return Uint8Array.from(out);
}

const hostile = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(value, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([v, edits]) => applyEdits(cbor.serialize(v), edits)),
);

/** Same value, where the SDK's decoder writes a timestamp as `{tag: 1, value}` and safe bigints may be numbers. */
function same(ours: unknown, theirs: unknown): boolean {
  if (ours instanceof CborTimestamp) {
    const tagged = theirs as { tag?: unknown; value?: unknown } | null;
    return typeof tagged === 'object' && tagged !== null && tagged.tag === 1 && same(ours.epochSeconds, tagged.value);
  }
  if (typeof ours === 'number' || typeof ours === 'bigint') {
    if (typeof theirs !== 'number' && typeof theirs !== 'bigint') return false;
    return Object.is(ours, theirs) || (ours == theirs && !Object.is(ours, 0)) || (Number.isNaN(ours) && Number.isNaN(theirs));
  }
  if (ours instanceof Uint8Array) return theirs instanceof Uint8Array && Buffer.from(ours).equals(Buffer.from(theirs));
  if (Array.isArray(ours)) return Array.isArray(theirs) && ours.length === theirs.length && ours.every((v, i) => same(v, theirs[i]));
  if (typeof ours === 'object' && ours !== null) {
    if (typeof theirs !== 'object' || theirs === null || Array.isArray(theirs)) return false;
    const keys = Object.keys(ours);
    return keys.length === Object.keys(theirs).length && keys.every((k) => Object.hasOwn(theirs, k) && same((ours as Record<string, unknown>)[k], (theirs as Record<string, unknown>)[k]));
  }
  return Object.is(ours, theirs);
}

t.test('hostile bytes: refused or read, never a crash or a hang', async (t) => {
  await check(t, TARGET, 'no crash', fc.property(hostile, (bytes) => {
    const read = outcome(() => decodeStrictCbor(bytes));
    return read.ok || read.code === 'unparseable_request';
  }));
});

t.test('whatever the strict reader accepts, the SDK’s decoder reads the same way', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 'no differential', fc.property(hostile, (bytes) => {
    const read = outcome(() => decodeStrictCbor(bytes));
    cov.hit(read.ok ? 'accepted' : 'refused');
    if (!read.ok) return true;
    return same(read.value, cbor.deserialize(bytes));
  }));
  // Not vacuous: edited bodies that are still strict CBOR reach the comparison.
  t.ok(cov.count('accepted') > 0 && cov.count('refused') > 0, `${cov.count('accepted')} accepted, ${cov.count('refused')} refused`);
});

t.test('what the SDK writes reads back as what it was given', async (t) => {
  await check(t, TARGET, 'round trip', fc.property(value, (v) => same(decodeStrictCbor(cbor.serialize(v)), v)));
});

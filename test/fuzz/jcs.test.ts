/**
 * Fuzz: JCS canonicalisation (src/lib/jcs.ts, which wraps the `canonicalize` package) against a
 * second implementation written from RFC 8785 (jcs-reference.ts), and the strict I-JSON parser
 * (src/lib/strict-json.ts) against JSON.parse. Values stress numbers (-0, 1e21, 5e-324, 2^53-1),
 * key order by UTF-16 code units, escapes and nesting.
 */
import t from 'tap';
import fc from 'fast-check';
import { canonicalJson } from '../../src/lib/jcs.js';
import { MAX_DEPTH, parseStrictJson } from '../../src/lib/strict-json.js';
import { check, outcome } from './harness.js';
import { codeUnit, jcsKey, jcsValue } from './arbitraries.js';
import { isWellFormed, referenceJcs, sameJson } from './jcs-reference.js';

const TARGET = 'jcs';

/** RFC 7493 §2.2: an integral number beyond ±(2^53-1) is not I-JSON (the strict parser refuses it). */
function isIJson(v: unknown): boolean {
  if (typeof v === 'number') return !(Number.isInteger(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER);
  if (v === null || typeof v !== 'object') return true;
  return Object.values(v).every(isIJson);
}

t.test('canonicalJson equals the RFC 8785 reference, parses back to the value, and is idempotent', async (t) => {
  await check(t, TARGET, 'canonicalJson vs reference', fc.property(jcsValue, (v) => {
    const out = canonicalJson(v);
    if (out !== referenceJcs(v)) throw new Error(`canonicalJson ${out} != reference ${referenceJcs(v)}`);
    if (!sameJson(JSON.parse(out), v)) return false;
    const back = outcome(() => parseStrictJson(out));
    if (!isIJson(v)) return !back.ok && back.code === 'unparseable_request';
    return back.ok && sameJson(back.value, v) && canonicalJson(back.value) === out;
  }));
});

t.test('member names are sorted by UTF-16 code units at every depth', async (t) => {
  await check(t, TARGET, 'key order', fc.property(fc.uniqueArray(jcsKey, { maxLength: 8 }), (keys) => {
    const o: Record<string, unknown> = {};
    for (const k of keys) Object.defineProperty(o, k, { value: { [k]: k }, enumerable: true, writable: true, configurable: true });
    const names = Object.keys(parseStrictJson(canonicalJson(o)) as object);
    // The parsed object's own key order is insertion (= canonical) order, except integer-like
    // keys, which JavaScript objects always list first: compare against the text instead.
    const text = canonicalJson(o);
    const positions = keys.map((k) => [k, text.indexOf(JSON.stringify(k) + ':{')] as const).sort((a, b) => a[1] - b[1]).map(([k]) => k);
    const sorted = [...keys].sort((a, b) => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) - b.charCodeAt(i);
      return a.length - b.length;
    });
    return names.length === keys.length && JSON.stringify(positions) === JSON.stringify(sorted);
  }));
});

t.test('values JSON cannot hold are refused, never silently changed', async (t) => {
  const bad = fc.oneof(
    fc.string({ unit: codeUnit, minLength: 1, maxLength: 6 }).filter((s) => !isWellFormed(s)),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1n),
  );
  await check(t, TARGET, 'unrepresentable values', fc.property(bad, fc.boolean(), (v, nested) => {
    const value = nested ? { a: [v] } : v;
    let threw = false;
    try {
      canonicalJson(value);
    } catch {
      threw = true;
    }
    return threw;
  }));
});

t.test('parseStrictJson agrees with JSON.parse, or refuses only what I-JSON forbids', async (t) => {
  // Serialised values with their spacing varied, plus edits that make the text invalid or odd.
  const text = fc.oneof(
    fc.tuple(jcsValue, fc.constantFrom(0, 1, '\t', ' \n')).map(([v, sp]) => JSON.stringify(v, null, sp)),
    fc.tuple(jcsValue, fc.array(fc.tuple(fc.nat(), fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', 'u', '0', '-', 'e', '.', ' ', '\ufeff', '\u0000', '"a":1,"a":2', '1e400', '9007199254740993', '\\ud800')), { maxLength: 3 })).map(([v, edits]) => {
      let s = JSON.stringify(v) ?? 'null';
      for (const [at, piece] of edits) {
        const i = at % (s.length + 1);
        s = s.slice(0, i) + piece + s.slice(i);
      }
      return s;
    }),
  );
  await check(t, TARGET, 'parseStrictJson vs JSON.parse', fc.property(text, (generated) => {
    // The bytes that come over the wire: UTF-8 (a lone surrogate in the generated text becomes U+FFFD).
    const bytes = Buffer.from(generated, 'utf8');
    const s = bytes.toString('utf8');
    const got = outcome(() => parseStrictJson(bytes));
    let want: { ok: true; value: unknown } | { ok: false };
    try {
      want = { ok: true, value: JSON.parse(s) };
    } catch {
      want = { ok: false };
    }
    if (got.ok) return want.ok && sameJson(got.value, want.value);
    if (got.code !== 'unparseable_request') return false;
    // Refused where JSON.parse accepts: only for what I-JSON forbids.
    return !want.ok || iJsonViolation(s) !== null;
  }));
});

/**
 * Why valid JSON text `s` is not I-JSON (RFC 7493): a duplicate member name, an integer beyond
 * ±(2^53-1) or a number that overflows, a lone surrogate, or nesting beyond MAX_DEPTH. A small
 * scanner over text JSON.parse has already accepted.
 */
function iJsonViolation(s: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '{' || c === '[') {
      stack.push(c === '{' ? new Set() : null);
      if (stack.length > MAX_DEPTH) return 'depth';
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack.at(-1) instanceof Set;
    } else if (c === '"') {
      let j = i + 1;
      while (s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      const str = JSON.parse(s.slice(i, j + 1)) as string;
      if (!isWellFormed(str)) return 'lone surrogate';
      if (expectKey) {
        const keys = stack.at(-1) as Set<string>;
        if (keys.has(str)) return 'duplicate key';
        keys.add(str);
        expectKey = false;
      }
      i = j;
    } else if (/[-0-9]/.test(c)) {
      const token = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(s.slice(i))![0];
      const n = Number(token);
      if (!Number.isFinite(n) || (Number.isInteger(n) && Math.abs(n) > Number.MAX_SAFE_INTEGER)) return 'number range';
      i += token.length - 1;
    }
  }
  return s.startsWith('\ufeff') ? 'BOM' : null;
}

t.test('duplicate member names are refused at any depth, however the name is escaped', async (t) => {
  await check(t, TARGET, 'duplicate keys', fc.property(jcsKey.filter(isWellFormed), fc.nat({ max: 4 }), fc.boolean(), (k, depth, escape) => {
    const spelled = escape ? [...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('') : JSON.stringify(k).slice(1, -1);
    let doc = `{${JSON.stringify(k)}:1,"${spelled}":2}`;
    for (let i = 0; i < depth; i++) doc = `{"x":[${doc}]}`;
    const got = outcome(() => parseStrictJson(doc));
    return !got.ok && got.code === 'unparseable_request';
  }));
});

t.test('pinned: RFC 8785 number serialisation and the depth bound', async (t) => {
  const cases: [number, string][] = [[-0, '0'], [1e21, '1e+21'], [1e20, '100000000000000000000'], [5e-324, '5e-324'], [1e-7, '1e-7'], [0.000001, '0.000001'], [2 ** 53 - 1, '9007199254740991'], [4.35, '4.35'], [-1.7976931348623157e308, '-1.7976931348623157e+308']];
  for (const [n, s] of cases) t.equal(canonicalJson(n), s, String(n));
  t.equal(outcome(() => parseStrictJson('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH))).ok, true, 'MAX_DEPTH levels');
  t.equal(outcome(() => parseStrictJson('['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1))).ok, false, 'one more is refused');
});

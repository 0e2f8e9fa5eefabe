/**
 * Fuzz: strict percent-decoding of S3 keys and rest query strings (src/targets/aws/query-string.ts)
 * against an independent oracle, the ECMAScript decodeURIComponent, which refuses every bad escape
 * and every invalid UTF-8 sequence (overlong forms and surrogates included) as the broker must.
 */
import t from 'tap';
import fc from 'fast-check';
import { decodeComponent, parseQuery } from '../../src/targets/aws/query-string.js';
import { check, outcome } from './harness.js';
import { encoded, encodeWith, keyChar, ODD_QUERY_PIECES, queryCase, s3Key } from './arbitraries.js';

const TARGET = 'query-string';

/** Raw characters a strict reader may take as they are: printable ASCII but `%` and `+`. */
const STRICT_RAW = /^[\x21-\x24\x26-\x2a\x2c-\x7e]$/;

function oracle(raw: string): string | null {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '%') {
      i += 2;
      continue;
    }
    if (!STRICT_RAW.test(raw[i]!)) return null;
  }
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

const rawComponent = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: keyChar },
    { weight: 3, arbitrary: fc.constantFrom(...ODD_QUERY_PIECES.filter((p) => p.length > 0)) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => '%' + b.toString(16).padStart(2, '0')) },
  ),
  maxLength: 12,
});

t.test('decodeComponent equals decodeURIComponent on strict input and refuses everything else', async (t) => {
  await check(t, TARGET, 'decodeComponent vs decodeURIComponent', fc.property(rawComponent, (raw) => {
    const got = outcome(() => decodeComponent(raw));
    const want = oracle(raw);
    if (want === null) return !got.ok && got.code === 'unparseable_request';
    return got.ok && got.value === want;
  }));
});

t.test('every encoding of a key decodes back to the key, and decoding is deterministic', async (t) => {
  await check(t, TARGET, 'key round trip', fc.property(encoded(s3Key, 'path'), ({ decoded, raw }) => {
    const a = outcome(() => decodeComponent(raw));
    const b = outcome(() => decodeComponent(raw));
    return a.ok && b.ok && a.value === decoded && b.value === decoded;
  }));
});

t.test('parseQuery: unique pairs read back exactly; duplicates and odd pieces never read two ways', async (t) => {
  await check(t, TARGET, 'parseQuery vs reference', fc.property(queryCase, ({ raw, pairs }) => {
    const got = outcome(() => parseQuery(raw));
    if (pairs !== null) {
      const names = pairs.map(([n]) => n);
      const duplicated = new Set(names).size !== names.length;
      if (duplicated) return !got.ok && got.code === 'unparseable_request';
      if (!got.ok) return false;
      const keys = Object.keys(got.value);
      return Object.getPrototypeOf(got.value) === null && keys.length === pairs.length && pairs.every(([n, v]) => got.value[n] === v);
    }
    if (!got.ok) return got.code === 'unparseable_request';
    // Accepted with odd pieces in: it must be exactly the reference reading of the same bytes.
    const reference = referenceQuery(raw);
    return reference !== null && Object.keys(got.value).length === reference.size && [...reference].every(([n, v]) => got.value[n] === v);
  }));
});

/** Split on &, name up to the first =, strict decode of each side; null when anything is doubtful. */
function referenceQuery(raw: string): Map<string, string> | null {
  const out = new Map<string, string>();
  if (raw === '') return out;
  for (const pair of raw.split('&')) {
    const eq = pair.indexOf('=');
    const name = oracle(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : oracle(pair.slice(eq + 1));
    if (name === null || value === null || name === '' || out.has(name)) return null;
    out.set(name, value);
  }
  return out;
}

t.test('the same name sent twice in different spellings is refused', async (t) => {
  await check(t, TARGET, 'disguised duplicates', fc.property(encoded(fc.string({ unit: keyChar, minLength: 1, maxLength: 6 }), 'query'), encoded(fc.string({ unit: keyChar, maxLength: 6 }), 'query'), fc.nat(), (a, b, seed) => {
    // Re-encode the first name with other choices: a different spelling of the same decoded name.
    const again = encodeWith(a.decoded, [seed % 3, (seed >> 2) % 3, (seed >> 4) % 3], 'query');
    const twice = outcome(() => parseQuery(`${a.raw}=${b.raw}&${again}=x`));
    return !twice.ok && twice.code === 'unparseable_request';
  }));
});

t.test('pinned regressions', async (t) => {
  // Each a reading some upstream takes differently from another; all refused.
  for (const raw of ['a+b', '%', '%1', '%G1', 'a=%C0%80', 'a=%ED%A0%80', 'a=1&a=1', 'a&%61', '&', 'a=1&']) {
    t.equal(outcome(() => parseQuery(raw)).ok, false, raw);
  }
  t.same({ ...parseQuery('a=%2B&b=%2b&c&d=') }, { a: '+', b: '+', c: '', d: '' });
});

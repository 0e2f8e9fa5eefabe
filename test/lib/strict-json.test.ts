import t from 'tap';
import { parseStrictJson, MAX_DEPTH } from '../../src/lib/strict-json.js';
import { Denial } from '../../src/reasons.js';
import { canonicalJson } from '../../src/lib/jcs.js';

function code(input: Buffer | string): string {
  try {
    parseStrictJson(input);
    return 'ok';
  } catch (err) {
    if (err instanceof Denial) return err.code;
    throw err;
  }
}

t.test('refused inputs are unparseable_request', async (t) => {
  const cases: [string, Buffer | string][] = [
    ['empty', ''],
    ['only whitespace', ' \n'],
    ['BOM (buffer)', Buffer.from('\ufeff{}', 'utf8')],
    ['BOM (string)', '\ufeff{}'],
    ['invalid UTF-8', Buffer.from([0x22, 0xc3, 0x28, 0x22])],
    ['overlong UTF-8', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
    ['UTF-8 encoded surrogate', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
    ['duplicate key', '{"a":1,"a":1}'],
    ['duplicate key, nested', '{"x":[{"b":1,"c":{"d":1,"d":2}}]}'],
    ['duplicate key via escape', '{"a":1,"\\u0061":2}'],
    ['duplicate __proto__', '{"__proto__":1,"__proto__":2}'],
    ['integer beyond 2^53-1', '9007199254740992'],
    ['negative integer beyond', '-9007199254740992'],
    ['integral exponent beyond', '1e300'],
    ['1e400', '1e400'],
    ['-1e400', '[-1e400]'],
    ['escaped lone high surrogate', '"\\ud800"'],
    ['escaped lone low surrogate', '"\\udc00"'],
    ['escaped high + non-low', '"\\ud800\\u0041"'],
    ['escaped reversed pair', '"\\udc00\\ud800"'],
    ['raw lone surrogate (string input)', '"\ud800"'],
    ['raw lone low surrogate', '"a\udc00"'],
    ['too deep arrays', '['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1)],
    ['too deep objects', '{"a":'.repeat(MAX_DEPTH + 1) + '1' + '}'.repeat(MAX_DEPTH + 1)],
    ['trailing garbage', '{} x'],
    ['two values', '1 2'],
    ['trailing comma array', '[1,]'],
    ['trailing comma object', '{"a":1,}'],
    ['single quotes', "{'a':1}"],
    ['unquoted key', '{a:1}'],
    ['leading zero', '01'],
    ['bare minus', '-'],
    ['dot without digits', '1.'],
    ['leading dot', '.5'],
    ['plus sign', '+1'],
    ['exponent without digits', '1e'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['control char in string', '"a\nb"'],
    ['bad escape', '"\\x41"'],
    ['short unicode escape', '"\\u12"'],
    ['unterminated string', '"abc'],
    ['unterminated object', '{"a":1'],
    ['unterminated array', '[1'],
    ['truncated literal', 'tru'],
    ['comment', '{} // x'],
    ['NUL byte', '{}\u0000'],
    ['vertical tab whitespace', '\u000b{}'],
    ['nbsp whitespace', '\u00a0{}'],
  ];
  for (const [name, input] of cases) t.equal(code(input), 'unparseable_request', name);
});

t.test('accepted edge cases', async (t) => {
  t.same(parseStrictJson('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH)), JSON.parse('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH)));
  t.equal(parseStrictJson('9007199254740991'), 9007199254740991);
  t.equal(parseStrictJson('-9007199254740991'), -9007199254740991);
  t.equal(parseStrictJson('1.5'), 1.5);
  t.equal(parseStrictJson('1e-400'), 0);
  t.equal(parseStrictJson('"\\ud83d\\ude00"'), '😀');
  t.equal(parseStrictJson(Buffer.from('"😀é"')), '😀é');
  t.equal(parseStrictJson('"😀"'), '😀');
  t.same(parseStrictJson(' \t\r\n{"a" : [ 1 , "b" ] }\n'), { a: [1, 'b'] });
  const proto = parseStrictJson('{"__proto__":{"x":1}}') as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(proto), Object.prototype, 'prototype untouched');
  t.ok(Object.hasOwn(proto, '__proto__'), '__proto__ is an own property, as with JSON.parse');
  t.same(parseStrictJson('{"a":1,"A":2}'), { a: 1, A: 2 }, 'keys are case-sensitive');
});

t.test('the detail never echoes the body', async (t) => {
  const secret = 'AKIASECRETSECRET';
  for (const input of [`{"${secret}":1,"${secret}":2}`, `"${secret}\\ud800"`, `{"a":"${secret}"} ${secret}`]) {
    try {
      parseStrictJson(input);
      t.fail('accepted');
    } catch (err) {
      t.notMatch((err as Denial).detail ?? '', secret);
    }
  }
});

// A small deterministic PRNG so failures reproduce.
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
}

function randomString(r: () => number): string {
  const pool = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0001', '\u007f', 'é', '\u2028', '😀', '€', '\ufeff'];
  let s = '';
  const n = Math.floor(r() * 8);
  for (let i = 0; i < n; i++) s += pool[Math.floor(r() * pool.length)];
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 4 ? 5 : 7));
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: {
      const forms = [0, -1, 42, 0.5, -3.25e-7, 1.5e-300, 5e-324, 123456.789e3, Math.floor(r() * 2 ** 53), -Math.floor(r() * 2 ** 53), r() * 1e6];
      return forms[Math.floor(r() * forms.length)];
    }
    case 3:
    case 4: return randomString(r);
    case 5: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) o[randomString(r) + i] = randomValue(r, depth + 1);
      return o;
    }
  }
}

t.test('differential: agrees with JSON.parse on valid I-JSON', async (t) => {
  const r = rng(7);
  const mismatches: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = randomValue(r, 0);
    const text = JSON.stringify(v, null, i % 3 === 0 ? 2 : undefined);
    const input = i % 2 === 0 ? text : Buffer.from(text, 'utf8');
    let got: unknown;
    try {
      got = parseStrictJson(input);
    } catch {
      mismatches.push(text);
      continue;
    }
    if (canonicalJson(got) !== canonicalJson(JSON.parse(text))) mismatches.push(text);
  }
  t.same(mismatches, [], 'every valid document reads as JSON.parse reads it');
});

t.test('differential: mutated inputs JSON.parse refuses are refused too', async (t) => {
  const r = rng(11);
  const junk = ['', ',', ']', '}', '"', '\\', ':', '[', '{', 'x', '-', '.', 'e', '0', ' '];
  let refused = 0;
  const wrong: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const text = JSON.stringify(randomValue(r, 0));
    const at = Math.floor(r() * (text.length + 1));
    const cut = Math.floor(r() * 2);
    const mutated = text.slice(0, at) + junk[Math.floor(r() * junk.length)] + text.slice(at + cut);
    let expected: unknown;
    try {
      expected = JSON.parse(mutated);
    } catch {
      if (code(mutated) !== 'unparseable_request') wrong.push(mutated);
      refused++;
      continue;
    }
    // JSON.parse accepted: ours must agree on the value unless the mutation made a duplicate key.
    if (code(mutated) === 'ok' && canonicalJson(parseStrictJson(mutated)) !== canonicalJson(expected)) wrong.push(mutated);
  }
  t.same(wrong, [], 'no input JSON.parse refuses is accepted, none is read differently');
  t.ok(refused > 500, `exercised ${refused} refusals`);
});

t.test('10 MiB body parses quickly', async (t) => {
  const item = { name: 'object-é-😀', tags: ['a', 'b\n'], size: 123456, ratio: 0.25, ok: true, nested: { k: null } };
  const arr = [];
  let size = 0;
  while (size < 10 * 1024 * 1024) {
    arr.push(item);
    size += 110;
  }
  const buf = Buffer.from(JSON.stringify(arr));
  const t0 = performance.now();
  const v = parseStrictJson(buf) as unknown[];
  const ms = performance.now() - t0;
  t.equal(v.length, arr.length);
  // Generous bound: guards against accidental quadratic behaviour, not a benchmark.
  t.ok(ms < 5000, `parsed ${buf.length} bytes in ${ms.toFixed(0)} ms`);
});

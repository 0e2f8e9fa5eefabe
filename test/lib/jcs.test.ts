import t from 'tap';
import { canonicalJson } from '../../src/lib/jcs.js';

t.test('RFC 8785 form: sorted keys by UTF-16 code unit, no whitespace, ES number form', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1e21, y: 0.1, x: -0 } }), '{"a":[true,null,"x"],"b":1,"c":{"x":0,"y":0.1,"z":1e+21}}');
  // RFC 8785 §3.2.3: "\u20ac" sorts after "\ud83d\ude00" is wrong by code point but right by code unit.
  t.equal(canonicalJson({ '\u20ac': 1, '\ud83d\ude00': 2, '\r': 3 }), '{"\\r":3,"€":1,"😀":2}');
  t.equal(canonicalJson('a\u2028b"\n'), '"a\u2028b\\"\\n"');
  t.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
});

t.test('values JSON cannot hold are refused', async (t) => {
  const cases: [string, unknown][] = [
    ['undefined', undefined],
    ['function', () => 1],
    ['NaN', Number.NaN],
    ['Infinity', { a: Number.POSITIVE_INFINITY }],
    ['bigint', { a: 1n }],
    ['lone surrogate', { a: '\ud800' }],
    ['symbol', Symbol('x')],
  ];
  for (const [name, v] of cases) t.throws(() => canonicalJson(v), name);
});

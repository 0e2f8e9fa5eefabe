import t from 'tap';
import { code } from '../../helpers/reason.js';
import { decodeComponent, parseQuery } from '../../../src/targets/aws/query-string.js';

t.test('decodeComponent decodes exactly once', async (t) => {
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['a%2Bb%20c%3Dd.txt', 'a+b c=d.txt'],
    ['a%2Fb', 'a/b'],
    ['%252F', '%2F'],
    ['%e2%82%ac', '\u20ac'],
    ['%E2%82%AC', '\u20ac'],
    ['a/../b', 'a/../b'],
    ['~!*()\'', "~!*()'"],
    ['', ''],
  ];
  for (const [input, want] of cases) t.equal(decodeComponent(input), want, input);
});

t.test('decodeComponent refuses what could be read two ways', async (t) => {
  const cases = [
    'a%', // truncated escape
    'a%2', // truncated escape
    'a%zz', // not hex
    '%%41',
    'a+b', // raw plus: space or plus?
    'a b', // raw space
    'caf\u00e9', // raw non-ASCII
    'a\tb',
    '%ff', // not UTF-8
    '%c3%28', // invalid continuation
    '%ed%a0%80', // UTF-16 surrogate encoded in UTF-8
    '%c0%af', // overlong '/'
  ];
  for (const input of cases) t.equal(code(() => decodeComponent(input)), 'unparseable_request', JSON.stringify(input));
});

t.test('parseQuery reads names and values', async (t) => {
  t.same(parseQuery(''), {});
  t.same(parseQuery('uploads'), { uploads: '' });
  t.same(parseQuery('delete='), { delete: '' });
  t.same(parseQuery('list-type=2&prefix=a%20b%2B'), { 'list-type': '2', prefix: 'a b+' });
  t.same(parseQuery('a=b=c'), { a: 'b=c' });
  t.same(parseQuery('x-id=PutObject'), { 'x-id': 'PutObject' });
  const q = parseQuery('constructor=1&__proto__=2');
  t.equal(Object.getPrototypeOf(q), null, 'null prototype');
  t.equal(q['__proto__'], '2');
  t.equal(q['constructor'], '1');
});

t.test('parseQuery refuses ambiguous query strings', async (t) => {
  const cases = [
    'a=1&a=2', // duplicate
    'a=1&a', // duplicate, one bare
    'a%41=1&aA=2', // duplicate after decoding
    'a&&b', // empty pair
    'a&', // trailing &
    '&a',
    '=1', // empty name
    'prefix=a+b', // raw plus
    'a+b=1',
    'a=%G1',
    'a=%',
    'a=%ff',
  ];
  for (const input of cases) t.equal(code(() => parseQuery(input)), 'unparseable_request', input);
});

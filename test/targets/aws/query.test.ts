import t from 'tap';
import { code } from '../../helpers/reason.js';
import { parseForm } from '../../../src/targets/aws/query.js';

t.test('parseForm decodes application/x-www-form-urlencoded exactly once', async (t) => {
  const cases: [string, Record<string, string>][] = [
    ['Action=A&Version=1', { Action: 'A', Version: '1' }],
    ['a=b+c', { a: 'b c' }],
    ['a=b%2Bc', { a: 'b+c' }],
    ['a=%252F', { a: '%2F' }],
    ['a=', { a: '' }],
    ['a=%E2%82%AC', { a: '\u20ac' }],
    ['a=x%3Dy%26z', { a: 'x=y&z' }],
    ['', {}],
  ];
  for (const [input, want] of cases) t.same(parseForm(Buffer.from(input)), want, input);
  t.equal(Object.getPrototypeOf(parseForm(Buffer.from('a=b'))), null, 'null prototype');
  const proto = parseForm(Buffer.from('__proto__=x'));
  t.equal(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, 'x', '__proto__ is an ordinary field');
});

t.test('parseForm refuses what could be read two ways', async (t) => {
  const cases = ['a=1&a=2', 'a=1&&b=2', 'a=1&', '=x', 'a', 'a=%', 'a=%2', 'a=%zz', 'a=%ff', 'a=\x01', '%FF=1'];
  for (const input of cases) t.equal(code(() => parseForm(Buffer.from(input))), 'unparseable_request', JSON.stringify(input));
  t.equal(code(() => parseForm(Buffer.from([0x61, 0x3d, 0xff]))), 'unparseable_request', 'raw invalid UTF-8');
});

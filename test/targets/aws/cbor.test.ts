import t from 'tap';
import { cbor } from '@smithy/core/cbor';
import { CborTimestamp, decodeStrictCbor, MAX_CBOR_DEPTH, MAX_CBOR_OBJECTS } from '../../../src/targets/aws/cbor.js';
import { code } from '../../helpers/reason.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const decode = (s: string) => decodeStrictCbor(hex(s));

t.test('reads what the SDKs write: maps, text, bytes, lists, numbers, booleans, null, timestamps', async (t) => {
  const sent = { Name: 'alarm-é', Data: new Uint8Array([0, 255]), List: [1, -1, 24, -25, 65536], Ok: true, No: false, Nil: null, Half: 1.5 };
  const value = decodeStrictCbor(cbor.serialize(sent)) as Record<string, unknown>;
  t.same({ ...value }, { ...sent, Data: new Uint8Array([0, 255]) });
  t.equal(Object.getPrototypeOf(value), null, 'maps have no prototype');
  t.same(decode('c1 1a 6956c0d5'), new CborTimestamp(1767293141), 'tag 1 over an integer (botocore)');
  t.same(decode('c1 fb 41da55b035400000'), new CborTimestamp(1767293141), 'tag 1 over a double (smithy)');
});

t.test('float forms: half, single and double all read as the same number', async (t) => {
  t.equal(decode('f9 3e00'), 1.5);
  t.equal(decode('fa 3fc00000'), 1.5);
  t.equal(decode('fb 3ff8000000000000'), 1.5);
  t.equal(decode('f9 0001'), 2 ** -24, 'subnormal half');
  t.equal(decode('f9 7c00'), Infinity);
  t.equal(decode('f9 fc00'), -Infinity);
  t.ok(Number.isNaN(decode('f9 7e00')));
  t.ok(Object.is(decode('f9 8000'), -0));
});

t.test('what every decoder reads one way is read so: NaN payloads, tag 1 over floats and big integers, distinct keys', async (t) => {
  t.ok(Number.isNaN(decode('f9 7e01')), 'a half NaN with a payload is NaN (a Double member has one NaN)');
  t.ok(Number.isNaN(decode('fa 7fc00001')), 'a single NaN with a payload');
  t.same(decode('c1 f9 3c00'), new CborTimestamp(1), 'tag 1 over a half float');
  t.same(decode('c1 1b 0020000000000001'), new CborTimestamp(2n ** 53n + 1n), 'tag 1 over an integer beyond 2^53 stays exact');
  t.same(Object.keys(decode('a2 62c3a9 01 6365cc81 02') as object), ['\u00e9', 'e\u0301'], 'NFC and NFD spellings are two keys, to every decoder');
});

t.test('integers a double cannot hold stay exact as bigint', async (t) => {
  t.equal(decode('1b 001fffffffffffff'), Number.MAX_SAFE_INTEGER);
  t.equal(decode('1b 0020000000000001'), 2n ** 53n + 1n);
  t.equal(decode('3b ffffffffffffffff'), -(2n ** 64n));
  t.equal(decode('38 ff'), -256);
});

t.test('a head longer than needed reads as its value (the JavaScript SDK writes map heads so)', async (t) => {
  t.same({ ...(decode('b8 01 6141 18 17') as object) }, { A: 23 });
  t.equal(decode('78 01 41'), 'A');
  t.same(decode('bb 0000000000000000'), {});
});

t.test('a __proto__ key is data, not the prototype', async (t) => {
  const value = decode('a1 69 5f5f70726f746f5f5f a0') as Record<string, unknown>;
  t.ok(Object.hasOwn(value, '__proto__'));
  t.equal(Object.getPrototypeOf(value), null);
});

t.test('anything two decoders could read two ways is refused', async (t) => {
  const deep = '81'.repeat(MAX_CBOR_DEPTH + 1) + '00';
  const cases: [string, string][] = [
    ['duplicate map keys', 'a2 6141 01 6141 02'],
    ['duplicate keys in a nested map', 'a1 6141 a2 6142 01 6142 02'],
    ['an integer map key', 'a1 01 02'],
    ['a byte-string map key', 'a1 4141 02'],
    ['an indefinite-length map', 'bf 6141 01 ff'],
    ['an indefinite-length array', '9f 01 ff'],
    ['an indefinite-length text string', '7f 6141 ff'],
    ['an indefinite-length byte string', '5f 4141 ff'],
    ['a lone break', 'ff'],
    ['tag 0 (date-time text)', 'c0 6141'],
    ['tag 2 (bignum)', 'c2 4101'],
    ['tag 4 (decimal fraction)', 'c4 82 21 1903e8'],
    ['tag 55799 (self-described)', 'd9d9f7 a0'],
    ['tag 1 over text', 'c1 6141'],
    ['tag 1 over a map', 'c1 a0'],
    ['undefined', 'f7'],
    ['a simple value', 'f0'],
    ['a one-byte simple value', 'f8 20'],
    ['reserved additional information', '1c'],
    ['trailing bytes', 'a0 00'],
    ['two items', '01 02'],
    ['a truncated head', '19 01'],
    ['a truncated string', '63 4141'],
    ['a length beyond the body', '7a ffffffff 41'],
    ['an array count beyond the body', '9b 00000001 00000000 00'],
    ['invalid UTF-8', '62 c328'],
    ['a UTF-8 encoded surrogate', '63 eda080'],
    ['over-deep nesting', deep],
    ['an empty body', ''],
    // The same key in two spellings: a longer text head, or an 8-byte length head.
    ['duplicate keys, one with a longer head', 'a2 6141 01 7801 41 02'],
    ['duplicate keys, one with an 8-byte length head', 'a2 6141 01 7b 0000000000000001 41 02'],
    ['a non-ASCII key twice', 'a2 62c3a9 01 62c3a9 02'],
    ['tag 1 over tag 1', 'c1 c1 01'],
    ['tag 1 over a byte string', 'c1 4101'],
    ['tag 1 with an 8-byte tag head over a map', 'db 0000000000000001 a0'],
    ['a text length beyond 2^53', '7b ffffffffffffffff 41'],
    ['a map count beyond 2^53', 'bb ffffffffffffffff'],
    ['a break inside a definite map', 'a1 6141 ff'],
  ];
  for (const [name, bytes] of cases) t.equal(code(() => decode(bytes)), 'unparseable_request', name);
});

// Regression (adversarial review): one body byte made one heap object (`a0`, `80`, `40`), so a
// certificate-free CloudWatch body at the 10 MiB limit cost seconds of CPU and gigabytes of heap.
t.test('a body of more objects than any served request holds is refused, counted as it is read', async (t) => {
  /** An array (itself one object) of `n` copies of the one-byte item `item`. */
  const arrayOf = (n: number, item: number): Buffer => {
    const head = Buffer.alloc(5);
    head[0] = 0x9a;
    head.writeUInt32BE(n, 1);
    return Buffer.concat([head, Buffer.alloc(n, item)]);
  };
  for (const [name, item] of [['empty maps', 0xa0], ['empty arrays', 0x80], ['empty byte strings', 0x40]] as const) {
    t.equal(code(() => decodeStrictCbor(arrayOf(MAX_CBOR_OBJECTS, item))), 'unparseable_request', `${MAX_CBOR_OBJECTS + 1} ${name}`);
    t.equal((decodeStrictCbor(arrayOf(MAX_CBOR_OBJECTS - 1, item)) as unknown[]).length, MAX_CBOR_OBJECTS - 1, `${MAX_CBOR_OBJECTS} ${name} are read`);
  }
  t.equal((decodeStrictCbor(arrayOf(1_000_000, 0x01)) as unknown[]).length, 1_000_000, 'numbers are values, not objects: a million read');
  // PutMetricData at its documented limits: 1,000 data, 30 dimensions each, a timestamp and values.
  const datum = (i: number) => ({
    MetricName: `m${i}`,
    Timestamp: new Date(1767293141000),
    Dimensions: Array.from({ length: 30 }, (_, d) => ({ Name: `d${d}`, Value: 'v' })),
    Values: [1, 2.5],
    Counts: [1, 1],
  });
  const largest = cbor.serialize({ Namespace: 'app', MetricData: Array.from({ length: 1000 }, (_, i) => datum(i)) });
  t.equal(((decodeStrictCbor(largest) as Record<string, unknown[]>)['MetricData'] ?? []).length, 1000, 'the largest PutMetricData reads');
});

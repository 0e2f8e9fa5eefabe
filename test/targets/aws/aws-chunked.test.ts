import t from 'tap';
import { code } from '../../helpers/reason.js';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { decodeAwsBody } from '../../../src/targets/aws/aws-chunked.js';

const h = (o: Record<string, string>): Record<string, string> => Object.assign(Object.create(null), o);
const SIG = 'a'.repeat(64);
const crc32b64 = (b: Buffer): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b));
  return out.toString('base64');
};

// Captured from @aws-sdk/client-s3 3.1174 PutObject with a Readable body over http (forcePathStyle).
const JS_SDK_HEADERS = h({
  'content-type': 'application/octet-stream',
  'x-amz-sdk-checksum-algorithm': 'CRC32',
  'content-encoding': 'aws-chunked',
  'transfer-encoding': 'chunked',
  'x-amz-decoded-content-length': '12',
  'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'x-amz-trailer': 'x-amz-checksum-crc32',
});
const JS_SDK_BODY = Buffer.from('Ng0KaGVsbG8KDQo2DQp3b3JsZAoNCjANCngtYW16LWNoZWNrc3VtLWNyYzMyOnhNVmQvdz09DQoNCg==', 'base64');

t.test('the JS SDK unsigned-trailer body is de-chunked and its trailer checksum moved into headers', async (t) => {
  const { payload, integrityHeaders } = decodeAwsBody(JS_SDK_HEADERS, JS_SDK_BODY);
  t.equal(payload.toString(), 'hello\nworld\n');
  t.same(integrityHeaders, { 'x-amz-checksum-crc32': 'xMVd/w==', 'x-amz-sdk-checksum-algorithm': 'CRC32' });
});

const data = Buffer.from('hello\nworld\n');
const signedHeaders = h({
  'content-encoding': 'aws-chunked',
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'x-amz-decoded-content-length': '12',
});
const signedBody = `5;chunk-signature=${SIG}\r\nhello\r\n7;chunk-signature=${SIG}\r\n\nworld\n\r\n0;chunk-signature=${SIG}\r\n\r\n`;
const signedTrailerHeaders = h({
  'content-encoding': 'gzip,aws-chunked',
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'x-amz-decoded-content-length': '12',
  'x-amz-trailer': 'x-amz-checksum-crc32',
});
const signedTrailerBody =
  `C;chunk-signature=${SIG}\r\nhello\nworld\n\r\n0;chunk-signature=${SIG}\r\n` +
  `x-amz-checksum-crc32:${crc32b64(data)}\r\nx-amz-trailer-signature:${SIG}\r\n\r\n`;

t.test('signed chunks, with and without a signed trailer', async (t) => {
  t.equal(decodeAwsBody(signedHeaders, Buffer.from(signedBody)).payload.toString(), 'hello\nworld\n');
  const withTrailer = decodeAwsBody(signedTrailerHeaders, Buffer.from(signedTrailerBody));
  t.equal(withTrailer.payload.toString(), 'hello\nworld\n');
  t.same(withTrailer.integrityHeaders, { 'x-amz-checksum-crc32': crc32b64(data) });
});

t.test('an empty aws-chunked body', async (t) => {
  const out = decodeAwsBody(h({ ...JS_SDK_HEADERS, 'x-amz-decoded-content-length': '0' }), Buffer.from(`0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n`));
  t.equal(out.payload.length, 0);
});

t.test('a plain body is checked against x-amz-content-sha256', async (t) => {
  const body = Buffer.from('{"a":1}');
  const hex = createHash('sha256').update(body).digest('hex');
  t.equal(decodeAwsBody(h({ 'x-amz-content-sha256': hex }), body).payload, body);
  t.equal(decodeAwsBody(h({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), body).payload, body);
  t.equal(decodeAwsBody(h({}), body).payload, body, 'botocore sends no payload hash to non-S3 services');
  t.same(decodeAwsBody(h({ 'x-amz-checksum-crc32': crc32b64(body) }), body).integrityHeaders, { 'x-amz-checksum-crc32': crc32b64(body) });
});

t.test('lying, truncated or mis-framed bodies are refused', async (t) => {
  const body = Buffer.from('{"a":1}');
  type Case = [string, Record<string, string>, string | Buffer];
  // The JS SDK's headers with `extra` applied (`null` removes a header).
  const u = (name: string, raw: string, extra: Record<string, string | null> = {}): Case => {
    const headers: Record<string, string> = { ...JS_SDK_HEADERS };
    for (const [k, v] of Object.entries(extra)) {
      if (v === null) delete headers[k];
      else headers[k] = v;
    }
    return [`unsigned: ${name}`, headers, raw];
  };
  const crc = 'xMVd/w==';
  const ok = `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`;
  t.equal(code(() => decodeAwsBody(h(JS_SDK_HEADERS), Buffer.from(ok))), 'ok', 'the control case reads');

  const cases: Case[] = [
    ['plain body, wrong payload hash', { 'x-amz-content-sha256': 'f'.repeat(64) }, body],
    ['plain body, upper-case payload hash', { 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex').toUpperCase() }, body],
    ['plain body, streaming hash without aws-chunked', { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' }, body],
    ['plain body, unknown payload marker', { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD' }, body],
    ['plain body, decoded length without aws-chunked', { 'x-amz-decoded-content-length': '7' }, body],
    ['plain body, trailer without aws-chunked', { 'x-amz-trailer': 'x-amz-checksum-crc32' }, body],
    ['plain body, checksum mismatch', { 'x-amz-checksum-crc32': 'AAAAAA==' }, body],
    ['aws-chunked without streaming hash', { 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-decoded-content-length': '12' }, ok],
    ['aws-chunked sigv4a', { ...JS_SDK_HEADERS, 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' }, ok],
    u('no decoded length', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`, { 'x-amz-decoded-content-length': null }),
    u('decoded length not decimal', ok, { 'x-amz-decoded-content-length': '0x0c' }),
    u('decoded length larger than the data', ok, { 'x-amz-decoded-content-length': '13' }),
    u('decoded length smaller than the data', ok, { 'x-amz-decoded-content-length': '11' }),
    u('chunk size lies (too big)', `7\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`),
    u('chunk size lies (too small)', `5\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`),
    u('chunk size overflows', `fffffffffffffffff\r\nhello\n\r\n0\r\n\r\n`),
    u('chunk size 2^64', `10000000000000000\r\nhello\n\r\n0\r\n\r\n`),
    u('chunk size not hex', `6g\r\nhello\n\r\n0\r\n\r\n`),
    u('chunk size with sign', `+6\r\nhello\n\r\n0\r\n\r\n`),
    u('chunk size with space', `6 \r\nhello\n\r\n0\r\n\r\n`),
    u('chunk header with LF only', `6\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`),
    u('truncated after a chunk', `6\r\nhello\n\r\n`),
    u('truncated inside a chunk', `6\r\nhel`),
    u('truncated before the final CRLF', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n`),
    u('no final chunk', `6\r\nhello\n\r\n6\r\nworld\n\r\n`),
    u('bytes after the end', `${ok}x`),
    u('a second body after the end', `${ok}0\r\n\r\n`),
    u('chunk signature in unsigned framing', `6;chunk-signature=${SIG}\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`),
    u('other chunk extension', `6;ext=1\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`),
    u('trailer missing', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\n\r\n`),
    u('trailer not declared', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\nx-amz-checksum-sha1:AAAA\r\n\r\n`),
    u('trailer field twice', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`),
    u('trailer checksum mismatch', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n`),
    u('trailer value with a space', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32: ${crc}\r\n\r\n`),
    u('trailer line without colon', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32\r\n\r\n`),
    u('trailer signature in unsigned framing', `6\r\nhello\n\r\n6\r\nworld\n\r\n0\r\nx-amz-checksum-crc32:${crc}\r\nx-amz-trailer-signature:${SIG}\r\n\r\n`),
    u('trailer header names a non-checksum', ok, { 'x-amz-trailer': 'x-amz-meta-a' }),
    u('trailer header names a field twice', ok, { 'x-amz-trailer': 'x-amz-checksum-crc32,x-amz-checksum-crc32' }),
    u('checksum both in header and trailer', ok, { 'x-amz-checksum-crc32': crc }),
    u('a chunk line that never ends', `${'6'.repeat(300)}`),
    ['signed: a chunk without signature', signedHeaders, signedBody.replace(`7;chunk-signature=${SIG}`, '7')],
    ['signed: final chunk without signature', signedHeaders, signedBody.replace(`0;chunk-signature=${SIG}`, '0')],
    ['signed: upper-case signature', signedHeaders, signedBody.replace(SIG, SIG.toUpperCase())],
    ['signed: short signature', signedHeaders, signedBody.replace(SIG, 'a'.repeat(63))],
    ['signed: trailer in a framing without one', signedHeaders, signedBody.replace(/\r\n\r\n$/, `\r\nx-amz-checksum-crc32:${crc32b64(data)}\r\n\r\n`)],
    ['signed: x-amz-trailer in a framing without one', { ...signedHeaders, 'x-amz-trailer': 'x-amz-checksum-crc32' }, signedBody],
    ['signed trailer: no trailer signature', signedTrailerHeaders, signedTrailerBody.replace(`x-amz-trailer-signature:${SIG}\r\n`, '')],
    ['signed trailer: signature not last', signedTrailerHeaders, signedTrailerBody.replace(`x-amz-checksum-crc32:${crc32b64(data)}\r\nx-amz-trailer-signature:${SIG}`, `x-amz-trailer-signature:${SIG}\r\nx-amz-checksum-crc32:${crc32b64(data)}`)],
    ['signed trailer: bad trailer signature', signedTrailerHeaders, signedTrailerBody.replace(`x-amz-trailer-signature:${SIG}`, 'x-amz-trailer-signature:zz')],
  ];
  for (const [name, headers, raw] of cases) {
    t.equal(code(() => decodeAwsBody(h(headers), Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1'))), 'unparseable_request', name);
  }
});

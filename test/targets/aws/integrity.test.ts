import t from 'tap';
import { code } from '../../helpers/reason.js';
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { crc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { checkIntegrity, crc64nvme } from '../../../src/targets/aws/integrity.js';

const h = (o: Record<string, string>): Record<string, string> => Object.assign(Object.create(null), o);
const NONE = h({});
const body = Buffer.from('hello\n');

t.test('crc32c and crc64nvme match the published check values', async (t) => {
  const check = Buffer.from('123456789');
  t.equal(crc32c(check), 0xe3069283, 'CRC-32C check value');
  t.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa, 'RFC 3720 B.4: 32 bytes of zeroes');
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43, 'RFC 3720 B.4: 32 bytes of ones');
  t.equal(crc32c(Buffer.alloc(0)), 0);
  t.equal(crc64nvme(check).toString('hex'), 'ae8b14860a799888', 'CRC-64/NVME check value');
  t.equal(crc64nvme(Buffer.alloc(0)).toString('hex'), '0000000000000000');
});

t.test('crc64nvme agrees with the AWS SDK\'s own implementation', async (t) => {
  for (const length of [1, 7, 8, 9, 1000, 65537]) {
    const data = randomBytes(length);
    const sdk = new Crc64Nvme();
    sdk.update(data);
    t.equal(crc64nvme(data).toString('hex'), Buffer.from(await sdk.digest()).toString('hex'), `${length} bytes`);
  }
});

t.test('x-amz-checksum-algorithm is left to the semantic headers, and never trails the body', async (t) => {
  t.same(checkIntegrity(h({ 'x-amz-checksum-algorithm': 'CRC32' }), NONE, body), {}, 'not an integrity header');
  t.equal(code(() => checkIntegrity(NONE, h({ 'x-amz-checksum-algorithm': 'CRC32' }), body)), 'unparseable_request');
});

t.test('every supported checksum is verified and forwarded', async (t) => {
  const headers = h({
    'content-md5': createHash('md5').update(body).digest('base64'),
    'x-amz-checksum-crc32': 'NjowIA==', // from the JS SDK for 'hello\n'
    'x-amz-checksum-sha1': createHash('sha1').update(body).digest('base64'),
    'x-amz-checksum-sha256': createHash('sha256').update(body).digest('base64'),
    'x-amz-checksum-mode': 'ENABLED',
    'content-type': 'text/plain',
  });
  const out = checkIntegrity(headers, NONE, body);
  t.same(Object.keys(out).sort(), [
    'content-md5',
    'x-amz-checksum-crc32',
    'x-amz-checksum-mode',
    'x-amz-checksum-sha1',
    'x-amz-checksum-sha256',
  ]);
  const crcs = checkIntegrity(
    h({ 'x-amz-checksum-crc32c': Buffer.from('e3069283', 'hex').toString('base64') }),
    h({ 'x-amz-checksum-crc64nvme': Buffer.from('ae8b14860a799888', 'hex').toString('base64') }),
    Buffer.from('123456789'),
  );
  t.same(crcs, {
    'x-amz-checksum-crc32c': '4waSgw==',
    'x-amz-checksum-crc64nvme': 'rosUhgp5mIg=',
  }, 'the trailer checksum is moved into the headers');
  t.same(
    checkIntegrity(h({ 'x-amz-sdk-checksum-algorithm': 'CRC32' }), h({ 'x-amz-checksum-crc32': 'NjowIA==' }), body),
    { 'x-amz-checksum-crc32': 'NjowIA==', 'x-amz-sdk-checksum-algorithm': 'CRC32' },
  );
});

t.test('wrong or unverifiable integrity claims are refused', async (t) => {
  const cases: [string, Record<string, string>, Record<string, string>][] = [
    ['crc32 of another body', { 'x-amz-checksum-crc32': 'AAAAAA==' }, {}],
    ['crc32 in the trailer, wrong', {}, { 'x-amz-checksum-crc32': 'AAAAAA==' }],
    ['md5 of another body', { 'content-md5': createHash('md5').update('x').digest('base64') }, {}],
    ['md5 as hex', { 'content-md5': createHash('md5').update(body).digest('hex') }, {}],
    ['sha256 unpadded', { 'x-amz-checksum-sha256': createHash('sha256').update(body).digest('base64').replace(/=+$/, '') }, {}],
    ['sha256 base64url', { 'x-amz-checksum-sha256': createHash('sha256').update(body).digest('base64url') }, {}],
    ['unknown algorithm', { 'x-amz-checksum-md4': 'AAAA' }, {}],
    ['checksum sent twice', { 'x-amz-checksum-crc32': 'NjowIA==' }, { 'x-amz-checksum-crc32': 'NjowIA==' }],
    ['algorithm disagrees', { 'x-amz-checksum-crc32': 'NjowIA==', 'x-amz-sdk-checksum-algorithm': 'SHA256' }, {}],
    ['algorithm unknown', { 'x-amz-sdk-checksum-algorithm': 'MD5' }, {}],
    ['algorithm lower case', { 'x-amz-sdk-checksum-algorithm': 'crc32' }, {}],
    ['checksum mode unknown', { 'x-amz-checksum-mode': 'DISABLED' }, {}],
    ['checksum type unknown', { 'x-amz-checksum-type': 'PARTIAL' }, {}],
    ['md5 in a trailer', {}, { 'content-md5': createHash('md5').update(body).digest('base64') }],
    ['a non-checksum trailer', {}, { 'x-amz-meta-a': 'b' }],
  ];
  for (const [name, headers, trailer] of cases) {
    t.equal(code(() => checkIntegrity(h(headers), h(trailer), body)), 'unparseable_request', name);
  }
});

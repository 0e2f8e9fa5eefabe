import t from 'tap';
import { Denial } from '../../../src/reasons.js';
import { semanticHeaders, splitContentEncoding } from '../../../src/targets/aws/semantic-headers.js';

function headers(h: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null), h);
}

t.test('transport headers are dropped, the rest is kept verbatim', async (t) => {
  const got = semanticHeaders(
    headers({
      host: '127.0.0.1:15001',
      'content-length': '6',
      'transfer-encoding': 'chunked',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      expect: '100-continue',
      'user-agent': 'aws-cli',
      accept: '*/*',
      'accept-encoding': 'identity',
      authorization: 'AWS4-HMAC-SHA256 ...',
      'x-amz-date': '20261126T000000Z',
      'x-amz-security-token': 'tok',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-amz-decoded-content-length': '6',
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'x-amz-sdk-checksum-algorithm': 'CRC32',
      'x-amz-checksum-crc32': 'NjowIA==',
      'x-amz-checksum-mode': 'ENABLED',
      'content-md5': 'x',
      'amz-sdk-invocation-id': 'id',
      'amz-sdk-request': 'attempt=1',
      'x-amz-user-agent': 'js',
      'x-amzn-trace-id': 'Root=1',
      'x-seb-certificate': 'jws',
      'content-type': 'text/csv',
      'x-amz-tagging': 'a=b',
      'x-amz-meta-owner': 'Team A',
      'cache-control': 'no-cache',
      'x-amz-acl': 'private',
      'x-amz-checksum-algorithm': 'CRC32',
    }),
  );
  t.same(got, {
    'content-type': 'text/csv',
    'x-amz-tagging': 'a=b',
    'x-amz-meta-owner': 'Team A',
    'cache-control': 'no-cache',
    'x-amz-acl': 'private',
    'x-amz-checksum-algorithm': 'CRC32',
  }, 'the algorithm a multipart upload is to use is semantic: it changes what S3 does');
  t.equal(Object.getPrototypeOf(got), null);
});

t.test('content-encoding: only aws-chunked is transport', async (t) => {
  const cases: [string, string | undefined][] = [
    ['aws-chunked', undefined],
    ['aws-chunked,gzip', 'gzip'],
    ['gzip,aws-chunked', 'gzip'],
    ['aws-chunked, gzip', 'gzip'],
    ['gzip, br', 'gzip, br'],
    ['gzip', 'gzip'],
  ];
  for (const [value, want] of cases) {
    t.equal(semanticHeaders(headers({ 'content-encoding': value }))['content-encoding'], want, value);
  }
});

t.test('content-encoding that could be read two ways is refused', async (t) => {
  for (const value of ['AWS-Chunked', 'aws-chunked,aws-chunked', 'aws-chunked,', ',gzip', 'gzip,,br']) {
    let code = 'ok';
    try {
      semanticHeaders(headers({ 'content-encoding': value }));
    } catch (err) {
      code = err instanceof Denial ? err.code : String(err);
    }
    t.equal(code, 'unparseable_request', value);
  }
  t.same(splitContentEncoding('aws-chunked'), { awsChunked: true, rest: null });
});

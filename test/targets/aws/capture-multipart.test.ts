// The capture broker's own answers for S3 commands of several mutations (SPEC §2.2): each step is
// printed as an op, and only the steps named here are answered instead of refused.
import t from 'tap';
import { MultipartCapture } from '../../../src/targets/aws/capture-multipart.js';
import type { AwsOp } from '../../../src/certificate/types.js';
import type { AwsOperation } from '../../../src/targets/aws/types.js';

const s3 = (operation: string, resource: string, headers: Record<string, string> = {}, params: Record<string, string> = {}): AwsOperation => ({
  service: 's3', region: 'us-east-1', protocol: 'rest-xml', operation, resource, params, headers, permissions: [], read: false, credentialVending: false,
});

function capturing() {
  let n = 0;
  const capture = new MultipartCapture(() => `id-${++n}`);
  const ops: AwsOp[] = [];
  const take = (req: AwsOperation, body = '', integrity: Record<string, string> = {}) =>
    capture.capture(req, '123456789012', Buffer.from(body), undefined, integrity, (op) => ops.push(op) - 1);
  return { ops, take };
}

t.test('aws s3 mv: CopyObject is answered, so the DeleteObject of the source is captured too', async (t) => {
  const { ops, take } = capturing();
  const copied = take(s3('CopyObject', 'arn:aws:s3:::b/moved.txt', { 'x-amz-copy-source': 'b/small.txt' }));
  t.match(copied, { status: 200, body: /<CopyObjectResult xmlns="[^"]+"><ETag>"id1"<\/ETag><\/CopyObjectResult>$/ });
  t.equal(take(s3('DeleteObject', 'arn:aws:s3:::b/small.txt')), null, 'the delete is refused: nothing after it needs an answer');
  t.same(ops.map((op) => [op.operation, op.resource, op.headers]), [
    ['CopyObject', 'arn:aws:s3:::b/moved.txt', { 'x-amz-copy-source': 'b/small.txt' }],
    ['DeleteObject', 'arn:aws:s3:::b/small.txt', {}],
  ]);
  t.notOk(ops[0]!.bind, 'nothing is bound to the copy');
});

t.test('other mutations are printed and refused', async (t) => {
  const { ops, take } = capturing();
  t.equal(take(s3('PutObject', 'arn:aws:s3:::b/k'), 'x'), null);
  t.equal(take({ ...s3('CreateTable', 'arn:aws:dynamodb:us-east-1:{account}:table/t'), service: 'dynamodb', protocol: 'json' }, '{}'), null);
  t.equal(ops.length, 2);
});

t.test('an UploadPart is answered with the part checksum it carried, as S3 answers it', async (t) => {
  const { ops, take } = capturing();
  const created = take(s3('CreateMultipartUpload', 'arn:aws:s3:::b/big', { 'x-amz-checksum-algorithm': 'CRC32' }));
  const uploadId = /<UploadId>([^<]+)</.exec(created!.body)![1]!;
  const integrity = { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'CRC32', 'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==' };
  const part = take(s3('UploadPart', 'arn:aws:s3:::b/big', {}, { partNumber: '1', uploadId }), '', integrity);
  t.same(part?.headers, { etag: '"id2"', 'x-amz-checksum-crc32': 'AAAAAA==' }, 'the digest only, not the algorithm name or the MD5');
  t.same(take(s3('UploadPart', 'arn:aws:s3:::b/big', {}, { partNumber: '2', uploadId }))?.headers, { etag: '"id3"' }, 'none sent, none answered');
  t.match(ops[1], { bind: [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' } }] });
});

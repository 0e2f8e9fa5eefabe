/**
 * Conformance with a real client: what @aws-sdk/client-s3 actually sends (path-style, against a
 * loopback server) must be read as the operation it meant, and its aws-chunked bodies and
 * checksums (computed by the SDK's own CRC32/CRC32C/CRC64NVME/SHA code) must verify.
 */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  S3Client,
  PutObjectCommand,
  CopyObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  HeadBucketCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
} from '@aws-sdk/client-s3';
import { understandS3 } from '../../../src/targets/aws/s3.js';
import { decodeAwsBody } from '../../../src/targets/aws/aws-chunked.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';

interface Captured {
  readonly req: AwsHttpRequest;
  readonly raw: Buffer;
}

const seen: Captured[] = [];
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = req.url!;
    const q = url.indexOf('?');
    const headers: Record<string, string> = Object.create(null);
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!;
    seen.push({
      req: { method: req.method!, path: q === -1 ? url : url.slice(0, q), query: q === -1 ? '' : url.slice(q + 1), headers },
      raw: Buffer.concat(chunks),
    });
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end('<?xml version="1.0" encoding="UTF-8"?><Result/>');
  });
});

let client: S3Client;
t.before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new S3Client({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
  });
});
t.teardown(async () => {
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Runs `send`, ignoring how the SDK reads the dummy answer, and returns what arrived. */
async function capture(send: () => Promise<unknown>): Promise<Captured> {
  seen.length = 0;
  await send().catch(() => undefined);
  if (seen.length !== 1) throw new Error(`expected one request, got ${seen.length}`);
  return seen[0]!;
}

const ALGORITHMS: ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

t.test('PutObject with every checksum algorithm, buffered and streamed', async (t) => {
  const text = 'hello, broker\n'.repeat(100);
  for (const algorithm of ALGORITHMS) {
    for (const streamed of [false, true]) {
      const Body = streamed ? Readable.from([Buffer.from(text.slice(0, 700)), Buffer.from(text.slice(700))]) : text;
      const input = { Bucket: 'bkt', Key: 'dir/a+b c=d.txt', Body, ContentLength: text.length, ChecksumAlgorithm: algorithm, ContentType: 'text/plain' };
      const { req, raw } = await capture(() => client.send(new PutObjectCommand(input)));
      const label = `${algorithm} ${streamed ? 'streamed' : 'buffered'}`;
      const op = understandS3(req, 'us-east-1', null)!;
      t.equal(op.operation, 'PutObject', label);
      t.equal(op.resource, 'arn:aws:s3:::bkt/dir/a+b c=d.txt', label);
      t.same(op.headers, { 'content-type': 'text/plain' }, `${label}: only content-type is semantic`);
      const body = decodeAwsBody(req.headers, raw);
      t.equal(body.payload.toString(), text, `${label}: payload`);
      t.ok(`x-amz-checksum-${algorithm.toLowerCase()}` in body.integrityHeaders, `${label}: checksum verified and kept`);
      if (streamed) t.equal(req.headers['content-encoding'], 'aws-chunked', `${label}: the SDK used aws-chunked`);
    }
  }
});

t.test('other operations as the SDK sends them', async (t) => {
  const copy = await capture(() => client.send(new CopyObjectCommand({ Bucket: 'dst', Key: 'k2', CopySource: 'src/dir%2Fa%20b?versionId=v1' })));
  const copyOp = understandS3(copy.req, 'us-east-1', null)!;
  t.equal(copyOp.operation, 'CopyObject');
  t.same(copyOp.permissions.map((p) => `${p.action} ${p.resource}`), ['s3:PutObject arn:aws:s3:::dst/k2', 's3:GetObjectVersion arn:aws:s3:::src/dir/a b']);

  const list = await capture(() => client.send(new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'a b+', MaxKeys: 5 })));
  const listOp = understandS3(list.req, 'us-east-1', null)!;
  t.equal(listOp.operation, 'ListObjectsV2');
  t.same(listOp.params, { 'list-type': '2', prefix: 'a b+', 'max-keys': '5' });

  const head = await capture(() => client.send(new HeadBucketCommand({ Bucket: 'bkt' })));
  t.equal(understandS3(head.req, 'us-east-1', null)!.operation, 'HeadBucket');

  const part = await capture(() => client.send(new UploadPartCommand({ Bucket: 'bkt', Key: 'k', UploadId: 'u~1', PartNumber: 3, Body: 'part' })));
  const partOp = understandS3(part.req, 'us-east-1', null)!;
  t.equal(partOp.operation, 'UploadPart');
  t.equal(partOp.params['uploadId'], 'u~1');
  t.equal(decodeAwsBody(part.req.headers, part.raw).payload.toString(), 'part');

  const del = await capture(() => client.send(new DeleteObjectsCommand({ Bucket: 'bkt', Delete: { Objects: [{ Key: 'a&b<c' }, { Key: 'x', VersionId: 'v1' }], Quiet: true } })),
  );
  t.equal(understandS3(del.req, 'us-east-1', null), null, 'DeleteObjects waits for its body');
  const body = decodeAwsBody(del.req.headers, del.raw);
  t.same(
    understandS3(del.req, 'us-east-1', body.payload)!.permissions.map((p) => `${p.action} ${p.resource}`),
    ['s3:DeleteObject arn:aws:s3:::bkt/a&b<c', 's3:DeleteObjectVersion arn:aws:s3:::bkt/x'],
  );
});

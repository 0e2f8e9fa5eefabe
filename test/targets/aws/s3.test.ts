import t from 'tap';
import { code } from '../../helpers/reason.js';
import { S3_OPERATIONS, understandS3 } from '../../../src/targets/aws/s3.js';
import type { AwsOperation } from '../../../src/targets/aws/types.js';

const h = (o: Record<string, string>): Record<string, string> => Object.assign(Object.create(null), o);

function read(method: string, target: string, headers: Record<string, string> = {}, payload: Buffer | null = Buffer.alloc(0)): AwsOperation | null {
  const q = target.indexOf('?');
  return understandS3(
    { method, path: q === -1 ? target : target.slice(0, q), query: q === -1 ? '' : target.slice(q + 1), headers: h({ host: 'evil.example', ...headers }) },
    'us-east-1',
    payload,
  );
}

// Their answers can hold a KMS key id (reads.json secretOutputs): not reads (SPEC §7).
const SECRET_ANSWERS = new Set(['GetBucketEncryption', 'GetBucketInventoryConfiguration', 'ListBucketInventoryConfigurations']);

t.test('operations are told apart by method, path, query and headers', async (t) => {
  const cases: [string, string, Record<string, string>, string][] = [
    ['GET', '/', {}, 'ListBuckets'],
    ['PUT', '/bkt/k?x-id=PutObject', {}, 'PutObject'],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': '/src/k' }, 'CopyObject'],
    ['PUT', '/bkt/k?partNumber=1&uploadId=u', {}, 'UploadPart'],
    ['PUT', '/bkt/k?partNumber=1&uploadId=u', { 'x-amz-copy-source': 'src/k' }, 'UploadPartCopy'],
    ['POST', '/bkt/k?uploads', {}, 'CreateMultipartUpload'],
    ['POST', '/bkt/k?uploads=', {}, 'CreateMultipartUpload'],
    ['POST', '/bkt/k?uploadId=u', {}, 'CompleteMultipartUpload'],
    ['DELETE', '/bkt/k?uploadId=u', {}, 'AbortMultipartUpload'],
    ['GET', '/bkt/k?uploadId=u&max-parts=5', {}, 'ListParts'],
    ['GET', '/bkt/k?x-id=GetObject&response-content-type=text%2Fplain&partNumber=2', {}, 'GetObject'],
    ['HEAD', '/bkt/k?versionId=v', {}, 'HeadObject'],
    ['DELETE', '/bkt/k', {}, 'DeleteObject'],
    ['GET', '/bkt/k?tagging', {}, 'GetObjectTagging'],
    ['PUT', '/bkt/k?tagging=', {}, 'PutObjectTagging'],
    ['DELETE', '/bkt/k?tagging', {}, 'DeleteObjectTagging'],
    ['GET', '/bkt/k?acl', {}, 'GetObjectAcl'],
    ['PUT', '/bkt/k?acl', {}, 'PutObjectAcl'],
    ['PUT', '/bkt', {}, 'CreateBucket'],
    ['DELETE', '/bkt/', {}, 'DeleteBucket'],
    ['HEAD', '/bkt/', {}, 'HeadBucket'],
    ['GET', '/bkt?prefix=a&marker=m', {}, 'ListObjects'],
    ['GET', '/bkt/?list-type=2&prefix=a%20b%2B', {}, 'ListObjectsV2'],
    ['GET', '/bkt?versions', {}, 'ListObjectVersions'],
    ['GET', '/bkt?uploads', {}, 'ListMultipartUploads'],
    ['GET', '/bkt?location', {}, 'GetBucketLocation'],
    ['GET', '/bkt?policy', {}, 'GetBucketPolicy'],
    ['PUT', '/bkt?policy', {}, 'PutBucketPolicy'],
    ['DELETE', '/bkt?policy', {}, 'DeleteBucketPolicy'],
    ['GET', '/bkt?tagging', {}, 'GetBucketTagging'],
    ['PUT', '/bkt?tagging', {}, 'PutBucketTagging'],
    ['DELETE', '/bkt?tagging', {}, 'DeleteBucketTagging'],
    ['GET', '/bkt?versioning', {}, 'GetBucketVersioning'],
    ['PUT', '/bkt?versioning', {}, 'PutBucketVersioning'],
    ['GET', '/bkt?cors', {}, 'GetBucketCors'],
    ['PUT', '/bkt?cors', {}, 'PutBucketCors'],
    ['DELETE', '/bkt?cors', {}, 'DeleteBucketCors'],
    ['GET', '/bkt?encryption', {}, 'GetBucketEncryption'],
    ['PUT', '/bkt?encryption', {}, 'PutBucketEncryption'],
    ['DELETE', '/bkt?encryption', {}, 'DeleteBucketEncryption'],
    ['GET', '/bkt?acl', {}, 'GetBucketAcl'],
    ['PUT', '/bkt?acl', {}, 'PutBucketAcl'],
    ['GET', '/bkt?lifecycle', {}, 'GetBucketLifecycleConfiguration'],
    ['PUT', '/bkt?lifecycle', {}, 'PutBucketLifecycleConfiguration'],
    ['DELETE', '/bkt?lifecycle', {}, 'DeleteBucketLifecycle'],
    ['GET', '/bkt?publicAccessBlock', {}, 'GetPublicAccessBlock'],
    ['PUT', '/bkt?publicAccessBlock', {}, 'PutPublicAccessBlock'],
    ['DELETE', '/bkt?publicAccessBlock', {}, 'DeletePublicAccessBlock'],
    // Bucket configurations addressed by id, and their lists.
    ['GET', '/bkt?analytics&id=a1', {}, 'GetBucketAnalyticsConfiguration'],
    ['GET', '/bkt?analytics&continuation-token=c', {}, 'ListBucketAnalyticsConfigurations'],
    ['PUT', '/bkt?analytics&id=a1', {}, 'PutBucketAnalyticsConfiguration'],
    ['DELETE', '/bkt?analytics&id=a1', {}, 'DeleteBucketAnalyticsConfiguration'],
    ['GET', '/bkt?intelligent-tiering&id=a1', {}, 'GetBucketIntelligentTieringConfiguration'],
    ['GET', '/bkt?intelligent-tiering', {}, 'ListBucketIntelligentTieringConfigurations'],
    ['PUT', '/bkt?intelligent-tiering&id=a1', {}, 'PutBucketIntelligentTieringConfiguration'],
    ['DELETE', '/bkt?intelligent-tiering&id=a1', {}, 'DeleteBucketIntelligentTieringConfiguration'],
    ['GET', '/bkt?inventory&id=a1', {}, 'GetBucketInventoryConfiguration'],
    ['GET', '/bkt?inventory', {}, 'ListBucketInventoryConfigurations'],
    ['PUT', '/bkt?inventory&id=a1', {}, 'PutBucketInventoryConfiguration'],
    ['DELETE', '/bkt?inventory&id=a1', {}, 'DeleteBucketInventoryConfiguration'],
    ['GET', '/bkt?metrics&id=a1', {}, 'GetBucketMetricsConfiguration'],
    ['GET', '/bkt?metrics', {}, 'ListBucketMetricsConfigurations'],
    ['PUT', '/bkt?metrics&id=a1', {}, 'PutBucketMetricsConfiguration'],
    ['DELETE', '/bkt?metrics&id=a1', {}, 'DeleteBucketMetricsConfiguration'],
    // Bucket subresources.
    ['GET', '/bkt?accelerate', {}, 'GetBucketAccelerateConfiguration'],
    ['PUT', '/bkt?accelerate', {}, 'PutBucketAccelerateConfiguration'],
    ['GET', '/bkt?logging', {}, 'GetBucketLogging'],
    ['PUT', '/bkt?logging', {}, 'PutBucketLogging'],
    ['GET', '/bkt?notification', {}, 'GetBucketNotificationConfiguration'],
    ['PUT', '/bkt?notification', {}, 'PutBucketNotificationConfiguration'],
    ['GET', '/bkt?ownershipControls', {}, 'GetBucketOwnershipControls'],
    ['PUT', '/bkt?ownershipControls', {}, 'PutBucketOwnershipControls'],
    ['DELETE', '/bkt?ownershipControls', {}, 'DeleteBucketOwnershipControls'],
    ['GET', '/bkt?policyStatus', {}, 'GetBucketPolicyStatus'],
    ['GET', '/bkt?replication', {}, 'GetBucketReplication'],
    ['PUT', '/bkt?replication', {}, 'PutBucketReplication'],
    ['DELETE', '/bkt?replication', {}, 'DeleteBucketReplication'],
    ['GET', '/bkt?requestPayment', {}, 'GetBucketRequestPayment'],
    ['PUT', '/bkt?requestPayment', {}, 'PutBucketRequestPayment'],
    ['GET', '/bkt?website', {}, 'GetBucketWebsite'],
    ['PUT', '/bkt?website', {}, 'PutBucketWebsite'],
    ['DELETE', '/bkt?website', {}, 'DeleteBucketWebsite'],
    ['GET', '/bkt?object-lock', {}, 'GetObjectLockConfiguration'],
    ['PUT', '/bkt?object-lock', {}, 'PutObjectLockConfiguration'],
    ['GET', '/bkt?abac', {}, 'GetBucketAbac'],
    ['PUT', '/bkt?abac', {}, 'PutBucketAbac'],
    ['GET', '/bkt?metadataTable', {}, 'GetBucketMetadataTableConfiguration'],
    ['POST', '/bkt?metadataTable', {}, 'CreateBucketMetadataTableConfiguration'],
    ['DELETE', '/bkt?metadataTable', {}, 'DeleteBucketMetadataTableConfiguration'],
    ['GET', '/bkt?metadataConfiguration', {}, 'GetBucketMetadataConfiguration'],
    ['POST', '/bkt?metadataConfiguration', {}, 'CreateBucketMetadataConfiguration'],
    ['DELETE', '/bkt?metadataConfiguration', {}, 'DeleteBucketMetadataConfiguration'],
    ['PUT', '/bkt?metadataInventoryTable', {}, 'UpdateBucketMetadataInventoryTableConfiguration'],
    ['PUT', '/bkt?metadataJournalTable', {}, 'UpdateBucketMetadataJournalTableConfiguration'],
    // Object subresources.
    ['GET', '/bkt/k?attributes', {}, 'GetObjectAttributes'],
    ['GET', '/bkt/k?legal-hold&versionId=v', {}, 'GetObjectLegalHold'],
    ['PUT', '/bkt/k?legal-hold', {}, 'PutObjectLegalHold'],
    ['GET', '/bkt/k?retention', {}, 'GetObjectRetention'],
    ['PUT', '/bkt/k?retention', {}, 'PutObjectRetention'],
    ['GET', '/bkt/k?torrent', {}, 'GetObjectTorrent'],
    ['POST', '/bkt/k?restore', {}, 'RestoreObject'],
    ['PUT', '/bkt/k?encryption', {}, 'UpdateObjectEncryption'],
  ];
  for (const [method, target, headers, operation] of cases) {
    const op = read(method, target, headers)!;
    t.equal(op.operation, operation, `${method} ${target}`);
    // A read verb is a read unless its answer can hold a sensitive member (SPEC §7).
    const readVerb = operation.startsWith('Get') || operation.startsWith('List') || operation.startsWith('Head');
    t.equal(op.read, readVerb && !SECRET_ANSWERS.has(operation), `${operation} read flag`);
  }
  const covered = new Set([...cases.map((c) => c[3]), 'DeleteObjects']);
  t.same(S3_OPERATIONS.map((o) => o.operation).filter((o) => !covered.has(o)), [], 'every modeled operation is covered here');
});

t.test('the full reading of a PutObject', async (t) => {
  const op = read('PUT', '/bkt/dir/a%2Bb%20c%3Dd.txt?x-id=PutObject', {
    'content-type': 'text/csv',
    'x-amz-tagging': 'a=b',
    'x-amz-grant-read': 'id=1',
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    'x-amz-checksum-crc32': 'AAAAAA==',
  })!;
  t.same(op, {
    service: 's3',
    region: 'us-east-1',
    protocol: 'rest-xml',
    operation: 'PutObject',
    resource: 'arn:aws:s3:::bkt/dir/a+b c=d.txt',
    params: { 'x-id': 'PutObject' },
    headers: { 'content-type': 'text/csv', 'x-amz-tagging': 'a=b', 'x-amz-grant-read': 'id=1' },
    permissions: [
      { action: 's3:PutObject', resource: 'arn:aws:s3:::bkt/dir/a+b c=d.txt' },
      { action: 's3:PutObjectTagging', resource: 'arn:aws:s3:::bkt/dir/a+b c=d.txt' },
      { action: 's3:PutObjectAcl', resource: 'arn:aws:s3:::bkt/dir/a+b c=d.txt' },
    ],
    read: false,
    credentialVending: false,
  });
  t.notOk('host' in op.headers, 'Host is never part of the meaning');
});

t.test('keys are decoded exactly once and never normalised', async (t) => {
  const cases: [string, string][] = [
    ['/bkt/a%2Fb', 'a/b'],
    ['/bkt/a/../b', 'a/../b'],
    ['/bkt/./a', './a'],
    ['/bkt//a', '/a'],
    ['/bkt/a//b/', 'a//b/'],
    ['/bkt/%252F', '%2F'],
    ['/bkt/%E2%82%AC%3F%23', '\u20ac?#'],
    ['/bkt/a=b&c;d', 'a=b&c;d'],
  ];
  for (const [path, key] of cases) t.equal(read('GET', path)!.resource, `arn:aws:s3:::bkt/${key}`, path);
});

t.test('permissions follow versionId, copy sources, headers and the DeleteObjects body', async (t) => {
  const perms = (op: AwsOperation | null) => op!.permissions.map((p) => `${p.action} ${p.resource}`);
  // A key's own `*`, `?` and `$` are granted literally; the resource the certificate pins is the plain ARN.
  const star = read('PUT', '/bkt/a*b%3Fc$d')!;
  t.equal(star.resource, 'arn:aws:s3:::bkt/a*b?c$d');
  t.same(perms(star), ['s3:PutObject arn:aws:s3:::bkt/a${*}b${?}c${$}d']);
  t.same(perms(read('GET', '/bkt/k?versionId=v1')), ['s3:GetObjectVersion arn:aws:s3:::bkt/k']);
  t.same(perms(read('HEAD', '/bkt/k')), ['s3:GetObject arn:aws:s3:::bkt/k']);
  t.same(perms(read('DELETE', '/bkt/k?versionId=v1')), ['s3:DeleteObjectVersion arn:aws:s3:::bkt/k']);
  t.same(perms(read('PUT', '/bkt/k?tagging&versionId=v1')), ['s3:PutObjectVersionTagging arn:aws:s3:::bkt/k']);
  t.same(perms(read('GET', '/')), ['s3:ListAllMyBuckets *']);
  t.equal(read('GET', '/')!.resource, '*');
  t.same(perms(read('HEAD', '/bkt')), ['s3:ListBucket arn:aws:s3:::bkt']);
  t.same(perms(read('DELETE', '/bkt?cors')), ['s3:PutBucketCORS arn:aws:s3:::bkt']);
  t.same(perms(read('DELETE', '/bkt?encryption')), ['s3:PutEncryptionConfiguration arn:aws:s3:::bkt']);
  t.same(perms(read('DELETE', '/bkt/k?uploadId=u')), ['s3:AbortMultipartUpload arn:aws:s3:::bkt/k']);
  t.same(perms(read('GET', '/bkt/k?uploadId=u')), ['s3:ListMultipartUploadParts arn:aws:s3:::bkt/k']);
  // Actions named in the service authorization reference where they are not the operation's name.
  t.same(perms(read('GET', '/bkt?analytics')), ['s3:GetAnalyticsConfiguration arn:aws:s3:::bkt']);
  t.same(perms(read('DELETE', '/bkt?inventory&id=i')), ['s3:PutInventoryConfiguration arn:aws:s3:::bkt']);
  t.same(perms(read('DELETE', '/bkt?replication')), ['s3:PutReplicationConfiguration arn:aws:s3:::bkt']);
  t.same(perms(read('GET', '/bkt?object-lock')), ['s3:GetBucketObjectLockConfiguration arn:aws:s3:::bkt']);
  t.same(perms(read('PUT', '/bkt?notification')), ['s3:PutBucketNotification arn:aws:s3:::bkt']);
  t.same(perms(read('GET', '/bkt/k?attributes')), ['s3:GetObjectAttributes arn:aws:s3:::bkt/k', 's3:GetObject arn:aws:s3:::bkt/k']);
  t.same(perms(read('GET', '/bkt/k?attributes&versionId=v')), [
    's3:GetObjectVersionAttributes arn:aws:s3:::bkt/k',
    's3:GetObjectVersion arn:aws:s3:::bkt/k',
  ]);
  t.same(perms(read('PUT', '/bkt/k?retention', { 'x-amz-bypass-governance-retention': 'true' })), [
    's3:PutObjectRetention arn:aws:s3:::bkt/k',
    's3:BypassGovernanceRetention arn:aws:s3:::bkt/k',
  ]);
  t.same(perms(read('POST', '/bkt/k?restore&versionId=v')), ['s3:RestoreObject arn:aws:s3:::bkt/k']);
  t.same(perms(read('PUT', '/bkt', { 'x-amz-acl': 'private' })), ['s3:CreateBucket arn:aws:s3:::bkt', 's3:PutBucketAcl arn:aws:s3:::bkt']);
  t.same(perms(read('PUT', '/dst/k2', { 'x-amz-copy-source': '/src/dir/a%20b.txt?versionId=v%2B1', 'x-amz-acl': 'private' })), [
    's3:PutObject arn:aws:s3:::dst/k2',
    's3:PutObjectAcl arn:aws:s3:::dst/k2',
    's3:GetObjectVersion arn:aws:s3:::src/dir/a b.txt',
  ]);
  t.same(perms(read('PUT', '/dst/k2?partNumber=2&uploadId=u', { 'x-amz-copy-source': 'src/a%2Fb' })), [
    's3:PutObject arn:aws:s3:::dst/k2',
    's3:GetObject arn:aws:s3:::src/a/b',
  ]);

  const xml = Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      '<Object><Key>a&amp;b&lt;c</Key></Object><Object><Key>x</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>',
  );
  t.equal(read('POST', '/bkt/?delete=', {}, null), null, 'DeleteObjects needs its body');
  const del = read('POST', '/bkt?delete', {}, xml)!;
  t.equal(del.operation, 'DeleteObjects');
  t.equal(del.resource, 'arn:aws:s3:::bkt');
  t.same(perms(del), ['s3:DeleteObject arn:aws:s3:::bkt/a&b<c', 's3:DeleteObjectVersion arn:aws:s3:::bkt/x']);
});

t.test('requests that could be read another way are refused', async (t) => {
  const cases: [string, string, Record<string, string>?][] = [
    // unknown subresources must never read as a plain GetObject / PutObject / PostObject
    ['POST', '/bkt/k?select&select-type=2'],
    ['PUT', '/bkt/k?renameObject'],
    ['GET', '/bkt?session'],
    // near misses of the subresources read: a value, a second subresource, a missing or repeated id
    ['GET', '/bkt/k?torrent=1'],
    ['POST', '/bkt/k?restore&uploads'],
    ['PUT', '/bkt/k?retention&acl'],
    ['PUT', '/bkt/k?legal-hold&tagging'],
    ['GET', '/bkt/k?attributes&partNumber=1'],
    ['GET', '/bkt?website&policy'],
    ['PUT', '/bkt?replication=x'],
    ['PUT', '/bkt?analytics'],
    ['DELETE', '/bkt?metrics'],
    ['GET', '/bkt?inventory&id=a&id=b'],
    ['GET', '/bkt?analytics&id=a1&continuation-token=c'],
    ['GET', '/bkt/k?website'],
    ['PUT', '/bkt?retention'],
    ['GET', '/bkt/k?Tagging'],
    ['GET', '/bkt/k?tagging&acl'],
    ['GET', '/bkt/k?uploadId=u&partNumber=1&tagging'],
    ['PUT', '/bkt/k?partNumber=1'],
    ['PUT', '/bkt/k?uploadId=u'],
    ['POST', '/bkt/k'],
    ['GET', '/bkt?list-type=1'],
    ['GET', '/bkt?tagging=x'],
    ['GET', '/bkt?list-type=2&marker=m'],
    ['PUT', '/bkt/k?x-id=GetObject'],
    ['PUT', '/bkt/k?x-id=PutObject', { 'x-amz-copy-source': 'src/k' }],
    ['PUT', '/bkt/k?tagging', { 'x-amz-copy-source': 'src/k' }],
    ['PUT', '/bkt', { 'x-amz-copy-source': 'src/k' }],
    ['PATCH', '/bkt/k'],
    ['OPTIONS', '/bkt/k'],
    ['POST', '/'],
    ['GET', '/bkt/k?versionId=a&versionId=b'],
    ['GET', '/bkt?prefix=a+b'],
    ['GET', '/bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Signature=b'],
    ['GET', '/bkt/k?AWSAccessKeyId=a&Signature=b&Expires=1'],
    // keys
    ['GET', '/bkt/a+b'],
    ['GET', '/bkt/a%zzb'],
    ['GET', '/bkt/a%'],
    ['GET', '/bkt/%ff'],
    ['GET', '/bkt/a b'],
    ['GET', `/bkt/${'k'.repeat(1025)}`],
    // buckets
    ['GET', '/BKT/k'],
    ['GET', '/b/k'],
    ['GET', `/${'b'.repeat(64)}/k`],
    ['GET', '/192.168.1.1/k'],
    ['GET', '/-bkt/k'],
    ['GET', '/bkt-/k'],
    ['GET', '/a..b/k'],
    ['GET', '/b%6Bt/k'],
    ['GET', '/bkt_1/k'],
    ['GET', '/ap-s3alias/k'],
    ['GET', '/dir--use1-az4--x-s3/k'],
    ['GET', '//k'],
    // copy sources
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src/' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': '' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src/a b' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src/a+b' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src/k?versionId=' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src/k?versionId=a&x=1' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src/k?partNumber=1' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'src/k?' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/k' }],
    ['PUT', '/bkt/k', { 'x-amz-copy-source': 'SRC/k' }],
    // content-encoding spelled two ways
    ['PUT', '/bkt/k', { 'content-encoding': 'AWS-CHUNKED' }],
  ];
  for (const [method, target, headers] of cases) {
    t.equal(code(() => read(method, target, headers)), 'unparseable_request', `${method} ${target} ${JSON.stringify(headers ?? {})}`);
  }
});

t.test('DeleteObjects bodies are read strictly', async (t) => {
  const wrap = (inner: string, open = '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">') => Buffer.from(`${open}${inner}</Delete>`);
  const keys = (body: Buffer) => read('POST', '/bkt?delete', {}, body)!.permissions.map((p) => p.resource.slice('arn:aws:s3:::bkt/'.length));
  t.same(keys(wrap('<Object><Key>&#65;&#x42;&quot;&apos;&gt;</Key></Object>')), ['AB"\'>']);
  t.same(keys(wrap('\n  <Object>\n    <Key> spaced </Key>\n  </Object>\n', '<Delete>')), [' spaced ']);
  t.same(keys(wrap('<Object><Key>a</Key><ETag>"e"</ETag><Size>3</Size></Object><Quiet>false</Quiet>')), ['a']);
  t.same(keys(wrap('<Object><Key>a\nb</Key></Object>')), ['a\nb']);
  t.same(keys(wrap('<Object><Key>a&#13;b</Key></Object>')), ['a\rb']);
  t.equal(keys(wrap('<Object><Key>k</Key></Object>'.repeat(1000))).length, 1, 'one key, one permission');

  const cases: [string, Buffer][] = [
    ['doctype', Buffer.from('<!DOCTYPE Delete [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>')],
    ['cdata', wrap('<Object><Key><![CDATA[a]]></Key></Object>')],
    ['comment', wrap('<!-- x --><Object><Key>a</Key></Object>')],
    ['processing instruction', wrap('<?pi x?><Object><Key>a</Key></Object>')],
    ['unknown entity', wrap('<Object><Key>&nbsp;</Key></Object>')],
    ['bare ampersand', wrap('<Object><Key>a&b</Key></Object>')],
    ['raw CR in a key', wrap('<Object><Key>a\rb</Key></Object>')],
    ['control character', wrap('<Object><Key>a\u0001b</Key></Object>')],
    ['reference to NUL', wrap('<Object><Key>&#0;</Key></Object>')],
    ['reference out of range', wrap('<Object><Key>&#x110000;</Key></Object>')],
    ['unknown element', wrap('<Object><Key>a</Key><Owner>x</Owner></Object>')],
    ['unknown top-level element', wrap('<Object><Key>a</Key></Object><Extra/>')],
    ['two keys in one object', wrap('<Object><Key>a</Key><Key>b</Key></Object>')],
    ['no key', wrap('<Object><VersionId>v</VersionId></Object>')],
    ['empty key', wrap('<Object><Key></Key></Object>')],
    ['empty version', wrap('<Object><Key>a</Key><VersionId></VersionId></Object>')],
    ['self-closing key', wrap('<Object><Key/></Object>')],
    ['nested markup in a key', wrap('<Object><Key>a<b/>c</Key></Object>')],
    ['attribute on Object', wrap('<Object id="1"><Key>a</Key></Object>')],
    ['other attribute on Delete', wrap('<Object><Key>a</Key></Object>', '<Delete foo="1">')],
    ['other namespace', wrap('<Object><Key>a</Key></Object>', '<Delete xmlns="urn:other">')],
    ['prefixed namespace', Buffer.from('<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Object><s3:Key>a</s3:Key></s3:Object></s3:Delete>')],
    ['quiet twice', wrap('<Object><Key>a</Key></Object><Quiet>true</Quiet><Quiet>true</Quiet>')],
    ['quiet not boolean', wrap('<Object><Key>a</Key></Object><Quiet>yes</Quiet>')],
    ['no objects', wrap('<Quiet>true</Quiet>')],
    ['too many objects', wrap('<Object><Key>k</Key></Object>'.repeat(1001))],
    ['text after the root', Buffer.from(`${wrap('<Object><Key>a</Key></Object>').toString()}x`)],
    ['two roots', Buffer.from(`${wrap('<Object><Key>a</Key></Object>').toString()}<Delete></Delete>`)],
    ['truncated', Buffer.from('<Delete><Object><Key>a</Key></Object>')],
    ['byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), wrap('<Object><Key>a</Key></Object>')])],
    ['invalid UTF-8', Buffer.concat([Buffer.from('<Delete><Object><Key>'), Buffer.from([0xff]), Buffer.from('</Key></Object></Delete>')])],
    ['UTF-16 declaration', Buffer.from('<?xml version="1.0" encoding="UTF-16"?><Delete><Object><Key>a</Key></Object></Delete>')],
    ['XML 1.1', Buffer.from('<?xml version="1.1"?><Delete><Object><Key>a</Key></Object></Delete>')],
    [']]> in text', wrap('<Object><Key>a]]>b</Key></Object>')],
  ];
  for (const [name, body] of cases) t.equal(code(() => read('POST', '/bkt?delete', {}, body)), 'unparseable_request', name);
});

t.test('S3_OPERATIONS lists actions for the README', async (t) => {
  const byName = new Map(S3_OPERATIONS.map((o) => [o.operation, o]));
  t.same(byName.get('HeadObject'), { operation: 'HeadObject', read: true, actions: ['s3:GetObject', 's3:GetObjectVersion'] });
  t.same(byName.get('CopyObject')!.actions.includes('s3:GetObjectVersion'), true);
  t.same(byName.get('DeleteObjects'), { operation: 'DeleteObjects', read: false, actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'] });
  t.ok(Object.isFrozen(S3_OPERATIONS));
});

// Denials in each protocol's own error format, read back with the parsers the SDKs use, and the
// protocol picked for requests the broker could not read (the case that used to get query XML).
import t from 'tap';
import { cbor, checkCborResponse, loadSmithyRpcV2CborErrorCode } from '@smithy/core/cbor';
import { errorTarget, renderDenial, renderNativeDenial } from '../../../src/targets/aws/native-denial.js';
import table from '../../../src/targets/aws/data/error-protocols.json' with { type: 'json' };

const message = 'seb denied the request: op_mismatch (certificate c-123): <the "op"> & more';
const auth = (service: string) => `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=00`;

t.test('an unread request is answered in the protocol its client speaks', async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    ['eks (rest-json, unread today)', { authorization: auth('eks'), 'content-type': 'application/json' }, 'rest-json'],
    ['route53 (rest-xml, not S3)', { authorization: auth('route53') }, 'rest-xml'],
    ['s3', { authorization: auth('s3') }, 'rest-xml'],
    ['dynamodb by its target header', { authorization: auth('dynamodb'), 'x-amz-target': 'DynamoDB_20120810.ListTables', 'content-type': 'application/x-amz-json-1.0' }, 'json'],
    ['cloudwatch over cbor', { authorization: auth('monitoring'), 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor' }, 'smithy-rpc-v2-cbor'],
    ['iam (query form)', { authorization: auth('iam'), 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, 'query'],
    ['ec2 (ec2 form)', { authorization: auth('ec2'), 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, 'ec2'],
    ['unsigned, no markers', {}, 'query'],
    ['an unknown signing name', { authorization: auth('no-such-service') }, 'query'],
  ];
  for (const [name, headers, protocol] of cases) t.equal(errorTarget(headers).protocol, protocol, name);
  t.same(errorTarget({ 'content-type': 'application/x-amz-json-1.0' }).jsonVersion, '1.0', 'the json version is echoed');
  t.equal(errorTarget({ authorization: auth('eks') }, { protocol: 'json', service: 'dynamodb' }).protocol, 'json', 'what the broker read wins');
});

t.test('rest-json: a JSON body and x-amzn-ErrorType, as rest-json clients read them', async (t) => {
  const r = renderDenial({ protocol: 'rest-json', service: 'eks' }, { status: 403, message, requestId: 'rid' });
  t.equal(r.status, 403);
  t.equal(r.headers['content-type'], 'application/json');
  t.equal(r.headers['x-amzn-errortype'], 'AccessDeniedException');
  t.same(JSON.parse(String(r.body)), { __type: 'AccessDeniedException', message });
});

t.test('json: the client’s x-amz-json version and __type', async (t) => {
  const r = renderDenial(errorTarget({ 'x-amz-target': 'X.Y', 'content-type': 'application/x-amz-json-1.0' }), { status: 400, message });
  t.equal(r.headers['content-type'], 'application/x-amz-json-1.0');
  t.same(JSON.parse(String(r.body)), { __type: 'ValidationException', message });
});

t.test('smithy-rpc-v2-cbor: a CBOR body the SDK’s own decoder reads, with the smithy-protocol header', async (t) => {
  const r = renderDenial({ protocol: 'smithy-rpc-v2-cbor', service: 'monitoring' }, { status: 403, message: message + ' é'.repeat(200) });
  t.doesNotThrow(() => checkCborResponse({ statusCode: r.status, headers: r.headers } as never), 'the SDK accepts the response as rpc-v2-cbor');
  const data = cbor.deserialize(r.body as Uint8Array) as Record<string, string>;
  t.equal(data.message, message + ' é'.repeat(200), 'a long non-ASCII message survives (two-byte length)');
  t.equal(loadSmithyRpcV2CborErrorCode({ headers: r.headers } as never, data), 'AccessDeniedException', 'the SDK finds the code');
});

t.test('rest-xml: S3 answers <Error>, Route 53 and CloudFront <ErrorResponse><Error>', async (t) => {
  const s3 = renderDenial({ protocol: 'rest-xml', service: 's3' }, { status: 403, message, requestId: 'rid' });
  t.match(String(s3.body), /^<\?xml[^>]*>\n<Error><Code>AccessDenied<\/Code><Message>seb denied the request: op_mismatch \(certificate c-123\): &lt;the &quot;op&quot;&gt; &amp; more<\/Message>/);
  const r53 = renderDenial({ protocol: 'rest-xml', service: 'route53' }, { status: 403, message });
  t.match(String(r53.body), /<ErrorResponse><Error><Type>Sender<\/Type><Code>AccessDenied<\/Code><Message>seb denied/);
});

t.test('query and ec2 stay as they were; control characters never break the XML', async (t) => {
  const r = renderNativeDenial({ 'content-type': 'application/x-www-form-urlencoded' }, null, 503, 'a\u0001b');
  t.equal(r.headers['content-type'], 'text/xml');
  t.match(String(r.body), '<Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>a?b</Message>');
});

t.test('the generated protocol table changes only on purpose', async (t) => {
  // Regenerate with scripts/gen-aws-error-protocols.py; a changed count means a model moved protocol: review it here.
  t.same(table.counts, { json: 143, 'rest-json': 213, 'rest-xml': 3, 'smithy-rpc-v2-cbor': 0, query: 14, ec2: 1 });
  t.equal(Object.keys(table.signingNames).length, 362);
  t.same(table.s3Style, ['s3', 's3-outposts']);
});

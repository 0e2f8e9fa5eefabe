// Parse once (issue 12): a json-protocol body is strictly parsed when the request is understood
// (targets/aws/understand.ts), and the `jcs_sha256` body binding reads that value, not the bytes.
import t from 'tap';
import { matchAwsOp } from '../../../src/targets/aws/match.js';
import { parseOp } from '../../../src/contract/op-schema.js';
import { canonicalJson } from '../../../src/lib/jcs.js';
import { sha256Hex } from '../../../src/lib/digest.js';
import { understandAws } from '../../../src/targets/aws/understand.js';
import type { AwsOperation } from '../../../src/targets/aws/types.js';

const JSON10 = 'application/x-amz-json-1.0';
const item = { TableName: 't', Item: { k: { S: '1' } } };
const op = parseOp({
  target: 'aws', service: 'dynamodb', region: 'us-east-1', operation: 'PutItem', resource: '*', params: {}, headers: {},
  body: { jcs_sha256: sha256Hex(canonicalJson(item)) }, pre_state: null, max_uses: 1,
}, 'op');
const putItem = (json?: Record<string, unknown>): AwsOperation => ({
  service: 'dynamodb', region: 'us-east-1', protocol: 'json', operation: 'PutItem', resource: '*', params: {}, headers: {},
  permissions: [], read: false, credentialVending: false, ...(json ? { json } : {}),
});

t.test('the body binding reads the understood value: the bytes are not parsed again', async (t) => {
  // Bytes that are not JSON at all: only the value understand.ts parsed can match.
  t.equal(matchAwsOp([op], putItem(item), '1', Buffer.from('not parsed again'), JSON10)?.index, 0);
  t.throws(() => matchAwsOp([op], putItem(), '1', Buffer.from('not parsed again'), JSON10), { code: 'unparseable_request' }, 'without it, the bytes are read');
});

t.test('understandAws keeps the json-protocol body it parsed', async (t) => {
  const head = {
    method: 'POST', path: '/', query: '',
    headers: {
      host: 'dynamodb.us-east-1.amazonaws.com', 'content-type': JSON10, 'x-amz-target': 'DynamoDB_20120810.PutItem',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${'ab'.repeat(32)}`,
    },
  };
  const understood = understandAws(head as never, Buffer.from(JSON.stringify(item)))!;
  t.same(understood.json, item);
});

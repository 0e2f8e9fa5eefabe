import t from 'tap';
import { cbor } from '@smithy/core/cbor';
import { awsOpFor } from '../../../src/targets/aws/capture.js';
import { matchAwsOp } from '../../../src/targets/aws/match.js';
import { parseOp } from '../../../src/contract/op-schema.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';
import { understandAws } from '../../../src/targets/aws/understand.js';
import { code } from '../../helpers/reason.js';

const ACCOUNT = '123456789012';
const CW = 'GraniteServiceVersion20100801';
const auth = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/${service}/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${'ab'.repeat(32)}`;

interface Sent {
  readonly r: AwsHttpRequest;
  readonly body: Buffer;
}

/** A CloudWatch request as the SDKs put it on the wire, with `over` changing one part of it. */
function send(operation: string, input: unknown, over: { service?: string; path?: string; method?: string; query?: string; headers?: Record<string, string | undefined>; body?: Buffer } = {}): Sent {
  const headers: Record<string, string> = Object.create(null);
  const all = {
    host: 'monitoring.us-east-1.amazonaws.com',
    authorization: auth(over.service ?? 'monitoring'),
    'x-amz-date': '20261126T000000Z',
    'smithy-protocol': 'rpc-v2-cbor',
    'content-type': 'application/cbor',
    accept: 'application/cbor',
    ...over.headers,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) headers[k] = v;
  const r = { method: over.method ?? 'POST', path: over.path ?? `/service/${CW}/operation/${operation}`, query: over.query ?? '', headers };
  return { r, body: over.body ?? Buffer.from(cbor.serialize(input)) };
}

const alarm = { AlarmName: 'high-cpu', MetricName: 'CPUUtilization', Namespace: 'AWS/EC2', Statistic: 'Average', Period: 60, EvaluationPeriods: 1, Threshold: 80.5, ComparisonOperator: 'GreaterThanThreshold' };

t.test('CloudWatch over rpc-v2-cbor: service, operation, protocol, pinned headers, read flag', async (t) => {
  const { r, body } = send('PutMetricAlarm', alarm);
  t.equal(understandAws(r, null), null, 'the resource is in the body');
  const op = understandAws(r, body)!;
  t.match(op, { service: 'monitoring', region: 'us-east-1', protocol: 'smithy-rpc-v2-cbor', operation: 'PutMetricAlarm', resource: '*', read: false, credentialVending: false });
  t.same(op.headers, { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor' }, 'the protocol and content type are pinned');
  t.same(op.permissions, [{ action: 'cloudwatch:PutMetricAlarm', resource: '*' }]);
  t.equal(op.json, undefined, 'a CBOR body is bound by its bytes, never as JSON');
  const read = understandAws(...args(send('DescribeAlarms', {})))!;
  t.equal(read.read, true, 'DescribeAlarms is on the read allow-list over cbor as over json');
});

t.test('an operation without input: an empty body and no content type (botocore)', async (t) => {
  const { r } = send('ListDashboards', {}, { headers: { 'content-type': undefined } });
  t.equal(understandAws(r, Buffer.alloc(0))!.operation, 'ListDashboards');
});

t.test('a second model behind the signing name (Marketplace Entitlement beside Marketplace Catalog)', async (t) => {
  const { r, body } = send('GetEntitlements', { ProductCode: 'p' }, { service: 'aws-marketplace', path: '/service/AWSMPEntitlementService/operation/GetEntitlements' });
  const op = understandAws(r, body)!;
  t.match(op, { service: 'aws-marketplace', operation: 'GetEntitlements', protocol: 'smithy-rpc-v2-cbor', upstream: { model: 'marketplace-entitlement' } });
});

t.test('seb op capture admits its own request and refuses every changed one', async (t) => {
  const sent = send('PutMetricAlarm', alarm);
  const op = parseOp(JSON.parse(JSON.stringify(awsOpFor(understandAws(sent.r, sent.body)!, ACCOUNT, sent.body, 'application/cbor'))), 'op');
  t.ok('sha256' in op.body!, 'the body is pinned by its bytes');
  const admit = (s: Sent) => code(() => matchAwsOp([op], understandAws(s.r, s.body)!, ACCOUNT, s.body, s.r.headers['content-type']));
  t.equal(admit(sent), 'ok');
  t.equal(admit(send('PutMetricAlarm', { ...alarm, Threshold: 99 })), 'body_mismatch', 'a changed member');
  t.equal(admit(send('PutMetricAlarm', { ...alarm, Threshold: 80.5, AlarmDescription: 'x' })), 'body_mismatch', 'an added member');
  t.equal(admit(send('DeleteAlarms', { AlarmNames: ['high-cpu'] })), 'contract_mismatch', 'another operation');
  t.equal(admit(send('PutMetricAlarm', alarm, { headers: { 'x-amzn-query-mode': 'true' } })), 'contract_mismatch', 'an added semantic header');
});

t.test('refused: anything that could name another operation or be read two ways', async (t) => {
  const good = (over: Parameters<typeof send>[2]) => () => understandAws(...args(send('PutMetricAlarm', alarm, over)));
  const cases: [string, () => unknown][] = [
    ['no smithy-protocol header on a cbor path', good({ headers: { 'smithy-protocol': undefined } })],
    ['another smithy-protocol', good({ headers: { 'smithy-protocol': 'rpc-v2-json' } })],
    ['X-Amz-Target beside the path', good({ headers: { 'x-amz-target': 'GraniteServiceVersion20100801.DeleteAlarms' } })],
    ['a json content type', good({ headers: { 'content-type': 'application/x-amz-json-1.0' } })],
    ['a body without a content type', good({ headers: { 'content-type': undefined } })],
    ['a query string', good({ query: 'Action=DeleteAlarms' })],
    ['GET', good({ method: 'GET' })],
    ['a path with a prefix', good({ path: `/x/service/${CW}/operation/PutMetricAlarm` })],
    ['a path with a trailing slash', good({ path: `/service/${CW}/operation/PutMetricAlarm/` })],
    ['a percent-escaped operation', good({ path: `/service/${CW}/operation/Put%4DetricAlarm` })],
    ['an unknown operation', good({ path: `/service/${CW}/operation/DropEverything` })],
    ['another service name', good({ path: '/service/DynamoDB_20120810/operation/PutMetricAlarm' })],
    ['a service of another signing name', good({ service: 'gamelift', path: `/service/${CW}/operation/PutMetricAlarm` })],
    ['a service without cbor', good({ service: 'dynamodb', path: '/service/DynamoDB_20120810/operation/PutItem' })],
    ['the json path', good({ path: '/' })],
    ['a top-level Action', good({ body: Buffer.from(cbor.serialize({ ...alarm, Action: 'DeleteAlarms' })) })],
    ['a body that is a list', good({ body: Buffer.from(cbor.serialize([alarm])) })],
    ['a body that is text', good({ body: Buffer.from(cbor.serialize('x')) })],
    ['duplicate keys', good({ body: Buffer.from('a2 6141 01 6141 02'.replace(/ /g, ''), 'hex') })],
    ['an indefinite-length map', good({ body: Buffer.from('bf 6141 01 ff'.replace(/ /g, ''), 'hex') })],
    ['a body that is JSON', good({ body: Buffer.from(JSON.stringify(alarm)) })],
    ['trailing bytes', good({ body: Buffer.concat([Buffer.from(cbor.serialize(alarm)), Buffer.from([0])]) })],
    // One step from the SDKs' request: the path, the protocol header, the content type, the Action key.
    ['a dot segment in the path', good({ path: `/service/${CW}/operation/../operation/PutMetricAlarm` })],
    ['a doubled slash', good({ path: `//service/${CW}/operation/PutMetricAlarm` })],
    ['an encoded slash', good({ path: `/service/${CW}%2Foperation%2FPutMetricAlarm` })],
    ['a percent-escaped service name', good({ path: `/service/Granite%53erviceVersion20100801/operation/PutMetricAlarm` })],
    ['a ; path parameter', good({ path: `/service/${CW}/operation/PutMetricAlarm;x=1` })],
    ['an operation name in another case', good({ path: `/service/${CW}/operation/putMetricAlarm` })],
    ['smithy-protocol in upper case', good({ headers: { 'smithy-protocol': 'RPC-V2-CBOR' } })],
    ['smithy-protocol listing two protocols', good({ headers: { 'smithy-protocol': 'rpc-v2-cbor, rpc-v2-cbor' } })],
    ['a content type with a parameter', good({ headers: { 'content-type': 'application/cbor; charset=utf-8' } })],
    ['a bare query name', good({ query: 'x' })],
    ['a top-level Action whose key has a longer head', good({ body: Buffer.from('a1 78 06 416374696f6e 61 41'.replace(/ /g, ''), 'hex') })],
  ];
  for (const [name, fn] of cases) t.equal(code(fn), 'unparseable_request', name);
});

function args(s: Sent): [AwsHttpRequest, Buffer] {
  return [s.r, s.body];
}

/**
 * Several models behind one signing name (issue 13): the request picks the model the way the
 * service does (X-Amz-Target prefix, query Version, REST path, the host for S3 Control), the
 * broker sends it to that model's host from its own table, and a request that cannot tell is
 * refused. Host-prefixed operations go to the prefixed host, computed from the pinned request.
 */
import t from 'tap';
import { code } from '../../helpers/reason.js';
import { resolveEndpoint } from '../../../src/targets/aws/endpoints.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';
import { understandAws } from '../../../src/targets/aws/understand.js';
import { fillHostPrefix } from '../../../src/targets/aws/upstream-host.js';

const NONE: Record<string, string> = Object.freeze(Object.create(null));
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';

interface Wire {
  readonly service: string;
  readonly method?: string;
  readonly path?: string;
  readonly query?: string;
  readonly host?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

function request(w: Wire): { r: AwsHttpRequest; body: Buffer } {
  const headers: Record<string, string> = Object.assign(Object.create(null), {
    host: w.host ?? '127.0.0.1:15001',
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/${w.service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`,
    'x-amz-date': '20261126T000000Z',
    ...w.headers,
  });
  return { r: { method: w.method ?? 'POST', path: w.path ?? '/', query: w.query ?? '', headers }, body: Buffer.from(w.body ?? '') };
}
const json = (service: string, target: string, version = '1.0'): Wire => ({
  service,
  headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amz-target': target },
  body: '{}',
});
const form = (service: string, body: string): Wire => ({ service, headers: { 'content-type': FORM }, body });
const S3_CONTROL = '123456789012.s3-control.us-east-1.amazonaws.com';
const ACCOUNT = { 'x-amz-account-id': '123456789012' };

/** What the broker reads, and the origin it would send the request to with no overrides. */
function read(w: Wire): { service: string; operation: string; model: string | null; origin: string } {
  const { r, body } = request(w);
  const op = understandAws(r, body)!;
  return {
    service: op.service,
    operation: op.operation,
    model: op.upstream?.model ?? null,
    origin: resolveEndpoint(op.service, op.region, NONE, op.upstream).origin,
  };
}

t.test('each model behind a shared signing name is read and sent to its own host', async (t) => {
  const cases: [string, Wire, string, string | null, string][] = [
    ['DynamoDB itself', json('dynamodb', 'DynamoDB_20120810.ListTables'), 'ListTables', null, 'https://dynamodb.us-east-1.amazonaws.com'],
    ['DynamoDB Streams', json('dynamodb', 'DynamoDBStreams_20120810.ListStreams'), 'ListStreams', 'dynamodbstreams', 'https://streams.dynamodb.us-east-1.amazonaws.com'],
    ['ELBv2 by its Version', form('elasticloadbalancing', 'Action=DescribeLoadBalancers&Version=2015-12-01'), 'DescribeLoadBalancers', null, 'https://elasticloadbalancing.us-east-1.amazonaws.com'],
    ['classic ELB by its Version', form('elasticloadbalancing', 'Action=DescribeLoadBalancers&Version=2012-06-01'), 'DescribeLoadBalancers', 'elb', 'https://elasticloadbalancing.us-east-1.amazonaws.com'],
    ['classic ELB only', form('elasticloadbalancing', 'Action=ConfigureHealthCheck&Version=2012-06-01'), 'ConfigureHealthCheck', 'elb', 'https://elasticloadbalancing.us-east-1.amazonaws.com'],
    ['Timestream query', json('timestream', 'Timestream_20181101.Query'), 'Query', null, 'https://query.timestream.us-east-1.amazonaws.com'],
    ['Timestream write, same target prefix', json('timestream', 'Timestream_20181101.WriteRecords'), 'WriteRecords', 'timestream-write', 'https://ingest.timestream.us-east-1.amazonaws.com'],
    ['Kinesis Analytics v1', json('kinesisanalytics', 'KinesisAnalytics_20150814.ListApplications', '1.1'), 'ListApplications', 'kinesisanalytics', 'https://kinesisanalytics.us-east-1.amazonaws.com'],
    ['Kinesis Analytics v2', json('kinesisanalytics', 'KinesisAnalytics_20180523.ListApplications', '1.1'), 'ListApplications', null, 'https://kinesisanalytics.us-east-1.amazonaws.com'],
    ['CloudHSM v1', json('cloudhsm', 'CloudHsmFrontendService.ListHsms', '1.1'), 'ListHsms', 'cloudhsm', 'https://cloudhsm.us-east-1.amazonaws.com'],
    ['CloudHSM v2', json('cloudhsm', 'BaldrApiService.DescribeClusters', '1.1'), 'DescribeClusters', null, 'https://cloudhsmv2.us-east-1.amazonaws.com'],
    ['Forecast query', json('forecast', 'AmazonForecastRuntime.QueryForecast', '1.1'), 'QueryForecast', 'forecastquery', 'https://forecastquery.us-east-1.amazonaws.com'],
    ['Keyspaces streams', json('cassandra', 'KeyspacesStreams.ListStreams'), 'ListStreams', 'keyspacesstreams', 'https://cassandra-streams.us-east-1.amazonaws.com'],
    ['Migration Hub config', json('mgh', 'AWSMigrationHubMultiAccountService.DescribeHomeRegionControls', '1.1'), 'DescribeHomeRegionControls', 'migrationhub-config', 'https://migrationhub-config.us-east-1.amazonaws.com'],
    ['SES v1 (query)', form('ses', 'Action=ListIdentities&Version=2010-12-01'), 'ListIdentities', null, 'https://email.us-east-1.amazonaws.com'],
    ['SES v2 (rest-json)', { service: 'ses', method: 'GET', path: '/v2/email/contact-lists' }, 'ListContactLists', 'sesv2', 'https://email.us-east-1.amazonaws.com'],
    ['Mail Manager (json)', json('ses', 'MailManagerSvc.ListRelays'), 'ListRelays', 'mailmanager', 'https://mail-manager.us-east-1.amazonaws.com'],
    ['API Gateway v1', { service: 'apigateway', method: 'GET', path: '/restapis' }, 'GetRestApis', null, 'https://apigateway.us-east-1.amazonaws.com'],
    ['API Gateway v2', { service: 'apigateway', method: 'GET', path: '/v2/apis' }, 'GetApis', 'apigatewayv2', 'https://apigateway.us-east-1.amazonaws.com'],
    // Chime's own model is global; the SDK models beside it are regional.
    ['Chime SDK voice', { service: 'chime', method: 'GET', path: '/sip-media-applications' }, 'ListSipMediaApplications', 'chime-sdk-voice', 'https://voice-chime.us-east-1.amazonaws.com'],
  ];
  for (const [name, wire, operation, model, origin] of cases) {
    t.same(read(wire), { service: wire.service, operation, model, origin }, name);
  }
});

t.test('S3 Control is told from S3 by the host the client addressed, and sent to the account host', async (t) => {
  const list = { service: 's3', method: 'GET', path: '/v20180820/accesspoint', host: S3_CONTROL, headers: ACCOUNT };
  t.same(read(list), { service: 's3', operation: 'ListAccessPoints', model: 's3control', origin: `https://${S3_CONTROL}` });
  // Without the account label (host prefix injection off) the broker adds it from the pinned header.
  t.same(read({ ...list, host: 's3-control.us-east-1.amazonaws.com' }).origin, `https://${S3_CONTROL}`);
  // An operation without a host prefix goes to the plain S3 Control host.
  t.same(read({ service: 's3', method: 'PUT', path: '/v20180820/bucket/b1', host: 's3-control.us-east-1.amazonaws.com', headers: ACCOUNT }), {
    service: 's3',
    operation: 'CreateBucket',
    model: 's3control',
    origin: 'https://s3-control.us-east-1.amazonaws.com',
  });
  // S3 itself, at any other host, is unchanged.
  t.same(read({ service: 's3', method: 'GET', path: '/reports/q3.csv' }), {
    service: 's3',
    operation: 'GetObject',
    model: null,
    origin: 'https://s3.us-east-1.amazonaws.com',
  });
  const { r } = request({ service: 's3', method: 'GET', path: '/v20180820/accesspoint', host: S3_CONTROL, headers: ACCOUNT });
  t.match(understandAws(r, null), { params: {}, headers: { 'x-amz-account-id': '123456789012' } }, 'the account is pinned as a semantic header');
});

t.test('greengrass and greengrassv2 send one request for an operation both have: one row, one reading', async (t) => {
  // v1 names the label {ThingName}, v2 {thingName}: same method, path and host, so one request.
  const info = { service: 'greengrass', method: 'GET', path: '/greengrass/things/thing%201/connectivityInfo' };
  t.same(read(info), { service: 'greengrass', operation: 'GetConnectivityInfo', model: null, origin: 'https://greengrass.us-east-1.amazonaws.com' });
  const tags = read({ service: 'greengrass', method: 'GET', path: '/tags/arn%3Aaws%3Agreengrass%3Aus-east-1%3A123456789012%3Acomponents%3Ac' });
  t.equal(tags.operation, 'ListTagsForResource');
  const near: [string, Wire][] = [
    ['another case of a literal segment', { ...info, path: '/greengrass/things/thing%201/connectivityinfo' }],
    ['an empty label', { ...info, path: '/greengrass/things//connectivityInfo' }],
    ['a query name neither model binds', { ...info, query: 'x=1' }],
  ];
  for (const [name, w] of near) t.equal(code(() => read(w)), 'unparseable_request', name);
});

t.test('a literal host prefix is added to the model host', async (t) => {
  t.same(read({ service: 'deadline', method: 'GET', path: '/2023-10-12/farms' }), {
    service: 'deadline',
    operation: 'ListFarms',
    model: 'deadline',
    origin: 'https://management.deadline.us-east-1.amazonaws.com',
  });
  t.same(read({ service: 'deadline', method: 'GET', path: '/2023-10-12/farms', host: 'management.deadline.us-east-1.amazonaws.com' }).origin, 'https://management.deadline.us-east-1.amazonaws.com');
});

t.test('a json operation with a host prefix is sent to the prefixed host (Step Functions sync-, Cloud Map data-)', async (t) => {
  t.same(read(json('states', 'AWSStepFunctions.StartSyncExecution')), {
    service: 'states',
    operation: 'StartSyncExecution',
    model: 'stepfunctions',
    origin: 'https://sync-states.us-east-1.amazonaws.com',
  });
  t.equal(read(json('servicediscovery', 'Route53AutoNaming_v20170314.DiscoverInstances', '1.1')).origin, 'https://data-servicediscovery.us-east-1.amazonaws.com');
  t.same(read(json('states', 'AWSStepFunctions.StartExecution')), { service: 'states', operation: 'StartExecution', model: null, origin: 'https://states.us-east-1.amazonaws.com' }, 'the model\'s other operations stay at its own host');
  const other = { ...json('states', 'AWSStepFunctions.StartSyncExecution'), host: 'evil-states.us-east-1.amazonaws.com' };
  t.equal(code(() => read(other)), 'unparseable_request', 'a Host whose prefix disagrees with the operation');
  const upper = { ...json('states', 'AWSStepFunctions.StartSyncExecution'), host: 'SYNC-States.us-east-1.amazonaws.com' };
  t.equal(read(upper).origin, 'https://sync-states.us-east-1.amazonaws.com', 'host names are compared case-blind, as DNS does');
  t.equal(read(json('cloudtrail', 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails', '1.1')).operation, 'DescribeTrails', 'a dotted target prefix: the last dot splits');
});

t.test('an endpoint override for a model wins over the signing name, and is used as it is', async (t) => {
  const { r, body } = request(json('dynamodb', 'DynamoDBStreams_20120810.ListStreams'));
  const op = understandAws(r, body)!;
  const overrides = { dynamodb: 'http://127.0.0.1:1', dynamodbstreams: 'http://127.0.0.1:2' };
  t.equal(resolveEndpoint(op.service, op.region, overrides, op.upstream).origin, 'http://127.0.0.1:2');
  t.equal(resolveEndpoint(op.service, op.region, { dynamodb: 'http://127.0.0.1:1' }, op.upstream).origin, 'http://127.0.0.1:1');
});

t.test('a request that cannot tell its model, or whose host disagrees, is refused', async (t) => {
  const cases: [string, Wire][] = [
    ['an operation both Timestream models have, under their one target prefix', json('timestream', 'Timestream_20181101.TagResource')],
    ['a query Version no model of the signing name has', form('elasticloadbalancing', 'Action=DescribeLoadBalancers&Version=2011-01-01')],
    ['an ELBv2-only action at the classic Version', form('elasticloadbalancing', 'Action=DescribeTargetGroups&Version=2012-06-01')],
    ['a target prefix of another signing name', json('dynamodb', 'Kinesis_20131202.ListStreams', '1.1')],
    ['the S3 Control path at a host that is not S3 Control (also a bucket name)', { service: 's3', method: 'GET', path: '/v20180820/accesspoint', headers: ACCOUNT }],
    ['an object in the bucket v20180820 at a plain host', { service: 's3', method: 'GET', path: '/v20180820/key' }],
    ['S3 Control without the account header its host prefix needs', { service: 's3', method: 'GET', path: '/v20180820/accesspoint', host: S3_CONTROL }],
    ['an account header that is not one DNS label', { service: 's3', method: 'GET', path: '/v20180820/accesspoint', host: 's3-control.us-east-1.amazonaws.com', headers: { 'x-amz-account-id': 'a.evil.com' } }],
    ['a Host whose account prefix disagrees with the pinned header', { service: 's3', method: 'GET', path: '/v20180820/accesspoint', host: '111111111111.s3-control.us-east-1.amazonaws.com', headers: ACCOUNT }],
    ['an account Host for an operation without a host prefix', { service: 's3', method: 'PUT', path: '/v20180820/bucket/b1', host: S3_CONTROL, headers: ACCOUNT }],
    ['a Host whose literal prefix disagrees with the operation', { service: 'deadline', method: 'GET', path: '/2023-10-12/farms', host: 'scheduling.deadline.us-east-1.amazonaws.com' }],
    // Host prefixes and dotted target prefixes, one step away from what the model says.
    ['a sync- Host for an operation the plain host serves', { ...json('states', 'AWSStepFunctions.StartExecution'), host: 'sync-states.us-east-1.amazonaws.com' }],
    ['another label before the prefixed endpoint', { ...json('states', 'AWSStepFunctions.StartSyncExecution'), host: 'x.sync-states.us-east-1.amazonaws.com' }],
    ['a Logs Host with a longer prefix than stream-', { ...json('logs', 'Logs_20140328.GetLogObject', '1.1'), host: 'streaming-logs.us-east-1.amazonaws.com' }],
    ['a data- Host for a Cloud Map operation without a prefix', { ...json('servicediscovery', 'Route53AutoNaming_v20170314.ListServices', '1.1'), host: 'data-servicediscovery.us-east-1.amazonaws.com' }],
    ['an operation name in another case', json('states', 'AWSStepFunctions.startSyncExecution')],
    ['a dotted target prefix cut short', json('cloudtrail', 'CloudTrail_20131101.DescribeTrails', '1.1')],
    ['a dotted target prefix with an extra label', json('cloudtrail', 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.x.DescribeTrails', '1.1')],
    ['a dotted target prefix and no operation', json('cloudtrail', 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.', '1.1')],
    // bedrock and bedrock-data-automation both have TagResource at POST /tagResource, at two hosts
    // (opensearch's ListTags beside es's is read: both bind and forward the same, shared-routes.test.ts).
    ['a rest operation a certificate could not tell from another model', { service: 'bedrock', method: 'POST', path: '/tagResource' }],
  ];
  for (const [name, wire] of cases) {
    const { r, body } = request(wire);
    t.equal(code(() => understandAws(r, body)), 'unparseable_request', name);
  }
  t.equal(code(() => fillHostPrefix('{body:GraphId}.', NONE)), 'unparseable_request', 'a host prefix taken from the body');
});

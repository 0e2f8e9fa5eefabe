// SPEC §2.2 run-time values in matching: each named value is read out of the request and replaced
// by its kind's marker, every other byte stays pinned, and each kind's own check is a table of
// input -> reason. Capture computes the same marked digest the broker matches against.
import t from 'tap';
import { createHash } from 'node:crypto';
import { resolveRequestInfo } from '../../src/targets/kube/request-info.js';
import { kubeFacts } from '../../src/targets/kube/facts.js';
import { matchKubeOp } from '../../src/targets/kube/match.js';
import { matchAwsOp } from '../../src/targets/aws/match.js';
import { awsOpFor } from '../../src/targets/aws/capture.js';
import { kubeOpFor } from '../../src/targets/kube/capture.js';
import { checkVolatile, entriesOf, markedBody, rfc3339Seconds, type SeenValue } from '../../src/contract/run-time-values.js';
import { findFormField, findXmlText } from '../../src/contract/body-places.js';
import { parseOp } from '../../src/contract/op-schema.js';
import type { AwsOperation } from '../../src/targets/aws/types.js';
import { code } from '../helpers/reason.js';

const RESTARTED = '/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt';
const restartBody = (at: unknown, replicas?: number): string =>
  JSON.stringify({ spec: { ...(replicas ? { replicas } : {}), template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } });
const restartFacts = (body: string) =>
  kubeFacts(resolveRequestInfo('PATCH', '/apis/apps/v1/namespaces/web/deployments/web', 'fieldManager=kubectl-rollout'), 'application/strategic-merge-patch+json', Buffer.from(body));

t.test('parse once: a marked JSON body is read from the shared parsed value, which stays as it was', async (t) => {
  const captured = kubeOpFor(restartFacts(restartBody('2026-12-05T16:00:00Z')), Buffer.from(restartBody('2026-12-05T16:00:00Z')));
  const op = parseOp(JSON.parse(JSON.stringify(captured)), 'op');
  const later = restartBody('2026-12-05T16:03:10Z');
  const shared = JSON.parse(later) as unknown;
  const before = JSON.stringify(shared);
  let parses = 0;
  const json = (): unknown => (parses++, shared);
  // Bytes that are not JSON: a second parse of the payload would refuse them; the shared value matches.
  const m = matchKubeOp([op], restartFacts(later), Buffer.from('not json'), json);
  t.same(m.values, [{ at: RESTARTED, value: '2026-12-05T16:03:10Z', kind: 'timestamp' }]);
  t.equal(parses, 1, 'the body was parsed once, by the caller');
  t.equal(JSON.stringify(shared), before, 'the marker went into a copy: drift and the next op read the body as sent');
});

t.test('kubectl rollout restart: capture marks restartedAt, any timestamp there matches, nothing else varies', async (t) => {
  const captured = kubeOpFor(restartFacts(restartBody('2026-12-05T16:00:00Z')), Buffer.from(restartBody('2026-12-05T16:00:00Z')));
  t.same(captured.volatile, [{ at: RESTARTED, kind: 'timestamp' }]);
  const op = parseOp(JSON.parse(JSON.stringify(captured)), 'op');
  const later = restartBody('2026-12-05T16:03:10Z');
  const m = matchKubeOp([op], restartFacts(later), Buffer.from(later));
  t.same(m.values, [{ at: RESTARTED, value: '2026-12-05T16:03:10Z', kind: 'timestamp' }]);
  const other = restartBody('2026-12-05T16:03:10Z', 5);
  t.equal(code(() => matchKubeOp([op], restartFacts(other), Buffer.from(other))), 'body_mismatch', 'another byte changed');
  const numeric = restartBody(1);
  t.equal(code(() => matchKubeOp([op], restartFacts(numeric), Buffer.from(numeric))), 'body_mismatch', 'not a string there');
  const marker = restartBody('\u0000seb:timestamp');
  t.equal(matchKubeOp([op], restartFacts(marker), Buffer.from(marker)).values[0]!.value, '\u0000seb:timestamp', 'the marker itself matches, and then fails its kind check');
  t.equal(code(() => checkVolatile(matchKubeOp([op], restartFacts(marker), Buffer.from(marker)).values, { nbf: 0, exp: 2e9, now: 1.8e9, skew: 30 })), 'body_mismatch');
  const plain = kubeOpFor(restartFacts('{"spec":{"replicas":2}}'), Buffer.from('{"spec":{"replicas":2}}'));
  t.notOk('volatile' in plain, 'a patch without restartedAt has no run-time values');
  const patched = restartBody('2026-11-26T00:00:00Z');
  const byPatch = kubeFacts(resolveRequestInfo('PATCH', '/apis/apps/v1/namespaces/web/deployments/web', 'fieldManager=kubectl-patch'), 'application/strategic-merge-patch+json', Buffer.from(patched));
  t.notOk('volatile' in kubeOpFor(byPatch, Buffer.from(patched)), 'kubectl patch chose its restartedAt: it stays pinned');
});

const ec2 = (): AwsOperation => ({
  service: 'ec2', region: 'us-east-1', protocol: 'ec2', operation: 'RunInstances', resource: '*', params: {}, headers: {},
  permissions: [], read: false, credentialVending: false,
});
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';
const T1 = '6f1c1d52-1a2b-4c3d-8e4f-0123456789ab';
const T2 = '0d9a51e2-5b7c-4d3e-9f10-fedcba987654';
const run = (token: string, image = 'ami-1'): string => `Action=RunInstances&Version=2016-11-15&ImageId=${image}&MinCount=1&MaxCount=1&ClientToken=${token}`;

t.test('ec2 RunInstances: the generated ClientToken is a form field marked idempotency_token', async (t) => {
  const captured = awsOpFor(ec2(), '123456789012', Buffer.from(run(T1)), FORM);
  t.same(captured.volatile, [{ at: 'form:ClientToken', kind: 'idempotency_token' }]);
  const marked = createHash('sha256').update(`Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1&MaxCount=1&ClientToken=\u0000seb:idempotency_token`).digest('hex');
  t.same(captured.body, { sha256: marked }, 'the marker replaces the raw value bytes');
  const op = parseOp(JSON.parse(JSON.stringify(captured)), 'op');
  t.same(matchAwsOp([op], ec2(), '123456789012', Buffer.from(run(T2)), FORM)!.values, [{ at: 'form:ClientToken', value: T2, kind: 'idempotency_token' }]);
  const cases: [string, string][] = [
    ['another image', run(T2, 'ami-2')],
    ['token twice', `${run(T1)}&ClientToken=${T2}`],
    ['token absent', 'Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1&MaxCount=1'],
    ['a NUL in the body', run(`${T1}%00`).replace('%00', '\u0000')],
    ['the value holds the next field', run(`${T1}&ImageId=ami-2`)],
  ];
  for (const [name, body] of cases) t.equal(code(() => matchAwsOp([op], ec2(), '123456789012', Buffer.from(body), FORM)), 'body_mismatch', name);
  const noToken = awsOpFor(ec2(), '1', Buffer.from('Action=RunInstances&Version=2016-11-15&ClientToken2=x'), FORM);
  t.notOk('volatile' in noToken, 'no token sent, none marked');
  const chosen = awsOpFor(ec2(), '1', Buffer.from(run('run-1')), FORM);
  t.notOk('volatile' in chosen, 'a token the caller chose (not the SDK form) stays pinned');
});

t.test('dynamodb TransactWriteItems: a generated ClientRequestToken in a JSON body', async (t) => {
  const ddb: AwsOperation = { service: 'dynamodb', region: 'us-east-1', protocol: 'json', operation: 'TransactWriteItems', resource: '*', params: {}, headers: {}, permissions: [], read: false, credentialVending: false };
  const body = (token: string, table = 't') => JSON.stringify({ TransactItems: [{ Put: { TableName: table, Item: { k: { S: '1' } } } }], ClientRequestToken: token });
  const JSON10 = 'application/x-amz-json-1.0';
  const captured = awsOpFor(ddb, '1', Buffer.from(body(T1)), JSON10);
  t.same(captured.volatile, [{ at: '/ClientRequestToken', kind: 'idempotency_token' }]);
  t.match(captured.body, { jcs_sha256: /^[0-9a-f]{64}$/ });
  const op = parseOp(JSON.parse(JSON.stringify(captured)), 'op');
  t.same(matchAwsOp([op], ddb, '1', Buffer.from(body(T2)), JSON10)!.values.map((v) => v.value), [T2]);
  t.equal(code(() => matchAwsOp([op], ddb, '1', Buffer.from(body(T2, 'u')), JSON10)), 'body_mismatch');
  t.equal(code(() => matchAwsOp([op], ddb, '1', Buffer.from(body(T2)), 'text/plain')), 'body_mismatch', 'read as JSON only under a JSON media type');
});

const s3 = (operation: string, params: Record<string, string>): AwsOperation => ({
  service: 's3', region: 'us-east-1', protocol: 'rest-xml', operation, resource: 'arn:aws:s3:::b/k', params, headers: {},
  permissions: [], read: false, credentialVending: false,
});
const completeXml = (e1: string, e2: string, extra = ''): string =>
  `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>${e1}</ETag><PartNumber>1</PartNumber></Part>${extra}<Part><ETag>${e2}</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`;

t.test('S3 multipart: a bound uploadId parameter and bound part ETags in the XML body', async (t) => {
  const create = parseOp({ target: 'aws', service: 's3', region: 'us-east-1', operation: 'CreateMultipartUpload', resource: 'arn:aws:s3:::b/k', params: {}, headers: {}, body: null, pre_state: null, max_uses: 1 }, 'op');
  const bind = [{ at: 'query:uploadId', from: { op: 0, value: 'xml:UploadId' } }, { at: 'xml:Part[1]/ETag', from: { op: 0, value: 'header:etag' } }, { at: 'xml:Part[2]/ETag', from: { op: 0, value: 'header:etag' } }];
  const captured = awsOpFor(s3('CompleteMultipartUpload', { uploadId: 'u1' }), '1', Buffer.from(completeXml('"a"', '"b"')), 'application/xml', bind);
  t.equal(captured.params['uploadId'], '\u0000seb:bind');
  const op = parseOp(JSON.parse(JSON.stringify(captured)), 'op', [create]);
  const m = matchAwsOp([op], s3('CompleteMultipartUpload', { uploadId: 'u2' }), '1', Buffer.from(completeXml('"c"', '&quot;d&quot;')), 'application/xml')!;
  t.same(m.values.map((v) => [v.at, v.value]), [['query:uploadId', 'u2'], ['xml:Part[1]/ETag', '"c"'], ['xml:Part[2]/ETag', '"d"']], 'entities decoded');
  t.equal(code(() => matchAwsOp([op], s3('CompleteMultipartUpload', {}), '1', Buffer.from(completeXml('"c"', '"d"')), 'application/xml')), 'contract_mismatch', 'uploadId absent');
  const bodies: [string, string][] = [
    ['a third part', completeXml('"c"', '"d"', '<Part><ETag>"e"</ETag><PartNumber>3</PartNumber></Part>')],
    ['markup inside the value', completeXml('"c"</ETag><ETag>"x"', '"d"')],
    ['a comment hides a part', completeXml('"c"', '"d"', '<!-- x -->')],
    ['a character reference', completeXml('&#34;c&#34;', '"d"')],
  ];
  for (const [name, body] of bodies) t.equal(code(() => matchAwsOp([op], s3('CompleteMultipartUpload', { uploadId: 'u2' }), '1', Buffer.from(body), 'application/xml')), 'body_mismatch', name);
});

t.test('body place finders read one exact place or nothing', async (t) => {
  t.same(findFormField(Buffer.from('a=1&b=x%2By+z&c='), 'b'), { start: 6, end: 13, value: 'x+y z' });
  t.equal(findFormField(Buffer.from('a=1&a=2'), 'a'), null, 'repeated');
  t.equal(findFormField(Buffer.from('a&b=1'), 'a'), null, 'no value');
  t.equal(findFormField(Buffer.from('a=%E0'), 'a'), null, 'bad encoding');
  t.equal(findFormField(Buffer.from('%61=1'), 'a')?.value, '1', 'names are decoded as the upstream decodes them');
  const xml = (s: string) => findXmlText(Buffer.from(s), [{ name: 'UploadId', nth: 1 }])?.value ?? null;
  t.equal(xml('<?xml version="1.0" encoding="UTF-8"?>\n<R xmlns="x"><Bucket>b</Bucket><UploadId>u-1</UploadId></R>'), 'u-1');
  t.equal(xml('<R><UploadId>u</UploadId><UploadId>v</UploadId></R>'), 'u', 'the first by default; [2] names the second');
  t.equal(findXmlText(Buffer.from('<R><UploadId>u</UploadId><UploadId>v</UploadId></R>'), [{ name: 'UploadId', nth: 2 }])?.value, 'v');
  const refused = ['<R><UploadId>u</UploadId>', '<R><UploadId>u</UploadId></R><R/>', 'x<R><UploadId>u</UploadId></R>', '<R><UploadId><a/>u</UploadId></R>', '<R><UploadId>u</Other></R>', '<R><![CDATA[<UploadId>u</UploadId>]]></R>', '<R><UploadId>u&x;</UploadId></R>', '<R><UploadId/></R>'];
  for (const body of refused) t.equal(xml(body), null, body);
});

t.test('the marked body is the same whatever the values', async (t) => {
  const entries = entriesOf({ volatile: [{ at: 'form:T', kind: 'idempotency_token' }] });
  const a: SeenValue[] = [];
  const b: SeenValue[] = [];
  t.equal(markedBody(entries, Buffer.from(`x=1&T=${T1}`), a), markedBody(entries, Buffer.from(`x=1&T=${T2}`), b));
  t.not(markedBody(entries, Buffer.from(`x=2&T=${T1}`), []), markedBody(entries, Buffer.from(`x=1&T=${T1}`), []));
});

t.test('kind checks: input -> reason', async (t) => {
  const w = { nbf: 1_800_000_000, exp: 1_800_000_900, now: 1_800_000_100, skew: 30 };
  const at = (v: string) => new Date((w.now + Number(v)) * 1000).toISOString().replace('.000Z', 'Z');
  const ts = (value: string, where = RESTARTED): SeenValue[] => [{ at: where, value, kind: 'timestamp' }];
  const tok = (value: string, where = 'form:ClientToken'): SeenValue[] => [{ at: where, value, kind: 'idempotency_token' }];
  const cases: [string, SeenValue[], string][] = [
    ['now', ts(at('0')), 'ok'],
    ['within the skew ahead', ts(at('30')), 'ok'],
    ['beyond the skew ahead', ts(at('31')), 'body_mismatch'],
    ['beyond the skew behind', ts(at('-31')), 'body_mismatch'],
    ['an offset zone', ts(new Date(w.now * 1000 + 3_600_000).toISOString().replace('.000Z', '+01:00')), 'ok'],
    ['fractional seconds', ts(at('0').replace('Z', '.123456789Z')), 'ok'],
    ['before nbf - skew (clock far behind)', [{ at: RESTARTED, value: new Date((w.nbf - 31) * 1000).toISOString(), kind: 'timestamp' }], 'body_mismatch'],
    ['lower-case t', ts(at('0').replace('T', 't')), 'body_mismatch'],
    ['no zone', ts(at('0').replace('Z', '')), 'body_mismatch'],
    ['february 30', ts('2027-02-30T00:00:00Z'), 'body_mismatch'],
    ['hour 24', ts('2027-01-01T24:00:00Z'), 'body_mismatch'],
    ['epoch seconds', ts(String(w.now)), 'body_mismatch'],
    ['timestamp in a query parameter', ts('x', 'query:t'), 'contract_mismatch'],
    ['uuid v4', tok(T1), 'ok'],
    ['upper-case uuid', tok(T1.toUpperCase()), 'body_mismatch'],
    ['uuid v1', tok('6f1c1d52-1a2b-1c3d-8e4f-0123456789ab'), 'body_mismatch'],
    ['wrong variant', tok('6f1c1d52-1a2b-4c3d-0e4f-0123456789ab'), 'body_mismatch'],
    ['chosen text', tok('run-me-twice'), 'body_mismatch'],
    ['token in a header', tok('x', 'header:x-amz-client-token'), 'contract_mismatch'],
  ];
  for (const [name, values, want] of cases) t.equal(code(() => checkVolatile(values, w)) ?? 'ok', want, name);
  t.equal(rfc3339Seconds('1970-01-01T00:00:10+00:01'), -50);
});

/**
 * REST operations of one name that several models behind one signing name share (issue 13): a
 * certificate pins the operation, its labels and query, never the model, so both models' rows are
 * read only when every reading binds and forwards the same (scripts/gen-aws-services.py
 * reading_of). This checks the generator's decision against the broker's own reading of every such
 * row, and that the near misses (another host, another IAM resource, other query names) stay
 * refused, naming the models.
 */
import t from 'tap';
import data from '../../../src/targets/aws/data/rest-routes.json' with { type: 'json' };
import { code } from '../../helpers/reason.js';
import { resolveEndpoint } from '../../../src/targets/aws/endpoints.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';
import { understandAws } from '../../../src/targets/aws/understand.js';

type Row = readonly [string, string, string, readonly string[], string, string];
const ROUTES = data.routes as unknown as Readonly<Record<string, readonly Row[]>>;

function req(service: string, method: string, path: string, query = ''): AwsHttpRequest {
  const headers: Record<string, string> = Object.assign(Object.create(null), {
    host: '127.0.0.1:15001',
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/eu-west-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`,
    'x-amz-date': '20261126T000000Z',
  });
  return { method, path, query, headers };
}

/** The request a row's template names, each label filled with a value named after it. */
function requestOf(service: string, [, method, uri]: Row): AwsHttpRequest {
  const [path = '', query = ''] = uri.split('?');
  return req(service, method, path.replace(/\{([^{}+]+)\+?\}/g, (_, name: string) => `v-${name}`), query);
}

/** The same key the generator groups rows by: operation, label names, query literals. */
function pinnedKey([operation, , uri]: Row): string {
  const [path = '', literals = ''] = uri.split('?');
  const labels = [...path.matchAll(/\{([^{}+]+)\+?\}/g)].map((m) => m[1]).sort();
  return JSON.stringify([operation, labels, literals.split('&').sort()]);
}

/** Everything the broker binds or forwards for a request, the model aside. */
function binding(service: string, row: Row): unknown {
  const op = understandAws(requestOf(service, row), null)!;
  const { origin } = resolveEndpoint(op.service, op.region, {}, op.upstream);
  return {
    service: op.service,
    region: op.region,
    operation: op.operation,
    resource: op.resource,
    params: { ...op.params },
    permissions: op.permissions,
    read: op.read,
    credentialVending: op.credentialVending,
    origin,
  };
}

t.test('every shared operation read from two models binds and forwards the same from either', async (t) => {
  let groups = 0;
  for (const [service, rows] of Object.entries(ROUTES)) {
    const byKey = new Map<string, Row[]>();
    for (const row of rows) byKey.set(pinnedKey(row), [...(byKey.get(pinnedKey(row)) ?? []), row]);
    for (const same of byKey.values()) {
      if (new Set(same.map((r) => r[5])).size < 2) continue;
      groups++;
      const [first, ...others] = same.map((r) => binding(service, r));
      for (const [i, other] of others.entries()) t.same(other, first, `${service} ${same[0]![0]}: ${same[i + 1]![5]} as ${same[0]![5]}`);
    }
  }
  // sesv2 and pinpoint-email (42), opensearch and es (27), connect campaigns v1 and v2 (18).
  t.ok(groups >= 87, `${groups} shared operations read from several models`);
});

t.test('SES v2 and Pinpoint Email: one operation at one host, each path read as its own model', async (t) => {
  const v2 = understandAws(req('ses', 'POST', '/v2/email/identities'), null)!;
  const v1 = understandAws(req('ses', 'POST', '/v1/email/identities'), null)!;
  for (const op of [v1, v2]) {
    t.match(op, { service: 'ses', region: 'eu-west-1', protocol: 'rest-json', operation: 'CreateEmailIdentity', resource: '*', read: false });
    t.same(op.permissions, [{ action: 'ses:CreateEmailIdentity', resource: '*' }]);
    t.equal(resolveEndpoint(op.service, op.region, {}, op.upstream).origin, 'https://email.eu-west-1.amazonaws.com');
  }
  t.equal(v2.upstream?.model, 'sesv2');
  t.equal(v1.upstream?.model, 'pinpoint-email');
  const os = understandAws(req('es', 'GET', '/2021-01-01/opensearch/domain/d1/autoTunes', 'maxResults=5'), null)!;
  t.match(os, { operation: 'DescribeDomainAutoTunes', upstream: { model: 'opensearch', endpointPrefix: 'es' } });
  t.same({ ...os.params }, { DomainName: 'd1', maxResults: '5' });
});

t.test('near misses: readings that differ in host, IAM resource or query names stay refused, naming the models', async (t) => {
  const refused: [string, AwsHttpRequest, RegExp][] = [
    // Same path at two hosts (bedrock, bedrock-data-automation): the request cannot pick the host.
    ['another host', req('bedrock', 'POST', '/listTagsForResource'), /ListTagsForResource of bedrock or ListTagsForResource of bedrock-data-automation/],
    ['another host (Bedrock Agents)', req('bedrock', 'GET', '/tags/arn%3Ax'), /ListTagsForResource of bedrock-agent or ListTagsForResource of bedrock-agent-runtime/],
    // API Gateway's IAM resource is the path: v2's /v2/domainnames is another ARN than v1's.
    ['another IAM resource', req('apigateway', 'POST', '/v2/domainnames'), /CreateDomainName of apigatewayv2/],
    // v2 takes campaignDeletionPolicy, v1 does not: a certificate's params mean different calls.
    ['other query names', req('connect-campaigns', 'DELETE', '/connect-instance/i1/config'), /DeleteConnectInstanceConfig of connectcampaigns/],
  ];
  for (const [name, r, why] of refused) {
    t.equal(code(() => understandAws(r, null)), 'unparseable_request', name);
    t.throws(() => understandAws(r, null), { message: why }, `${name}: the refusal names the models`);
  }
  // The v2 rows beside them are still read as their own model.
  t.match(understandAws(req('connect-campaigns', 'DELETE', '/v2/connect-instance/i1/config'), null), { operation: 'DeleteConnectInstanceConfig' });
  t.match(understandAws(req('apigateway', 'POST', '/domainnames'), null), { operation: 'CreateDomainName' });
});

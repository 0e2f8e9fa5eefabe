// The IAM scope of requests the generic REST router reads (catalog-rest.ts). moto ignores session
// policies, so these rows are what keeps an admitted call working on AWS: API Gateway's actions
// are HTTP verbs on the request path, never `apigateway:<Operation>` (which IAM does not know).
import t from 'tap';
import { routedScope } from '../../../src/targets/aws/catalog-rest.js';
import { understandAws } from '../../../src/targets/aws/understand.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';

function req(service: string, method: string, path: string, region = 'us-east-1'): AwsHttpRequest {
  const headers: Record<string, string> = Object.assign(Object.create(null), {
    host: '127.0.0.1:15001',
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`,
    'x-amz-date': '20261126T000000Z',
  });
  return { method, path, query: '', headers };
}

t.test('API Gateway: the HTTP verb on the request path as an ARN', async (t) => {
  const create = understandAws(req('apigateway', 'POST', '/restapis'), null)!;
  t.match(create, { operation: 'CreateRestApi', resource: 'arn:aws:apigateway:us-east-1::/restapis' });
  t.same(create.permissions, [{ action: 'apigateway:POST', resource: 'arn:aws:apigateway:us-east-1::/restapis' }]);
  const del = understandAws(req('apigateway', 'DELETE', '/restapis/a1b2c3/stages/prod', 'eu-west-1'), null)!;
  t.match(del, { operation: 'DeleteStage', params: { restapi_id: 'a1b2c3', stage_name: 'prod' } });
  t.same(del.permissions, [{ action: 'apigateway:DELETE', resource: 'arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages/prod' }]);
  const v2 = routedScope('apigateway', 'us-east-1', 'POST', '/v2/apis', 'CreateApi');
  t.same(v2.permissions, [{ action: 'apigateway:POST', resource: 'arn:aws:apigateway:us-east-1::/v2/apis' }], 'v2 shares the scheme');
});

t.test('API Gateway: a label is decoded once and names only itself', async (t) => {
  const scope = routedScope('apigateway', 'us-east-1', 'GET', '/domainnames/a%2Ab.example.com', 'GetDomainName');
  t.equal(scope.resource, 'arn:aws:apigateway:us-east-1::/domainnames/a${*}b.example.com', 'a * is no IAM wildcard');
  t.equal(routedScope('apigateway', 'cn-north-1', 'GET', '/restapis', 'GetRestApis').resource, 'arn:aws-cn:apigateway:cn-north-1::/restapis');
});

t.test('other routed services: the action named like the operation, on *', async (t) => {
  const eks = understandAws(req('eks', 'POST', '/clusters'), null)!;
  t.match(eks, { operation: 'CreateCluster', resource: '*' });
  t.same(eks.permissions, [{ action: 'eks:CreateCluster', resource: '*' }]);
  t.same(routedScope('route53', null, 'POST', '/2013-04-01/hostedzone', 'CreateHostedZone').permissions, [{ action: 'route53:CreateHostedZone', resource: '*' }]);
});

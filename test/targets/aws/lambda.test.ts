import t from 'tap';
import type { Test } from 'tap';
import { code } from '../../helpers/reason.js';
import { functionArn, understandLambda } from '../../../src/targets/aws/lambda.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';

const req = (method: string, path: string, query = '', extra: Record<string, string> = {}): AwsHttpRequest => ({
  method,
  path,
  query,
  headers: Object.assign(Object.create(null), { host: '127.0.0.1:15001', authorization: 'x', ...extra }),
});
const body = (value: unknown) => Buffer.from(JSON.stringify(value));
const FN = 'arn:aws:lambda:us-east-1:{account}:function:fn';
/** Every request in `near` is refused as unparseable_request. */
const refusesAll = (t: Test, near: readonly [string, AwsHttpRequest][]): void => {
  for (const [name, r] of near) t.equal(code(() => understandLambda(r, 'us-east-1', null)), 'unparseable_request', name);
};

t.test('routes, resources, params and IAM actions', async (t) => {
  const cases: [AwsHttpRequest, Buffer | null, string, string, Record<string, string>, [string, string][]][] = [
    [req('GET', '/2015-03-31/functions'), null, 'ListFunctions', '*', {}, [['lambda:ListFunctions', '*']]],
    [req('GET', '/2015-03-31/functions', 'MaxItems=10'), null, 'ListFunctions', '*', { MaxItems: '10' }, [['lambda:ListFunctions', '*']]],
    [req('GET', '/2015-03-31/functions/fn'), null, 'GetFunction', FN, {}, [['lambda:GetFunction', FN]]],
    [req('DELETE', '/2015-03-31/functions/fn', 'Qualifier=3'), null, 'DeleteFunction', FN, { Qualifier: '3' }, [['lambda:DeleteFunction', FN], ['lambda:DeleteFunction', `${FN}:3`]]],
    [req('GET', '/2015-03-31/functions/fn/configuration'), null, 'GetFunctionConfiguration', FN, {}, [['lambda:GetFunctionConfiguration', FN]]],
    [req('PUT', '/2015-03-31/functions/fn/code'), body({ ZipFile: 'AA==' }), 'UpdateFunctionCode', FN, {}, [['lambda:UpdateFunctionCode', FN]]],
    [req('POST', '/2015-03-31/functions/fn/invocations'), Buffer.from('not json'), 'Invoke', FN, {}, [['lambda:InvokeFunction', FN]]],
    [req('POST', '/2015-03-31/functions/fn%3Aprod/invocations'), null, 'Invoke', `${FN}:prod`, {}, [['lambda:InvokeFunction', `${FN}:prod`]]],
    [req('POST', '/2015-03-31/functions/123456789012%3Afunction%3Afn/invocations'), null, 'Invoke', 'arn:aws:lambda:us-east-1:123456789012:function:fn', {}, [['lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:123456789012:function:fn']]],
    [req('POST', '/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST/invocations'), null, 'Invoke', 'arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST', {}, [['lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST']]],
    [req('POST', '/2015-03-31/functions/fn/versions'), null, 'PublishVersion', FN, {}, [['lambda:PublishVersion', FN]]],
    [req('GET', '/2015-03-31/functions/fn/versions'), null, 'ListVersionsByFunction', FN, {}, [['lambda:ListVersionsByFunction', FN]]],
    [req('POST', '/2015-03-31/functions/fn/aliases'), null, 'CreateAlias', FN, {}, [['lambda:CreateAlias', FN]]],
    [req('GET', '/2015-03-31/functions/fn/aliases'), null, 'ListAliases', FN, {}, [['lambda:ListAliases', FN]]],
    [req('GET', '/2015-03-31/functions/fn/aliases/live'), null, 'GetAlias', FN, { Name: 'live' }, [['lambda:GetAlias', FN]]],
    [req('PUT', '/2015-03-31/functions/fn/aliases/live'), null, 'UpdateAlias', FN, { Name: 'live' }, [['lambda:UpdateAlias', FN]]],
    [req('DELETE', '/2015-03-31/functions/fn/aliases/live'), null, 'DeleteAlias', FN, { Name: 'live' }, [['lambda:DeleteAlias', FN]]],
    [req('POST', '/2015-03-31/functions/fn/policy'), null, 'AddPermission', FN, {}, [['lambda:AddPermission', FN]]],
    [req('GET', '/2015-03-31/functions/fn/policy'), null, 'GetPolicy', FN, {}, [['lambda:GetPolicy', FN]]],
    [req('DELETE', '/2015-03-31/functions/fn/policy/s1', 'RevisionId=r'), null, 'RemovePermission', FN, { RevisionId: 'r', StatementId: 's1' }, [['lambda:RemovePermission', FN]]],
    [req('POST', '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn'), null, 'TagResource', 'arn:aws:lambda:us-east-1:123456789012:function:fn', {}, [['lambda:TagResource', 'arn:aws:lambda:us-east-1:123456789012:function:fn']]],
    [req('DELETE', '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn', 'tagKeys=a'), null, 'UntagResource', 'arn:aws:lambda:us-east-1:123456789012:function:fn', { tagKeys: 'a' }, [['lambda:UntagResource', 'arn:aws:lambda:us-east-1:123456789012:function:fn']]],
    [req('GET', '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn'), null, 'ListTags', 'arn:aws:lambda:us-east-1:123456789012:function:fn', {}, [['lambda:ListTags', 'arn:aws:lambda:us-east-1:123456789012:function:fn']]],
    [req('POST', '/2015-03-31/functions'), body({ FunctionName: 'fn', Role: 'arn:aws:iam::123456789012:role/exec', Layers: ['arn:aws:lambda:us-east-1:123456789012:layer:l1:3'] }), 'CreateFunction', FN, {}, [
      ['lambda:CreateFunction', FN], ['iam:PassRole', 'arn:aws:iam::123456789012:role/exec'], ['lambda:GetLayerVersion', 'arn:aws:lambda:us-east-1:123456789012:layer:l1:3'],
    ]],
    [req('PUT', '/2015-03-31/functions/fn/configuration'), body({ Timeout: 3 }), 'UpdateFunctionConfiguration', FN, {}, [['lambda:UpdateFunctionConfiguration', FN]]],
    [req('PUT', '/2015-03-31/functions/fn/configuration'), body({ Role: 'arn:aws:iam::123456789012:role/r2' }), 'UpdateFunctionConfiguration', FN, {}, [['lambda:UpdateFunctionConfiguration', FN], ['iam:PassRole', 'arn:aws:iam::123456789012:role/r2']]],
  ];
  for (const [r, payload, operation, resource, params, permissions] of cases) {
    const op = understandLambda(r, 'us-east-1', payload)!;
    const name = `${r.method} ${r.path}`;
    t.equal(op.operation, operation, name);
    t.equal(op.resource, resource, name);
    t.same(op.params, params, name);
    t.same(op.permissions.map((p) => [p.action, p.resource]), permissions, name);
    t.equal(op.protocol, 'rest-json');
    t.equal(op.region, 'us-east-1');
  }
});

t.test('semantic headers and read flags', async (t) => {
  const op = understandLambda(req('POST', '/2015-03-31/functions/fn/invocations', '', { 'x-amz-invocation-type': 'Event', 'content-type': 'application/json' }), 'us-east-1', null)!;
  t.same(op.headers, { 'x-amz-invocation-type': 'Event', 'content-type': 'application/json' });
  t.equal(op.read, false);
  t.equal(understandLambda(req('GET', '/2015-03-31/functions/fn/aliases/live'), 'us-east-1', null)!.read, true);
  // GetFunction answers environment variables (sensitive) and a presigned code URL: not a read.
  t.equal(understandLambda(req('GET', '/2015-03-31/functions/fn'), 'us-east-1', null)!.read, false);
});

t.test('operations whose scope is in the body wait for it', async (t) => {
  t.equal(understandLambda(req('POST', '/2015-03-31/functions'), 'us-east-1', null), null);
  t.equal(understandLambda(req('PUT', '/2015-03-31/functions/fn/configuration'), 'us-east-1', null), null);
});

t.test('functionArn', async (t) => {
  t.equal(functionArn('fn', 'cn-north-1'), 'arn:aws-cn:lambda:cn-north-1:{account}:function:fn');
  t.equal(functionArn('arn:aws-cn:lambda:cn-north-1:123456789012:function:fn', 'cn-north-1'), 'arn:aws-cn:lambda:cn-north-1:123456789012:function:fn');
});

t.test('refusals', async (t) => {
  const cases: [string, AwsHttpRequest, Buffer | null][] = [
    ['an encoded / in a segment', req('GET', '/2015-03-31/functions/a%2Fb'), null],
    ['an encoded / in an alias', req('GET', '/2015-03-31/functions/fn/aliases/a%2fb'), null],
    ['an empty segment', req('GET', '/2015-03-31/functions//configuration'), null],
    ['a trailing slash', req('GET', '/2015-03-31/functions/fn/'), null],
    ['a dot segment', req('GET', '/2015-03-31/functions/fn/aliases/..'), null],
    ['an encoded dot segment', req('GET', '/2015-03-31/functions/fn/aliases/%2E%2E'), null],
    ['an encoded literal', req('GET', '/2015-03-31/%66unctions/fn'), null],
    // Read elsewhere as `..` (a Java container drops the `;` parameter) or a separator: GetAlias
    // would be GetFunction upstream, whose answer is not a certificate-free read.
    ['a dot segment with a ; path parameter', req('GET', '/2015-03-31/functions/fn/aliases/..;'), null],
    ['a ; path parameter in an alias', req('GET', '/2015-03-31/functions/fn/aliases/live;v=1'), null],
    ['an encoded ; in an alias', req('GET', '/2015-03-31/functions/fn/aliases/live%3B'), null],
    ['a backslash in an alias', req('GET', '/2015-03-31/functions/fn/aliases/a\\..\\..'), null],
    ['an encoded backslash in a statement id', req('DELETE', '/2015-03-31/functions/fn/policy/a%5C..%5C..'), null],
    ['an unknown route', req('GET', '/2015-03-31/layer'), null],
    ['a wrong method', req('PATCH', '/2015-03-31/functions/fn'), null],
    ['a bad escape', req('GET', '/2015-03-31/functions/f%zz'), null],
    ['a function name with a wildcard', req('GET', '/2015-03-31/functions/f*'), null],
    ['a full ARN in another region', req('GET', '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Afn'), null],
    ['a full ARN in another partition', req('GET', '/2015-03-31/functions/arn%3Aaws-cn%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn'), null],
    ['a region-prefixed partial ARN', req('GET', '/2015-03-31/functions/us-east-1%3A123456789012%3Afunction%3Afn'), null],
    ['a qualifier twice', req('GET', '/2015-03-31/functions/fn%3A1', 'Qualifier=2'), null],
    ['a bad Qualifier', req('GET', '/2015-03-31/functions/fn', 'Qualifier=a*'), null],
    ['a duplicate query parameter', req('GET', '/2015-03-31/functions', 'Marker=a&Marker=b'), null],
    ['a raw + in the query', req('GET', '/2015-03-31/functions', 'Marker=a+b'), null],
    ['a path parameter also in the query', req('GET', '/2015-03-31/functions/fn/aliases/live', 'Name=other'), null],
    ['FunctionName also in the query (pinned as another function)', req('GET', '/2015-03-31/functions/fn', 'FunctionName=other'), null],
    ['Resource also in the query', req('GET', '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn', 'Resource=x'), null],
    ['a tag resource that is not a function ARN', req('GET', '/2017-03-31/tags/fn'), null],
    ['a qualified tag resource', req('GET', '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn%3A1'), null],
    ['CreateFunction without FunctionName', req('POST', '/2015-03-31/functions'), body({ Role: 'arn:aws:iam::123456789012:role/exec' })],
    ['CreateFunction without Role', req('POST', '/2015-03-31/functions'), body({ FunctionName: 'fn' })],
    ['CreateFunction with a bad Role', req('POST', '/2015-03-31/functions'), body({ FunctionName: 'fn', Role: '*' })],
    ['CreateFunction with a bad layer', req('POST', '/2015-03-31/functions'), body({ FunctionName: 'fn', Role: 'arn:aws:iam::123456789012:role/exec', Layers: ['*'] })],
    ['CreateFunction with duplicate keys', req('POST', '/2015-03-31/functions'), Buffer.from('{"FunctionName":"a","FunctionName":"b","Role":"arn:aws:iam::123456789012:role/exec"}')],
  ];
  for (const [name, r, payload] of cases) t.equal(code(() => understandLambda(r, 'us-east-1', payload)), 'unparseable_request', name);
});

t.test('function settings at their own API versions are read, scoped to the function', async (t) => {
  const cases: [string, string, string, string, string?][] = [
    ['GET', '/2019-09-25/functions/fn/event-invoke-config', '', 'GetFunctionEventInvokeConfig'],
    ['PUT', '/2019-09-25/functions/fn/event-invoke-config', '', 'PutFunctionEventInvokeConfig'],
    ['POST', '/2019-09-25/functions/fn/event-invoke-config', '', 'UpdateFunctionEventInvokeConfig'],
    ['DELETE', '/2019-09-25/functions/fn/event-invoke-config', '', 'DeleteFunctionEventInvokeConfig'],
    ['GET', '/2019-09-25/functions/fn/event-invoke-config/list', '', 'ListFunctionEventInvokeConfigs'],
    ['GET', '/2021-10-31/functions/fn/url', '', 'GetFunctionUrlConfig'],
    ['POST', '/2021-10-31/functions/fn/url', '', 'CreateFunctionUrlConfig'],
    ['PUT', '/2021-10-31/functions/fn/url', '', 'UpdateFunctionUrlConfig'],
    ['DELETE', '/2021-10-31/functions/fn/url', '', 'DeleteFunctionUrlConfig'],
    ['GET', '/2021-10-31/functions/fn/urls', '', 'ListFunctionUrlConfigs'],
    ['PUT', '/2017-10-31/functions/fn/concurrency', '', 'PutFunctionConcurrency'],
    ['DELETE', '/2017-10-31/functions/fn/concurrency', '', 'DeleteFunctionConcurrency'],
    ['GET', '/2019-09-30/functions/fn/concurrency', '', 'GetFunctionConcurrency'],
    ['GET', '/2019-09-30/functions/fn/provisioned-concurrency', 'Qualifier=live', 'GetProvisionedConcurrencyConfig'],
    ['GET', '/2019-09-30/functions/fn/provisioned-concurrency', 'List=ALL', 'ListProvisionedConcurrencyConfigs'],
    ['PUT', '/2019-09-30/functions/fn/provisioned-concurrency', 'Qualifier=live', 'PutProvisionedConcurrencyConfig'],
    ['DELETE', '/2019-09-30/functions/fn/provisioned-concurrency', 'Qualifier=live', 'DeleteProvisionedConcurrencyConfig'],
    ['GET', '/2020-06-30/functions/fn/code-signing-config', '', 'GetFunctionCodeSigningConfig'],
    ['DELETE', '/2020-06-30/functions/fn/code-signing-config', '', 'DeleteFunctionCodeSigningConfig'],
    ['GET', '/2021-07-20/functions/fn/runtime-management-config', '', 'GetRuntimeManagementConfig'],
    ['PUT', '/2021-07-20/functions/fn/runtime-management-config', '', 'PutRuntimeManagementConfig'],
    ['GET', '/2024-08-31/functions/fn/recursion-config', '', 'GetFunctionRecursionConfig'],
    ['PUT', '/2024-08-31/functions/fn/recursion-config', '', 'PutFunctionRecursionConfig'],
    ['GET', '/2025-11-30/functions/fn/function-scaling-config', '', 'GetFunctionScalingConfig'],
    ['PUT', '/2025-11-30/functions/fn/function-scaling-config', '', 'PutFunctionScalingConfig'],
    ['GET', '/2025-12-01/functions/fn/durable-executions', '', 'ListDurableExecutionsByFunction'],
    ['POST', '/2021-11-15/functions/fn/response-streaming-invocations', '', 'InvokeWithResponseStream', 'lambda:InvokeFunction'],
    ['POST', '/2014-11-13/functions/fn/invoke-async', '', 'InvokeAsync'],
  ];
  for (const [method, path, query, operation, action] of cases) {
    const op = understandLambda(req(method, path, query), 'us-east-1', null)!;
    t.equal(op.operation, operation, `${method} ${path}`);
    t.equal(op.resource, FN, operation);
    const want = [[action ?? `lambda:${operation}`, FN]];
    if (query === 'Qualifier=live') want.push([want[0]![0]!, `${FN}:live`]);
    t.same(op.permissions.map((p) => [p.action, p.resource]), want, operation);
  }
  const qualified = understandLambda(req('GET', '/2021-10-31/functions/fn/url', 'Qualifier=live'), 'us-east-1', null)!;
  t.same(qualified.permissions.map((p) => p.resource), [FN, `${FN}:live`], 'a Qualifier adds the qualified ARN');
  const near: [string, AwsHttpRequest][] = [
    // GET is List... with `?List=ALL`, else Get...: each takes only its own query names.
    ['List=ALL with a Qualifier', req('GET', '/2019-09-30/functions/fn/provisioned-concurrency', 'List=ALL&Qualifier=live')],
    ['List in another case', req('GET', '/2019-09-30/functions/fn/provisioned-concurrency', 'List=all')],
    ['List without a value', req('GET', '/2019-09-30/functions/fn/provisioned-concurrency', 'List')],
    ['a PUT of provisioned concurrency with List=ALL', req('PUT', '/2019-09-30/functions/fn/provisioned-concurrency', 'List=ALL&Qualifier=live')],
    ['concurrency at the wrong API version', req('GET', '/2017-10-31/functions/fn/concurrency')],
    ['a PUT of a code signing config (its ARN is in the body)', req('PUT', '/2020-06-30/functions/fn/code-signing-config')],
    ['a setting of the wrong case', req('GET', '/2021-10-31/functions/fn/URL')],
    ['a trailing slash on a setting', req('GET', '/2021-10-31/functions/fn/url/')],
    ['a list path with one more segment', req('GET', '/2019-09-25/functions/fn/event-invoke-config/list/x')],
    ['a function name with a space', req('GET', '/2021-10-31/functions/f%20n/url')],
    ['a qualifier twice', req('GET', '/2021-10-31/functions/fn%3A1/url', 'Qualifier=2')],
  ];
  refusesAll(t, near);
});

t.test('layers, event source mappings, code signing configs and account settings, by their own ARNs', async (t) => {
  const LAYER = 'arn:aws:lambda:us-east-1:{account}:layer:l1';
  const ESM = 'arn:aws:lambda:us-east-1:{account}:event-source-mapping:0b7a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d';
  const CSC = 'arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdefg';
  const CP = 'arn:aws:lambda:us-east-1:{account}:capacity-provider:cp1';
  const cases: [string, string, string, string, string, Record<string, string>][] = [
    ['GET', '/2018-10-31/layers', 'CompatibleRuntime=nodejs20.x', 'ListLayers', '*', { CompatibleRuntime: 'nodejs20.x' }],
    ['GET', '/2018-10-31/layers/l1/versions', '', 'ListLayerVersions', '*', { LayerName: 'l1' }],
    ['POST', '/2018-10-31/layers/l1/versions', '', 'PublishLayerVersion', LAYER, { LayerName: 'l1' }],
    ['GET', '/2018-10-31/layers/l1/versions/3', '', 'GetLayerVersion', `${LAYER}:3`, { LayerName: 'l1', VersionNumber: '3' }],
    ['DELETE', '/2018-10-31/layers/l1/versions/3', '', 'DeleteLayerVersion', `${LAYER}:3`, { LayerName: 'l1', VersionNumber: '3' }],
    ['GET', '/2018-10-31/layers/l1/versions/3/policy', '', 'GetLayerVersionPolicy', `${LAYER}:3`, { LayerName: 'l1', VersionNumber: '3' }],
    ['POST', '/2018-10-31/layers/l1/versions/3/policy', '', 'AddLayerVersionPermission', `${LAYER}:3`, { LayerName: 'l1', VersionNumber: '3' }],
    ['DELETE', '/2018-10-31/layers/l1/versions/3/policy/s1', '', 'RemoveLayerVersionPermission', `${LAYER}:3`, { LayerName: 'l1', VersionNumber: '3', StatementId: 's1' }],
    ['GET', '/2018-10-31/layers/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Al1/versions/3', '', 'GetLayerVersion', 'arn:aws:lambda:us-east-1:123456789012:layer:l1:3',
      { LayerName: 'arn:aws:lambda:us-east-1:123456789012:layer:l1', VersionNumber: '3' }],
    ['GET', '/2015-03-31/event-source-mappings', '', 'ListEventSourceMappings', '*', {}],
    ['POST', '/2015-03-31/event-source-mappings', '', 'CreateEventSourceMapping', '*', {}],
    ['GET', '/2015-03-31/event-source-mappings/0b7a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d', '', 'GetEventSourceMapping', ESM, { UUID: '0b7a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d' }],
    ['PUT', '/2015-03-31/event-source-mappings/0b7a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d', '', 'UpdateEventSourceMapping', ESM, { UUID: '0b7a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d' }],
    ['DELETE', '/2015-03-31/event-source-mappings/0b7a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d', '', 'DeleteEventSourceMapping', ESM, { UUID: '0b7a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d' }],
    ['GET', '/2020-04-22/code-signing-configs', '', 'ListCodeSigningConfigs', '*', {}],
    ['POST', '/2020-04-22/code-signing-configs', '', 'CreateCodeSigningConfig', '*', {}],
    ['GET', `/2020-04-22/code-signing-configs/${encodeURIComponent(CSC)}`, '', 'GetCodeSigningConfig', CSC, { CodeSigningConfigArn: CSC }],
    ['PUT', `/2020-04-22/code-signing-configs/${encodeURIComponent(CSC)}`, '', 'UpdateCodeSigningConfig', CSC, { CodeSigningConfigArn: CSC }],
    ['DELETE', `/2020-04-22/code-signing-configs/${encodeURIComponent(CSC)}`, '', 'DeleteCodeSigningConfig', CSC, { CodeSigningConfigArn: CSC }],
    ['GET', `/2020-04-22/code-signing-configs/${encodeURIComponent(CSC)}/functions`, '', 'ListFunctionsByCodeSigningConfig', CSC, { CodeSigningConfigArn: CSC }],
    ['GET', '/2016-08-19/account-settings', '', 'GetAccountSettings', '*', {}],
    ['GET', '/2025-11-30/capacity-providers', '', 'ListCapacityProviders', '*', {}],
    ['GET', '/2025-11-30/capacity-providers/cp1', '', 'GetCapacityProvider', CP, { CapacityProviderName: 'cp1' }],
    ['PUT', '/2025-11-30/capacity-providers/cp1', '', 'UpdateCapacityProvider', CP, { CapacityProviderName: 'cp1' }],
    ['DELETE', '/2025-11-30/capacity-providers/cp1', '', 'DeleteCapacityProvider', CP, { CapacityProviderName: 'cp1' }],
    ['GET', '/2025-11-30/capacity-providers/cp1/function-versions', '', 'ListFunctionVersionsByCapacityProvider', CP, { CapacityProviderName: 'cp1' }],
    ['GET', '/2025-11-30/capacity-providers/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Acapacity-provider%3Acp1', '', 'GetCapacityProvider',
      'arn:aws:lambda:us-east-1:123456789012:capacity-provider:cp1', { CapacityProviderName: 'arn:aws:lambda:us-east-1:123456789012:capacity-provider:cp1' }],
  ];
  const byArn = understandLambda(req('GET', '/2018-10-31/layers', 'find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Al1%3A3'), 'us-east-1', null)!;
  t.equal(byArn.operation, 'GetLayerVersionByArn');
  t.same(byArn.permissions, [{ action: 'lambda:GetLayerVersion', resource: 'arn:aws:lambda:us-east-1:123456789012:layer:l1:3' }], 'authorised as GetLayerVersion');
  for (const [method, path, query, operation, resource, params] of cases) {
    const op = understandLambda(req(method, path, query), 'us-east-1', null)!;
    t.equal(op.operation, operation, `${method} ${path}`);
    t.equal(op.resource, resource, operation);
    t.same(op.params, params, operation);
    t.same(op.permissions, [{ action: `lambda:${operation}`, resource }], operation);
  }
  const near: [string, AwsHttpRequest][] = [
    // GetLayerVersionByArn shares the path, told apart by ?find=LayerVersion: never read as ListLayers.
    ['find with another value', req('GET', '/2018-10-31/layers', 'find=Layer&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Al1%3A3')],
    ['find=LayerVersion without Arn', req('GET', '/2018-10-31/layers', 'find=LayerVersion')],
    ['find=LayerVersion with a list parameter', req('GET', '/2018-10-31/layers', 'find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Al1%3A3&Marker=m')],
    ['a layer version ARN without a version', req('GET', '/2018-10-31/layers', 'find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Al1')],
    ['a layer version ARN in another region', req('GET', '/2018-10-31/layers', 'find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Alayer%3Al1%3A3')],
    ['a layer name with a space', req('GET', '/2018-10-31/layers/l%201/versions/3')],
    ['a layer ARN in another region', req('GET', '/2018-10-31/layers/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Alayer%3Al1/versions/3')],
    ['a layer version ARN as the layer name', req('GET', '/2018-10-31/layers/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Al1%3A3/versions/3')],
    ['a layer version with a leading zero', req('GET', '/2018-10-31/layers/l1/versions/03')],
    ['a layer version 0', req('GET', '/2018-10-31/layers/l1/versions/0')],
    ['a negative layer version', req('GET', '/2018-10-31/layers/l1/versions/-3')],
    ['an upper-case mapping UUID', req('GET', '/2015-03-31/event-source-mappings/0B7A1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D')],
    ['a mapping id that is not a UUID', req('GET', '/2015-03-31/event-source-mappings/seb-1')],
    ['a code signing config id alone', req('GET', '/2020-04-22/code-signing-configs/csc-0123456789abcdefg')],
    ['a code signing config ARN in another region', req('GET', `/2020-04-22/code-signing-configs/${encodeURIComponent(CSC.replace('us-east-1', 'eu-west-1'))}`)],
    ['layers at the functions API version', req('GET', '/2015-03-31/layers')],
    ['a capacity provider name with a space', req('GET', '/2025-11-30/capacity-providers/c%20p')],
    ['a layer ARN as a capacity provider', req('GET', '/2025-11-30/capacity-providers/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Alayer%3Acp1')],
    ['a capacity provider ARN in another region', req('GET', '/2025-11-30/capacity-providers/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Acapacity-provider%3Acp1')],
    ['CreateCapacityProvider (its name is in the body)', req('POST', '/2025-11-30/capacity-providers')],
  ];
  refusesAll(t, near);
});

t.test('Qualifier widens the scope only where the model takes it', async (t) => {
  const code = understandLambda(req('PUT', '/2015-03-31/functions/fn/code', 'Qualifier=3'), 'us-east-1', null)!;
  t.same(code.params, { Qualifier: '3' }, 'still pinned as a parameter');
  t.same(code.permissions, [{ action: 'lambda:UpdateFunctionCode', resource: FN }]);
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { code } from '../../helpers/reason.js';
import { compileRoutes, matchIn, routeRest } from '../../../src/targets/aws/rest-router.js';
import type { AwsHttpRequest } from '../../../src/targets/aws/types.js';
import { understandAws } from '../../../src/targets/aws/understand.js';

const AUTH = (service: string, region: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`;
function req(service: string, method: string, path: string, query = '', region = 'us-east-1'): AwsHttpRequest {
  const headers: Record<string, string> = Object.assign(Object.create(null), {
    host: '127.0.0.1:15001',
    authorization: AUTH(service, region),
    'x-amz-date': '20261126T000000Z',
  });
  return { method, path, query, headers };
}

t.test('generated tables route a sample of rest-json and rest-xml operations', async (t) => {
  const cases: [string, string, string, string, string, Record<string, string>][] = [
    ['eks', 'GET', '/clusters', '', 'ListClusters', {}],
    ['eks', 'GET', '/clusters', 'maxResults=5', 'ListClusters', { maxResults: '5' }],
    ['eks', 'GET', '/clusters/prod', '', 'DescribeCluster', { name: 'prod' }],
    ['eks', 'POST', '/clusters', '', 'CreateCluster', {}],
    ['eks', 'DELETE', '/clusters/prod', '', 'DeleteCluster', { name: 'prod' }],
    ['eks', 'GET', '/clusters/prod/node-groups/ng%201', '', 'DescribeNodegroup', { name: 'prod', nodegroupName: 'ng 1' }],
    ['route53', 'GET', '/2013-04-01/hostedzone', '', 'ListHostedZones', {}],
    ['route53', 'GET', '/2013-04-01/hostedzone/Z123', '', 'GetHostedZone', { Id: 'Z123' }],
    ['route53', 'POST', '/2013-04-01/hostedzone/Z123/rrset/', '', 'ChangeResourceRecordSets', { Id: 'Z123' }],
    ['apigateway', 'GET', '/restapis', '', 'GetRestApis', {}],
    ['apigateway', 'POST', '/restapis', '', 'CreateRestApi', {}],
    ['apigateway', 'POST', '/restapis', 'mode=import', 'ImportRestApi', { mode: 'import' }],
    ['apigateway', 'GET', '/restapis/a1/resources', '', 'GetResources', { restapi_id: 'a1' }],
    // A greedy label followed by literals (workspaces-web portal ARNs hold slashes).
    ['workspaces-web', 'PUT', '/portals/arn:aws:x:us-east-1:1:portal/p1/browserSettings', 'browserSettingsArn=b',
      'AssociateBrowserSettings', { portalArn: 'arn:aws:x:us-east-1:1:portal/p1', browserSettingsArn: 'b' }],
    ['cloudfront', 'GET', '/2020-05-31/distribution', '', 'ListDistributions', {}],
  ];
  for (const [service, method, path, query, operation, params] of cases) {
    const got = routeRest(service, method, path, query);
    t.equal(got.route.operation, operation, `${service} ${method} ${path}?${query}`);
    t.same({ ...got.params }, params, `${operation} params`);
  }
});

t.test('understandAws reads a routed request: service, region, operation, params, scope', async (t) => {
  const op = understandAws(req('eks', 'GET', '/clusters/prod', '', 'eu-west-1'), null)!;
  t.match(op, { service: 'eks', region: 'eu-west-1', protocol: 'rest-json', operation: 'DescribeCluster', resource: '*' });
  t.same({ ...op.params }, { name: 'prod' });
  t.same(op.permissions, [{ action: 'eks:DescribeCluster', resource: '*' }]);
  const r53 = understandAws(req('route53', 'GET', '/2013-04-01/hostedzone', 'maxitems=1'), null)!;
  t.match(r53, { service: 'route53', region: null, protocol: 'rest-xml', operation: 'ListHostedZones' });
  t.same({ ...r53.params }, { maxitems: '1' });
});

t.test('requests with no single reading are refused', async (t) => {
  const cases: [string, () => unknown][] = [
    ['no such path', () => routeRest('eks', 'GET', '/nothing', '')],
    ['a method the path does not take', () => routeRest('eks', 'PATCH', '/clusters', '')],
    ['a query parameter the operation does not bind', () => routeRest('eks', 'GET', '/clusters', 'evil=1')],
    ['a query parameter sent twice', () => routeRest('eks', 'GET', '/clusters', 'maxResults=1&maxResults=2')],
    ['a path and query parameter of one name', () => routeRest('eks', 'GET', '/clusters/a', 'name=b')],
    ['an empty label', () => routeRest('eks', 'GET', '/clusters/', '')],
    ['a dot segment', () => routeRest('eks', 'GET', '/clusters/..', '')],
    ['an encoded dot segment', () => routeRest('eks', 'GET', '/clusters/%2E%2E', '')],
    ['a double-encoded label is read once, never twice', () => routeRest('eks', 'GET', '/clusters/a%2', '')],
    ['a raw +', () => routeRest('eks', 'GET', '/clusters/a+b', '')],
    // Path syntax to some servers: `..;` is `..` to a Java container, `\\` is `/` to others.
    ['a dot segment with a raw ; parameter', () => routeRest('eks', 'GET', '/clusters/..;', '')],
    ['a raw ; parameter in a label', () => routeRest('eks', 'GET', '/clusters/prod;v=1', '')],
    ['a raw backslash in a label', () => routeRest('eks', 'GET', '/clusters/a\\..\\..', '')],
    ['a raw backslash in a greedy label', () => routeRest('workspaces-web', 'PUT', '/portals/a\\b/browserSettings', 'browserSettingsArn=b')],
    ['invalid UTF-8', () => routeRest('eks', 'GET', '/clusters/%FF', '')],
    ['an empty greedy segment', () => routeRest('workspaces-web', 'PUT', '/portals/a//b/browserSettings', 'browserSettingsArn=b')],
    ['a template\'s trailing slash is part of the path', () => routeRest('route53', 'POST', '/2013-04-01/hostedzone/Z1/rrset', '')],
    ['a host-prefixed operation', () => understandAws(req('lakeformation', 'POST', '/GetDataAccess'), null)],
  ];
  for (const [name, fn] of cases) t.equal(code(fn), 'unparseable_request', name);
  t.same({ ...routeRest('eks', 'GET', '/clusters/a%3Bb%5Cc', '').params }, { name: 'a;b\\c' }, 'escaped, they are data, as the SDKs send them');
});

t.test('a request two templates could both read is refused, never guessed', async (t) => {
  const trie = compileRoutes([
    ['GetThing', 'GET', '/things/{Id}', [], '', 'm'],
    ['GetSpecial', 'GET', '/things/special', [], '', 'm'],
    ['GetDeep', 'GET', '/a/{Key+}', [], '', 'm'],
    ['GetDeepTail', 'GET', '/a/{Key+}/tail', [], '', 'm'],
    ['List', 'GET', '/b', ['max'], '', 'm'],
    ['Export', 'GET', '/b?export', [], '', 'm'],
  ]);
  t.equal(matchIn(trie, 'GET', '/things/x', '').route.operation, 'GetThing');
  t.equal(code(() => matchIn(trie, 'GET', '/things/special', '')), 'unparseable_request', 'literal and label both match');
  t.equal(matchIn(trie, 'GET', '/a/x/y', '').params['Key'], 'x/y');
  t.equal(code(() => matchIn(trie, 'GET', '/a/x/tail', '')), 'unparseable_request', 'greedy and greedy+tail both match');
  t.equal(matchIn(trie, 'GET', '/b', 'max=1').route.operation, 'List');
  t.equal(matchIn(trie, 'GET', '/b', 'export').route.operation, 'Export', 'a query literal picks its operation');
  t.equal(code(() => matchIn(trie, 'GET', '/b', 'export&max=1')), 'unparseable_request', 'literal plus an unbound name');
});

// Regression (adversarial review): a greedy label tries every end, and joined its value at each
// try, so a path of n segments cost n² before any certificate: a 64 KiB path to workspaces-web
// (`/portals/{portalArn+}/...`) held the event loop for 28 to 52 s on this machine. The value is
// now joined only for a route that ends there; counted by its joins, not timed.
t.test('a greedy label is joined once per route it ends, not once per segment it could end at', async (t) => {
  const trie = compileRoutes([
    ['Get', 'GET', '/p/{Arn+}', [], '', 'm'],
    ['GetTail', 'GET', '/p/{Arn+}/tail', [], '', 'm'],
  ]);
  const segments = 2_000;
  const joinsFor = (path: string): { joins: number; read: string } => {
    const join = Array.prototype.join;
    let joins = 0;
    Array.prototype.join = function (this: unknown[], separator?: string): string {
      joins++;
      return join.call(this, separator);
    };
    try {
      return { read: code(() => matchIn(trie, 'GET', path, '')), joins };
    } finally {
      Array.prototype.join = join;
    }
  };
  const long = Array(segments).fill('a').join('/');
  const plain = joinsFor(`/p/${long}`);
  t.equal(plain.read, 'ok');
  t.ok(plain.joins <= 2, `the value of a ${segments}-segment greedy label was joined ${plain.joins} times`);
  const tail = joinsFor(`/p/${long}/tail`);
  t.equal(tail.read, 'unparseable_request', 'Get and GetTail both read it: refused');
  t.ok(tail.joins <= 4, `two readings, ${tail.joins} joins`);
  t.equal(matchIn(trie, 'GET', `/p/${long}`, '').params['Arn'], long, 'the value is the whole span');
});

// Regression (conformance: lex-models StartImport read as lexv2-models ListImports). Both lex models
// have StartImport, so the v1 row is dropped; its POST /imports/ must then be refused, not read as
// v2's ListImports, which has the same method and path.
t.test('a path a dropped model row shares with another kept operation is refused, never read as it', async (t) => {
  t.equal(code(() => routeRest('lex', 'POST', '/imports/', '')), 'unparseable_request', 'POST /imports/ (v1 StartImport or v2 ListImports)');
  t.match(routeRest('lex', 'PUT', '/imports/', '').route, { operation: 'StartImport', model: 'lexv2-models' }, 'v2 StartImport is still read');
});

t.test('unread rows (models a request or certificate cannot tell apart) only name a refusal', async (t) => {
  const trie = compileRoutes(
    [['TagResource', 'POST', '/tags/{Arn}', [], '', 'own']],
    [
      ['TagResource', 'POST', '/tags/{Arn}', [], '', 'other'],
      ['TagResource', 'POST', '/tagResource', [], '', 'a'],
      ['TagResource', 'POST', '/tagResource', [], '', 'b'],
    ],
  );
  t.match(matchIn(trie, 'POST', '/tags/x', '', 's').route, { operation: 'TagResource', model: 'own' }, 'a read row still reads its requests');
  t.equal(code(() => matchIn(trie, 'POST', '/tagResource', '', 's')), 'unparseable_request', 'a request only unread rows match');
  t.equal(code(() => matchIn(trie, 'GET', '/tagResource', '', 's')), 'unparseable_request', 'nor another method');
  // Bedrock's and Bedrock Data Automation's TagResource are both POST /tagResource at two hosts.
  const denial = (() => {
    try {
      routeRest('bedrock', 'POST', '/tagResource', '');
    } catch (err) {
      return err as Error;
    }
    return null;
  })();
  t.match(denial?.message, /TagResource of bedrock or TagResource of bedrock-data-automation/, 'the refusal names both models');
  t.equal(code(() => routeRest('chime', 'GET', '/tags', 'arn=x')), 'unparseable_request', 'the Chime SDK models\' GET /tags');
});

t.test('the generated tables are current: regenerating gives the same bytes', async (t) => {
  const root = new URL('../../../', import.meta.url).pathname;
  const copy = mkdtempSync(join(tmpdir(), 'gen-aws-'));
  cpSync(join(root, 'scripts'), join(copy, 'scripts'), { recursive: true });
  execFileSync('mkdir', ['-p', join(copy, 'src/targets/aws/data')]);
  execFileSync('python3', [join(copy, 'scripts/gen-aws-services.py')], { stdio: 'ignore' });
  for (const file of ['services.json', 'reads.json', 'rest-routes.json']) {
    const want = readFileSync(join(root, 'src/targets/aws/data', file));
    t.ok(readFileSync(join(copy, 'src/targets/aws/data', file)).equals(want), `${file} is what the generator writes`);
  }
});

/**
 * Fuzz: AWS request understanding and contract matching, every protocol the broker reads (S3
 * rest-xml, Lambda rest-json, query, json). The properties:
 * - the op `seb op capture` prints for a request, signed into a certificate, admits that request;
 * - a request with any one component changed is never admitted by that op unless an independent
 *   reading (aws-requests.ts `fingerprint`) says the upstream performs the very same call;
 * - changes of spelling alone (percent-encoding case, escaping a safe character, parameter order)
 *   are still admitted, so the strictness is exact rather than blanket;
 * - arbitrary requests are understood or denied, never crash, and the same way every time.
 */
import t from 'tap';
import fc from 'fast-check';
import type { IncomingMessage } from 'node:http';
import { cleanHead } from '../../src/server/hygiene.js';
import { credentialScope } from '../../src/targets/aws/scope.js';
import { admitsExactly, check, Coverage, outcome } from './harness.js';
import { applyEdit, chunkedBody, edit, kubePath, plainText, queryCase, tokenName, wireHeaderValue } from './arbitraries.js';
import {
  AWS_CONTRACT,
  capture,
  decide,
  jsonRequest,
  lambdaRequest,
  mutation,
  queryRequest,
  s3Request,
  toHttp,
  understand,
  type Req,
} from './aws-requests.js';

const TARGET = 'aws-understand';

for (const [name, arb] of [
  ['s3', s3Request],
  ['lambda', lambdaRequest],
  ['query protocol', queryRequest],
  ['json protocol', jsonRequest],
] as const) {
  t.test(`${name}: capture admits the request, one changed component is admitted only if it is the same call`, async (t) => {
    const cov = new Coverage();
    await check(t, TARGET, `${name} capture/mutate`, fc.property(arb as fc.Arbitrary<Req>, fc.array(mutation, { minLength: 1, maxLength: 4 }), (r, ms) => admitsExactly(AWS_CONTRACT, cov, r, ms)));
    // Guard against a vacuous pass: most generated requests must be ones the broker reads.
    t.ok(cov.count('captured') >= cov.count('refused'), `${name}: ${cov.count('captured')} captured, ${cov.count('refused')} refused`);
  });
}

/**
 * IAM's Resource matching (`*` any run, `?` one character, `${*}` `${?}` `${$}` literal, any other
 * `${...}` a policy variable), written here from the IAM policy grammar, not from src/.
 */
function iamMatches(pattern: string, arn: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const rest = pattern.slice(i);
    const literal = /^\$\{([*?$])\}/.exec(rest);
    if (literal) {
      re += '\\' + literal[1];
      i += 3;
    } else if (rest.startsWith('${')) {
      return true; // a policy variable: it could match anything, so treat it as a match
    } else if (pattern[i] === '*') re += '[\\s\\S]*';
    else if (pattern[i] === '?') re += '[\\s\\S]';
    else re += pattern[i]!.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'u').test(arn);
}

t.test('S3: the session policy grants exactly the objects the request names, whatever their keys hold', async (t) => {
  const cov = new Coverage();
  await check(t, TARGET, 's3 session policy', fc.property(s3Request, edit(fc.constantFrom('*', '?', '$', '{', '}', 'a', '/', '\u00e9')), (r, e) => {
    const got = outcome(() => understand(r));
    if (!got.ok) return true;
    const { operation } = got.value;
    const named = new Set<string>();
    const bucketArn = operation.resource.split('/')[0]!;
    for (const p of operation.permissions) {
      if (!p.resource.includes('/')) continue;
      cov.hit('object');
      // Every object statement matches some ARN it was derived from, and that ARN only.
      const literal = p.resource.replace(/\$\{([*?$])\}/g, '$1');
      if (!iamMatches(p.resource, literal)) return false;
      named.add(literal);
    }
    for (const arn of named) {
      const other = applyEdit(arn.slice(bucketArn.length + 1), e);
      const otherArn = `${arn.slice(0, arn.indexOf('/'))}/${other}`;
      if (named.has(otherArn)) continue;
      if (operation.permissions.some((p) => iamMatches(p.resource, otherArn))) return false;
    }
    return true;
  }));
  t.ok(cov.count('object') > 0, 'object statements were checked');
});

t.test('understanding is deterministic and never crashes on arbitrary requests', async (t) => {
  const wild = fc.record({
    method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS', 'get', ''),
    path: fc.oneof(kubePath, plainText.map((s) => `/${s}`), fc.constantFrom('/', '/b/k', '/2015-03-31/functions/f', '//x', '/b/%')),
    query: queryCase.map((q) => q.raw),
    service: fc.constantFrom('s3', 'lambda', 'sns', 'sqs', 'iam', 'kms', 'dynamodb', 'monitoring', 'ec2', 'sts', 'nope', 'S3', ''),
    region: fc.constantFrom('us-east-1', 'eu-west-1', 'cn-north-1', 'us-gov-west-1', 'US-EAST-1', 'x', ''),
    headers: fc.dictionary(fc.oneof(fc.constantFrom('content-type', 'x-amz-target', 'x-amz-copy-source', 'content-encoding', 'x-amz-content-sha256', 'x-amz-decoded-content-length', 'x-amz-trailer', 'x-amz-checksum-crc32', 'x-amz-sdk-checksum-algorithm', 'content-md5', 'smithy-protocol'), tokenName), wireHeaderValue, { maxKeys: 4 }),
    body: fc.oneof(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), chunkedBody.map((c) => c.raw)),
  });
  await check(t, TARGET, 'arbitrary requests', fc.property(wild, (w) => {
    const r: Req = {
      method: w.method,
      path: w.path,
      query: w.query,
      headers: { ...w.headers, authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261126/${w.region}/${w.service}/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` },
      body: w.body,
    };
    const a = outcome(() => understand(r));
    const b = outcome(() => understand(r));
    return JSON.stringify(a.ok ? a.value : a.code) === JSON.stringify(b.ok ? b.value : b.code);
  }));
});

t.test('the credential scope is read strictly from any Authorization header', async (t) => {
  const piece = fc.oneof(fc.constantFrom('AWS4-HMAC-SHA256 ', 'AWS4-ECDSA-P256-SHA256 ', 'AWS ', 'Credential=', 'SignedHeaders=', 'Signature=', ', ', ',', '/', 'aws4_request', 'us-east-1', 's3', '20261126', 'AKID', 'host;x-amz-date', 'ab'.repeat(32), '='), plainText);
  await check(t, TARGET, 'credentialScope', fc.property(fc.array(piece, { maxLength: 12 }), queryCase, (parts, q) => {
    const auth = parts.join('');
    const got = outcome(() => credentialScope(toHttp({ method: 'GET', path: '/', query: q.raw, headers: { authorization: auth }, body: Buffer.alloc(0) })));
    if (!got.ok) return got.code === 'unparseable_request';
    // Accepted: the scope named is exactly the one in the header, in SigV4's own syntax.
    return auth.startsWith('AWS4-HMAC-SHA256 ') && auth.includes(`/${got.value.region}/${got.value.service}/aws4_request`);
  }));
});

t.test('HTTP hygiene: header sets are read one way or refused', async (t) => {
  const LIST = new Set(['x-stream-protocol-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'accept', 'accept-encoding']);
  const DROPPED = /^(?:te|trailer|upgrade|forwarded|via|proxy-authorization|proxy-connection|x-forwarded-.*|x-remote-.*|proxy-.*)$/;
  const name = fc.constantFrom('Host', 'host', 'Content-Type', 'X-Amz-Target', 'X-SEB-Certificate', 'x-seb-other', 'Authorization', 'Impersonate-User', 'impersonate-group', 'X-Forwarded-For', 'X-Remote-User', 'Accept', 'X-Stream-Protocol-Version', 'Transfer-Encoding', 'Content-Length', 'Expect', 'Via', 'TE', 'Proxy-Foo', 'x-amz-meta-a');
  const head = fc.record({
    url: fc.oneof(kubePath, fc.constantFrom('/', '/b/k?x=1', 'http://h/x', '*', '/a#b', '')),
    method: fc.constantFrom('GET', 'PUT', 'POST'),
    raw: fc.array(fc.tuple(name, fc.oneof(wireHeaderValue, fc.constantFrom('chunked', '5', '100-continue', 'gzip', ' 5', '-1'))), { maxLength: 6 }),
  });
  await check(t, TARGET, 'cleanHead', fc.property(head, ({ url, method, raw }) => {
    const req = { url, method, httpVersion: '1.1', rawHeaders: raw.flat() } as unknown as IncomingMessage;
    const got = outcome(() => cleanHead(req));
    const lower = raw.map(([n]) => n.toLowerCase());
    const repeated = lower.some((n, i) => lower.indexOf(n) !== i && !LIST.has(n));
    const impersonating = lower.some((n) => n.startsWith('impersonate-'));
    if (!got.ok) return got.code === 'unparseable_request' || (got.code === 'client_impersonation' && impersonating);
    if (repeated || impersonating) return false;
    const names = Object.keys(got.value.headers);
    return names.every((n) => n === n.toLowerCase() && !DROPPED.test(n)) && got.value.path.startsWith('/') && !url.includes('#');
  }));
});

t.test('pinned regressions', async (t) => {
  // An op captured for one key never admits a key that only normalises to it.
  const base: Req = s3('/bkt/a/b', '');
  const op = capture(base);
  for (const path of ['/bkt/a/./b', '/bkt/a//b', '/bkt/a/c/../b', '/bkt/a%2Fb/', '/bkt/A/b', '/bkt/a/b%00']) {
    t.equal(decide(op, s3(path, '')).ok, false, path);
  }
  t.ok(decide(op, s3('/bkt/a%2Fb', '')).ok, 'S3 decodes %2F in a key: the same key');
  t.ok(decide(op, s3('/bkt/%61/b', '')).ok, '%61 is a');
  t.equal(decide(op, s3('/bkt/a/b', 'x-id=GetObject')).ok, false, 'a param the op did not pin');
  const latin1 = outcome(() => understand({ ...s3('/bkt/a/b', ''), headers: { ...s3('/bkt/a/b', '').headers, 'x-amz-meta-a': "Ki'\u0085% ym" } }));
  t.equal(latin1.ok ? 'ok' : latin1.code, 'unparseable_request', 'a semantic header value outside visible ASCII (signers fold U+0085 differently)');
  const twice = outcome(() => understand(s3('/bkt/a/b', 'versionId=1&versionId=2')));
  t.equal(twice.ok ? 'ok' : twice.code, 'unparseable_request', 'a repeated parameter');
});

function s3(path: string, query: string): Req {
  return {
    method: 'GET',
    path,
    query,
    headers: { host: 'h', authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' + 'ab'.repeat(32) },
    body: Buffer.alloc(0),
  };
}


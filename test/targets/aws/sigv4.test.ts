/**
 * The broker's synchronous SigV4 (src/targets/aws/sigv4.ts) against @smithy/signature-v4, the
 * signer of AWS's JavaScript SDK it replaced on the hot path (issue 14): the same complete header
 * set, Authorization included, for the inputs where the signing rules have corners.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import t from 'tap';
import type { AwsCredentials } from '../../../src/identity/types.js';
import { signSigV4, type SigV4Request } from '../../../src/targets/aws/sigv4.js';

const now = new Date('2026-11-26T12:34:56.789Z');
const withToken: AwsCredentials = { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret/with+chars', sessionToken: 'token==', expiration: new Date('2027-01-01T00:00:00Z') };
const withoutToken: AwsCredentials = { ...withToken, sessionToken: '' };

const base: SigV4Request = { method: 'GET', path: '/', query: {}, headers: { host: 'example.amazonaws.com' }, body: Buffer.alloc(0) };

const CASES: readonly [string, Partial<SigV4Request>, boolean][] = [
  ['a bare GET', {}, true],
  ['a key that is a prefix of another sorts first (a before a-b)', { query: { 'a-b': '2', a: '1', 'a.b': '3', A: '0' } }, true],
  ['query keys and values with reserved characters', { query: { 'k y': "v!'()*", 'ü': '/=&', 'X-Amz-Signature': 'dropped' } }, true],
  ['headers sent but never signed', { headers: { host: 'h', 'cache-control': 'no-cache', expect: '100-continue', 'user-agent': 'ua', 'proxy-x': '1', 'sec-x': '2', 'x-amzn-trace-id': 't' } }, true],
  ['headers the signature generates are dropped', { headers: { host: 'h', Date: 'Mon', authorization: 'old', 'X-Amz-Date': 'old' } }, true],
  ['values folded: tabs, runs of spaces, line breaks, edges', { headers: { host: 'h', 'x-amz-meta-a': '  a \t b  ', 'x-amz-meta-b': 'c\r\nd', 'X-Amz-Meta-C': 'upper' } }, true],
  ['the payload hash header is used as given', { method: 'PUT', headers: { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, body: Buffer.from('x') }, true],
  ['a body without the hash header is hashed', { method: 'POST', body: Buffer.from('Action=ListUsers') }, true],
  ['dot segments, double slashes and an encoded path, escaped again', { path: '/a/./b//../c%20d/~e/' }, true],
  ['S3: the wire path verbatim', { path: '/bucket/a/../b%2Fc//d' }, false],
  ['a header named __proto__ stays a header', { headers: Object.assign(Object.create(null) as Record<string, string>, { host: 'h', ['__proto__']: 'x' }) }, true],
];

for (const [name, overrides, uriEscapePath] of CASES) {
  for (const credentials of [withToken, withoutToken]) {
    t.test(`${name}${credentials.sessionToken ? '' : ', no session token'}`, async (t) => {
      const request = { ...base, ...overrides };
      const smithy = new SignatureV4({ credentials, service: 'svc', region: 'eu-west-3', sha256: Hash.bind(null, 'sha256'), uriEscapePath, applyChecksum: false });
      const expected = await smithy.sign({ ...request, protocol: 'https:', hostname: 'h', headers: { ...request.headers }, query: { ...request.query } }, { signingDate: now, signingService: 'svc', signingRegion: 'eu-west-3' });
      const got = signSigV4(request, credentials, { region: 'eu-west-3', service: 'svc', uriEscapePath, now });
      t.same({ ...got }, { ...expected.headers });
    });
  }
}

t.test('the signing key is kept per identity and scope: a second signature is the same, another day differs', async (t) => {
  const first = signSigV4(base, withToken, { region: 'us-east-1', service: 's3', uriEscapePath: false, now });
  const again = signSigV4(base, withToken, { region: 'us-east-1', service: 's3', uriEscapePath: false, now });
  const nextDay = signSigV4(base, withToken, { region: 'us-east-1', service: 's3', uriEscapePath: false, now: new Date(now.getTime() + 86_400_000) });
  t.equal(again['authorization'], first['authorization']);
  t.not(nextDay['authorization'], first['authorization']);
  t.match(nextDay['authorization'], /Credential=ASIAEXAMPLE\/20261127\/us-east-1\/s3\/aws4_request/);
});

import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { signUpstream, type SignInput } from '../../../src/targets/aws/sign.js';
import type { AwsCredentials } from '../../../src/identity/types.js';
import type { Endpoint } from '../../../src/identity/types.js';

const NOW = new Date('2026-11-26T04:00:00.123Z');
const credentials: AwsCredentials = {
  accessKeyId: 'ASIAEXAMPLEMINTED',
  secretAccessKey: 'minted-secret',
  sessionToken: 'minted-session-token',
  expiration: new Date('2026-11-26T04:15:00Z'),
};
const s3: Endpoint = { origin: 'https://s3.us-east-1.amazonaws.com', signingRegion: 'us-east-1', signingService: 's3' };
const lambda: Endpoint = { origin: 'http://127.0.0.1:5000', signingRegion: 'eu-west-1', signingService: 'lambda' };

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** RFC 3986 unreserved characters stay, everything else is %XX of its UTF-8 bytes (SigV4). */
function uriEncode(value: string): string {
  return Array.from(Buffer.from(value, 'utf8'))
    .map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

/**
 * An independent SigV4 computation (AWS "Create a canonical request"), to check the signer's
 * wiring: which path rule, which query form, which headers end up signed.
 */
function expectedAuthorization(input: SignInput, headers: Record<string, string>, canonicalPath: string): string {
  const names = Object.keys(headers).filter((n) => n !== 'authorization').sort();
  const query = Object.keys(input.query)
    .map((k) => [uriEncode(k), uriEncode(input.query[k]!)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [
    input.method,
    canonicalPath,
    query,
    names.map((n) => `${n}:${headers[n]!.trim()}\n`).join(''),
    names.join(';'),
    input.payloadHash,
  ].join('\n');
  const date = headers['x-amz-date']!;
  const scope = `${date.slice(0, 8)}/${input.endpoint.signingRegion}/${input.endpoint.signingService}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${input.credentials.secretAccessKey}`, date.slice(0, 8));
  for (const part of [input.endpoint.signingRegion, input.endpoint.signingService, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
}

function s3Put(overrides: Partial<SignInput> = {}): SignInput {
  const payload = Buffer.from('hello');
  return {
    service: 's3',
    method: 'PUT',
    path: '/reports/dir//my%20file~v1%25%C3%A9/../x.csv',
    query: {},
    rawQuery: '',
    headers: { 'content-type': 'text/csv', 'x-amz-checksum-crc32': 'NhCmhg==' },
    payload,
    payloadHash: sha256(payload),
    endpoint: s3,
    credentials,
    now: NOW,
    ...overrides,
  };
}

t.test('S3: the exact wire path is signed and sent, nothing normalised', async (t) => {
  const input = s3Put();
  const out = await signUpstream(input);
  t.equal(out.url, 'https://s3.us-east-1.amazonaws.com/reports/dir//my%20file~v1%25%C3%A9/../x.csv');
  t.equal(out.headers['authorization'], expectedAuthorization(input, out.headers, input.path));
});

t.test("the header set is built from nothing but the given headers and the broker's own", async (t) => {
  const out = await signUpstream(s3Put());
  t.same(Object.keys(out.headers).sort(), [
    'authorization',
    'content-length',
    'content-type',
    'host',
    'x-amz-checksum-crc32',
    'x-amz-content-sha256',
    'x-amz-date',
    'x-amz-security-token',
  ]);
  t.equal(out.headers['host'], 's3.us-east-1.amazonaws.com');
  t.equal(out.headers['content-length'], '5');
  t.equal(out.headers['x-amz-content-sha256'], sha256('hello'));
  t.equal(out.headers['x-amz-security-token'], 'minted-session-token');
  t.equal(out.headers['x-amz-date'], '20261126T040000Z');
  t.match(out.headers['authorization'], /SignedHeaders=content-length;content-type;host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
});

t.test("the broker's transport and identity headers override anything passed in", async (t) => {
  const input = s3Put({
    headers: {
      host: 'attacker.example',
      'content-length': '999',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-amz-security-token': 'agent-token',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIDAGENT/x',
      'x-amz-date': '20000101T000000Z',
    },
  });
  const out = await signUpstream(input);
  t.equal(out.headers['host'], 's3.us-east-1.amazonaws.com');
  t.equal(out.headers['content-length'], '5');
  t.equal(out.headers['x-amz-content-sha256'], input.payloadHash);
  t.equal(out.headers['x-amz-security-token'], 'minted-session-token');
  t.equal(out.headers['x-amz-date'], '20261126T040000Z');
  t.match(out.headers['authorization'], /^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEMINTED\//);
  t.equal(out.headers['authorization'], expectedAuthorization(input, out.headers, input.path));
});

t.test('the given hash is signed as is: the certified hash, not one the signer computes', async (t) => {
  const certified = 'a'.repeat(64);
  const input = s3Put({ payloadHash: certified });
  const out = await signUpstream(input);
  t.equal(out.headers['x-amz-content-sha256'], certified);
  t.equal(out.headers['authorization'], expectedAuthorization(input, out.headers, input.path));
});

t.test('query: the wire bytes go out, the decoded map is signed canonically', async (t) => {
  const table: [string, Record<string, string>][] = [
    ['uploads', { uploads: '' }],
    ['list-type=2&prefix=dir%2F%2Fmy%20file&max-keys=5', { 'list-type': '2', prefix: 'dir//my file', 'max-keys': '5' }],
    ['prefix=a%2Bb%20c&delimiter=%2F', { prefix: 'a+b c', delimiter: '/' }],
    ['versionId=3%2FL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY', { versionId: '3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY' }],
  ];
  for (const [rawQuery, query] of table) {
    const input = s3Put({ method: 'GET', path: '/reports', rawQuery, query, headers: {}, payload: Buffer.alloc(0), payloadHash: sha256('') });
    const out = await signUpstream(input);
    t.equal(out.url, `https://s3.us-east-1.amazonaws.com/reports?${rawQuery}`, rawQuery);
    t.equal(out.headers['authorization'], expectedAuthorization(input, out.headers, '/reports'), rawQuery);
  }
});

t.test('other services: the once-encoded wire path is escaped again in the signature', async (t) => {
  const payload = Buffer.from('{"k":1}');
  const input: SignInput = {
    service: 'lambda',
    method: 'POST',
    path: '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Afn/invocations',
    query: { Qualifier: 'v 1' },
    rawQuery: 'Qualifier=v%201',
    headers: { 'content-type': 'application/json' },
    payload,
    payloadHash: sha256(payload),
    endpoint: lambda,
    credentials,
    now: NOW,
  };
  const out = await signUpstream(input);
  t.equal(out.url, `http://127.0.0.1:5000${input.path}?Qualifier=v%201`);
  t.equal(out.headers['host'], '127.0.0.1:5000');
  t.equal(
    out.headers['authorization'],
    expectedAuthorization(input, out.headers, input.path.replace(/%/g, '%25')),
  );
  t.match(out.headers['authorization'], /Credential=ASIAEXAMPLEMINTED\/20261126\/eu-west-1\/lambda\/aws4_request/);
});

t.test('one identity signing for S3 and another service keeps each path rule', async (t) => {
  // Signers are cached per identity; the two path rules must not share one signer.
  const shared: AwsCredentials = { ...credentials, accessKeyId: 'ASIASHARED' };
  const a = s3Put({ credentials: shared, path: '/b/a%20b' });
  const b: SignInput = { ...s3Put({ credentials: shared, path: '/b/a%20b' }), service: 'lambda', endpoint: lambda };
  for (const input of [a, b, a]) {
    const out = await signUpstream(input);
    const canonical = input.service === 's3' ? input.path : input.path.replace(/%/g, '%25');
    t.equal(out.headers['authorization'], expectedAuthorization(input, out.headers, canonical), input.service);
  }
});

t.test('content-length: always with a payload or a body method, never on an empty GET', async (t) => {
  const table: [string, number, string | undefined][] = [
    ['GET', 0, undefined],
    ['HEAD', 0, undefined],
    ['DELETE', 0, undefined],
    ['PUT', 0, '0'],
    ['POST', 0, '0'],
    ['GET', 3, '3'],
    ['DELETE', 3, '3'],
  ];
  for (const [method, size, expected] of table) {
    const payload = Buffer.alloc(size, 0x61);
    const input = s3Put({ method, headers: {}, payload, payloadHash: sha256(payload) });
    const out = await signUpstream(input);
    t.equal(out.headers['content-length'], expected, `${method} ${size}`);
    t.equal(out.headers['authorization'], expectedAuthorization(input, out.headers, input.path), `${method} ${size}`);
  }
});

t.test('a different identity gives a different signature', async (t) => {
  const a = await signUpstream(s3Put());
  const b = await signUpstream(s3Put({ credentials: { ...credentials, secretAccessKey: 'other' } }));
  t.not(a.headers['authorization'], b.headers['authorization']);
});

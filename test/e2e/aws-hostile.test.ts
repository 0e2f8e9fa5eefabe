// Hostile input on the AWS listener: every byte is the agent's. Raw requests over node:net (each
// socket with a timeout, so nothing here can hang) against a broker with no upstream at all:
// everything below is refused before anything could go upstream. Each refusal must be clear (the
// status, X-SEB-Decision / X-SEB-Reason, an AWS-format error naming the reason, a deny record),
// and the broker must survive all of it: /healthz still answers and nothing was ever admitted.
import t, { type Test } from 'tap';
import { createHmac, createPublicKey } from 'node:crypto';
import { startTestBroker } from '../helpers/broker.js';
import { exchange as rawExchange, type ExchangeOptions, type RawResponse, type RawResult } from '../helpers/raw-http.js';
import { awsOp, makeKey, signJws } from '../helpers/pki.js';
import { sha256Hex } from '../../src/lib/digest.js';
import { canonicalJson } from '../../src/lib/jcs.js';

const MAX_BODY = 1024;
const tb = await startTestBroker(null, { config: { limits: { max_body_bytes: MAX_BODY, request_timeout: 30, max_stream: 3600 } } });
t.teardown(() => tb.close());
const port = Number(new URL(tb.url).port);
const host = `127.0.0.1:${port}`;

/** Exactly these bytes to the AWS listener (test/helpers/raw-http.ts parses what comes back). */
const exchange = (bytes: string | Buffer | (string | Buffer)[], o: ExchangeOptions = {}): Promise<RawResult> => rawExchange({ port }, bytes, o);

// ---------------------------------------------------------------------------------------------
// Requests as an unmodified SigV4 client would shape them (the signature is fake: the broker reads
// only the credential scope from it).

const fakeAuth = (service: string, region = 'us-east-1') =>
  `AWS4-HMAC-SHA256 Credential=AKIDAGENT/20261126/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`;

interface RequestSpec {
  readonly method?: string;
  readonly target?: string;
  readonly service?: string;
  /** Extra headers, in order; a name may repeat. */
  readonly headers?: [string, string][];
  readonly body?: string | Buffer;
  /** Content-Length is added for a body unless false. */
  readonly contentLength?: boolean;
  readonly auth?: boolean;
}

function head(s: RequestSpec): string {
  const lines = [`${s.method ?? 'PUT'} ${s.target ?? '/bkt/k'} HTTP/1.1`, `Host: ${host}`, 'X-Amz-Date: 20261126T000000Z'];
  if (s.auth !== false) lines.push(`Authorization: ${fakeAuth(s.service ?? 's3')}`);
  for (const [name, value] of s.headers ?? []) lines.push(`${name}: ${value}`);
  if (s.body !== undefined && s.contentLength !== false) lines.push(`Content-Length: ${Buffer.byteLength(s.body)}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function request(s: RequestSpec): Buffer {
  return Buffer.concat([Buffer.from(head(s), 'latin1'), Buffer.from(s.body ?? '')]);
}

const s3Put = (headers: [string, string][] = [], body = 'hello', target = '/bkt/k'): Buffer =>
  request({ target, headers: [['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD'], ...headers], body });

const EC2_FORM = 'application/x-www-form-urlencoded; charset=utf-8';
const DDB_JSON = 'application/x-amz-json-1.0';

// ---------------------------------------------------------------------------------------------
// Certificates: one op for the S3 PutObject of /bkt/k that every S3 case below sends.

const putOp = awsOp({ service: 's3', operation: 'PutObject', resource: 'arn:aws:s3:::bkt/k', body: { any: true } });
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A correctly signed certificate's claims under a header of the test's choosing. */
async function reheader(header: Record<string, unknown>, sign: (input: string) => string): Promise<{ jws: string; jti: string }> {
  const { jws, jti } = await tb.cert([putOp]);
  const payload = jws.split('.')[1]!;
  const input = `${b64(header)}.${payload}`;
  return { jws: `${input}.${sign(input)}`, jti };
}

// ---------------------------------------------------------------------------------------------
// Assertions shared by every case.

type Style = 's3' | 'query' | 'json';

interface Expected {
  readonly status: number;
  /** The reason; null where Node's own parser refuses the request before the pipeline. */
  readonly reason: string | null;
  readonly style?: Style;
  /** The broker closes the connection. */
  readonly closed?: boolean;
  /** The detail the error message must hold. */
  readonly detail?: string | RegExp;
  /** The certificate id the message and record must name. */
  readonly certId?: string;
}

async function recordAt(ref: string): Promise<Record<string, unknown> | undefined> {
  const seq = Number(ref.slice(ref.lastIndexOf(':') + 1));
  for (let i = 0; i < 50; i++) {
    const rec = tb.records.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['seq'] === seq);
    if (rec) return rec;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

async function expectDeny(t: Test, r: RawResult, e: Expected): Promise<void> {
  t.notOk(r.timedOut, 'the broker answered (no hang)');
  t.equal(r.responses.length, 1, 'one answer');
  const res = r.responses[0];
  if (!res) return;
  t.equal(res.status, e.status, `status ${e.status}`);
  t.equal(res.headers['x-seb-decision'], 'deny', 'X-SEB-Decision: deny');
  t.notOk(res.headers['retry-after'], 'no Retry-After');
  if (e.closed) t.ok(r.closed, 'the broker closed the connection');
  if (e.reason === null) {
    t.notOk(res.headers['x-seb-record'], 'refused by the HTTP parser: no record');
    return;
  }
  t.equal(res.headers['x-seb-reason'], e.reason, `X-SEB-Reason: ${e.reason}`);
  const message = errorMessage(t, res, e.style ?? 's3', e.status);
  t.match(message, `seb denied the request: ${e.reason}`, 'the error message names the reason');
  if (e.detail) t.match(message, e.detail, 'the error message says what was wrong');
  if (e.certId) t.match(message, `(certificate ${e.certId})`, 'the error message names the certificate');
  const ref = res.headers['x-seb-record'];
  t.ok(ref, 'X-SEB-Record names the decision record');
  if (!ref) return;
  const rec = await recordAt(ref);
  t.match(rec, { type: 'decision', decision: 'deny', reason: e.reason }, 'a deny record names the reason');
  if (e.certId) t.match(rec, { certificate: { jti: e.certId } }, 'the record names the certificate');
}

/** Checks the body is the AWS error format `style` and returns its message. */
function errorMessage(t: Test, res: RawResponse, style: Style, status: number): string {
  const denied = status === 401 || status === 403;
  if (style === 'json') {
    let doc: { __type?: string; message?: string } = {};
    try {
      doc = JSON.parse(res.body) as typeof doc;
    } catch {
      t.fail(`not a JSON error: ${res.body}`);
    }
    t.equal(doc.__type, denied ? 'AccessDeniedException' : 'ValidationException', 'json __type');
    t.equal(res.headers['x-amzn-errortype'], doc.__type, 'x-amzn-ErrorType matches __type');
    return doc.message ?? '';
  }
  const code = denied ? 'AccessDenied' : status === 413 ? (style === 's3' ? 'EntityTooLarge' : 'RequestEntityTooLarge') : 'InvalidRequest';
  const shape =
    style === 's3'
      ? new RegExp(`^<\\?xml [^>]*\\?>\\n<Error><Code>${code}</Code><Message>([^<]*)</Message><RequestId>[^<]+</RequestId></Error>$`)
      : new RegExp(`^<\\?xml [^>]*\\?>\\n<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>([^<]*)</Message></Error><RequestId>[^<]+</RequestId></ErrorResponse>$`);
  const m = shape.exec(res.body);
  t.ok(m, `an AWS ${style} error with code ${code}: ${res.body}`);
  return (m?.[1] ?? '').replaceAll('&apos;', "'").replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

// ---------------------------------------------------------------------------------------------
// Certificates that are not certificates (SPEC §2, §3).

t.test('certificates', async (t) => {
  const attacker = makeKey('attacker');
  const cases: { name: string; carrier?: string; jws: () => Promise<{ jws: string; jti?: string }>; detail: string | RegExp }[] = [
    { name: 'X-SEB-Certificate that is not a JWS at all', jws: async () => ({ jws: 'not-a-certificate' }), detail: 'X-SEB-Certificate is not a compact JWS' },
    { name: 'two segments', jws: async () => ({ jws: 'eyJhbGciOiJFZERTQSJ9.e30' }), detail: 'not a compact JWS' },
    { name: 'a header that is not JSON', jws: async () => ({ jws: `${Buffer.from('{"alg":').toString('base64url')}.e30.AAAA` }), detail: 'protected header is not strict JSON' },
    {
      name: 'a protected header with duplicate alg',
      jws: async () => ({ jws: `${Buffer.from('{"alg":"none","alg":"EdDSA","typ":"seb-cert+jwt","kid":"k"}').toString('base64url')}.e30.AAAA` }),
      detail: 'protected header is not strict JSON',
    },
    {
      name: 'over 16 KiB',
      jws: async () => tb.cert([putOp], { extraClaims: { padding: 'x'.repeat(17 * 1024) } }),
      detail: 'larger than 16384 bytes',
    },
    {
      name: 'alg none',
      jws: () => reheader({ alg: 'none', typ: 'seb-cert+jwt', kid: tb.issuer.kid }, () => 'AAAA'),
      detail: 'alg must be EdDSA or ES256',
    },
    {
      name: 'alg none in the session token',
      carrier: 'X-Amz-Security-Token',
      jws: () => reheader({ alg: 'none', typ: 'seb-cert+jwt', kid: tb.issuer.kid }, () => 'AAAA'),
      detail: 'alg must be EdDSA or ES256',
    },
    {
      name: 'HS256 keyed with the issuer public key bytes',
      jws: () => {
        const pem = createPublicKey({ key: tb.issuer.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        return reheader({ alg: 'HS256', typ: 'seb-cert+jwt', kid: tb.issuer.kid }, (input) => createHmac('sha256', pem).update(input).digest('base64url'));
      },
      detail: 'alg must be EdDSA or ES256',
    },
    {
      name: 'a jku header naming the key to verify with',
      jws: () => tb.cert([putOp], { header: { jku: 'http://evil.example/jwks.json' } }),
      detail: 'header parameter jku is not allowed',
    },
    {
      name: 'an embedded jwk signed by that key',
      jws: async () => {
        const { jws, jti } = await tb.cert([putOp]);
        const claims = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
        const { kid: _kid, alg: _alg, use: _use, ...jwk } = attacker.publicJwk;
        return { jws: await signJws(attacker, { typ: 'seb-cert+jwt', kid: tb.issuer.kid, jwk }, claims), jti };
      },
      detail: 'header parameter jwk is not allowed',
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const { jws, jti } = await c.jws();
      const r = await exchange(s3Put([[c.carrier ?? 'X-SEB-Certificate', jws]]), { waitClose: true });
      await expectDeny(t, r, { status: 401, reason: 'malformed_certificate', detail: c.detail, closed: true, ...(jti ? { certId: jti } : {}) });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Requests the broker cannot read exactly one way (SPEC §2.1, §3).

t.test('an oversized request head is refused with 431 and the connection closed', async (t) => {
  const r = await exchange(s3Put([['X-Padding', 'p'.repeat(70 * 1024)]]), { waitClose: true });
  await expectDeny(t, r, { status: 431, reason: null, closed: true });
  // A head just under the limit (a 16 KiB certificate fits with room) is still read normally.
  const ok = await exchange(s3Put([['X-Padding', 'p'.repeat(40 * 1024)]]), { waitClose: true });
  await expectDeny(t, ok, { status: 401, reason: 'no_certificate', closed: true });
});

t.test('a body over limits.max_body_bytes', async (t) => {
  const { jws, jti } = await tb.cert([putOp]);
  await t.test('declared by Content-Length (S3 with a matching certificate)', async (t) => {
    const r = await exchange(s3Put([['X-SEB-Certificate', jws]], 'b'.repeat(MAX_BODY * 2)), { waitClose: true });
    await expectDeny(t, r, { status: 413, reason: 'unparseable_request', detail: `max_body_bytes (${MAX_BODY})`, closed: true, certId: jti });
  });
  await t.test('streamed in chunks (query protocol, Transfer-Encoding: chunked)', async (t) => {
    const chunk = `Action=RunInstances&Version=2016-11-15&Pad=${'x'.repeat(500)}`;
    const body = [chunk, chunk, chunk].map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n';
    const bytes = request({ method: 'POST', target: '/', service: 'ec2', headers: [['Content-Type', EC2_FORM], ['Transfer-Encoding', 'chunked']], body, contentLength: false });
    const r = await exchange(bytes, { waitClose: true });
    await expectDeny(t, r, { status: 413, reason: 'unparseable_request', style: 'query', detail: 'max_body_bytes', closed: true });
  });
});

t.test('aws-chunked framing that lies', async (t) => {
  const { jws, jti } = await tb.cert([putOp]);
  const chunked = (decodedLength: number, framing: string): Buffer =>
    request({
      target: '/bkt/k',
      headers: [
        ['X-SEB-Certificate', jws],
        ['Content-Encoding', 'aws-chunked'],
        ['X-Amz-Content-Sha256', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'],
        ['X-Amz-Decoded-Content-Length', String(decodedLength)],
      ],
      body: framing,
    });
  const cases: [string, Buffer, string][] = [
    ['truncated: no final chunk', chunked(5, '5\r\nhello\r\n'), 'truncated'],
    ['truncated inside a chunk', chunked(16, '10\r\nhello'), 'truncated'],
    ['a chunk size larger than the decoded length', chunked(5, '10\r\nhello\r\n0\r\n\r\n'), 'exceeds x-amz-decoded-content-length'],
    ['a chunk size larger than the data that follows', chunked(16, '10\r\nhello\r\n0\r\n\r\n'), 'truncated'],
    ['a chunk size smaller than its data', chunked(5, '3\r\nhello\r\n0\r\n\r\n'), 'does not end in CRLF'],
    ['a chunk size that is not hex', chunked(5, 'zz\r\nhello\r\n0\r\n\r\n'), 'chunk header is malformed'],
  ];
  for (const [name, bytes, detail] of cases) {
    await t.test(name, async (t) => {
      const r = await exchange(bytes);
      await expectDeny(t, r, { status: 400, reason: 'unparseable_request', detail, certId: jti });
    });
  }
});

t.test('query protocol: Action in the query and a form body', async (t) => {
  for (const service of ['ec2', 'iam']) {
    await t.test(service, async (t) => {
      const action = service === 'ec2' ? 'RunInstances' : 'CreateUser';
      const version = service === 'ec2' ? '2016-11-15' : '2010-05-08';
      const bytes = request({
        method: 'POST',
        target: `/?Action=DeleteVpc&Version=${version}`,
        service,
        headers: [['Content-Type', EC2_FORM]],
        body: `Action=${action}&Version=${version}`,
      });
      const r = await exchange(bytes, { waitClose: true });
      await expectDeny(t, r, { status: 400, reason: 'unparseable_request', style: 'query', detail: 'carries no query string', closed: true });
    });
  }
});

t.test('json protocol', async (t) => {
  const put = JSON.stringify({ TableName: 't', Item: { k: { S: 'a' } } });
  await t.test('two X-Amz-Target headers', async (t) => {
    const bytes = request({
      method: 'POST',
      target: '/',
      service: 'dynamodb',
      headers: [['Content-Type', DDB_JSON], ['X-Amz-Target', 'DynamoDB_20120810.GetItem'], ['X-Amz-Target', 'DynamoDB_20120810.DeleteTable']],
      body: put,
    });
    const r = await exchange(bytes, { waitClose: true });
    await expectDeny(t, r, { status: 400, reason: 'unparseable_request', style: 'json', detail: 'x-amz-target is sent more than once', closed: true });
  });
  await t.test('a form body contradicting X-Amz-Target', async (t) => {
    const bytes = request({
      method: 'POST',
      target: '/',
      service: 'dynamodb',
      headers: [['Content-Type', DDB_JSON], ['X-Amz-Target', 'DynamoDB_20120810.PutItem']],
      body: 'Action=DeleteTable&TableName=t',
    });
    await expectDeny(t, await exchange(bytes), { status: 400, reason: 'unparseable_request', style: 'json', detail: 'JSON body' });
  });
  await t.test('a form content type under X-Amz-Target', async (t) => {
    const bytes = request({
      method: 'POST',
      target: '/',
      service: 'dynamodb',
      headers: [['Content-Type', EC2_FORM], ['X-Amz-Target', 'DynamoDB_20120810.PutItem']],
      body: 'Action=DeleteTable&TableName=t',
    });
    await expectDeny(t, await exchange(bytes, { waitClose: true }), { status: 400, reason: 'unparseable_request', style: 'json', detail: 'must be application/x-amz-json-1.0', closed: true });
  });
  await t.test('duplicate keys in a PutItem body pinned by jcs_sha256', async (t) => {
    const op = awsOp({
      service: 'dynamodb',
      operation: 'PutItem',
      resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/t',
      body: { jcs_sha256: sha256Hex(canonicalJson(JSON.parse(put))) },
    });
    const { jws } = await tb.cert([op]);
    for (const body of [
      '{"TableName":"t","Item":{"k":{"S":"a"}},"Item":{"k":{"S":"b"}}}',
      '{"TableName":"t","Item":{"k":{"S":"a","S":"b"}}}',
      '{"TableName":"t","TableName":"other","Item":{"k":{"S":"a"}}}',
    ]) {
      const bytes = request({
        method: 'POST',
        target: '/',
        service: 'dynamodb',
        headers: [['Content-Type', DDB_JSON], ['X-Amz-Target', 'DynamoDB_20120810.PutItem'], ['X-SEB-Certificate', jws]],
        body,
      });
      await expectDeny(t, await exchange(bytes), { status: 400, reason: 'unparseable_request', style: 'json', detail: 'duplicate' });
    }
  });
});

t.test('Content-Length together with Transfer-Encoding', async (t) => {
  const orders: [string, [string, string][]][] = [
    ['CL then TE', [['Content-Length', '5'], ['Transfer-Encoding', 'chunked']]],
    ['TE then CL', [['Transfer-Encoding', 'chunked'], ['Content-Length', '5']]],
  ];
  for (const [name, headers] of orders) {
    await t.test(name, async (t) => {
      const bytes = request({ headers: [['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD'], ...headers], body: '5\r\nhello\r\n0\r\n\r\n', contentLength: false });
      const r = await exchange(bytes, { waitClose: true });
      t.notOk(r.timedOut);
      t.equal(r.responses.length, 1, 'one answer, and nothing read as a second request');
      t.equal(r.responses[0]?.status, 400);
      t.equal(r.responses[0]?.headers['x-seb-decision'], 'deny');
      t.equal(r.responses[0]?.headers['x-seb-reason'], 'unparseable_request');
      t.ok(r.closed, 'the connection is closed');
    });
  }
  await t.test('a Transfer-Encoding other than chunked', async (t) => {
    const bytes = request({ headers: [['Transfer-Encoding', 'gzip, chunked, identity']], body: 'hello', contentLength: false });
    const r = await exchange(bytes, { waitClose: true });
    t.notOk(r.timedOut);
    t.equal(r.responses[0]?.status, 400);
    t.equal(r.responses[0]?.headers['x-seb-decision'], 'deny');
    t.ok(r.closed);
  });
});

t.test('S3 paths and queries that could be read two ways', async (t) => {
  const cases: [string, Buffer, string, Style][] = [
    ['invalid percent-encoding in a key', s3Put([], 'hello', '/bkt/a%zz'), 'not followed by two hex digits', 's3'],
    ['percent-encoding that is not UTF-8', s3Put([], 'hello', '/bkt/a%ff'), 'not give valid UTF-8', 's3'],
    ['a raw + in the query', request({ method: 'GET', target: '/bkt?prefix=a+b' }), 'a raw + is ambiguous', 's3'],
    ['a query parameter sent twice', request({ method: 'GET', target: '/bkt?prefix=a&prefix=b' }), 'sent more than once', 's3'],
    [
      'a presigned URL (SigV4 query auth)',
      request({
        method: 'GET',
        target: `/bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDAGENT%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261126T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=${'ab'.repeat(32)}`,
        auth: false,
      }),
      'presigned URLs are refused',
      'query',
    ],
    ['a presigned URL next to an Authorization header', request({ method: 'GET', target: `/bkt/k?x-amz-signature=${'ab'.repeat(32)}` }), 'presigned URLs are refused', 's3'],
    ['SigV2 query auth', request({ method: 'GET', target: '/bkt/k?AWSAccessKeyId=AKIDAGENT&Expires=1&Signature=abc' }), 'presigned URLs are refused', 's3'],
  ];
  for (const [name, bytes, detail, style] of cases) {
    await t.test(name, async (t) => {
      const r = await exchange(bytes, { waitClose: true });
      await expectDeny(t, r, { status: 400, reason: 'unparseable_request', style, detail, closed: true });
    });
  }
});

t.test('headers the client must not send', async (t) => {
  const { jws } = await tb.cert([putOp]);
  const cases: [string, Buffer, number, string, string][] = [
    ['X-SEB-Decision from the client', s3Put([['X-SEB-Certificate', jws], ['X-SEB-Decision', 'admit']]), 400, 'unparseable_request', "x-seb-decision is the broker's own"],
    ['X-SEB-Reason from the client', s3Put([['X-SEB-Reason', 'none']]), 400, 'unparseable_request', "x-seb-reason is the broker's own"],
    ['a second Host header', s3Put([['Host', 'evil.example']]), 400, 'unparseable_request', 'host is sent more than once'],
    ['two X-SEB-Certificate headers', s3Put([['X-SEB-Certificate', jws], ['x-seb-certificate', jws]]), 400, 'unparseable_request', 'x-seb-certificate is sent more than once'],
    ['Impersonate-User', s3Put([['X-SEB-Certificate', jws], ['Impersonate-User', 'system:admin']]), 403, 'client_impersonation', 'Impersonate-* headers'],
  ];
  for (const [name, bytes, status, reason, detail] of cases) {
    await t.test(name, async (t) => {
      const r = await exchange(bytes, { waitClose: true });
      await expectDeny(t, r, { status, reason, detail, closed: true });
    });
  }
});

t.test('an absolute-form request target', async (t) => {
  const { jws } = await tb.cert([putOp]);
  const bytes = Buffer.from(head({ target: 'http://evil.example/bkt/k', headers: [['X-SEB-Certificate', jws], ['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD']], body: 'hello' }) + 'hello');
  const r = await exchange(bytes, { waitClose: true });
  await expectDeny(t, r, { status: 400, reason: 'unparseable_request', detail: 'origin-form', closed: true });
});

t.test('a request line that is not HTTP', async (t) => {
  const r = await exchange('GARBAGE\r\n\r\n', { waitClose: true });
  await expectDeny(t, r, { status: 400, reason: null, closed: true });
});

t.test('Expect: 100-continue denied before the body: no 100 Continue, connection closed', async (t) => {
  const bytes = head({ headers: [['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD'], ['Expect', '100-continue']], body: 'x'.repeat(512) });
  // Only the head is sent: a client that asked for 100-continue waits before sending the body.
  const r = await exchange(bytes, { waitClose: true });
  t.notOk(r.all.some((res) => res.status === 100), 'no 100 Continue');
  await expectDeny(t, r, { status: 401, reason: 'no_certificate', detail: 'send the certificate', closed: true });
});

t.test('a client that goes away mid-body', async (t) => {
  const { jws, jti } = await tb.cert([putOp]);
  const before = tb.records.length;
  const bytes = head({ target: '/bkt/k', headers: [['X-SEB-Certificate', jws], ['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD']], body: 'y'.repeat(800) }) + 'y'.repeat(100);
  const r = await exchange(bytes, { after: (socket) => setTimeout(() => socket.destroy(), 100), timeoutMs: 2_000 });
  t.notOk(r.timedOut, 'the client closed its side itself');
  let rec: Record<string, unknown> | undefined;
  for (let i = 0; i < 100 && !rec; i++) {
    rec = tb.records
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((x) => x['type'] === 'decision' && (x['certificate'] as { jti?: string } | null)?.jti === jti);
    if (!rec) await new Promise((r) => setTimeout(r, 20));
  }
  t.match(rec, { decision: 'deny', reason: 'unparseable_request', detail: /went away|could not be read|shorter/ }, 'the abandoned request is recorded as a denial');
});

t.test('HTTP/1.1 pipelining: two requests on one socket are both answered, in order', async (t) => {
  const first = request({
    method: 'POST',
    target: '/',
    service: 'dynamodb',
    headers: [['Content-Type', DDB_JSON], ['X-Amz-Target', 'DynamoDB_20120810.PutItem']],
    body: '{"TableName":"t","TableName":"u"}',
  });
  const second = request({ method: 'POST', target: '/', service: 'ec2', headers: [['Content-Type', EC2_FORM]], body: 'Action=NoSuchAction&Version=2016-11-15' });
  const r = await exchange(Buffer.concat([first, second]), { count: 2 });
  t.notOk(r.timedOut);
  t.equal(r.responses.length, 2, 'two answers');
  const [a, b] = r.responses;
  if (!a || !b) return;
  t.equal(a.status, 400);
  t.equal(a.headers['x-seb-reason'], 'unparseable_request');
  t.equal(a.headers['x-amzn-errortype'], 'ValidationException', 'the first answer is the DynamoDB (json) one');
  t.match(errorMessage(t, a, 'json', 400), 'duplicate');
  t.equal(b.status, 400);
  t.equal(b.headers['x-seb-reason'], 'unparseable_request');
  t.match(errorMessage(t, b, 'query', 400), 'NoSuchAction is not an operation of ec2', 'the second answer is the EC2 (query) one');
  const seq = (h: string | undefined) => Number(h?.split(':')[1]);
  t.ok(seq(a.headers['x-seb-record']) < seq(b.headers['x-seb-record']), 'recorded in order');
});

t.test('the broker survived all of it and admitted nothing', async (t) => {
  const health = await fetch(`${tb.adminUrl}/healthz`);
  t.equal(health.status, 200, '/healthz answers 200');
  await health.arrayBuffer();
  // The aws listener still answers an ordinary (refused) request.
  const r = await exchange(s3Put(), { waitClose: true });
  await expectDeny(t, r, { status: 401, reason: 'no_certificate', closed: true });
  const decisions = tb.records.map((l) => JSON.parse(l) as { type: string; decision?: string }).filter((rec) => rec.type === 'decision');
  t.ok(decisions.length >= 40, `every refusal above was recorded (${decisions.length})`);
  t.equal(decisions.filter((rec) => rec.decision !== 'deny').length, 0, 'no admit (or read) decision exists');
});

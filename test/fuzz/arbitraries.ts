/**
 * Shared generators for the fuzz properties (test/fuzz/*.test.ts). Each produces the awkward inputs
 * a hostile agent can send: every byte and reserved character in S3 keys, percent-encodings in
 * both hex cases, duplicate and oddly encoded query parameters, header sets, aws-chunked bodies,
 * Kubernetes paths, JWS-like strings, JSON that stresses JCS, and record bodies.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';

// --- characters -------------------------------------------------------------------------------

/** RFC 3986 reserved and other characters that mean something to a URL reader, plus controls. */
export const RESERVED = [...'!#$&\'()*+,/:;=?@[] %"<>\\^`{|}~.-_', '\t', '\n', '\r', '\0', '\x7f'];

const alnum = fc.constantFrom(...'abcXYZ019');
/** Any code point, surrogate pairs included (never a lone surrogate: that is not text). */
const codePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
/** Any UTF-16 code unit, lone surrogates included: what a JS string can hold and JSON cannot. */
export const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u));

/** One character of an S3 key: mostly reserved and ASCII, some of everything else. */
export const keyChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...RESERVED) },
  { weight: 3, arbitrary: alnum },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: codePoint },
);

export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** S3 object keys: any text of 1..1024 UTF-8 bytes, with dot segments and slashes kept literal. */
export const s3Key = fc
  .array(fc.oneof({ weight: 6, arbitrary: keyChar }, { weight: 1, arbitrary: fc.constantFrom('/', '.', '..', '//', '/../', './', '%', '%2F') }), {
    minLength: 1,
    maxLength: 40,
  })
  .map((parts) => parts.join(''))
  .filter((k) => k !== '' && utf8Length(k) <= 1024);

/** Plain text names and values (query parameters, header-ish strings): mostly printable. */
export const plainText = fc.string({ unit: keyChar, maxLength: 16 });

// --- percent-encoding -------------------------------------------------------------------------

/** Where an encoded component goes; decides which characters may stay raw. */
export type Context = 'path' | 'query' | 'canonical';

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function rawAllowed(ch: string, context: Context): boolean {
  if (context === 'canonical') return UNRESERVED.test(ch);
  const c = ch.charCodeAt(0);
  // Printable ASCII but %, + (ambiguous: space or plus), # (fragment); a path also keeps ? out,
  // a query its separators.
  if (c < 0x21 || c > 0x7e || ch === '%' || ch === '+' || ch === '#') return false;
  if (context === 'path') return ch !== '?';
  return ch !== '&' && ch !== '=';
}

/**
 * Percent-encodes `decoded` (UTF-8), choosing per byte from `choices` (cycled) between the raw
 * character (where the context allows it), `%XX` and `%xx`. Every result decodes to `decoded`.
 */
export function encodeWith(decoded: string, choices: readonly number[], context: Context): string {
  let out = '';
  let i = 0;
  for (const ch of decoded) {
    const bytes = Buffer.from(ch, 'utf8');
    for (const b of bytes) {
      const choice = choices.length === 0 ? 0 : choices[i++ % choices.length]!;
      const single = bytes.length === 1 ? String.fromCharCode(b) : null;
      if (single !== null && choice % 3 === 0 && rawAllowed(single, context)) out += single;
      else out += '%' + b.toString(16).padStart(2, '0')[choice % 3 === 2 ? 'toLowerCase' : 'toUpperCase']();
    }
  }
  return out;
}

const choices = fc.array(fc.nat({ max: 8 }), { minLength: 1, maxLength: 24 });

/** A decoded string with one of its many raw encodings. */
export function encoded(decoded: fc.Arbitrary<string>, context: Context): fc.Arbitrary<{ decoded: string; raw: string }> {
  return fc.tuple(decoded, choices).map(([d, c]) => ({ decoded: d, raw: encodeWith(d, c, context) }));
}

/** The strict canonical encoding (SigV4's UriEncode): unreserved raw, everything else `%XX`. */
export function canonicalEncode(decoded: string): string {
  return encodeWith(decoded, [1], 'canonical');
}

// --- query strings ----------------------------------------------------------------------------

/** Pieces that make query strings odd: ambiguous, invalid or duplicate-making encodings. */
export const ODD_QUERY_PIECES = [
  '%2B', '%2b', '+', '%00', '%', '%G1', '%1', '%%', ';', '', '=', '==', 'a=1;b=2', '%C3', '%C3%28', '%ED%A0%80', '%EF%BB%BF',
  '%C0%80', '%F4%90%80%80', '%e2%82%ac', 'x-id=PutObject', 'X-Amz-Signature=00', 'x-amz-credential=a', 'Signature=x', '%41', 'A',
  'a', '%61', 'a=', 'a=%20', 'a= ', 'a=\u00e9', '#', '?',
];

export interface QueryCase {
  readonly raw: string;
  /** The pairs the raw string was built from, decoded; `null` where an odd piece was mixed in. */
  readonly pairs: readonly (readonly [string, string])[] | null;
}

/** Well-formed pairs (unique names or not), encoded in any way, possibly with odd pieces mixed in. */
export const queryCase: fc.Arbitrary<QueryCase> = fc
  .tuple(
    fc.array(fc.tuple(encoded(plainText.filter((s) => s !== ''), 'query'), encoded(plainText, 'query'), fc.boolean()), { maxLength: 6 }),
    fc.array(fc.tuple(fc.constantFrom(...ODD_QUERY_PIECES), fc.nat()), { maxLength: 3 }),
  )
  .map(([pairs, odd]) => {
    const pieces = pairs.map(([n, v, bare]) => (bare && v.decoded === '' ? n.raw : `${n.raw}=${v.raw}`));
    for (const [piece, at] of odd) pieces.splice(at % (pieces.length + 1), 0, piece);
    return {
      raw: pieces.join('&'),
      pairs: odd.length === 0 ? pairs.map(([n, v]) => [n.decoded, v.decoded] as const) : null,
    };
  });

// --- headers ----------------------------------------------------------------------------------

/** SPEC §2.1's transport allow-list, written out here again so the test does not trust the code's copy. */
export const TRANSPORT_HEADERS = [
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'expect', 'user-agent', 'accept',
  'accept-encoding', 'authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256',
  'x-amz-decoded-content-length', 'x-amz-trailer', 'x-amz-sdk-checksum-algorithm', 'content-md5',
  'amz-sdk-invocation-id', 'amz-sdk-request', 'x-amz-user-agent', 'x-amzn-trace-id', 'x-seb-certificate',
];

/** Headers that change what an S3 or other AWS request does (names lower-case, as hygiene leaves them). */
export const SEMANTIC_HEADERS = [
  'content-type', 'cache-control', 'content-disposition', 'content-language', 'expires', 'x-amz-meta-a', 'x-amz-meta-b',
  'x-amz-tagging', 'x-amz-acl', 'x-amz-grant-read', 'x-amz-storage-class', 'x-amz-server-side-encryption', 'if-match',
  'if-none-match', 'range', 'x-amz-request-payer', 'x-amz-expected-bucket-owner', 'x-custom', 'pragma', 'from', 'referer',
];

/** A header value as Node's parser hands it over: no leading or trailing whitespace, inner tabs and runs of spaces. */
function headerValueOf(obsText: number): fc.Arbitrary<string> {
  return fc
    .string({
      unit: fc.oneof(
        { weight: 24, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) },
        { weight: 6, arbitrary: fc.constantFrom(' ', '  ', '\t', ' \t ') },
        { weight: obsText, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
      ),
      maxLength: 24,
    })
    .map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
}

/** Visible ASCII, spaces and tabs: what AWS clients send. */
export const headerValue = headerValueOf(0);
/** Also obs-text (bytes 0x80-0xff, which Node reads as latin1): what a hostile client can send. */
export const wireHeaderValue = headerValueOf(2);

export const tokenName = fc.string({ unit: fc.constantFrom(...'abcxyz-0123'), minLength: 1, maxLength: 10 });

// --- aws-chunked ------------------------------------------------------------------------------

export type Framing = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export type ChecksumName = 'crc32' | 'sha1' | 'sha256';

export interface ChunkedBody {
  readonly payload: Buffer;
  readonly raw: Buffer;
  readonly headers: Record<string, string>;
  /** [start, end) of each data region of `raw`, in payload order. */
  readonly data: readonly (readonly [number, number])[];
  readonly framing: Framing;
  readonly checksum: ChecksumName | null;
}

/** Checksums computed here with node's own crc32 and hashes: independent of src/. */
export function checksumOf(name: ChecksumName, payload: Buffer): string {
  if (name === 'crc32') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(crc32(payload) >>> 0);
    return b.toString('base64');
  }
  return createHash(name).update(payload).digest('base64');
}

/** Frames `payload` as `size[;chunk-signature=..]\r\n data \r\n ... 0..\r\n trailer \r\n\r\n`. */
export function frame(payload: Buffer, sizes: readonly number[], framing: Framing, checksum: ChecksumName | null, upperHex: boolean, sig: string): ChunkedBody {
  const signed = framing !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
  const trailer = framing !== 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
  const withChecksum = trailer ? checksum : null;
  const parts: Buffer[] = [];
  const data: [number, number][] = [];
  let length = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    length += b.length;
  };
  const head = (n: number): Buffer => {
    const hex = n.toString(16);
    return Buffer.from(`${upperHex ? hex.toUpperCase() : hex}${signed ? `;chunk-signature=${sig}` : ''}\r\n`, 'latin1');
  };
  let at = 0;
  let i = 0;
  while (at < payload.length) {
    const n = Math.min(sizes.length === 0 ? payload.length : Math.max(1, sizes[i++ % sizes.length]!), payload.length - at);
    push(head(n));
    data.push([length, length + n]);
    push(payload.subarray(at, at + n));
    push(Buffer.from('\r\n'));
    at += n;
  }
  push(head(0));
  if (withChecksum !== null) push(Buffer.from(`x-amz-checksum-${withChecksum}:${checksumOf(withChecksum, payload)}\r\n`, 'latin1'));
  if (signed && trailer) push(Buffer.from(`x-amz-trailer-signature:${sig}\r\n`));
  push(Buffer.from('\r\n'));
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': framing,
    'x-amz-decoded-content-length': String(payload.length),
  };
  if (withChecksum !== null) headers['x-amz-trailer'] = `x-amz-checksum-${withChecksum}`;
  return { payload, raw: Buffer.concat(parts), headers, data, framing, checksum: withChecksum };
}

export const chunkedBody: fc.Arbitrary<ChunkedBody> = fc
  .tuple(
    fc.uint8Array({ maxLength: 200 }),
    fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 6 }),
    fc.constantFrom<Framing>('STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'),
    fc.constantFrom<ChecksumName | null>(null, 'crc32', 'sha1', 'sha256'),
    fc.boolean(),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
  )
  .map(([payload, sizes, framing, checksum, upper, sig]) => frame(Buffer.from(payload), sizes, framing, checksum, upper, sig));

// --- Kubernetes paths -------------------------------------------------------------------------

/** Path segments (raw, still encoded): the apiserver's vocabulary and what could confuse it. */
export const KUBE_SEGMENTS = [
  'api', 'apis', 'v1', 'v1beta1', 'apps', 'batch', 'rbac.authorization.k8s.io', 'namespaces', 'ns', 'kube-system', 'watch',
  'proxy', 'status', 'finalize', 'pods', 'p', 'exec', 'attach', 'portforward', 'log', 'scale', 'deployments', 'web',
  'configmaps', 'secrets', 'serviceaccounts', 'token', 'nodes', 'services', 'https:web:443', 'version', 'openapi', 'v3',
  'healthz', '', '.', '..', '%2e', '%2E%2E', 'a%2Fb', 'a%2fb', 'a%5Cb', '%61pi', 'n%61mespaces', 'caf%C3%A9', 'caf%c3%a9', 'a+b',
  '%25', '%252F', '%zz', '%', 'x;y', 'a%00b', '%20', 'a b', 'a\tb', '\u00e9', '%FF', 'WATCH', 'Api',
];

export const kubeMethod = fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'DELETE', 'OPTIONS', 'get', 'CONNECT', 'TRACE');

export const kubePath = fc
  .tuple(
    fc.array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...KUBE_SEGMENTS) }, { weight: 1, arbitrary: plainText.map((s) => encodeWith(s, [0, 1, 2], 'path')) }), {
      minLength: 0,
      maxLength: 9,
    }),
    fc.constantFrom('', '', '', '/', '//'),
    fc.constantFrom('/', '/', '/', '//', ''),
  )
  .map(([segments, tail, lead]) => lead + segments.join('/') + tail);

/** A Kubernetes object name, sometimes with characters the apiserver never puts in one. */
export const kubeName = fc.oneof(
  { weight: 12, arbitrary: fc.string({ unit: fc.constantFrom(...'abc-019.'), minLength: 1, maxLength: 8 }).filter((n) => n !== '.' && n !== '..') },
  { weight: 1, arbitrary: fc.constantFrom('https:web:443', 'a:b', '..', '.', 'a%2Fb', 'caf%C3%A9', '%61', 'a+b', 'p%20q', '%25') },
);

/**
 * Mostly well-formed resource paths (prefix, group/version, legacy verb, namespace, resource, name,
 * subresource, trailing segments), with a few segments swapped for awkward ones or re-spelled with
 * escapes: the inputs on which the broker and the apiserver must agree.
 */
export const kubeResourcePath = fc
  .record({
    prefix: fc.constantFrom(['api', 'v1'], ['apis', 'apps', 'v1'], ['apis', 'rbac.authorization.k8s.io', 'v1'], ['apis', 'batch', 'v1beta1'], ['api'], ['apis', 'apps']),
    verb: fc.option(fc.constantFrom('watch', 'proxy'), { freq: 4, nil: null }),
    namespace: fc.option(kubeName, { nil: null }),
    resource: fc.constantFrom('pods', 'deployments', 'configmaps', 'namespaces', 'secrets', 'serviceaccounts', 'nodes', 'services'),
    name: fc.option(kubeName, { nil: null }),
    sub: fc.option(fc.constantFrom('status', 'finalize', 'exec', 'attach', 'portforward', 'log', 'scale', 'proxy', 'token', 'binding'), { nil: null }),
    extra: fc.array(fc.constantFrom('x', 'healthz', 'a', '', '..'), { maxLength: 2 }).map((e) => (e.length > 0 && e[0] === 'x' ? e : [])),
    swaps: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...KUBE_SEGMENTS)), { maxLength: 1 }),
    respell: fc.array(fc.nat(), { maxLength: 2 }),
  })
  .map((g) => {
    const segs: string[] = [...g.prefix];
    if (g.verb !== null) segs.push(g.verb);
    if (g.namespace !== null) segs.push('namespaces', g.namespace);
    segs.push(g.resource);
    if (g.name !== null) {
      segs.push(g.name);
      if (g.sub !== null) segs.push(g.sub, ...g.extra);
    }
    for (const [at, seg] of g.swaps) segs[at % segs.length] = seg;
    for (const at of g.respell) {
      const i = at % segs.length;
      // Escape one character of a segment: %61 for a and so on, as the apiserver decodes it.
      segs[i] = segs[i]!.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
    }
    return '/' + segs.join('/');
  });

/** Query pieces the apiserver gives meaning to, and ways to repeat or disguise them. */
export const KUBE_QUERY_PIECES = [
  'watch=true', 'watch=1', 'watch=0', 'watch=false', 'watch=FALSE', 'watch=', 'watch', 'watch=yes',
  'fieldSelector=metadata.name%3Dp', 'fieldSelector=metadata.name%3D%3Dp', 'fieldSelector=metadata.name!%3Dp',
  'fieldSelector=metadata.name%3Dp,spec.x%3Dy', 'fieldSelector=foo%3Dbar', 'fieldSelector=metadata.name%3D',
  'fieldSelector=metadata.name%3D..', 'fieldSelector=metadata.name%3Da%2Fb', 'labelSelector=app%3Dweb', 'limit=500',
  'timeoutSeconds=5', 'pretty=true', 'timeout=5s', 'dryRun=All', 'fieldManager=kubectl', 'force=true', 'command=sh',
  'command=-c', 'command=echo+hi', 'container=c', 'stdin=true', 'stdout=true', 'tty=true', 'resourceVersion=0',
  'gracePeriodSeconds=0', '__proto__=x', 'constructor=y', '',
];
/** Pieces the broker refuses or that read differently in other readers. */
export const KUBE_QUERY_ODD = [
  'watch=fals%C5%BF', 'fieldSelector=metadata.name%3Dp%2Cmetadata.name%3Dq', 'fieldSelector=bad', 'fieldSelector=metadata.name%3Dp%5C',
  'labelSelector=a+b', 'limit=x', 'limit=99999999999999999999', 'timeoutSeconds=-1', 'timeoutSeconds=1e3', 'a=1;b=2', '%zz=1',
  'x=%', '=v', 'watch=true&watch=false',
];

export const kubeQuery = fc
  .array(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...KUBE_QUERY_PIECES) }, { weight: 1, arbitrary: fc.constantFrom(...KUBE_QUERY_ODD) }), { maxLength: 4 })
  .map((pieces) => pieces.join('&'));

// --- JWS-like strings -------------------------------------------------------------------------

const b64url = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 40 });

export const jwsLike = fc.oneof(
  fc.tuple(b64url, b64url, b64url).map(([a, b, c]) => `${a}.${b}.${c}`),
  fc.tuple(fc.jsonValue(), fc.jsonValue(), b64url).map(([h, p, s]) => `${b64(JSON.stringify(h) ?? 'null')}.${b64(JSON.stringify(p) ?? 'null')}.${s}`),
  fc.string({ unit: fc.constantFrom(...'Aa0-_.=+/ \t\u00e9'), maxLength: 60 }),
  fc.string({ maxLength: 60 }),
);

export function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

/** One edit of a string: replace, insert or delete a character at a position (index taken modulo length). */
export interface Edit {
  readonly kind: 'replace' | 'insert' | 'delete';
  readonly at: number;
  readonly ch: string;
}

export const edit = (alphabet: fc.Arbitrary<string>): fc.Arbitrary<Edit> =>
  fc.record({ kind: fc.constantFrom<Edit['kind']>('replace', 'insert', 'delete'), at: fc.nat(), ch: alphabet });

export function applyEdit(s: string, e: Edit): string {
  if (e.kind === 'insert') {
    const i = e.at % (s.length + 1);
    return s.slice(0, i) + e.ch + s.slice(i);
  }
  if (s.length === 0) return s;
  const i = e.at % s.length;
  return s.slice(0, i) + (e.kind === 'replace' ? e.ch : '') + s.slice(i + 1);
}

export const jwsChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/');

// --- JSON ---------------------------------------------------------------------------------------

/** Numbers whose JCS form is easy to get wrong (RFC 8785 §3.2.2.3 and appendix B). */
export const JCS_NUMBERS = [
  0, -0, 1, -1, 1e21, 1e20, 1e-7, 1e-6, 5e-324, -5e-324, 2 ** 53 - 1, -(2 ** 53 - 1), 1.7976931348623157e308, 0.1, 1 / 3,
  4.35, 0.000001, 123456789012345680000, 9007199254740990, 1e23, 2 ** -1074, 333333333.3333333, 1e-5, 100, 1.5e300,
];

export const jcsNumber = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...JCS_NUMBERS) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }) },
);

/** Numbers I-JSON can hold (RFC 7493 §2.2): no integral value beyond ±(2^53-1). */
export const iJsonNumber = jcsNumber.filter((n) => !(Number.isInteger(n) && Math.abs(n) > Number.MAX_SAFE_INTEGER));

/** Keys whose UTF-16 order differs from their code-point or UTF-8 order, and other edge cases. */
export const jcsKey = fc.oneof(
  fc.constantFrom('\u20ac', '\ud83d\ude00', '\r', '1', '10', 'a', 'A', '', '\u0080', '\uffff', '\u00f6', '\ufb33', '__proto__', 'constructor', 'toString'),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

export const jcsString = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('\u2028\u2029', '"\\/\b\f\n\r\t', '\u0000\u001f\u007f', '\ud83d\ude00'));

/** JSON values (as JS values) built to stress JCS: numbers, key order, escapes, nesting. */
export const jcsValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    jcsNumber,
    jcsString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(jcsKey, tie('value')), { maxLength: 5 }).map((entries) => {
      // defineProperty, not assignment: a key "__proto__" must be an own member, as JSON.parse makes it.
      const o: Record<string, unknown> = {};
      for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }),
  ),
})).value;

// --- records ------------------------------------------------------------------------------------

/** Strings an agent controls and the broker records: any code unit, lone surrogates included. */
export const agentString = fc.oneof(fc.string({ unit: codeUnit, maxLength: 12 }), fc.string({ maxLength: 12 }));

export const decisionBody = fc.record({
  // The writer records only numbers it makes itself (sizes, times, indexes): I-JSON ones.
  request: fc.record({ method: fc.constantFrom('GET', 'PUT', 'POST'), path: agentString, n: iJsonNumber, tags: fc.array(agentString, { maxLength: 3 }) }),
  certificate: fc.option(fc.record({ jti: agentString, iss: agentString, op: fc.nat(31) }), { nil: null }),
  decision: fc.constantFrom<'admit' | 'deny' | 'read'>('admit', 'deny', 'read'),
  reason: fc.option(fc.constantFrom('contract_mismatch', 'unparseable_request'), { nil: null }),
  detail: fc.option(agentString, { nil: null }),
  identity: fc.option(fc.record({ type: fc.constant('aws'), access_key_id: agentString }), { nil: null }),
});

export const outcomeBody = fc.record({
  status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: null }),
  upstream_request_id: fc.option(agentString, { nil: null }),
  bytes_in: fc.nat(),
  bytes_out: fc.nat(),
  duration_ms: fc.nat(),
  error: fc.option(agentString, { nil: null }),
});

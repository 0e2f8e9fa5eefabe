/**
 * The semantic headers of an AWS request (SPEC §2.1): every header except the transport
 * allow-list. A certificate pins these exactly, so whatever is not on the list below changes the
 * meaning of the request as far as the broker is concerned.
 */
import { unparseable } from '../../reasons.js';
import { CHECKSUM_ALGORITHM } from './integrity.js';

// Compiled once: the per-request check is one Set lookup per header (STYLE: hot path).
const TRANSPORT = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'expect',
  'user-agent',
  'accept',
  'accept-encoding',
  'authorization',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'x-amz-decoded-content-length',
  'x-amz-trailer',
  'x-amz-sdk-checksum-algorithm',
  'content-md5',
  'amz-sdk-invocation-id',
  'amz-sdk-request',
  'x-amz-user-agent',
  'x-amzn-trace-id',
  'x-seb-certificate',
]);
const TRANSPORT_PREFIX = 'x-amz-checksum-';
/**
 * A semantic header is forwarded and signed, so its value must read one way on both sides: tab and
 * visible ASCII only. Node hands over bytes 0x80-0xff as latin1 text, which SigV4 then hashes as
 * UTF-8, and signers disagree on whether U+0085 and U+00A0 are spaces to fold (smithy no and yes,
 * botocore yes and yes; found by test/fuzz/sigv4-botocore.test.ts).
 */
const VALUE = /^[\t\x20-\x7e]*$/;

export const AWS_CHUNKED = 'aws-chunked';

/** A `content-encoding` value split into the `aws-chunked` framing flag and the semantic rest. */
export interface ContentCodings {
  readonly awsChunked: boolean;
  /** The remaining codings joined with `,`, or `null` when none remain. */
  readonly rest: string | null;
}

/**
 * Splits `content-encoding` into its tokens. `aws-chunked` is transport framing that the broker
 * removes (reference/aws.md §4.3); any other coding (`gzip`) describes the stored object and is
 * semantic. A token that only case-folds to `aws-chunked`, an empty token or a repeated
 * `aws-chunked` could be read two ways and is refused.
 */
export function splitContentEncoding(value: string): ContentCodings {
  let awsChunked = false;
  const rest: string[] = [];
  for (const raw of value.split(',')) {
    const token = raw.trim();
    if (token === '') throw unparseable('content-encoding holds an empty coding');
    if (token === AWS_CHUNKED) {
      if (awsChunked) throw unparseable('content-encoding names aws-chunked twice');
      awsChunked = true;
    } else if (token.toLowerCase() === AWS_CHUNKED) {
      throw unparseable('content-encoding spells aws-chunked in another case');
    } else {
      rest.push(token);
    }
  }
  return { awsChunked, rest: rest.length === 0 ? null : rest.join(',') };
}

/** Every header but the transport allow-list, in a null-prototype record; refuses non-ASCII values. */
export function semanticHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const name of Object.keys(headers)) {
    if (TRANSPORT.has(name) || (name.startsWith(TRANSPORT_PREFIX) && name !== CHECKSUM_ALGORITHM)) continue;
    const value = headers[name]!;
    if (!VALUE.test(value)) throw unparseable(`header ${name} holds a character outside visible ASCII`);
    if (name === 'content-encoding') {
      // Without aws-chunked the value is kept verbatim: exactly what the client sent is pinned.
      const { awsChunked, rest } = splitContentEncoding(value);
      if (!awsChunked) out[name] = value;
      else if (rest !== null) out[name] = rest;
      continue;
    }
    out[name] = value;
  }
  return out;
}

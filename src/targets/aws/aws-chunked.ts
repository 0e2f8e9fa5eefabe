/**
 * Reads an AWS request body exactly: removes `aws-chunked` framing and checks every integrity
 * claim the client makes about the bytes (SPEC §2.1 body binding is "after removing aws-chunked
 * framing"; SPEC §3: the body is checked before anything goes upstream).
 *
 * The broker always de-chunks (reference/aws.md §4.3): chunk signatures chain from the agent's
 * own signature, which the broker can neither check (it never knows the agent's secret) nor
 * forward, so they are parsed for shape and dropped, and the payload is re-signed as a whole.
 */
import { unparseable } from '../../reasons.js';
import { sha256Hex } from '../../lib/digest.js';
import { checkIntegrity } from './integrity.js';
import { splitContentEncoding } from './semantic-headers.js';
import type { AwsBody } from './types.js';

interface Framing {
  /** Every chunk carries `;chunk-signature=<64 hex>`. */
  readonly signed: boolean;
  /** Trailer lines follow the final chunk. */
  readonly trailer: boolean;
}

/** The `x-amz-content-sha256` values that announce aws-chunked framing, and what each implies. */
const FRAMINGS: Readonly<Record<string, Framing>> = Object.assign(Object.create(null), {
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': { signed: false, trailer: true },
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': { signed: true, trailer: false },
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': { signed: true, trailer: true },
});

const HEX64 = /^[0-9a-f]{64}$/;
const CHUNK_HEADER = /^([0-9A-Fa-f]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/;
const TRAILER_LINE = /^([A-Za-z0-9-]+):(.*)$/s;
const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;
const TRAILER_SIGNATURE = 'x-amz-trailer-signature';
// A chunk header is at most 16 hex digits plus `;chunk-signature=` and 64 hex; a trailer line a
// checksum name and its base64. Bounding the line keeps a missing CRLF from scanning the body.
const MAX_LINE = 256;
const CRLF = Buffer.from('\r\n');
const NONE: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

/** The payload of `raw` and its checked integrity headers; throws `unparseable` on any doubt. */
export function decodeAwsBody(headers: Readonly<Record<string, string>>, raw: Buffer): AwsBody {
  const encoding = headers['content-encoding'];
  const contentSha = headers['x-amz-content-sha256'];
  if (encoding === undefined || !splitContentEncoding(encoding).awsChunked) {
    // These describe framing that is not there: an upstream might still act on them.
    if (headers['x-amz-decoded-content-length'] !== undefined) throw unparseable('x-amz-decoded-content-length without aws-chunked');
    if (headers['x-amz-trailer'] !== undefined) throw unparseable('x-amz-trailer without aws-chunked');
    if (contentSha !== undefined && contentSha !== 'UNSIGNED-PAYLOAD') {
      if (!HEX64.test(contentSha)) throw unparseable('x-amz-content-sha256 is neither a payload hash nor UNSIGNED-PAYLOAD');
      if (sha256Hex(raw) !== contentSha) throw unparseable('x-amz-content-sha256 does not match the body');
    }
    return { payload: raw, integrityHeaders: checkIntegrity(headers, NONE, raw) };
  }

  const framing = contentSha === undefined ? undefined : FRAMINGS[contentSha];
  if (framing === undefined) throw unparseable('aws-chunked needs a STREAMING-* x-amz-content-sha256');
  const lengthHeader = headers['x-amz-decoded-content-length'];
  if (lengthHeader === undefined || !DECIMAL.test(lengthHeader)) {
    throw unparseable('aws-chunked needs a decimal x-amz-decoded-content-length');
  }
  const declared = trailerNames(headers['x-amz-trailer'], framing);
  const { payload, trailer } = dechunk(raw, framing, Number(lengthHeader));
  const sent = Object.keys(trailer);
  if (sent.length !== declared.size || sent.some((name) => !declared.has(name))) {
    throw unparseable('the trailer does not hold exactly the fields x-amz-trailer declares');
  }
  return { payload, integrityHeaders: checkIntegrity(headers, trailer, payload) };
}

function trailerNames(value: string | undefined, framing: Framing): ReadonlySet<string> {
  const names = new Set<string>();
  if (value === undefined) return names;
  if (!framing.trailer) throw unparseable('x-amz-trailer with a framing that has no trailer');
  for (const raw of value.split(',')) {
    const name = raw.trim().toLowerCase();
    if (!/^[a-z0-9-]+$/.test(name) || name === TRAILER_SIGNATURE) throw unparseable('x-amz-trailer names an invalid field');
    if (names.has(name)) throw unparseable(`x-amz-trailer names ${name} twice`);
    names.add(name);
  }
  return names;
}

/** Parses `size[;chunk-signature=..]\r\n data \r\n ... 0[;..]\r\n trailer-lines \r\n` strictly. */
function dechunk(raw: Buffer, framing: Framing, declared: number): { payload: Buffer; trailer: Record<string, string> } {
  const parts: Buffer[] = [];
  let total = 0;
  let pos = 0;
  for (;;) {
    const { line, next } = readLine(raw, pos);
    const m = CHUNK_HEADER.exec(line);
    if (m === null) throw unparseable('an aws-chunked chunk header is malformed');
    if ((m[2] !== undefined) !== framing.signed) {
      throw unparseable(framing.signed ? 'a chunk lacks its chunk-signature' : 'a chunk-signature in an unsigned framing');
    }
    const size = parseInt(m[1]!, 16);
    pos = next;
    if (size === 0) break;
    // Checked before slicing: a size that overruns the body or the declared length is a lie.
    if (size > declared - total) throw unparseable('aws-chunked data exceeds x-amz-decoded-content-length');
    if (size + 2 > raw.length - pos) throw unparseable('an aws-chunked chunk is truncated');
    if (raw[pos + size] !== 0x0d || raw[pos + size + 1] !== 0x0a) throw unparseable('an aws-chunked chunk does not end in CRLF');
    parts.push(raw.subarray(pos, pos + size));
    total += size;
    pos += size + 2;
  }
  if (total !== declared) throw unparseable('aws-chunked data is shorter than x-amz-decoded-content-length');

  const trailer: Record<string, string> = Object.create(null);
  let signature = false;
  for (;;) {
    const { line, next } = readLine(raw, pos);
    pos = next;
    if (line === '') break;
    const m = TRAILER_LINE.exec(line);
    if (!framing.trailer || m === null || signature) throw unparseable('an aws-chunked trailer line is malformed or misplaced');
    const name = m[1]!.toLowerCase();
    if (name === TRAILER_SIGNATURE && framing.signed) {
      if (!HEX64.test(m[2]!)) throw unparseable('x-amz-trailer-signature is malformed');
      // Dropped like the chunk signatures; it must be the last line.
      signature = true;
      continue;
    }
    if (name in trailer) throw unparseable(`trailer field ${name} is sent twice`);
    trailer[name] = m[2]!;
  }
  if (framing.signed && framing.trailer && !signature) throw unparseable('the trailer lacks x-amz-trailer-signature');
  if (pos !== raw.length) throw unparseable('bytes follow the end of the aws-chunked body');
  return { payload: parts.length === 1 ? parts[0]! : Buffer.concat(parts, total), trailer };
}

function readLine(raw: Buffer, pos: number): { line: string; next: number } {
  const length = raw.subarray(pos, pos + MAX_LINE + CRLF.length).indexOf(CRLF);
  if (length === -1) throw unparseable('aws-chunked framing is truncated or a line is too long');
  // latin1 maps each byte to one code unit, so no byte can hide behind a decoding error.
  return { line: raw.toString('latin1', pos, pos + length), next: pos + length + CRLF.length };
}

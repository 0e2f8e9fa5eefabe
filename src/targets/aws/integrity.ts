/**
 * Integrity headers (SPEC §2.1: "passed on only after the broker has checked them against the
 * body"). The broker re-signs and forwards the body itself, so a checksum it did not verify would
 * let the agent make S3 store, or reject, bytes other than the certified ones.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@aws-crypto/crc32c';
import { unparseable } from '../../reasons.js';

// CRC-64/NVME (CLI v2's default since 2.23, reference/aws.md §3): reflected polynomial
// 0x9a6c9329ac4bc9b5, init and final XOR all ones. Kept here because the maintained one
// (@aws-sdk/crc64-nvme, the test's oracle) only digests asynchronously and the body reader is
// synchronous. The 64-bit register is two 32-bit halves: BigInt per byte is far slower on 10 MiB.
const CRC64_HI = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi >>>= 1;
    if (carry) {
      hi = (hi ^ 0x9a6c9329) >>> 0;
      lo = (lo ^ 0xac4bc9b5) >>> 0;
    }
  }
  CRC64_HI[i] = hi;
  CRC64_LO[i] = lo;
}

/** CRC-64/NVME of `data` as its 8 big-endian bytes (the form S3 base64-encodes). */
export function crc64nvme(data: Uint8Array): Buffer {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_LO[idx]!) >>> 0;
    hi = ((hi >>> 8) ^ CRC64_HI[idx]!) >>> 0;
  }
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
  out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
  return out;
}

type Digest = (payload: Buffer) => Buffer;

function uint32(n: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(n >>> 0, 0);
  return out;
}

function hash(algorithm: string): Digest {
  return (payload) => createHash(algorithm).update(payload).digest();
}

/** `x-amz-checksum-<name>` to its digest (base64 of the big-endian bytes on the wire). */
const CHECKSUMS: Readonly<Record<string, Digest>> = Object.assign(Object.create(null), {
  crc32: (p: Buffer) => uint32(crc32(p)),
  crc32c: (p: Buffer) => uint32(crc32c(p)),
  crc64nvme: (p: Buffer) => crc64nvme(p),
  sha1: hash('sha1'),
  sha256: hash('sha256'),
});

const CHECKSUM_PREFIX = 'x-amz-checksum-';
/**
 * Names the algorithm S3 is to use for the parts of a multipart upload (CreateMultipartUpload):
 * it carries no digest of this body, changes what S3 does, and so is a semantic header the
 * certificate pins (semantic-headers.ts), not an integrity claim checked here.
 */
export const CHECKSUM_ALGORITHM = 'x-amz-checksum-algorithm';
const SDK_ALGORITHM = 'x-amz-sdk-checksum-algorithm';

/**
 * `x-amz-checksum-*` headers that carry no digest but are forwarded as they are: `mode` asks S3 to
 * return its checksum on a GET (botocore and the JS SDK send it), `type` picks full-object or
 * composite checksums for a multipart upload. Only their documented values are accepted.
 */
const CHECKSUM_SETTINGS: Readonly<Record<string, ReadonlySet<string>>> = Object.assign(Object.create(null), {
  'x-amz-checksum-mode': new Set(['ENABLED']),
  'x-amz-checksum-type': new Set(['COMPOSITE', 'FULL_OBJECT']),
});

/** Whether `name` is a header carrying a digest the broker checks (`x-amz-checksum-crc32`, ...), not a setting. */
export function isChecksumDigest(name: string): boolean {
  return name.startsWith(CHECKSUM_PREFIX) && name.slice(CHECKSUM_PREFIX.length) in CHECKSUMS;
}

/**
 * Checks `content-md5` and every `x-amz-checksum-*` (from `headers` or from an aws-chunked
 * `trailer`) against `payload`. Returns the checked headers to forward (trailer values moved into
 * headers, reference/aws.md §4.3), plus `x-amz-sdk-checksum-algorithm` when sent. Throws
 * `unparseable` on a mismatch, an unknown checksum header or one sent both ways.
 */
export function checkIntegrity(
  headers: Readonly<Record<string, string>>,
  trailer: Readonly<Record<string, string>>,
  payload: Buffer,
): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const checksums: string[] = [];
  const take = (name: string, value: string): void => {
    if (name in out) throw unparseable(`${name} is sent both as a header and in the trailer`);
    if (name === 'content-md5') {
      expect(name, value, createHash('md5').update(payload).digest());
    } else if (name === CHECKSUM_ALGORITHM) {
      return;
    } else if (name in CHECKSUM_SETTINGS) {
      if (!CHECKSUM_SETTINGS[name]!.has(value)) throw unparseable(`${name} has an unknown value`);
    } else if (name.startsWith(CHECKSUM_PREFIX)) {
      const digest = CHECKSUMS[name.slice(CHECKSUM_PREFIX.length)];
      if (digest === undefined) throw unparseable(`${name} is not a checksum the broker can check`);
      expect(name, value, digest(payload));
      checksums.push(name.slice(CHECKSUM_PREFIX.length));
    } else {
      return;
    }
    out[name] = value;
  };
  for (const name of Object.keys(headers)) take(name, headers[name]!);
  for (const name of Object.keys(trailer)) {
    // Only digests may trail the body (a setting would change the request after it was read).
    if (!name.startsWith(CHECKSUM_PREFIX) || name in CHECKSUM_SETTINGS || name === CHECKSUM_ALGORITHM) throw unparseable(`${name} is not allowed in a trailer`);
    take(name, trailer[name]!);
  }

  const algorithm = headers[SDK_ALGORITHM];
  if (algorithm !== undefined) {
    const lower = algorithm.toLowerCase();
    // The SDKs send the upper-case name; S3 must not be told one algorithm and given another.
    if (algorithm !== lower.toUpperCase() || !(lower in CHECKSUMS)) throw unparseable(`${SDK_ALGORITHM} is unknown`);
    if (checksums.some((c) => c !== lower)) throw unparseable(`${SDK_ALGORITHM} names another algorithm than the checksum sent`);
    out[SDK_ALGORITHM] = algorithm;
  }
  return out;
}

/** Compares canonical base64: a value with other padding or bits is not the digest. */
function expect(name: string, value: string, digest: Buffer): void {
  if (value !== digest.toString('base64')) throw unparseable(`checksum mismatch: ${name} does not match the body`);
}

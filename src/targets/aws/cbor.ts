/**
 * A strict CBOR (RFC 8949) reader for smithy-rpc-v2-cbor request bodies. Pure. The agent writes
 * every byte, and the upstream's decoder is not ours: whatever two decoders could read two ways is
 * refused `unparseable_request` (SPEC §2.1), not resolved (the strict-json.ts rules, for CBOR):
 *
 * - duplicate map keys (decoders keep the first or the last) and map keys that are not text;
 * - indefinite lengths and the break code: SDKs write definite lengths only (botocore's
 *   CBORSerializer, smithy's cbor-encode), and chunked strings are where decoders disagree;
 * - tags other than 1 (epoch time, the one Smithy's timestamps use) and tag 1 on anything but a
 *   number; bignums and decimal fractions (tags 2-4) are not in the served models;
 * - simple values other than false, true and null (`undefined` has no Smithy meaning);
 * - text that is not UTF-8 (replaced by some decoders, refused by others);
 * - integers a double cannot hold exactly are kept as bigint, never rounded;
 * - lengths beyond the bytes left, nesting deeper than MAX_CBOR_DEPTH, anything after the item;
 * - more than MAX_CBOR_OBJECTS maps, arrays, byte strings and timestamps (see there).
 *
 * A head longer than needed (`b8 08` for a map of 8) is read: its value is the same to every
 * decoder, and the JavaScript SDK writes map heads so (it fills the count in afterwards).
 */
import { unparseable } from '../../reasons.js';

/** Smithy's deepest request shapes nest a few levels; 64 bounds the recursion (no stack overflow). */
export const MAX_CBOR_DEPTH = 64;
/**
 * Each map, array, byte string or timestamp is one object of 50 to 220 bytes of heap, from one byte
 * of body (`a0`): a 2 MB body of empty maps took 3.3 s and 435 MiB, so a body at the 10 MiB limit,
 * sent without a certificate, could stall or exhaust the broker. The largest requests of the served
 * models (PutMetricData: 1,000 data, each with up to 30 dimensions) hold under 40,000.
 */
export const MAX_CBOR_OBJECTS = 100_000;

/** A `timestamp` member: tag 1 over seconds since the epoch, kept as sent (no Date rounding). */
export class CborTimestamp {
  constructor(readonly epochSeconds: number | bigint) {}
}

export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | CborTimestamp
  | readonly CborValue[]
  | { readonly [key: string]: CborValue };

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EPOCH_TAG = 1;

/** The one item `bytes` holds; throws an `unparseable` Denial for anything listed above. */
export function decodeStrictCbor(bytes: Uint8Array): CborValue {
  const reader = new Reader(bytes);
  const value = reader.item(0);
  if (reader.pos !== bytes.length) throw fail('trailing bytes after the CBOR item');
  return value;
}

function fail(detail: string): Error {
  return unparseable(`CBOR body: ${detail}`);
}

class Reader {
  pos = 0;
  #objects = 0;
  readonly #view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  item(depth: number): CborValue {
    if (depth > MAX_CBOR_DEPTH) throw fail(`nested deeper than ${MAX_CBOR_DEPTH}`);
    const initial = this.#take(1);
    const byte = this.bytes[initial]!;
    const major = byte >> 5;
    const info = byte & 0x1f;
    if (major === 7) return this.#simple(info);
    const arg = this.#argument(info);
    if (major === 2 || major >= 4) this.#object();
    switch (major) {
      case 0:
        return arg;
      case 1:
        return typeof arg === 'bigint' ? -1n - arg : -1 - arg;
      case 2:
        return this.bytes.slice(...this.#span(arg));
      case 3:
        return this.#text(arg);
      case 4:
        return this.#array(this.#count(arg), depth);
      case 5:
        return this.#map(this.#count(arg), depth);
      default:
        return this.#tag(arg, depth);
    }
  }

  #object(): void {
    if (++this.#objects > MAX_CBOR_OBJECTS) throw fail(`more than ${MAX_CBOR_OBJECTS} maps, arrays, byte strings and timestamps`);
  }

  #take(n: number): number {
    const at = this.pos;
    if (n > this.bytes.length - at) throw fail('truncated');
    this.pos = at + n;
    return at;
  }

  /** The head's argument: a number, or a bigint beyond 2^53 - 1. */
  #argument(info: number): number | bigint {
    if (info < 24) return info;
    if (info === 31) throw fail('indefinite lengths are refused');
    if (info > 27) throw fail('reserved additional information');
    const size = 1 << (info - 24);
    const at = this.#take(size);
    const v = this.#view;
    const value = size === 1 ? v.getUint8(at) : size === 2 ? v.getUint16(at) : size === 4 ? v.getUint32(at) : v.getBigUint64(at);
    return typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  #span(length: number | bigint): [number, number] {
    const at = this.#take(this.#count(length));
    return [at, at + Number(length)];
  }

  /** An element count: each element takes at least one byte, so more than the bytes left is a lie. */
  #count(length: number | bigint): number {
    if (typeof length === 'bigint' || length > this.bytes.length - this.pos) throw fail('a length beyond the body');
    return length;
  }

  #text(length: number | bigint): string {
    const [from, to] = this.#span(length);
    try {
      return UTF8.decode(this.bytes.subarray(from, to));
    } catch {
      throw fail('text that is not UTF-8');
    }
  }

  #array(count: number, depth: number): CborValue[] {
    const out: CborValue[] = [];
    for (let i = 0; i < count; i++) out.push(this.item(depth + 1));
    return out;
  }

  /** Null prototype, own properties only: a `__proto__` key is data, never the prototype. */
  #map(count: number, depth: number): Record<string, CborValue> {
    const out = Object.create(null) as Record<string, CborValue>;
    for (let i = 0; i < count; i++) {
      const key = this.item(depth + 1);
      if (typeof key !== 'string') throw fail('a map key that is not text');
      if (Object.hasOwn(out, key)) throw fail('a duplicate map key');
      out[key] = this.item(depth + 1);
    }
    return out;
  }

  #tag(tag: number | bigint, depth: number): CborTimestamp {
    if (tag !== EPOCH_TAG) throw fail(`tag ${tag} is refused (only tag 1, epoch time)`);
    const value = this.item(depth + 1);
    if (typeof value !== 'number' && typeof value !== 'bigint') throw fail('tag 1 on something other than a number');
    return new CborTimestamp(value);
  }

  #simple(info: number): CborValue {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    const v = this.#view;
    if (info === 25) return halfFloat(v.getUint16(this.#take(2)));
    if (info === 26) return v.getFloat32(this.#take(4));
    if (info === 27) return v.getFloat64(this.#take(8));
    if (info === 31) throw fail('a break outside an indefinite-length item');
    throw fail(`simple value ${info} is refused`);
  }
}

/** IEEE 754 binary16 (RFC 8949 Appendix D); DataView has no getFloat16 in Node 20. */
function halfFloat(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  const magnitude = exponent === 0 ? mantissa * 2 ** -24 : exponent === 31 ? (mantissa === 0 ? Infinity : NaN) : (mantissa + 1024) * 2 ** (exponent - 25);
  return half & 0x8000 ? -magnitude : magnitude;
}

/**
 * Kubernetes protobuf bodies (SPEC §2.1), read only as far as the broker must know them: the
 * `k8s\0` envelope (runtime.Unknown: typeMeta apiVersion and kind, raw, contentEncoding,
 * contentType) and, inside raw, the object's `metadata` name, generateName and namespace. The
 * rest of the body is bound by the digest of its exact bytes (`sha256`), so it need not be read.
 *
 * Field numbers are those of k8s.io/apimachinery runtime/generated.proto (Unknown, TypeMeta) and
 * meta/v1/generated.proto (ObjectMeta); every built-in object keeps ObjectMeta at field 1.
 *
 * The apiserver's generated decoders let a repeated singular field win last, merge a repeated
 * message and skip unknown fields; the broker refuses all three where it reads, and every varint
 * that is not minimally encoded anywhere, so there is exactly one way to read what it reads. Pure.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { Denial, unparseable } from '../../reasons.js';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';

/** The serializer's magic prefix (apimachinery runtime/serializer/protobuf). */
const MAGIC = Buffer.from('k8s\0', 'latin1');

export interface ProtobufBody {
  readonly apiVersion: string;
  readonly kind: string;
  /** `null` when the field is absent or empty, as the apiserver treats both alike. */
  readonly name: string | null;
  readonly generateName: string | null;
  readonly namespace: string | null;
}

/** What one message's fields may be: wire type per number, and which the broker keeps. */
interface MessageShape {
  readonly fields: ReadonlyMap<number, WireType>;
  readonly keep: ReadonlySet<number>;
  /** Unknown fields: refused where the broker reads, skipped (digest-bound) elsewhere. */
  readonly unknown: 'refuse' | 'skip';
}

const LD = WireType.LengthDelimited;
const UNKNOWN: MessageShape = { fields: new Map([[1, LD], [2, LD], [3, LD], [4, LD]]), keep: new Set([1, 2, 3, 4]), unknown: 'refuse' };
const TYPE_META: MessageShape = { fields: new Map([[1, LD], [2, LD]]), keep: new Set([1, 2]), unknown: 'refuse' };
/** Any object: only `metadata` (1) is read; spec, status and the rest are the digest's business. */
const OBJECT: MessageShape = { fields: new Map([[1, LD]]), keep: new Set([1]), unknown: 'skip' };
const OBJECT_META: MessageShape = {
  fields: new Map<number, WireType>([
    [1, LD], [2, LD], [3, LD], [4, LD], [5, LD], [6, LD], [7, WireType.Varint], [8, LD], [9, LD],
    [10, WireType.Varint], [11, LD], [12, LD], [13, LD], [14, LD], [17, LD],
  ]),
  keep: new Set([1, 2, 3]),
  unknown: 'refuse',
};

/** Reads a protobuf body; throws `unparseable` on anything the apiserver could read another way. */
export function readProtobufBody(payload: Uint8Array): ProtobufBody {
  if (payload.length <= MAGIC.length || !MAGIC.equals(payload.subarray(0, MAGIC.length))) {
    throw unparseable('a protobuf body without the k8s envelope');
  }
  const envelope = message(payload.subarray(MAGIC.length), UNKNOWN, 'the envelope');
  // The apiserver ignores these two and decodes raw as protobuf whatever they say; kubectl leaves
  // them empty, so a body naming an encoding could mean one thing to a reader and another upstream.
  if (text(envelope.get(3), 'contentEncoding') !== null || text(envelope.get(4), 'contentType') !== null) {
    throw unparseable('a protobuf envelope naming a content encoding or type');
  }
  const typeMeta = message(envelope.get(1) ?? EMPTY, TYPE_META, 'typeMeta');
  const object = message(envelope.get(2) ?? EMPTY, OBJECT, 'the object');
  const metadata = message(object.get(1) ?? EMPTY, OBJECT_META, 'metadata');
  return {
    apiVersion: text(typeMeta.get(1), 'apiVersion') ?? '',
    kind: text(typeMeta.get(2), 'kind') ?? '',
    name: text(metadata.get(1), 'metadata.name'),
    generateName: text(metadata.get(2), 'metadata.generateName'),
    namespace: text(metadata.get(3), 'metadata.namespace'),
  };
}

const EMPTY = new Uint8Array(0);
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function text(bytes: Uint8Array | undefined, what: string): string | null {
  if (bytes === undefined || bytes.length === 0) return null;
  try {
    return UTF8.decode(bytes);
  } catch {
    // Go keeps the raw bytes; two invalid sequences must not read as one replacement character.
    throw unparseable(`${what} is not UTF-8`);
  }
}

/** One message's kept fields (each at most once) as their payload bytes. */
function message(buf: Uint8Array, shape: MessageShape, what: string): Map<number, Uint8Array> {
  const reader = new BinaryReader(buf);
  const kept = new Map<number, Uint8Array>();
  try {
    while (reader.pos < reader.len) {
      const tagStart = reader.pos;
      const [field, wireType] = reader.tag();
      minimal(buf, tagStart, reader.pos);
      const expected = shape.fields.get(field);
      if (expected === undefined && shape.unknown === 'refuse') throw unparseable(`${what} holds unknown field ${field}`);
      if (expected !== undefined && expected !== wireType) throw unparseable(`${what} field ${field} has wire type ${wireType}`);
      const value = skip(reader, buf, wireType, `${what} field ${field}`);
      if (!shape.keep.has(field)) continue;
      if (kept.has(field)) throw unparseable(`${what} repeats field ${field}`);
      kept.set(field, value);
    }
  } catch (err) {
    if (err instanceof Denial) throw err;
    // The library's own errors: a truncated value, a varint past ten bytes, an illegal tag.
    throw unparseable(`${what} is not a protobuf message`);
  }
  return kept;
}

/** Skips one value and returns a length-delimited one's payload; groups are refused outright. */
function skip(reader: BinaryReader, buf: Uint8Array, wireType: WireType, what: string): Uint8Array {
  const start = reader.pos;
  switch (wireType) {
    case WireType.Varint:
      reader.uint64();
      minimal(buf, start, reader.pos);
      return EMPTY;
    case WireType.LengthDelimited: {
      // Read as 64 bits: a 32-bit read would wrap a length past 2^32 that Go refuses.
      const length = BigInt(reader.uint64());
      minimal(buf, start, reader.pos);
      if (length > BigInt(reader.len - reader.pos)) throw unparseable(`${what} runs past its message`);
      const begin = reader.pos;
      reader.pos += Number(length);
      return buf.subarray(begin, reader.pos);
    }
    case WireType.Bit64:
    case WireType.Bit32:
      return reader.skip(wireType);
    default:
      throw unparseable(`${what} is a group`);
  }
}

/**
 * Refuses a varint spelled with more bytes than its value needs: a trailing zero byte, or a tenth
 * byte carrying bits past 64 that decoders drop. One value, one spelling.
 */
function minimal(buf: Uint8Array, start: number, end: number): void {
  const last = buf[end - 1]!;
  if ((end - start > 1 && last === 0) || (end - start === 10 && last > 1)) throw unparseable('a varint that is not minimally encoded');
}
